//! The RA client: what runs on the officer's machine.
//!
//! It holds the officer's key (a smart card through PKCS#11, or a virtual-officer PKCS#12) and the keys it
//! generates for tokens; it never sees CA or archive keys. It computes the token plan to show the
//! officer, generates the RA-local keys, signs the request, and writes the PKCS#12 and
//! certificate files atomically.

#![forbid(unsafe_code)]

pub mod approvals;
pub mod batch;
pub mod client;
pub mod config;
pub mod content;
pub mod error;
mod failure;
mod files;
pub mod issue;
pub mod officer;
pub mod pins;
pub mod revoke;
pub mod seed;
pub mod smart_card;
pub mod token;
mod undelivered;
mod util;

pub use client::RaClient;
pub use config::ClientConfig;
pub use error::{RaError, APPROVAL_REQUIRED, EXIT_AWAITING_APPROVAL};
pub use officer::OfficerCredential;
