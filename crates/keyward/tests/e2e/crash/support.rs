//! Checks of `tests/e2e/crash.rs` after each crash: the PKCS#12 on disk and the database
//! invariants (with `keyward audit verify`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use keyward_store::{AuditCategory, Outcome};
use serde_json::Value;
use sqlx::Row;

use crate::common::tokens::{p12_contents, serial_of};
use crate::common::{block_on, keyward, run, text, Installation};

/// Checks the PKCS#12 at `path`: absent, or complete (opens with `openssl pkcs12` and the PIN)
/// holding exactly the recorded certificates `certs` and a key for each; with the RA's JSON
/// output, its Certificate IDs are the recorded ones too.
pub(super) fn check_p12(
    path: &Path,
    certs: &[(i64, String)],
    ra_json: Option<&[u8]>,
) -> &'static str {
    if !path.exists() {
        assert!(
            ra_json.is_none(),
            "the RA succeeded without writing {}",
            path.display()
        );
        return "none";
    }
    let (keys, in_file) = p12_contents(path);
    assert_eq!(keys.len(), 2, "{}", path.display());
    let recorded: BTreeSet<String> = certs.iter().map(|(_, s)| s.to_lowercase()).collect();
    let end_entity: BTreeSet<String> = in_file
        .iter()
        .filter(|c| {
            keys.iter()
                .any(|k| c.public_key().map(|p| p.public_eq(k)).unwrap_or(false))
        })
        .map(serial_of)
        .collect();
    assert_eq!(
        end_entity,
        recorded,
        "{}: the token holds the recorded certificates, each with its key",
        path.display()
    );
    if let Some(json) = ra_json {
        let json: Value = serde_json::from_slice(json).expect("issue --json");
        let ids: BTreeSet<i64> = json["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["certificate_id"].as_str().unwrap().parse().unwrap())
            .collect();
        let recorded: BTreeSet<i64> = certs.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, recorded);
    }
    "complete"
}

/// What [`invariants`] counted.
pub(super) struct Checked {
    pub issuances: usize,
}

/// Checks the database after crashes (see the module comment) and `keyward audit verify`.
pub(super) fn invariants(inst: &Installation) -> Checked {
    let (certs, archived, results, records) = block_on(async {
        let raw = inst.raw().await;
        let certs: BTreeMap<i64, (String, String)> =
            sqlx::query("SELECT id, serial_hex, key_origin FROM certificates")
                .fetch_all(&raw)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.get::<i64, _>("id"),
                        (
                            r.get::<String, _>("serial_hex"),
                            r.get::<String, _>("key_origin"),
                        ),
                    )
                })
                .collect();
        let archived: Vec<i64> = sqlx::query("SELECT certificate_id FROM archived_keys")
            .fetch_all(&raw)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<i64, _>("certificate_id"))
            .collect();
        let results: BTreeMap<String, (Option<String>, Option<String>)> =
            sqlx::query("SELECT request_id, response, certificate_ids FROM request_results")
                .fetch_all(&raw)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.get::<String, _>("request_id"),
                        (
                            r.get::<Option<String>, _>("response"),
                            r.get::<Option<String>, _>("certificate_ids"),
                        ),
                    )
                })
                .collect();
        raw.close().await;
        let store = inst.store().await;
        let records = store.audit_records(1_000_000).await.unwrap();
        store.close().await;
        (certs, archived, results, records)
    });

    // Issuance records: one per request ID, each naming certificates that exist, with their
    // serials; together they name every certificate exactly once.
    // (`keyward init` and `officer create` issue the TLS, OCSP signing and officer
    // certificates; the server renews the OCSP signing certificate.)
    let mut named: BTreeMap<i64, usize> = BTreeMap::new();
    let mut requests = BTreeSet::new();
    let issuing = [
        "issue-token",
        "issue-tls-certificate",
        "issue-officer-certificate",
        "issue-ocsp-certificate",
        "renew-ocsp-certificate",
    ];
    let issuances: Vec<_> = records
        .iter()
        .filter(|r| issuing.contains(&r.action.as_str()) && r.outcome == Outcome::Success)
        .collect();
    for r in &issuances {
        let ids: Vec<i64> = r
            .object
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|id| id.parse().unwrap())
            .collect();
        let serials: Vec<String> = r.detail["serials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), serials.len());
        for (id, serial) in ids.iter().zip(&serials) {
            let (stored, _) = certs.get(id).unwrap_or_else(|| {
                panic!("issuance record {} names missing Certificate ID {id}", r.id)
            });
            assert_eq!(stored, serial);
            *named.entry(*id).or_default() += 1;
        }
        if r.action != "issue-token" {
            continue;
        }
        let request_id = r.detail["request_id"].as_str().unwrap().to_string();
        assert!(
            requests.insert(request_id.clone()),
            "request {request_id} issued twice"
        );
        // The request's recorded answer names the same certificates.
        let (response, answer_ids) = results
            .get(&request_id)
            .unwrap_or_else(|| panic!("request {request_id} issued without a recorded answer"));
        assert!(response.is_some(), "request {request_id}: answer kept");
        assert_eq!(
            answer_ids.as_deref(),
            r.object.as_deref(),
            "request {request_id}"
        );
    }
    for id in certs.keys() {
        assert_eq!(
            named.get(id),
            Some(&1),
            "Certificate ID {id} has no issuance record (or several)"
        );
    }
    assert_eq!(
        results.len(),
        requests.len(),
        "a recorded answer without its issuance"
    );
    // Archived keys and their certificates, both ways, each with its archive record.
    let archived_set: BTreeSet<i64> = archived.iter().copied().collect();
    assert_eq!(
        archived_set.len(),
        archived.len(),
        "one key per certificate"
    );
    for id in &archived {
        let (_, origin) = certs
            .get(id)
            .unwrap_or_else(|| panic!("archived key without its certificate {id}"));
        assert_eq!(origin, "archived");
        assert!(
            records
                .iter()
                .any(|r| r.category == AuditCategory::KeysArchived
                    && r.action == "archive-key"
                    && r.object.as_deref() == Some(id.to_string().as_str())),
            "archived key of Certificate ID {id} without its audit record"
        );
    }
    for (id, (_, origin)) in &certs {
        if origin == "archived" {
            assert!(
                archived_set.contains(id),
                "Certificate ID {id} lost its archived key"
            );
        }
    }
    let mut verify = keyward();
    verify.args(["audit", "verify", "--dir"]).arg(&inst.dir);
    let out = run(verify, None);
    assert_eq!(out.status.code(), Some(0), "audit verify: {}", text(&out));
    Checked {
        issuances: requests.len(),
    }
}
