//! The store's error type.

/// Why a store operation failed.
///
/// Messages never carry secret data: the store holds none in clear, and a database URL (which
/// may hold a password) is never echoed, only its scheme.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL has a scheme Keyward does not support.
    #[error(
        "unsupported database URL scheme {0:?}: use sqlite:///ABSOLUTE/PATH, sqlite://RELATIVE/PATH \
         or postgres://USER@HOST:PORT/DB"
    )]
    UnsupportedUrl(String),
    /// The PostgreSQL server has no database of the URL's name; the text is the server's
    /// (`database "kw" does not exist`).
    #[error(
        "{0} on the PostgreSQL server: create it first (createdb NAME, or CREATE DATABASE NAME) \
         or name an existing one"
    )]
    MissingDatabase(String),
    /// The database refused or failed (connection, SQL, I/O).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A unique value exists already; [`ConflictOn`] names the field or the value.
    #[error("{0} exists already")]
    Conflict(ConflictOn),
    /// A one-time item (a PIN letter, an approved recovery request) was used already, or
    /// cannot be used as asked; [`UsedItem`] names it.
    #[error("{0} has been used already")]
    Used(UsedItem),
    /// A PIN letter that [`Store::void_pin_letter`](crate::Store::void_pin_letter) left as it
    /// is: unknown, used or voided already.
    #[error("PIN letter {0}: {1}")]
    NotVoided(i64, crate::pin_letters::VoidRefused),
    /// An argument the store cannot accept; the text names the field and the reason.
    #[error("invalid {0}")]
    Invalid(String),
    /// No certificate has this Certificate ID.
    #[error("certificate_id: no certificate {0}")]
    UnknownCertificate(i64),
    /// The certificate is revoked already (a hold may still be made final, see
    /// [`Store::revoke`](crate::Store::revoke)).
    #[error(
        "certificate {certificate_id} is revoked already ({reason}, at Unix time {revoked_at})"
    )]
    AlreadyRevoked {
        /// The certificate.
        certificate_id: i64,
        /// The reason it was revoked with.
        reason: keyward_policy::RevocationReason,
        /// When, Unix seconds.
        revoked_at: i64,
    },
    /// An unhold of a certificate that is not on hold.
    #[error("certificate {certificate_id} is not on hold")]
    NotOnHold {
        /// The certificate.
        certificate_id: i64,
        /// Its revocation in force, if it is revoked for good.
        revocation: Option<crate::Revocation>,
    },
    /// A stored row that cannot be understood (damaged or written by a newer version).
    #[error("damaged row: {0}")]
    Corrupt(String),
    /// The database can be read but not written (a read-only file or URL, a read-only
    /// PostgreSQL database or transaction, a user without write privileges); the text is the
    /// engine's.
    #[error("the database cannot be written (every issuance would fail): {0}")]
    ReadOnly(String),
}

/// Which unique value a [`StoreError::Conflict`] is about. Shown as the field (`request ID`)
/// or the value (`PIN letter ID 17`), as the error's text names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictOn {
    /// An officer's name.
    OfficerName,
    /// The SHA-256 fingerprint of an officer's certificate.
    OfficerFingerprint,
    /// A certificate's serial number.
    CertificateSerial,
    /// An attribute certificate's serial number.
    AttributeCertificateSerial,
    /// A procedure's name.
    ProcedureName,
    /// The issuance request ID of a queued PIN mail.
    PinMailRequest,
    /// An officer's request ID (idempotent requests).
    RequestId,
    /// A PIN letter ID: the lowest one that exists already, when known.
    PinLetterId(Option<i64>),
    /// A version of the procedures: the one loaded meanwhile, when known.
    ProcedureVersion(Option<i64>),
}

impl std::fmt::Display for ConflictOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let field = match self {
            ConflictOn::OfficerName => "officer name",
            ConflictOn::OfficerFingerprint => "officer certificate fingerprint",
            ConflictOn::CertificateSerial => "certificate serial",
            ConflictOn::AttributeCertificateSerial => "attribute certificate serial",
            ConflictOn::ProcedureName => "procedure name",
            ConflictOn::PinMailRequest => "PIN mail request",
            ConflictOn::RequestId => "request ID",
            ConflictOn::PinLetterId(Some(id)) => return write!(f, "PIN letter ID {id}"),
            ConflictOn::PinLetterId(None) => "PIN letter ID",
            ConflictOn::ProcedureVersion(Some(v)) => return write!(f, "procedure version {v}"),
            ConflictOn::ProcedureVersion(None) => "procedure version",
        };
        f.write_str(field)
    }
}

/// Which one-time item a [`StoreError::Used`] is about, shown as `PIN letter 17` or
/// `approval 4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsedItem {
    /// The PIN letter with this ID.
    PinLetter(i64),
    /// The recovery approval request with this ID.
    Approval(i64),
}

impl std::fmt::Display for UsedItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsedItem::PinLetter(id) => write!(f, "PIN letter {id}"),
            UsedItem::Approval(id) => write!(f, "approval {id}"),
        }
    }
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`] on `field`; any other
    /// error to [`StoreError::Database`].
    pub(crate) fn unique(field: ConflictOn) -> impl Fn(sqlx::Error) -> StoreError {
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(field),
            _ => StoreError::Database(e),
        }
    }

    /// Whether this is a unique-constraint violation reported by the database.
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_and_used_items_read_as_before() {
        let conflicts = [
            (ConflictOn::OfficerName, "officer name"),
            (
                ConflictOn::OfficerFingerprint,
                "officer certificate fingerprint",
            ),
            (ConflictOn::CertificateSerial, "certificate serial"),
            (
                ConflictOn::AttributeCertificateSerial,
                "attribute certificate serial",
            ),
            (ConflictOn::ProcedureName, "procedure name"),
            (ConflictOn::PinMailRequest, "PIN mail request"),
            (ConflictOn::RequestId, "request ID"),
            (ConflictOn::PinLetterId(Some(17)), "PIN letter ID 17"),
            (ConflictOn::PinLetterId(None), "PIN letter ID"),
        ];
        for (on, text) in conflicts {
            assert_eq!(
                StoreError::Conflict(on).to_string(),
                format!("{text} exists already")
            );
        }
        assert_eq!(
            StoreError::Used(UsedItem::PinLetter(17)).to_string(),
            "PIN letter 17 has been used already"
        );
        assert_eq!(
            StoreError::Used(UsedItem::Approval(4)).to_string(),
            "approval 4 has been used already"
        );
    }
}
