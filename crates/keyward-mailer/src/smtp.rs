//! PIN mails over SMTP, with STARTTLS or implicit TLS on rustls.
//!
//! The transport is lettre's *blocking* [`SmtpTransport`]: the server calls [`Mailer::send`]
//! inside `tokio::task::spawn_blocking`, and one connection per PIN mail is plenty.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Address, Message, SmtpTransport, Transport};
use zeroize::Zeroizing;

use crate::MailerError;

/// The cm.conf settings behind [`SmtpSettings`]: errors name them, so that an officer knows
/// which line to fix.
pub mod setting {
    /// [`SmtpSettings::host`](super::SmtpSettings::host).
    pub const HOST: &str = "pin-mailer.smtp-host";
    /// [`SmtpSettings::port`](super::SmtpSettings::port).
    pub const PORT: &str = "pin-mailer.smtp-port";
    /// [`SmtpSettings::security`](super::SmtpSettings::security).
    pub const SECURITY: &str = "pin-mailer.smtp-security";
    /// [`SmtpSettings::username`](super::SmtpSettings::username).
    pub const USERNAME: &str = "pin-mailer.smtp-username";
    /// [`SmtpSettings::password`](super::SmtpSettings::password), read from this file.
    pub const PASSWORD_FILE: &str = "pin-mailer.smtp-password-file";
    /// [`SmtpSettings::ca_file`](super::SmtpSettings::ca_file).
    pub const CA_FILE: &str = "pin-mailer.smtp-ca-file";
    /// [`SmtpSettings::from`](super::SmtpSettings::from).
    pub const FROM: &str = "pin-mailer.from";
}

/// How the connection to the SMTP server is protected (cm.conf `pin-mailer.smtp-security`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS at all ("none" or "plain"); only sensible towards a local relay.
    Plain,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
    StartTls,
    /// Implicit TLS from the first byte, "SMTPS" (usually port 465).
    Tls,
}

impl SmtpSecurity {
    /// The name cm.conf uses for it (`none`, `starttls`, `tls`).
    pub fn name(self) -> &'static str {
        match self {
            SmtpSecurity::Plain => "none",
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
        }
    }
}

impl FromStr for SmtpSecurity {
    type Err = MailerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "plain" => Ok(SmtpSecurity::Plain),
            "starttls" => Ok(SmtpSecurity::StartTls),
            "tls" => Ok(SmtpSecurity::Tls),
            _ => Err(MailerError::Invalid(format!(
                "{}: {s:?} is not one of none, plain, starttls, tls",
                setting::SECURITY
            ))),
        }
    }
}

/// Where and how to send PIN mails (cm.conf `pin-mailer.*`, see [`setting`]).
#[derive(Clone)]
pub struct SmtpSettings {
    /// SMTP server host name or IP address; also the name checked in its TLS certificate.
    pub host: String,
    /// SMTP server port, e.g. 25, 587 (STARTTLS) or 465 (TLS).
    pub port: u16,
    /// Connection protection.
    pub security: SmtpSecurity,
    /// User name for SMTP AUTH; `None` sends without authentication.
    pub username: Option<String>,
    /// Password for SMTP AUTH, required together with `username`.
    pub password: Option<Zeroizing<String>>,
    /// Sender, e.g. "Keyward PIN mailer <pin-mailer@example.org>".
    pub from: String,
    /// PEM CA certificates to trust for the SMTP server's TLS (else webpki roots).
    pub ca_file: Option<PathBuf>,
    /// Limit for connecting and for each SMTP command.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("from", &self.from)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One PIN mail; the body carries the secret.
#[derive(Clone)]
pub struct PinMail {
    /// Recipient, a bare address "user@example.org" (see [`check_address`]).
    pub to: String,
    /// Subject line; must not contain control characters.
    pub subject: String,
    /// Plain-text body, sent as `text/plain; charset=utf-8`.
    pub body: Zeroizing<String>,
}

impl fmt::Debug for PinMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinMail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &"<hidden>")
            .finish()
    }
}

/// RFC 5321 limit for a forward path (RFC 3696 erratum 1690).
const MAX_ADDRESS_LEN: usize = 254;

