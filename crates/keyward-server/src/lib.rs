//! The CM host: the HTTPS API (officer authentication, request signatures, no policy) in
//! [`api`], and the issuance service in [`service`], which applies the policy crate's rules and
//! drives the CA and the store.

#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod error;
pub mod service;
pub mod tls;

pub use config::ServerConfig;
pub use error::ServerError;
pub use service::Service;
