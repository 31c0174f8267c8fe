//! Keyward's tamper-evident audit log, on top of the store's hash chain.
//!
//! The store appends every audit record with `prev_hash` (the hash of the record before it) and
//! `hash` (see [`keyward_store::audit_hash`]), serialising appends so that ID order and chain
//! order agree. This crate adds what needs a key:
//!
//! - [`AuditKey`]: the server's audit key (EC P-256, an encrypted PKCS#8 PEM file and a
//!   passphrase file, like the CA key) and [`AuditKey::seal`], which signs the head of the chain
//!   when records were appended since the last seal.
//! - [`seal`]: the key files `init` writes, and the server's periodic sealing.
//! - [`verify`]: walks the whole chain in ID order, page by page, and reports the first broken
//!   link with its record ID and a [`BreakKind`].
//!
//! What this detects, and what it cannot: anyone who can write to the database can recompute
//! the hashes, so the chain alone only catches careless changes; the seals, signed with a key
//! the database does not hold, catch any change to, removal of or insertion between records up
//! to the last seal. Records after the last seal (the unsealed tail, reported by [`verify`]) can
//! be removed or rewritten without a trace: seal often (the server seals every minute by
//! default) and keep the audit key away from the database.

#![forbid(unsafe_code)]

mod chain;
mod classify;
mod key;
pub mod report;
pub mod seal;
mod verify;

pub use chain::{BreakKind, BrokenLink};
pub use key::{public_key_id, seal_message, AuditKey, SEAL_LABEL};
pub use verify::{verify, VerifyReport};

use std::path::PathBuf;

/// Why an audit key operation or a verification could not run (a broken chain is not an error:
/// it is a [`VerifyReport`]).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] keyward_store::StoreError),
    /// A key or passphrase file could not be read or used; names the file.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key given in memory is unusable (not EC P-256, not PEM, cannot be decrypted).
    #[error("audit key: {0}")]
    Key(String),
    /// OpenSSL failed while signing or encoding.
    #[error("audit key: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// A new key file could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A passphrase for a new key could not be generated.
    #[error(transparent)]
    Crypto(#[from] keyward_crypto::CryptoError),
}
