//! Administration on the CM host, with direct access to the configuration, the database and
//! the CA (the `keyward init`, `officer`, `kra` and `audit` commands; the server's start-up).
//!
//! - [`install`]: cm.conf and the database it names, opened with errors that name the setting
//!   (never a database password); the audit key and PIN files cm.conf names.
//! - [`init`]: a new installation, built in a staging directory and renamed into place: the CA
//!   hierarchy ([`ca`]: keys in encrypted files or on a PKCS#11 token, through `keyward-ca`),
//!   the TLS certificate, the KRA's archive key, the audit key, cm.conf and client.conf, the
//!   procedures and a first officer.
//! - [`officer`] and [`card`]: officers with a virtual-officer PKCS#12 or a smart card.
//! - [`procedures`]: procedures.toml after `init`: checked, loaded as a new version, compared
//!   at the server's start.
//! - [`public`]: the public URL (`--public-url`) of CRLs and OCSP, and the delegated OCSP
//!   signing certificate `init` issues.
//! - [`kra`]: switching cm.conf to an archive key on a PKCS#11 token.
//! - [`checks`]: the server's start-up checks (key files' modes, keys against their
//!   certificates and public keys, a writable database), each naming its setting.
//! - [`serve`]: the server bound to its address, serving and sealing the audit log.
//! - [`reload`]: cm.conf re-read into a running server on SIGHUP (`pin-mailer.*`; the other
//!   settings named when they need a restart).

pub mod audit;
pub mod ca;
pub mod card;
pub mod checks;
mod error;
pub mod init;
pub mod install;
pub mod kra;
pub mod officer;
pub mod procedures;
pub mod public;
pub mod reload;
pub mod serve;
pub mod standalone;

pub use error::AdminError;