/// Checks that `addr` is a single bare mailbox such as "user@example.org".
///
/// Refuses display-name forms ("Jane <jane@example.org>"), CR/LF and other control or space
/// characters, and addresses longer than 254 characters. The error text does not echo the
/// input, so it can be shown to an officer or logged as is.
pub fn check_address(addr: &str) -> Result<(), MailerError> {
    let invalid = || MailerError::Invalid("PIN mailer address: not a valid e-mail address".into());
    // lettre's parser already refuses most of these; checking first keeps the rule explicit
    // and independent of lettre's version.
    if addr.is_empty()
        || addr.len() > MAX_ADDRESS_LEN
        || addr
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>' || c == ',')
    {
        return Err(invalid());
    }
    Address::from_str(addr).map(|_| ()).map_err(|_| invalid())
}

/// A configured SMTP connection for sending PIN mails.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    host: String,
    port: u16,
    security: SmtpSecurity,
    timeout: Duration,
    /// Kept only to blank it out of error texts, should a server ever echo it.
    password: Option<Zeroizing<String>>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Validates `settings` and prepares the transport; nothing is sent and no connection is
    /// made yet.
    ///
    /// Refuses to send a password in clear ([`SmtpSecurity::Plain`]) to a host that is not
    /// loopback, and names the offending cm.conf setting (see [`setting`]; `SMTP timeout` for
    /// the timeout, which has none).
    pub fn new(settings: &SmtpSettings) -> Result<Mailer, MailerError> {
        let host = settings.host.trim();
        if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_control() || c == ' ') {
            return Err(invalid(&format!(
                "{}: expected a host name or IP address",
                setting::HOST
            )));
        }
        if settings.port == 0 {
            return Err(invalid(&format!("{}: expected 1-65535", setting::PORT)));
        }
        if settings.timeout.is_zero() {
            return Err(invalid("SMTP timeout: must be longer than zero"));
        }
        if settings.from.chars().any(char::is_control) {
            return Err(invalid(&format!(
                "{}: contains control characters",
                setting::FROM
            )));
        }
        let from = Mailbox::from_str(settings.from.trim()).map_err(|_| {
            invalid(&format!(
                "{}: expected \"user@example.org\" or \"Name <user@example.org>\"",
                setting::FROM
            ))
        })?;

        let mut builder = SmtpTransport::builder_dangerous(host)
            .port(settings.port)
            .timeout(Some(settings.timeout));
        builder = match settings.security {
            SmtpSecurity::Plain => builder.tls(Tls::None),
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls_parameters(host, settings)?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls_parameters(host, settings)?)),
        };

        match (&settings.username, &settings.password) {
            (None, None) => {}
            (Some(user), Some(password)) if !user.is_empty() => {
                if settings.security == SmtpSecurity::Plain && !is_loopback(host) {
                    return Err(invalid(&format!(
                        "{}: refusing to send the SMTP password in clear to a non-loopback \
                         host; use starttls or tls",
                        setting::SECURITY
                    )));
                }
                // lettre keeps its own copy in a plain String; ours stays in Zeroizing.
                builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
            }
            (Some(_), None) => {
                return Err(invalid(&format!(
                    "{}: required with {}",
                    setting::PASSWORD_FILE,
                    setting::USERNAME
                )))
            }
            _ => {
                return Err(invalid(&format!(
                    "{}: required with {}",
                    setting::USERNAME,
                    setting::PASSWORD_FILE
                )))
            }
        }

        Ok(Mailer {
            transport: builder.build(),
            from,
            host: host.to_owned(),
            port: settings.port,
            security: settings.security,
            timeout: settings.timeout,
            password: settings.password.clone(),
        })
    }

    /// The SMTP server as `host:port` (`[v6]:port` for an IPv6 address), as errors name it.
    pub fn server(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// How the connection is protected.
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    /// The sender, as it appears in the `From:` header.
    pub fn from(&self) -> String {
        self.from.to_string()
    }

    /// Sends one PIN mail as `text/plain; charset=utf-8` with a Message-ID and Date; blocks
    /// until the server has accepted or refused it.
    pub fn send(&self, mail: &PinMail) -> Result<(), MailerError> {
        check_address(&mail.to)?;
        if mail.subject.chars().any(char::is_control) {
            return Err(invalid("PIN mail subject: contains control characters"));
        }
        let to = Mailbox::new(
            None,
            Address::from_str(&mail.to).map_err(|_| invalid("recipient address: not valid"))?,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .message_id(Some(message_id(&self.from)))
            .date_now()
            .header(ContentType::TEXT_PLAIN)
            // lettre's message keeps an encoded copy of the body that we cannot wipe.
            .body(mail.body.as_str().to_owned())
            // Builder errors are about headers (from/to), never the body.
            .map_err(|e| MailerError::Invalid(format!("PIN mail: {e}")))?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| self.smtp_error(&e))
    }

    /// An SMTP failure naming the server and the settings to check, never the password.
    fn smtp_error(&self, e: &lettre::transport::smtp::Error) -> MailerError {
        let mut reason = e.to_string();
        if let Some(password) = self.password.as_ref().filter(|p| !p.is_empty()) {
            reason = reason.replace(password.as_str(), "<hidden>");
        }
        MailerError::Smtp {
            server: self.server(),
            reason,
            hint: hint(e, self.timeout),
        }
    }
}

