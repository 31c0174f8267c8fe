//! Keyward end to end: `keyward init` and real `keyward server` processes driven through the
//! real binary, and its output checked with tools Keyward did not write (OpenSSL, keytool,
//! pk12util, certtool, pkilint, SoftHSM2). One test binary, one link: each file of this
//! directory is a module (`cargo test -p keyward --test e2e MODULE::` runs one), `common` builds
//! installations and `support` holds the foreign tools' checks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod common;
mod support;

mod alt_names;
mod api_contract;
mod approvals;
mod attribute_certificates;
mod audit;
mod batch;
mod certificate_export;
mod connections;
mod crash;
mod crl;
mod hostile_requests;
mod hsm_keys;
mod interop_selftest;
mod json_errors;
mod key_archive;
mod key_archive_refusals;
mod key_archive_revocation;
mod key_pool;
mod key_specs;
mod keygen_seed;
mod lint_all;
mod metrics;
mod ocsp;
mod output_checks;
mod p12_inspect;
mod p12_matrix;
mod p12_profiles;
mod pin_letters;
mod pin_mail;
mod pin_mail_reload;
mod procedures_file;
mod qualified;
mod quickstart;
mod refusals;
mod relying_parties;
mod retries;
mod revocation;
mod schemathesis;
mod shell_docs;
mod smart_card;
mod standalone_ocsp;
mod startup_checks;
mod terminal_fit;
mod two_nodes;
mod two_nodes_revocation;
mod uniqueness;
mod unreachable;
