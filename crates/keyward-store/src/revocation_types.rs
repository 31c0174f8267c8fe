//! The types of revocation state (see [`crate::revocations`]).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use keyward_policy::RevocationReason;

use crate::types::NewAudit;

/// A certificate's revocation row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// Why (RFC 5280 CRLReason).
    pub reason: RevocationReason,
    /// When revoked (or put on hold), Unix seconds.
    pub revoked_at: i64,
    /// When the key is known or suspected to have been compromised, Unix seconds.
    pub invalidity_date: Option<i64>,
    /// When a hold was released (unhold), Unix seconds; `None` while the revocation is in force.
    pub released_at: Option<i64>,
    /// The revocation-change number of the last change (see [`crate::Store::revocation_changes`]).
    pub change_seq: i64,
}

impl Revocation {
    /// Whether it is in force (a hold not released, or a revocation).
    pub fn in_force(&self) -> bool {
        self.released_at.is_none()
    }

    /// Whether it is a hold in force.
    pub fn on_hold(&self) -> bool {
        self.in_force() && self.reason == RevocationReason::CertificateHold
    }
}

/// What an officer sees of a certificate: valid, revoked, on hold, or expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateStatus {
    /// Within its validity and not revoked.
    Valid,
    /// Revoked for good.
    Revoked {
        /// Why.
        reason: RevocationReason,
        /// When, Unix seconds.
        revoked_at: i64,
        /// The invalidity date given, Unix seconds.
        invalidity_date: Option<i64>,
    },
    /// On hold (`certificateHold`) since then, Unix seconds.
    OnHold {
        /// Since when, Unix seconds.
        since: i64,
    },
    /// Past its `notAfter` and not revoked.
    Expired,
}

impl CertificateStatus {
    /// The status of a certificate valid until `not_after` with `revocation`, at `now`: a
    /// revocation in force wins over expiry (a CRL may still list it).
    pub fn of(not_after: i64, revocation: Option<&Revocation>, now: i64) -> CertificateStatus {
        match revocation.filter(|r| r.in_force()) {
            Some(r) if r.reason == RevocationReason::CertificateHold => CertificateStatus::OnHold {
                since: r.revoked_at,
            },
            Some(r) => CertificateStatus::Revoked {
                reason: r.reason,
                revoked_at: r.revoked_at,
                invalidity_date: r.invalidity_date,
            },
            None if not_after < now => CertificateStatus::Expired,
            None => CertificateStatus::Valid,
        }
    }

    /// The matching filter (its name: `valid`, `revoked`, `on-hold`, `expired`).
    pub fn filter(&self) -> StatusFilter {
        match self {
            CertificateStatus::Valid => StatusFilter::Valid,
            CertificateStatus::Revoked { .. } => StatusFilter::Revoked,
            CertificateStatus::OnHold { .. } => StatusFilter::OnHold,
            CertificateStatus::Expired => StatusFilter::Expired,
        }
    }
}

/// A status to search for (`--status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    /// `valid`.
    Valid,
    /// `revoked` (for good; holds are `on-hold`).
    Revoked,
    /// `on-hold`.
    OnHold,
    /// `expired` (and not revoked).
    Expired,
}

impl StatusFilter {
    /// Every status.
    pub const ALL: [StatusFilter; 4] = [
        StatusFilter::Valid,
        StatusFilter::Revoked,
        StatusFilter::OnHold,
        StatusFilter::Expired,
    ];

    /// The name on the command line, in queries and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            StatusFilter::Valid => "valid",
            StatusFilter::Revoked => "revoked",
            StatusFilter::OnHold => "on-hold",
            StatusFilter::Expired => "expired",
        }
    }
}

impl fmt::Display for StatusFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StatusFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!("unknown status {s:?}: expected valid, revoked, on-hold or expired")
            })
    }
}

/// A revocation to record (see [`crate::Store::revoke`]).
#[derive(Debug, Clone, Copy)]
pub struct NewRevocation<'a> {
    /// The certificate.
    pub certificate_id: i64,
    /// Why.
    pub reason: RevocationReason,
    /// The invalidity date, Unix seconds.
    pub invalidity_date: Option<i64>,
    /// The audit record (its officer is recorded as the revoking officer).
    pub audit: &'a NewAudit,
}

/// A hold to release (see [`crate::Store::unhold`]).
#[derive(Debug, Clone, Copy)]
pub struct Unhold<'a> {
    /// The certificate.
    pub certificate_id: i64,
    /// The audit record.
    pub audit: &'a NewAudit,
}

/// A certificate's status as OCSP needs it (see [`crate::Store::certificate_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialStatus {
    /// Certificate ID.
    pub certificate_id: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// Its revocation row, if it has one (released holds included: see
    /// [`Revocation::in_force`]).
    pub revocation: Option<Revocation>,
}

/// One row of a CRL stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Certificate ID.
    pub certificate_id: i64,
    /// Serial number: lowercase hex without leading zeros.
    pub serial_hex: String,
    /// Why.
    pub reason: RevocationReason,
    /// When revoked, Unix seconds.
    pub revoked_at: i64,
    /// The invalidity date, Unix seconds.
    pub invalidity_date: Option<i64>,
    /// When the hold was released (a delta CRL lists it as `removeFromCRL`).
    pub released_at: Option<i64>,
    /// The revocation-change number of this state.
    pub change_seq: i64,
    /// The certificate's validity end, Unix seconds.
    pub not_after: i64,
}

/// A CRL number handed out (see [`crate::Store::next_crl_number`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlNumber {
    /// The number (RFC 5280 §5.2.3).
    pub number: i64,
    /// The last revocation change the CRL covers: a delta CRL based on it asks for the changes
    /// after this.
    pub changes_upto: i64,
    /// When it was handed out, Unix seconds.
    pub issued_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(reason: RevocationReason, released_at: Option<i64>) -> Revocation {
        Revocation {
            reason,
            revoked_at: 100,
            invalidity_date: None,
            released_at,
            change_seq: 1,
        }
    }

    #[test]
    fn status_of_a_certificate() {
        let hold = revocation(RevocationReason::CertificateHold, None);
        let released = revocation(RevocationReason::CertificateHold, Some(150));
        let compromised = revocation(RevocationReason::KeyCompromise, None);
        let table = [
            (1000, None, StatusFilter::Valid),
            (10, None, StatusFilter::Expired),
            (1000, Some(&hold), StatusFilter::OnHold),
            (1000, Some(&released), StatusFilter::Valid),
            (10, Some(&released), StatusFilter::Expired),
            (1000, Some(&compromised), StatusFilter::Revoked),
            (10, Some(&compromised), StatusFilter::Revoked),
        ];
        for (not_after, rev, want) in table {
            let status = CertificateStatus::of(not_after, rev, 500);
            assert_eq!(status.filter(), want, "{not_after} {rev:?}");
        }
    }

    #[test]
    fn filters_parse_by_name() {
        for f in StatusFilter::ALL {
            assert_eq!(f.name().parse::<StatusFilter>().unwrap(), f);
        }
        assert!("on_hold"
            .parse::<StatusFilter>()
            .unwrap_err()
            .contains("on-hold"));
    }
}
