//! The unexpired certificates of one certificate procedure and issuer (what OCSP responders
//! look through for a renewed signing certificate): the filter, the order, the bound and the
//! revocation status.

use keyward_policy::RevocationReason;
use keyward_store::{
    Answered, AuditCategory, NewCertificate, NewRevocation, RequestKey, StoredCertificate,
    MAX_UNEXPIRED,
};

use crate::common::{audit, cert, issued, TestDb};

keyward_testkit::on_both_engines!(async crate::common::fresh =>
    unexpired_certificates_of_a_procedure_and_issuer_newest_first
);

const ISSUER: &str = "CN=Keyward Issuing CA";
const NOW: i64 = 1_800_000_000;

fn signer(serial: &str, procedure: &str, issuer: &str, not_after: i64) -> NewCertificate {
    NewCertificate {
        certificate_procedure: procedure.into(),
        issuer: issuer.into(),
        not_after,
        der: serial.as_bytes().to_vec(),
        ..cert(serial, "CN=OCSP Responder")
    }
}

async fn unexpired_certificates_of_a_procedure_and_issuer_newest_first(db: TestDb) {
    let s = &db.store;
    let certs = [
        signer("01", "ocsp-signing", ISSUER, NOW + 100),
        signer("02", "ocsp-signing", ISSUER, NOW + 300),
        // Expired a second ago; expiring this very second is still unexpired.
        signer("03", "ocsp-signing", ISSUER, NOW - 1),
        signer("04", "ocsp-signing", ISSUER, NOW),
        signer("05", "ocsp-signing", ISSUER, NOW + 200),
        // Another procedure, another issuer: never listed.
        signer("06", "signing", ISSUER, NOW + 900),
        signer("07", "ocsp-signing", "CN=Other CA", NOW + 900),
    ];
    let stored = s
        .record_issuance(&certs, &issued("issue-ocsp-certificate"))
        .await
        .unwrap();
    let record = audit(AuditCategory::CertificatesRevoked, "revoke-certificate");
    let revocation = NewRevocation {
        certificate_id: stored[4].id,
        reason: RevocationReason::KeyCompromise,
        invalidity_date: None,
        audit: &record,
    };
    type NoAnswer = fn(&StoredCertificate) -> Answered;
    s.revoke(&revocation, None::<(&RequestKey, NoAnswer)>)
        .await
        .unwrap();

    let found = s
        .unexpired_certificates("ocsp-signing", ISSUER, NOW, 16)
        .await
        .unwrap();
    let serials: Vec<&str> = found.iter().map(|c| c.serial_hex.as_str()).collect();
    assert_eq!(serials, ["02", "05", "01", "04"]);
    // The revoked one carries its revocation; the others none.
    let revoked: Vec<bool> = found.iter().map(|c| c.revocation.is_some()).collect();
    assert_eq!(revoked, [false, true, false, false]);
    assert_eq!(
        found[1].revocation.as_ref().map(|r| r.reason),
        Some(RevocationReason::KeyCompromise)
    );
    assert_eq!(found[0].der, b"02");
    assert_eq!(found[0].id, stored[1].id);

    // Bounded: the newest first, then the limit.
    let two = s
        .unexpired_certificates("ocsp-signing", ISSUER, NOW, 2)
        .await
        .unwrap();
    let serials: Vec<&str> = two.iter().map(|c| c.serial_hex.as_str()).collect();
    assert_eq!(serials, ["02", "05"]);
    assert!(s
        .unexpired_certificates("ocsp-signing", ISSUER, NOW + 301, MAX_UNEXPIRED + 1)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .unexpired_certificates("ocsp-signing", "CN=Nobody", NOW, 16)
        .await
        .unwrap()
        .is_empty());
}
