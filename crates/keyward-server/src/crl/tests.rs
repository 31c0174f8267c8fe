//! The publisher on a real CA and both engines: full and delta CRLs streamed from the store,
//! signed, recorded with their audit record, written to the publish directory and read back
//! by OpenSSL; the schedule's decisions; one holder of the lease among nodes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keyward_ca::{create_hierarchy, CertificateAuthority, SoftwareSigner};
use keyward_policy::{DistinguishedName, RevocationReason};
use keyward_store::{
    AuditCategory, CrlFacts, CrlKind, NewAudit, NewCertificate, NewRevocation, Outcome, RequestKey,
    Store, StoredCertificate, Unhold,
};
use keyward_testkit::TestDatabase;
use openssl::x509::X509Crl;

use super::schedule::{due, tick, Due};
use super::*;
use crate::config::CrlUrl;

keyward_testkit::on_both_engines!(async keyward_testkit::fresh_database =>
    full_and_delta_crls_are_published,
    one_node_of_several_publishes_what_is_due
);

fn url(url: &str) -> CrlUrl {
    let path = url.trim_start_matches("http://pki.example.com").to_string();
    let file_name = path.rsplit('/').next().unwrap().to_string();
    CrlUrl {
        url: url.into(),
        path,
        file_name,
    }
}

fn config(publish_dir: Option<&Path>) -> CrlConfig {
    CrlConfig {
        url: url("http://pki.example.com/crl/issuing.crl"),
        delta_url: Some(url("http://pki.example.com/crl/issuing-delta.crl")),
        full_interval: Duration::from_secs(86_400),
        full_validity: Duration::from_secs(604_800),
        delta_interval: Duration::from_secs(900),
        delta_validity: Duration::from_secs(3600),
        on_revoke: true,
        full_min_gap: Duration::from_secs(60),
        publish_dir: publish_dir.map(Path::to_path_buf),
    }
}

fn ca() -> CertificateAuthority {
    let h = create_hierarchy(
        &DistinguishedName::parse("CN=Publisher Test Root,O=Keyward").unwrap(),
        &DistinguishedName::parse("CN=Publisher Test Issuing,O=Keyward").unwrap(),
    )
    .unwrap();
    CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert, h.root_cert],
        Box::new(SoftwareSigner::new(h.issuing_key)),
    )
}

fn audit(action: &str) -> NewAudit {
    NewAudit {
        category: AuditCategory::CertificatesRevoked,
        action: action.into(),
        officer: Some("root".into()),
        outcome: Outcome::Success,
        object: None,
        detail: serde_json::json!({}),
    }
}

async fn certificates(store: &Store, issuer: &str, serials: &[&str]) -> Vec<StoredCertificate> {
    let certs: Vec<NewCertificate> = serials
        .iter()
        .map(|serial| NewCertificate {
            serial_hex: (*serial).into(),
            subject: format!("CN=Holder {serial}"),
            issuer: issuer.into(),
            not_before: 1_700_000_000,
            not_after: 4_000_000_000,
            der: vec![0x30, 0x03, 0x02, 0x01, 0x00],
            certificate_procedure: "signing".into(),
            token_procedure: "soft-signing".into(),
            key_origin: "local".into(),
            key_usage: "digitalSignature".into(),
            officer: "root".into(),
            email: None,
            archived_key: None,
            attribute_certificate: None,
            recovered_from: None,
        })
        .collect();
    store
        .record_issuance(&certs, &audit("issue-token"))
        .await
        .unwrap()
}

type NoAnswer = fn(&StoredCertificate) -> keyward_store::Answered;

async fn revoke(store: &Store, id: i64, reason: RevocationReason) {
    let record = audit("revoke-certificate");
    let rev = NewRevocation {
        certificate_id: id,
        reason,
        invalidity_date: None,
        audit: &record,
    };
    store
        .revoke(&rev, None::<(&RequestKey, NoAnswer)>)
        .await
        .unwrap();
}

