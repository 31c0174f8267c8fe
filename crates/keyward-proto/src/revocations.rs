//! Revoking certificates, putting them on hold and releasing holds (role `revoke-certificate`),
//! and the status every certificate listing carries.

use serde::{Deserialize, Serialize};

use keyward_policy::RevocationReason;

/// Path of `POST` [`RevokeRequest`] (idempotent, see [`crate::is_idempotent`]).
pub const REVOKE_PATH: &str = "/v1/certificates/revoke";
/// Path of `POST` [`UnholdRequest`] (idempotent, see [`crate::is_idempotent`]).
pub const UNHOLD_PATH: &str = "/v1/certificates/unhold";

/// The statuses a certificate listing shows and `?status=` filters by.
pub const STATUSES: [&str; 4] = ["valid", "revoked", "on-hold", "expired"];

/// `POST /v1/certificates/revoke`: revoke a certificate, or put it on hold
/// (`certificateHold`). Names the certificate by exactly one of `certificate_id` and
/// `serial_hex`. Idempotent: a resend of the same signed bytes gets the first answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeRequest {
    /// Random ID chosen by the client: 1 to 64 printable ASCII characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the client when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// Certificate ID (decimal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// Serial number (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_hex: Option<String>,
    /// RFC 5280 CRLReason name; officers may give `unspecified`, `keyCompromise`,
    /// `affiliationChanged`, `superseded`, `cessationOfOperation`, `certificateHold` and
    /// `privilegeWithdrawn`.
    pub reason: RevocationReason,
    /// When the key is known or suspected to have been compromised, Unix seconds (not in the
    /// future).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidity_date: Option<i64>,
}

/// `POST /v1/certificates/unhold`: release a certificate on hold (`certificateHold`); the next
/// delta CRL lists it as `removeFromCRL`. Idempotent like [`RevokeRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnholdRequest {
    /// Random ID chosen by the client: 1 to 64 printable ASCII characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the client when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// Certificate ID (decimal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// Serial number (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_hex: Option<String>,
}

/// The answer to a revocation or an unhold: the certificate and its new status.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevocationInfo {
    /// Certificate ID (decimal string).
    pub certificate_id: String,
    /// Serial, hex.
    pub serial: String,
    /// Subject.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// Its status now.
    #[serde(flatten)]
    pub status: StatusInfo,
}

/// A certificate's status: `valid`, `revoked` (with reason and time), `on-hold` (since when) or
/// `expired`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusInfo {
    /// One of `valid`, `revoked`, `on-hold`, `expired`.
    pub status: String,
    /// Why it was revoked or put on hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<RevocationReason>,
    /// When it was revoked or put on hold, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// The invalidity date given, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidity_date: Option<String>,
    /// When its last hold was released, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_released_at: Option<String>,
}

impl StatusInfo {
    /// As officers read it: `valid`, `revoked (keyCompromise, 2026-12-02T10:00:00Z)`,
    /// `on hold (since 2026-12-02T10:00:00Z)`, `expired`.
    pub fn describe(&self) -> String {
        let at = self.revoked_at.as_deref().unwrap_or("?");
        match self.status.as_str() {
            "revoked" => match self.revocation_reason {
                Some(reason) => format!("revoked ({reason}, {at})"),
                None => format!("revoked ({at})"),
            },
            "on-hold" => format!("on hold (since {at})"),
            other => other.to_string(),
        }
    }
}

/// An old certificate of a recovered key, revoked by the recovery (the recover key procedure's
/// `revoke_old`) in the transaction that recorded the new certificates; or, when it was revoked
/// already, kept as it was (`kept`: its own reason and time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokedByRecovery {
    /// Certificate ID of the old certificate (decimal string).
    pub certificate_id: String,
    /// Its serial, hex.
    pub serial: String,
    /// The reason in force now.
    pub reason: RevocationReason,
    /// When that revocation was made, RFC 3339.
    pub revoked_at: String,
    /// True when it was revoked (or on hold, for a hold asked for) already and is kept as it
    /// was.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
    /// True when a hold (`certificateHold`) was made final with the recovery's reason.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold_replaced: bool,
}

