//! Certificate status for the responder: from the in-memory [`StatusIndex`] when it knows the
//! serial, else one indexed store look-up per entry.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use keyward_ocsp::{CertStatusAnswer, OcspError, Serial, StatusSource};
use keyward_store::{SerialStatus, Store};

use super::index::{key_of_bytes, StatusIndex};

/// The status of the issuing CA's certificates (issuer index 0 of the responder's
/// [`keyward_ocsp::IssuerSet`]) as the database records them.
#[derive(Clone)]
pub struct StoreSource {
    store: Store,
    /// The issuing CA's name as certificates record it ([`crate::service::name_to_string`]).
    issuer: String,
    index: Arc<StatusIndex>,
}

impl StoreSource {
    /// Status of certificates issued by `issuer` (the issuing CA's subject, as recorded), with
    /// `index` answering what it knows.
    pub fn new(store: Store, issuer: String, index: Arc<StatusIndex>) -> Self {
        StoreSource {
            store,
            issuer,
            index,
        }
    }

    /// The status index the answers come from first.
    pub fn index(&self) -> &StatusIndex {
        &self.index
    }

    /// The issuer name it asks about.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The store it reads.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The answer for a certificate's status row (`None`: never issued by this issuer).
pub fn answer(status: Option<SerialStatus>) -> CertStatusAnswer {
    let Some(status) = status else {
        return CertStatusAnswer::Unknown;
    };
    match status.revocation {
        // A hold in force is `revoked` with reason certificateHold (RFC 6960 §2.2); a released
        // hold is good again.
        Some(r) if r.in_force() => CertStatusAnswer::Revoked {
            at: UNIX_EPOCH + Duration::from_secs(u64::try_from(r.revoked_at).unwrap_or(0)),
            reason: r.reason,
        },
        _ => CertStatusAnswer::Good,
    }
}

impl StatusSource for StoreSource {
    fn status(
        &self,
        issuer: usize,
        serial: &Serial,
    ) -> impl Future<Output = Result<CertStatusAnswer, OcspError>> + Send {
        // A negative serial (high bit set) is nothing we issued: our serials are positive.
        let ours = issuer == 0 && serial.as_bytes().first().is_some_and(|b| b & 0x80 == 0);
        let key = key_of_bytes(serial.as_bytes());
        let known = key.and_then(|key| self.index.answer(key));
        let hex = serial.hex();
        async move {
            if !ours {
                return Ok(CertStatusAnswer::Unknown);
            }
            if let Some(known) = known {
                return Ok(known);
            }
            match self.store.certificate_status(&self.issuer, &hex).await {
                Ok(status) => {
                    let answer = answer(status);
                    if let Some(key) = key {
                        self.index.learn(key, &answer);
                    }
                    Ok(answer)
                }
                Err(e) => {
                    tracing::warn!("OCSP: certificate status unavailable: {e}");
                    Err(OcspError::Unavailable("database".into()))
                }
            }
        }
    }
}

/// The DER INTEGER content bytes of a positive serial written as the store writes it
/// (lowercase hex without leading zeros): what a client's CertID carries.
pub fn serial_from_hex(hex: &str) -> Option<Serial> {
    let padded = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_string()
    };
    let mut bytes = ::hex::decode(padded).ok()?;
    if bytes.is_empty() {
        return None;
    }
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    Some(Serial::from_der_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_policy::RevocationReason;
    use keyward_store::Revocation;

    #[test]
    fn serials_round_trip_through_the_store_form() {
        for bytes in [
            vec![0x00],
            vec![0x01, 0x02],
            vec![0x00, 0x8f, 0x01],
            vec![0x7f],
        ] {
            let serial = Serial::from_der_bytes(&bytes);
            assert_eq!(serial_from_hex(&serial.hex()), Some(serial), "{bytes:?}");
        }
        assert_eq!(serial_from_hex(""), None);
        assert_eq!(serial_from_hex("xyz"), None);
    }

    #[test]
    fn status_rows_become_answers() {
        assert_eq!(answer(None), CertStatusAnswer::Unknown);
        let row = |revocation| SerialStatus {
            certificate_id: 7,
            not_after: 2_000_000_000,
            revocation,
        };
        assert_eq!(answer(Some(row(None))), CertStatusAnswer::Good);
        let revoked = Revocation {
            reason: RevocationReason::KeyCompromise,
            revoked_at: 1_790_000_000,
            invalidity_date: None,
            released_at: None,
            change_seq: 3,
        };
        assert_eq!(
            answer(Some(row(Some(revoked.clone())))),
            CertStatusAnswer::Revoked {
                at: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
                reason: RevocationReason::KeyCompromise
            }
        );
        let released = Revocation {
            reason: RevocationReason::CertificateHold,
            released_at: Some(1_790_000_100),
            ..revoked
        };
        assert_eq!(answer(Some(row(Some(released)))), CertStatusAnswer::Good);
    }
}
