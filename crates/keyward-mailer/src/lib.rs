//! The PIN mailer's delivery: SMTP mail and printable PDF letters.
//!
//! The server sends PIN mails over SMTP ([`smtp`]), the officer's client renders PIN/PUK letters
//! for sealed mailers ([`pdf`]). Secrets (PINs, PUKs, the SMTP password) are held in
//! [`zeroize::Zeroizing`] and never appear in `Debug` output or error messages.

#![forbid(unsafe_code)]

pub mod letters;
pub mod pdf;
pub mod smtp;

/// Everything that can go wrong delivering a PIN; the text never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// A setting or argument is wrong; the text names the field (e.g. "pin-mailer.smtp-port",
    /// "recipient address").
    #[error("{0}")]
    Invalid(String),
    /// The SMTP server could not be reached or refused the mail: names the server as
    /// `host:port`, what went wrong (text from lettre, never the body or the password) and what
    /// to check (the cm.conf settings, see [`smtp::setting`]).
    #[error("SMTP server {server}: {reason}; {hint}")]
    Smtp {
        /// `host:port` of the SMTP server.
        server: String,
        /// What went wrong.
        reason: String,
        /// What to check, e.g. "check pin-mailer.smtp-host and pin-mailer.smtp-port in cm.conf".
        hint: String,
    },
    /// PDF rendering failed.
    #[error("PDF: {0}")]
    Pdf(String),
}