/// The serials (lowercase hex) a CRL lists, after checking its signature with the CA's key.
fn listed(ca: &CertificateAuthority, der: &[u8]) -> Vec<String> {
    let crl = X509Crl::from_der(der).unwrap();
    let key = ca.certificate().public_key().unwrap();
    assert!(crl.verify(&key).unwrap(), "the CRL's signature verifies");
    let mut serials: Vec<String> = crl
        .get_revoked()
        .map(|r| {
            r.iter()
                .map(|e| {
                    e.serial_number()
                        .to_bn()
                        .unwrap()
                        .to_hex_str()
                        .unwrap()
                        .to_lowercase()
                })
                .collect()
        })
        .unwrap_or_default();
    serials.sort();
    serials
}

async fn full_and_delta_crls_are_published(db: TestDatabase) {
    let store = Store::open(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let publish = dir.path().join("public");
    let ca = Arc::new(ca());
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let publisher = CrlPublisher::new(ca.clone(), store.clone(), config(Some(&publish)))
        .with_metrics(Some(metrics.clone()));
    let certs = certificates(&store, publisher.issuer(), &["0a01", "0b02", "0c03"]).await;
    revoke(&store, certs[0].id, RevocationReason::KeyCompromise).await;
    revoke(&store, certs[1].id, RevocationReason::CertificateHold).await;

    let now = crate::service::unix_now();
    let full = publisher.publish_full(now).await.unwrap();
    assert_eq!((full.kind, full.entries), (CrlKind::Full, 2));
    assert_eq!(full.next_update - full.this_update, 604_800);
    let stored = store
        .latest_crl(publisher.issuer(), CrlKind::Full)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.facts.number, full.number);
    assert_eq!(listed(&ca, &stored.der), ["0a01", "0b02"]);
    assert_eq!(
        std::fs::read(publish.join("issuing.crl")).unwrap(),
        stored.der
    );
    let record = store.audit_records(1).await.unwrap().pop().unwrap();
    assert_eq!(record.action, "issue-crl");
    assert_eq!(record.detail["kind"], "full");
    assert_eq!(record.detail["entries"], 2);

    // A revocation and a released hold after the full CRL: the delta lists both (the hold as
    // removeFromCRL), and numbers grow.
    revoke(&store, certs[2].id, RevocationReason::Superseded).await;
    let record = audit("unhold-certificate");
    let unhold = Unhold {
        certificate_id: certs[1].id,
        audit: &record,
    };
    store
        .unhold(&unhold, None::<(&RequestKey, NoAnswer)>)
        .await
        .unwrap();
    let delta = publisher.publish_delta(now).await.unwrap().unwrap();
    assert_eq!(delta.base_number, Some(full.number));
    assert!(delta.number > full.number);
    assert_eq!(delta.entries, 2);
    let stored = store
        .latest_crl(publisher.issuer(), CrlKind::Delta)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listed(&ca, &stored.der), ["0b02", "0c03"]);
    let text = openssl_text(&stored.der);
    assert!(text.contains("Delta CRL Indicator"), "{text}");
    assert!(text.contains("Remove From CRL"), "{text}");
    assert_eq!(
        std::fs::read(publish.join("issuing-delta.crl")).unwrap(),
        stored.der
    );

    let text = metrics.encode();
    for kind in ["full", "delta"] {
        let series = format!("keyward_crls_published_total{{kind=\"{kind}\"}} 1\n");
        assert!(text.contains(&series), "{series}: {text}");
    }

    // Without crl.delta-url there are no deltas.
    let mut no_delta = config(None);
    no_delta.delta_url = None;
    let plain = CrlPublisher::new(ca, store.clone(), no_delta);
    assert_eq!(plain.publish_delta(now).await.unwrap(), None);
    store.close().await;
}

