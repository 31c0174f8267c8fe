//! The CM host: the HTTPS API (officer authentication, request signatures, no policy) in
//! [`api`], and the services in [`service`], which apply the policy crate's rules and drive the
//! CA, the KRA and the store, each holding only the secrets it needs.

#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod crl;
pub mod error;
pub mod metrics;
pub mod ocsp;
pub mod public;
pub mod service;
pub mod tls;

pub use config::ServerConfig;
pub use error::ServerError;
pub use service::Services;
