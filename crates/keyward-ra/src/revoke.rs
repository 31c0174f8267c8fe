//! Revoking certificates and releasing holds, from the officer's side (role
//! `revoke-certificate`). Signed, idempotent requests: a transport failure is retried with the
//! same bytes, and the server answers a resend with the first answer.

use keyward_policy::RevocationReason;
use keyward_proto::{RevocationInfo, RevokeRequest, UnholdRequest, REVOKE_PATH, UNHOLD_PATH};

use crate::client::RaClient;
use crate::error::RaError;
use crate::util::{random_hex, unix_now};

/// The certificate to revoke or release: by Certificate ID or by serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// Certificate ID (decimal).
    Id(String),
    /// Serial number (hex).
    Serial(String),
}

impl Certificate {
    /// From `--id` / `--serial`: exactly one of them; the error names the options.
    pub fn from_options(id: Option<String>, serial: Option<String>) -> Result<Self, RaError> {
        match (id, serial) {
            (Some(id), None) => {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(RaError::input(
                        "--id",
                        "a Certificate ID is a decimal number",
                    ));
                }
                Ok(Certificate::Id(id))
            }
            (None, Some(serial)) => {
                let serial = keyward_policy::serial::normalize(&serial)
                    .map_err(|why| RaError::input("--serial", why))?;
                Ok(Certificate::Serial(serial))
            }
            _ => Err(RaError::input(
                "--id",
                "name the certificate by exactly one of --id and --serial",
            )),
        }
    }

    fn fields(&self) -> (Option<String>, Option<String>) {
        match self {
            Certificate::Id(id) => (Some(id.clone()), None),
            Certificate::Serial(serial) => (None, Some(serial.clone())),
        }
    }
}

/// Reads `--invalidity-date`: RFC 3339 (`2026-12-01T08:00:00Z`) or a day (`2026-12-01`, taken
/// as its first second, UTC); Unix seconds.
pub fn parse_invalidity_date(text: &str) -> Result<i64, RaError> {
    use time::format_description::well_known::Rfc3339;
    let bad = || {
        RaError::input(
            "--invalidity-date",
            format!("{text:?}: expected RFC 3339 (2026-12-01T08:00:00Z) or a day (2026-12-01)"),
        )
    };
    let when = match time::OffsetDateTime::parse(text, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let day = time::Date::parse(
                text,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| bad())?;
            day.midnight().assume_utc()
        }
    };
    let secs = when.unix_timestamp();
    if secs > unix_now() {
        return Err(RaError::input(
            "--invalidity-date",
            format!("{text} is in the future"),
        ));
    }
    Ok(secs)
}

/// Reads `--reason`: an RFC 5280 CRLReason name an officer may give (case-insensitive).
pub fn parse_reason(text: &str) -> Result<RevocationReason, RaError> {
    let reason: RevocationReason = text
        .parse()
        .map_err(|e: String| RaError::input("--reason", e))?;
    if !reason.officer_may_give() {
        let known: Vec<&str> = RevocationReason::FOR_OFFICERS
            .iter()
            .map(|r| r.name())
            .collect();
        return Err(RaError::input(
            "--reason",
            format!(
                "{reason} is not a reason an officer gives; give one of {}",
                known.join(", ")
            ),
        ));
    }
    Ok(reason)
}

impl RaClient {
    /// Revokes `cert` (or puts it on hold with `certificateHold`); returns its new status.
    pub async fn revoke(
        &self,
        cert: &Certificate,
        reason: RevocationReason,
        invalidity_date: Option<i64>,
    ) -> Result<RevocationInfo, RaError> {
        let (certificate_id, serial_hex) = cert.fields();
        let request = RevokeRequest {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            certificate_id,
            serial_hex,
            reason,
            invalidity_date,
        };
        let body = serde_json::to_vec(&request).map_err(|e| self.transport(e))?;
        self.post_signed(REVOKE_PATH, body).await
    }

    /// Releases the hold on `cert`; returns its new status.
    pub async fn unhold(&self, cert: &Certificate) -> Result<RevocationInfo, RaError> {
        let (certificate_id, serial_hex) = cert.fields();
        let request = UnholdRequest {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            certificate_id,
            serial_hex,
        };
        let body = serde_json::to_vec(&request).map_err(|e| self.transport(e))?;
        self.post_signed(UNHOLD_PATH, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_the_certificate_once() {
        assert_eq!(
            Certificate::from_options(Some("42".into()), None).unwrap(),
            Certificate::Id("42".into())
        );
        assert_eq!(
            Certificate::from_options(None, Some("0a:FF".into())).unwrap(),
            Certificate::Serial("aff".into())
        );
        for (id, serial) in [
            (None, None),
            (Some("1"), Some("ab")),
            (Some("x1"), None),
            (None, Some("xyz")),
        ] {
            let e =
                Certificate::from_options(id.map(Into::into), serial.map(Into::into)).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
        }
    }

    #[test]
    fn reasons_and_dates() {
        assert_eq!(
            parse_reason("keycompromise").unwrap(),
            RevocationReason::KeyCompromise
        );
        let e = parse_reason("removeFromCRL").unwrap_err().to_string();
        assert!(
            e.starts_with("--reason: removeFromCRL is not a reason"),
            "{e}"
        );
        assert!(parse_reason("stolen")
            .unwrap_err()
            .to_string()
            .contains("superseded"));
        assert_eq!(parse_invalidity_date("2026-01-02").unwrap(), 1_767_312_000);
        assert_eq!(
            parse_invalidity_date("2026-01-02T01:00:00+01:00").unwrap(),
            1_767_312_000
        );
        assert!(parse_invalidity_date("2999-01-01")
            .unwrap_err()
            .to_string()
            .contains("future"));
        assert!(parse_invalidity_date("yesterday")
            .unwrap_err()
            .to_string()
            .contains("RFC 3339"));
    }
}
