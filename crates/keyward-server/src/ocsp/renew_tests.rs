//! Renewal of the OCSP signing certificate among nodes of one database, on both engines: two
//! CA nodes due at once renew once and end on the same certificate; a node adopts a newer
//! certificate recorded by another (never a revoked one, one for another key or from another
//! CA); the standalone responder's adoption changes memory only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde_json::json;

use keyward_ca::{CertificateAuthority, Hierarchy, IssueRequest};
use keyward_policy::keyspec::Curve;
use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{
    CertificateProcedure, DistinguishedName, KeySpec, ProcedureSet, RevocationReason,
};
use keyward_store::{
    Answered, AuditCategory, NewAudit, NewRevocation, Outcome, RequestKey, Store, StoredCertificate,
};
use keyward_testkit::TestDatabase;

use super::renew::{record, PROCEDURE};
use super::{adopt, load, OcspService, Renewal, Renewer};
use crate::config::ServerConfig;
use crate::service::unix_now;

keyward_testkit::on_both_engines!(async keyward_testkit::fresh_database =>
    two_nodes_due_at_once_renew_once_and_end_on_one_certificate,
    a_node_adopts_the_newest_fitting_certificate_without_issuing,
    the_standalone_adoption_changes_memory_only,
    a_revoked_signer_is_not_renewed
);

const DAY: i64 = 86_400;
const PASSPHRASE: &str = "ocsp key passphrase";

fn ocsp_procedure() -> CertificateProcedure {
    CertificateProcedure {
        name: PROCEDURE.into(),
        validity_days: 7,
        key_usage: KeyUsageSet::of(&[KeyUsage::DigitalSignature]),
        extended_key_usage: vec!["OCSPSigning".into()],
        ocsp_no_check: true,
        ..Default::default()
    }
}

fn audit(category: AuditCategory, action: &str) -> NewAudit {
    NewAudit {
        category,
        action: action.into(),
        officer: Some("test".into()),
        outcome: Outcome::Success,
        object: None,
        detail: json!({}),
    }
}

use super::test_ca::ca_of;

fn hierarchy() -> Hierarchy {
    super::test_ca::hierarchy("Renewal Root", "Renewal Issuing")
}

fn ocsp_key() -> PKey<Private> {
    keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap()
}

/// An OCSP signing certificate for `key` from `ca`, valid for 7 days from `not_before`.
fn issue_at(ca: &CertificateAuthority, key: &PKey<Private>, not_before: i64) -> X509 {
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let procedure = ocsp_procedure();
    ca.issue(&IssueRequest {
        public_key: &public,
        subject: &DistinguishedName::parse("CN=OCSP Responder,O=T").unwrap(),
        email: None,
        procedure: &procedure,
        serial: keyward_crypto::random_serial().unwrap(),
        not_before,
        dns_names: &[],
        ip_addresses: &[],
        qc_statements: &procedure.qc_statements,
    })
    .unwrap()
}

/// A store with the `ocsp-signing` procedure in force.
async fn store(db: &TestDatabase) -> Store {
    let store = Store::open(&db.url).await.unwrap();
    let set = ProcedureSet {
        certificate: vec![ocsp_procedure()],
        ..Default::default()
    };
    store
        .replace_procedures(&set, &audit(AuditCategory::Administration, "load"))
        .await
        .unwrap();
    store
}

/// A node's installation in `dir`: cm.conf naming its copy of the OCSP key and `cert` as
/// `ocsp.certificate`, and its responder loaded as at start-up.
fn node(
    dir: &Path,
    h: &Hierarchy,
    key: &PKey<Private>,
    cert: &X509,
    store: Store,
) -> (Arc<OcspService>, ServerConfig, PathBuf) {
    std::fs::create_dir_all(dir.join("ocsp")).unwrap();
    let pem = keyward_ca::encrypt_key_pem(key, PASSPHRASE.as_bytes()).unwrap();
    std::fs::write(dir.join("ocsp/signer.key.pem"), pem).unwrap();
    std::fs::write(dir.join("ocsp/signer.pass"), PASSPHRASE).unwrap();
    let cert_path = dir.join("ocsp/signer.pem");
    std::fs::write(&cert_path, cert.to_pem().unwrap()).unwrap();
    let text = "server.listen = 127.0.0.1:8443\ndatabase.url = sqlite://k.db\n\
                tls.certificate = t.pem\ntls.key = t.key\nca.root = r.pem\n\
                ca.issuing.certificate = i.pem\nca.issuing.key = i.key\n\
                ca.key-passphrase-file = c.pass\nocsp.certificate = ocsp/signer.pem\n\
                ocsp.key = ocsp/signer.key.pem\nocsp.key-passphrase-file = ocsp/signer.pass\n";
    let config = ServerConfig::from_text(&dir.join("cm.conf"), text).unwrap();
    let service = load(&config, &h.issuing_cert, store).unwrap().unwrap();
    (service, config, cert_path)
}

