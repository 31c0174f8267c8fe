//! The attribute certificate (RFC 5755) a token procedure may issue with the token: bound by
//! its holder field to the token's first new certificate, recorded in the same transaction, and
//! sent to the RA apart from the keys (it never goes into the PKCS#12).

use keyward_ca::{AttributeCertificateRequest, CertificateAuthority};
use keyward_policy::AttributeCertificateProcedure;
use keyward_store::NewAttributeCertificate;

use super::produce::Output;
use super::Refusal;

/// Issues the attribute certificate of `procedure` for the first new certificate of `outputs`
/// (recorded with that certificate). `None` without a procedure or a new certificate to bind
/// to.
pub(super) fn issue(
    ca: &CertificateAuthority,
    outputs: &[Output],
    procedure: Option<&AttributeCertificateProcedure>,
    now: i64,
) -> Result<Option<NewAttributeCertificate>, Refusal> {
    let Some(procedure) = procedure else {
        return Ok(None);
    };
    let Some(holder) = outputs.iter().find_map(|o| match o {
        Output::New { cert, .. } => Some(cert),
        Output::Reused { .. } => None,
    }) else {
        return Ok(None);
    };
    let serial = keyward_crypto::random_serial().map_err(Refusal::internal)?;
    let der = ca
        .issue_attribute_certificate(&AttributeCertificateRequest {
            holder,
            procedure,
            serial,
            not_before: now,
        })
        .map_err(Refusal::internal)?;
    // The CA ends the AC with its holder at the latest; the record says the same.
    let holder_end = super::asn1_unix(holder.not_after())?;
    let wanted_end = now.saturating_add(i64::from(procedure.validity_days) * 86_400);
    Ok(Some(NewAttributeCertificate {
        serial_hex: serial_hex(&serial)?,
        procedure: procedure.name.clone(),
        not_before: now,
        not_after: wanted_end.min(holder_end),
        der,
    }))
}

/// As certificates' serials are shown: lowercase hex without leading zeros.
fn serial_hex(serial: &[u8]) -> Result<String, Refusal> {
    let bn = openssl::bn::BigNum::from_slice(serial).map_err(Refusal::internal)?;
    Ok(bn.to_hex_str().map_err(Refusal::internal)?.to_lowercase())
}