impl RevokedByRecovery {
    /// As the officer reads it: `certificate 42 revoked (superseded)`, `certificate 42 kept:
    /// revoked already (keyCompromise, 2026-12-02T10:00:00Z)`.
    pub fn describe(&self) -> String {
        let id = &self.certificate_id;
        if self.kept {
            format!(
                "certificate {id} kept: revoked already ({}, {})",
                self.reason, self.revoked_at
            )
        } else if self.hold_replaced {
            format!("certificate {id} revoked ({}; was on hold)", self.reason)
        } else {
            format!("certificate {id} revoked ({})", self.reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_refuse_unknown_fields_and_carry_reason_names() {
        let head = r#""request_id":"r","timestamp":1,"nonce":"n""#;
        let revoke = format!(r#"{{{head},"certificate_id":"7","reason":"keyCompromise"}}"#);
        let r: RevokeRequest = serde_json::from_str(&revoke).unwrap();
        assert_eq!(r.reason, RevocationReason::KeyCompromise);
        assert_eq!(
            (r.certificate_id.as_deref(), r.serial_hex),
            (Some("7"), None)
        );
        let extra = revoke.replace('}', r#","x":1}"#);
        assert!(serde_json::from_str::<RevokeRequest>(&extra).is_err());
        let unknown = revoke.replace("keyCompromise", "stolen");
        let e = serde_json::from_str::<RevokeRequest>(&unknown).unwrap_err();
        assert!(e.to_string().contains("stolen"), "{e}");
        let unhold = format!(r#"{{{head},"serial_hex":"0a"}}"#);
        assert!(serde_json::from_str::<UnholdRequest>(&unhold).is_ok());
        let extra = unhold.replace('}', r#","reason":"unspecified"}"#);
        assert!(serde_json::from_str::<UnholdRequest>(&extra).is_err());
    }

    #[test]
    fn statuses_read_as_officers_expect() {
        let revoked = StatusInfo {
            status: "revoked".into(),
            revocation_reason: Some(RevocationReason::Superseded),
            revoked_at: Some("2026-12-02T10:00:00Z".into()),
            ..Default::default()
        };
        assert_eq!(
            revoked.describe(),
            "revoked (superseded, 2026-12-02T10:00:00Z)"
        );
        let held = StatusInfo {
            status: "on-hold".into(),
            ..revoked.clone()
        };
        assert_eq!(held.describe(), "on hold (since 2026-12-02T10:00:00Z)");
        let valid = StatusInfo {
            status: "valid".into(),
            ..Default::default()
        };
        assert_eq!(valid.describe(), "valid");
        let json = serde_json::to_value(&revoked).unwrap();
        assert_eq!(json["revocation_reason"], "superseded");
        assert!(json.get("invalidity_date").is_none());
    }

    #[test]
    fn recovery_revocations_read_as_officers_expect() {
        let mut r = RevokedByRecovery {
            certificate_id: "42".into(),
            serial: "0a".into(),
            reason: RevocationReason::Superseded,
            revoked_at: "2026-12-02T10:00:00Z".into(),
            kept: false,
            hold_replaced: false,
        };
        assert_eq!(r.describe(), "certificate 42 revoked (superseded)");
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("kept").is_none() && json.get("hold_replaced").is_none());
        r.hold_replaced = true;
        assert_eq!(
            r.describe(),
            "certificate 42 revoked (superseded; was on hold)"
        );
        r.hold_replaced = false;
        r.kept = true;
        r.reason = RevocationReason::KeyCompromise;
        assert_eq!(
            r.describe(),
            "certificate 42 kept: revoked already (keyCompromise, 2026-12-02T10:00:00Z)"
        );
        let back: RevokedByRecovery =
            serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