/// The audit records with `action`.
async fn audited(store: &Store, action: &str) -> usize {
    let records = store.audit_records(10_000).await.unwrap();
    records.iter().filter(|r| r.action == action).count()
}

fn der(cert: &X509) -> Vec<u8> {
    cert.to_der().unwrap()
}

fn file_der(path: &Path) -> Vec<u8> {
    der(&X509::from_pem(&std::fs::read(path).unwrap()).unwrap())
}

async fn two_nodes_due_at_once_renew_once_and_end_on_one_certificate(db: TestDatabase) {
    let h = hierarchy();
    let ca = Arc::new(ca_of(&h));
    let key = ocsp_key();
    // Issued 5 of its 7 days ago: less than a third left, due on both nodes.
    let first = issue_at(&ca, &key, unix_now() - 5 * DAY);
    let setup = store(&db).await;
    record(
        &setup,
        &h.issuing_cert,
        &first,
        "test",
        "issue-ocsp-certificate",
    )
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for name in ["a", "b"] {
        // Each node with its own connection pool, as two processes.
        let store = Store::open(&db.url).await.unwrap();
        let (service, config, path) = node(&tmp.path().join(name), &h, &key, &first, store.clone());
        let renewer = Renewer::new(service.clone(), ca.clone(), store, config);
        nodes.push((Arc::new(renewer), service, path));
    }
    let now = SystemTime::now();
    let tasks: Vec<_> = nodes
        .iter()
        .map(|(renewer, _, _)| {
            let renewer = renewer.clone();
            tokio::spawn(async move { renewer.renew_if_due(now).await.unwrap() })
        })
        .collect();
    let mut renewed = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Renewal::Renewed(cert) => renewed.push(cert),
            Renewal::Deferred | Renewal::Adopted(_) => {}
            Renewal::Nothing => panic!("both nodes are due"),
        }
    }
    assert_eq!(renewed.len(), 1, "exactly one node renews");
    assert_eq!(audited(&setup, "renew-ocsp-certificate").await, 1);
    // The next check: the other node adopts the renewal (if it had not under the lease).
    for (renewer, _, _) in &nodes {
        let renewal = renewer.renew_if_due(SystemTime::now()).await.unwrap();
        assert!(
            matches!(renewal, Renewal::Nothing | Renewal::Adopted(_)),
            "{renewal:?}"
        );
    }
    for (_, service, path) in &nodes {
        assert_eq!(der(&service.certificate()), der(&renewed[0]));
        assert_eq!(file_der(path), der(&renewed[0]), "{}", path.display());
    }
    assert_eq!(audited(&setup, "renew-ocsp-certificate").await, 1);
    let stored = setup
        .unexpired_certificates(PROCEDURE, nodes[0].1.source().issuer(), unix_now(), 16)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2, "the first certificate and one renewal");
    // The renewal released the lease: a node may take it at once.
    assert!(setup
        .try_lease(super::renew::LEASE, "another", Duration::from_secs(1))
        .await
        .unwrap());
}