/// Whether the handshake failed: lettre reports a failed STARTTLS or implicit-TLS handshake
/// as a network error whose I/O error carries the rustls error.
fn tls_failed(e: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if inner.is::<rustls::Error>() {
                return true;
            }
        }
        source = err.source();
    }
    false
}

/// What an officer should check after the SMTP error `e`, by its kind.
fn hint(e: &lettre::transport::smtp::Error, timeout: Duration) -> String {
    use setting::{CA_FILE, FROM, HOST, PASSWORD_FILE, PORT, SECURITY, USERNAME};
    if e.is_timeout() {
        return format!(
            "no answer within {} s: check {HOST} and {PORT} in cm.conf, and that the SMTP \
             server is reachable from here",
            timeout.as_secs()
        );
    }
    if e.is_tls() || tls_failed(e) {
        return format!("TLS failed: check {SECURITY} and {CA_FILE} in cm.conf");
    }
    if e.is_client() {
        return format!("check {SECURITY} in cm.conf");
    }
    if e.is_response() {
        return format!("not an SMTP answer: check {PORT} and {SECURITY} in cm.conf");
    }
    if let Some(code) = e.status() {
        let code = code.to_string();
        // RFC 4954: 530 authentication required, 534 mechanism too weak, 535 credentials
        // invalid, 538 encryption required; 454 temporary authentication failure.
        if matches!(code.as_str(), "530" | "534" | "535" | "538" | "454") {
            return format!("authentication: check {USERNAME} and {PASSWORD_FILE} in cm.conf");
        }
        if e.is_transient() {
            return "the SMTP server refused for now: the mail is tried again on the next run"
                .into();
        }
        return format!(
            "the SMTP server refused the mail: check {FROM} in cm.conf and the recipient address"
        );
    }
    format!("check {HOST} and {PORT} in cm.conf, and that the SMTP server runs there")
}

fn invalid(text: &str) -> MailerError {
    MailerError::Invalid(text.to_owned())
}

/// TLS for `host`: only the CAs in `ca_file` if given, else the webpki (Mozilla) roots.
fn tls_parameters(host: &str, settings: &SmtpSettings) -> Result<TlsParameters, MailerError> {
    let mut builder = TlsParameters::builder(host.to_owned());
    builder = match &settings.ca_file {
        Some(path) => {
            let shown = path.display();
            let pem = std::fs::read(path)
                .map_err(|e| MailerError::Invalid(format!("{}: {shown}: {e}", setting::CA_FILE)))?;
            // lettre's PEM reader silently yields nothing for a file without certificates,
            // which would only surface later as an unknown-issuer TLS error.
            if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                return Err(MailerError::Invalid(format!(
                    "{}: {shown}: no PEM certificate found",
                    setting::CA_FILE
                )));
            }
            let certs = Certificate::from_pem(&pem)
                .map_err(|e| MailerError::Invalid(format!("{}: {shown}: {e}", setting::CA_FILE)))?;
            builder
                .certificate_store(CertificateStore::None)
                .add_root_certificate(certs)
        }
        None => builder.certificate_store(CertificateStore::WebpkiRoots),
    };
    builder.build_rustls().map_err(|e| {
        let field = if settings.ca_file.is_some() {
            setting::CA_FILE
        } else {
            setting::HOST
        };
        MailerError::Invalid(format!("{field}: TLS setup failed: {e}"))
    })
}