/// `openssl crl -text` of `der`.
fn openssl_text(der: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.der");
    std::fs::write(&path, der).unwrap();
    let out = keyward_testkit::tool("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn one_node_of_several_publishes_what_is_due(db: TestDatabase) {
    let store = Store::open(&db.url).await.unwrap();
    let publisher = CrlPublisher::new(Arc::new(ca()), store.clone(), config(None));
    let now = crate::service::unix_now();
    let both = Due {
        full: true,
        delta: true,
    };
    assert_eq!(tick(&publisher, "node-a", now).await.unwrap(), both);
    // Node B does not hold the lease; node A has nothing due.
    assert_eq!(
        tick(&publisher, "node-b", now).await.unwrap(),
        Due::default()
    );
    assert_eq!(
        tick(&publisher, "node-a", now).await.unwrap(),
        Due::default()
    );
    // A revocation: a delta at once (crl.on-revoke), the full CRL after crl.full-min-gap,
    // then nothing again.
    let certs = certificates(&store, publisher.issuer(), &["01"]).await;
    revoke(&store, certs[0].id, RevocationReason::Unspecified).await;
    let delta_only = Due {
        full: false,
        delta: true,
    };
    assert_eq!(tick(&publisher, "node-a", now).await.unwrap(), delta_only);
    assert_eq!(
        tick(&publisher, "node-a", now + 1).await.unwrap(),
        Due::default()
    );
    assert_eq!(tick(&publisher, "node-a", now + 60).await.unwrap(), both);
    assert_eq!(
        tick(&publisher, "node-a", now + 61).await.unwrap(),
        Due::default()
    );
    let full = store
        .latest_crl(publisher.issuer(), CrlKind::Full)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        X509Crl::from_der(&full.der)
            .unwrap()
            .get_revoked()
            .unwrap()
            .len(),
        1
    );
    store.close().await;
}

fn facts(number: i64, base: Option<i64>, this_update: i64, changes_upto: i64) -> CrlFacts {
    CrlFacts {
        ca: "CN=CA".into(),
        number,
        base_number: base,
        this_update,
        next_update: this_update + 1000,
        changes_upto,
        created_at: this_update,
    }
}

#[test]
fn the_schedule_publishes_what_is_due() {
    let c = config(None);
    let t = 1_000_000;
    let full = facts(1, None, t, 5);
    let delta = facts(2, Some(1), t, 5);
    let d = |now, f: Option<&CrlFacts>, dl: Option<&CrlFacts>, change| due(&c, now, f, dl, change);
    let (none, both) = (
        Due::default(),
        Due {
            full: true,
            delta: true,
        },
    );
    let delta_only = Due {
        full: false,
        delta: true,
    };
    assert_eq!(d(t, None, None, 0), both, "no CRL yet");
    assert_eq!(d(t + 10, Some(&full), Some(&delta), 5), none, "fresh");
    assert_eq!(d(t + 10, Some(&full), None, 5), delta_only, "no delta yet");
    assert_eq!(
        d(t + 900, Some(&full), Some(&delta), 5),
        delta_only,
        "delta interval"
    );
    assert_eq!(
        d(t + 86_400, Some(&full), Some(&delta), 5),
        both,
        "full interval"
    );
    assert_eq!(
        d(t + 10, Some(&full), Some(&delta), 6),
        delta_only,
        "a revocation within crl.full-min-gap of the full CRL"
    );
    assert_eq!(
        d(t + 60, Some(&full), Some(&delta), 6),
        both,
        "a revocation after the gap"
    );
    let covering = facts(3, Some(1), t + 11, 6);
    assert_eq!(
        d(t + 12, Some(&full), Some(&covering), 6),
        none,
        "a delta carries it"
    );
    assert_eq!(
        d(t + 60, Some(&full), Some(&covering), 6),
        both,
        "the full CRL lacking it comes after the gap though a delta carries it"
    );
    let old_base = facts(2, Some(0), t, 5);
    assert_eq!(
        d(t + 10, Some(&full), Some(&old_base), 5),
        delta_only,
        "a delta of an older base"
    );
    // crl.on-revoke = false waits for the schedule; without crl.delta-url no deltas.
    let quiet = CrlConfig {
        on_revoke: false,
        delta_url: None,
        ..config(None)
    };
    assert_eq!(due(&quiet, t + 10, Some(&full), None, 9), none);
    let fulls_only = CrlConfig {
        delta_url: None,
        ..config(None)
    };
    assert_eq!(due(&fulls_only, t + 10, Some(&full), None, 9), none);
    assert_eq!(
        due(&fulls_only, t + 60, Some(&full), None, 9),
        Due {
            full: true,
            delta: false
        },
        "without deltas a revocation waits for the gap"
    );
    assert_eq!(
        due(&quiet, t, None, None, 9),
        Due {
            full: true,
            delta: false
        }
    );
}