async fn a_node_adopts_the_newest_fitting_certificate_without_issuing(db: TestDatabase) {
    let h = hierarchy();
    let ca = Arc::new(ca_of(&h));
    let key = ocsp_key();
    let now = unix_now();
    let store = store(&db).await;
    let first = issue_at(&ca, &key, now - 5 * DAY);
    let older = issue_at(&ca, &key, now - 6 * DAY);
    let newer = issue_at(&ca, &key, now - DAY);
    // Later still, but unfit: revoked, on hold, for another key, from another CA of the same
    // names (recorded under our issuer's name).
    let revoked = issue_at(&ca, &key, now);
    let on_hold = issue_at(&ca, &key, now + 10);
    let other_key = issue_at(&ca, &ocsp_key(), now + 20);
    let foreign = issue_at(&ca_of(&hierarchy()), &key, now + 30);
    for cert in [
        &first, &older, &newer, &revoked, &on_hold, &other_key, &foreign,
    ] {
        record(
            &store,
            &h.issuing_cert,
            cert,
            "test",
            "issue-ocsp-certificate",
        )
        .await
        .unwrap();
    }
    let issuer = crate::service::name_to_string(h.issuing_cert.subject_name());
    let rows = store
        .unexpired_certificates(PROCEDURE, &issuer, now, 16)
        .await
        .unwrap();
    type NoAnswer = fn(&StoredCertificate) -> Answered;
    for (cert, reason) in [
        (&revoked, RevocationReason::KeyCompromise),
        (&on_hold, RevocationReason::CertificateHold),
    ] {
        let row = rows.iter().find(|r| r.der == der(cert)).unwrap();
        let record = audit(AuditCategory::CertificatesRevoked, "revoke-certificate");
        let revocation = NewRevocation {
            certificate_id: row.id,
            reason,
            invalidity_date: None,
            audit: &record,
        };
        store
            .revoke(&revocation, None::<(&RequestKey, NoAnswer)>)
            .await
            .unwrap();
    }

    let tmp = tempfile::tempdir().unwrap();
    let (service, config, path) = node(tmp.path(), &h, &key, &first, store.clone());
    let renewer = Renewer::new(service.clone(), ca, store.clone(), config);
    let renewal = renewer.renew_if_due(SystemTime::now()).await.unwrap();
    let Renewal::Adopted(adopted) = renewal else {
        panic!("adopted, not {renewal:?}");
    };
    assert_eq!(der(&adopted), der(&newer));
    assert_eq!(der(&service.certificate()), der(&newer));
    assert_eq!(file_der(&path), der(&newer));
    assert_eq!(audited(&store, "renew-ocsp-certificate").await, 0);
    // The adopted certificate is not due: nothing more to do.
    let again = renewer.renew_if_due(SystemTime::now()).await.unwrap();
    assert!(matches!(again, Renewal::Nothing), "{again:?}");
    assert_eq!(audited(&store, "renew-ocsp-certificate").await, 0);
}

async fn the_standalone_adoption_changes_memory_only(db: TestDatabase) {
    let h = hierarchy();
    let ca = ca_of(&h);
    let key = ocsp_key();
    let store = store(&db).await;
    let first = issue_at(&ca, &key, unix_now() - 5 * DAY);
    let renewal = issue_at(&ca, &key, unix_now());
    for cert in [&first, &renewal] {
        record(
            &store,
            &h.issuing_cert,
            cert,
            "test",
            "issue-ocsp-certificate",
        )
        .await
        .unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let (service, config, path) = node(tmp.path(), &h, &key, &first, store.clone());
    let audit_before = store.audit_records(10_000).await.unwrap().len();

    let now = SystemTime::now();
    let adopted = adopt::adopt(&service, &config, now).await.unwrap().unwrap();
    assert_eq!(der(&adopted), der(&renewal));
    assert_eq!(der(&service.certificate()), der(&renewal));
    assert_eq!(
        service.responder().certificate_not_after(),
        super::renew::asn1_time(renewal.not_after())
    );
    // Memory only: the file keeps the certificate before, the database has nothing new.
    assert_eq!(file_der(&path), der(&first));
    assert_eq!(
        store.audit_records(10_000).await.unwrap().len(),
        audit_before
    );
    assert!(adopt::adopt(&service, &config, now)
        .await
        .unwrap()
        .is_none());
}

async fn a_revoked_signer_is_not_renewed(db: TestDatabase) {
    let h = hierarchy();
    let ca = Arc::new(ca_of(&h));
    let key = ocsp_key();
    let store = store(&db).await;
    let first = issue_at(&ca, &key, unix_now() - 5 * DAY);
    record(
        &store,
        &h.issuing_cert,
        &first,
        "test",
        "issue-ocsp-certificate",
    )
    .await
    .unwrap();
    let issuer = crate::service::name_to_string(h.issuing_cert.subject_name());
    let rows = store
        .unexpired_certificates(PROCEDURE, &issuer, unix_now(), 16)
        .await
        .unwrap();
    let record = audit(AuditCategory::CertificatesRevoked, "revoke-certificate");
    let revocation = NewRevocation {
        certificate_id: rows[0].id,
        reason: RevocationReason::KeyCompromise,
        invalidity_date: None,
        audit: &record,
    };
    type NoAnswer = fn(&StoredCertificate) -> Answered;
    store
        .revoke(&revocation, None::<(&RequestKey, NoAnswer)>)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (service, config, path) = node(tmp.path(), &h, &key, &first, store.clone());
    let renewer = Renewer::new(service.clone(), ca, store.clone(), config);
    let err = renewer
        .renew_if_due(SystemTime::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ocsp.certificate") && err.contains("revoked (keyCompromise)"),
        "{err}"
    );
    assert_eq!(audited(&store, "renew-ocsp-certificate").await, 0);
    assert_eq!(der(&service.certificate()), der(&first));
    assert_eq!(file_der(&path), der(&first));
}