/// Loopback hosts may receive a password in clear: it never leaves the machine.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A unique Message-ID in the sender's domain, from the clock, the process, a counter and
/// std's randomly keyed hasher (enough for uniqueness; it is not a secret).
fn message_id(from: &Mailbox) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(nanos);
    hasher.write_u64(count);
    format!(
        "<{nanos:x}.{:x}.{count:x}.{:016x}@{}>",
        std::process::id(),
        hasher.finish(),
        from.email.domain()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "mail.example.org".into(),
            port: 587,
            security: SmtpSecurity::StartTls,
            username: Some("pin-mailer".into()),
            password: Some(Zeroizing::new("hunter2-SECRET".into())),
            from: "Keyward PIN mailer <pin-mailer@example.org>".into(),
            ca_file: None,
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn debug_hides_password_and_body() {
        let shown = format!("{:?}", settings());
        assert!(!shown.contains("hunter2-SECRET") && shown.contains("<hidden>"));
        let mail = PinMail {
            to: "jane@example.org".into(),
            subject: "Your PIN".into(),
            body: Zeroizing::new("Your PIN is pinSECRET7x9".into()),
        };
        let shown = format!("{mail:?}");
        assert!(!shown.contains("pinSECRET7x9") && shown.contains("jane@example.org"));
        let mailer = Mailer::new(&settings()).unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2-SECRET"));
    }

    #[test]
    fn security_parses_the_documented_names() {
        assert_eq!("none".parse::<SmtpSecurity>().unwrap(), SmtpSecurity::Plain);
        assert_eq!(
            "plain".parse::<SmtpSecurity>().unwrap(),
            SmtpSecurity::Plain
        );
        assert_eq!(
            "STARTTLS".parse::<SmtpSecurity>().unwrap(),
            SmtpSecurity::StartTls
        );
        assert_eq!("tls".parse::<SmtpSecurity>().unwrap(), SmtpSecurity::Tls);
        let err = "ssl".parse::<SmtpSecurity>().unwrap_err().to_string();
        assert!(err.contains("none, plain, starttls, tls"), "{err}");
    }

    /// A change that breaks one setting, and the field its error must name.
    type BrokenSetting = (fn(&mut SmtpSettings), &'static str);

    #[test]
    fn settings_errors_name_the_field() {
        let cases: [BrokenSetting; 7] = [
            (|s| s.port = 0, "pin-mailer.smtp-port"),
            (|s| s.host = " ".into(), "pin-mailer.smtp-host"),
            (|s| s.from = "not an address".into(), "pin-mailer.from"),
            (|s| s.password = None, "pin-mailer.smtp-password-file"),
            (|s| s.username = None, "pin-mailer.smtp-username"),
            (
                |s| s.ca_file = Some("/nonexistent/ca.pem".into()),
                "pin-mailer.smtp-ca-file",
            ),
            (|s| s.timeout = Duration::ZERO, "SMTP timeout"),
        ];
        for (change, field) in cases {
            let mut s = settings();
            change(&mut s);
            let err = Mailer::new(&s).unwrap_err().to_string();
            assert!(err.starts_with(field), "{field}: {err}");
            assert!(!err.contains("hunter2-SECRET"));
        }
    }

    #[test]
    fn the_server_is_named_host_colon_port() {
        let mut s = settings();
        assert_eq!(Mailer::new(&s).unwrap().server(), "mail.example.org:587");
        s.host = "::1".into();
        s.security = SmtpSecurity::Plain;
        assert_eq!(Mailer::new(&s).unwrap().server(), "[::1]:587");
    }

    #[test]
    fn loopback_detection() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["mail.example.org", "10.0.0.1", "localhost.example.org"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn message_ids_are_unique_and_in_the_sender_domain() {
        let from = Mailbox::from_str("a@example.org").unwrap();
        let (a, b) = (message_id(&from), message_id(&from));
        assert_ne!(a, b);
        assert!(a.starts_with('<') && a.ends_with("@example.org>"));
    }
}
