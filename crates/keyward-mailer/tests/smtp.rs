//! SMTP delivery against a real server (aiosmtpd), in plain, STARTTLS and implicit TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keyward_mailer::smtp::{check_address, Mailer, PinMail, SmtpSecurity, SmtpSettings};
use keyward_mailer::MailerError;
use keyward_testkit::smtp::SmtpServer;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509};
use zeroize::Zeroizing;

const PIN: &str = "7kRmX2pQ9wTz";

fn settings(port: u16, security: SmtpSecurity, ca_file: Option<PathBuf>) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security,
        username: None,
        password: None,
        from: "Keyward PIN mailer <pin-mailer@example.org>".into(),
        ca_file,
        timeout: Duration::from_secs(10),
    }
}

fn pin_mail() -> PinMail {
    PinMail {
        to: "jane.doe@example.org".into(),
        subject: "Your PIN for token 42".into(),
        body: Zeroizing::new(format!("Dear Jane,\n\nyour PIN is: {PIN}\n\nKeyward\n")),
    }
}

fn assert_pin_mail(raw: &str) {
    for needle in [
        "To: jane.doe@example.org",
        "Subject: Your PIN for token 42",
        "From: \"Keyward PIN mailer\" <pin-mailer@example.org>",
        "Content-Type: text/plain; charset=utf-8",
        "Message-ID: <",
        "Date: ",
        PIN,
    ] {
        assert!(raw.contains(needle), "missing {needle:?} in:\n{raw}");
    }
}

#[test]
fn plain_send_is_delivered() {
    let server = SmtpServer::start();
    let mailer = Mailer::new(&settings(server.port(), SmtpSecurity::Plain, None)).unwrap();
    mailer.send(&pin_mail()).unwrap();
    let messages = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(messages.len(), 1);
    assert_pin_mail(&messages[0]);
}

#[test]
fn starttls_send_trusts_the_configured_ca() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(pki.path());
    let server = SmtpServer::start_starttls(&cert, &key);
    let settings = settings(server.port(), SmtpSecurity::StartTls, Some(ca));
    Mailer::new(&settings).unwrap().send(&pin_mail()).unwrap();
    assert_pin_mail(&server.wait_for(1, Duration::from_secs(10))[0]);
}

#[test]
fn starttls_without_the_ca_is_refused() {
    let pki = tempfile::tempdir().unwrap();
    let (_ca, cert, key) = make_pki(pki.path());
    let server = SmtpServer::start_starttls(&cert, &key);
    // Only the webpki roots: the test CA is unknown, so the handshake must fail.
    let mailer = Mailer::new(&settings(server.port(), SmtpSecurity::StartTls, None)).unwrap();
    let err = mailer.send(&pin_mail()).unwrap_err();
    assert!(matches!(err, MailerError::Smtp { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(!shown.contains(PIN));
    // Where, and what to fix: the trust settings.
    let server_at = format!("SMTP server 127.0.0.1:{}: ", server.port());
    assert!(shown.starts_with(&server_at), "{shown}");
    assert!(
        shown.contains("pin-mailer.smtp-ca-file") && shown.contains("pin-mailer.smtp-security"),
        "{shown}"
    );
    assert!(server.messages().is_empty());
}

#[test]
fn implicit_tls_send_is_delivered() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(pki.path());
    let server = SmtpServer::start_smtps(&cert, &key);
    let settings = settings(server.port(), SmtpSecurity::Tls, Some(ca));
    Mailer::new(&settings).unwrap().send(&pin_mail()).unwrap();
    assert_pin_mail(&server.wait_for(1, Duration::from_secs(10))[0]);
}

#[test]
fn closed_port_is_an_smtp_error_without_the_pin() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = settings(port, SmtpSecurity::Plain, None);
    s.timeout = Duration::from_secs(3);
    let err = Mailer::new(&s).unwrap().send(&pin_mail()).unwrap_err();
    assert!(matches!(err, MailerError::Smtp { .. }), "{err:?}");
    assert!(!err.to_string().contains(PIN) && !format!("{err:?}").contains(PIN));
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("SMTP server 127.0.0.1:{port}: ")),
        "{shown}"
    );
    assert!(
        shown.contains("pin-mailer.smtp-host") && shown.contains("pin-mailer.smtp-port"),
        "{shown}"
    );
}

#[test]
fn password_in_clear_only_to_loopback() {
    let mut s = settings(25, SmtpSecurity::Plain, None);
    s.username = Some("pin-mailer".into());
    s.password = Some(Zeroizing::new("hunter2-SECRET".into()));
    assert!(
        Mailer::new(&s).is_ok(),
        "loopback relay may get a password in clear"
    );

    s.host = "mail.example.org".into();
    let err = Mailer::new(&s).unwrap_err();
    assert!(matches!(err, MailerError::Invalid(_)), "{err:?}");
    assert!(
        err.to_string().contains("pin-mailer.smtp-security"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2-SECRET"));

    s.security = SmtpSecurity::StartTls;
    assert!(Mailer::new(&s).is_ok());
}

/// The server shares one `Mailer` across `spawn_blocking` tasks.
#[test]
fn mailer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mailer>();
}

#[test]
fn check_address_table() {
    let long = format!("{}@example.org", "a".repeat(250));
    let cases: &[(&str, bool)] = &[
        ("jane.doe@example.org", true),
        ("pin-mailer+tag@sub.example.org", true),
        ("jane.doe.example.org", false),
        ("", false),
        ("jane@example.org\r\nBcc: evil@example.org", false),
        ("jane@example.org\n", false),
        ("Jane Doe <jane@example.org>", false),
        ("<jane@example.org>", false),
        ("jane@example.org, joe@example.org", false),
        (&long, false),
    ];
    for (addr, ok) in cases {
        match check_address(addr) {
            Ok(()) => assert!(ok, "{addr:?} accepted"),
            Err(e) => {
                assert!(!ok, "{addr:?} refused: {e}");
                assert_eq!(
                    e.to_string(),
                    "PIN mailer address: not a valid e-mail address"
                );
            }
        }
    }
}

/// A test CA and a server certificate for 127.0.0.1/localhost signed by it, as PEM files.
fn make_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = ec_key();
    let mut ca = cert_builder("Keyward test SMTP CA", &ca_key);
    ca.set_issuer_name(&name("Keyward test SMTP CA")).unwrap();
    ca.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    ca.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = ca.build();

    let key = ec_key();
    let mut leaf = cert_builder("localhost", &key);
    leaf.set_issuer_name(ca.subject_name()).unwrap();
    leaf.append_extension(BasicConstraints::new().critical().build().unwrap())
        .unwrap();
    leaf.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .build()
            .unwrap(),
    )
    .unwrap();
    leaf.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&leaf.x509v3_context(Some(&ca), None))
        .unwrap();
    leaf.append_extension(san).unwrap();
    leaf.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let leaf = leaf.build();

    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.to_pem().unwrap()).unwrap();
    std::fs::write(&paths.1, leaf.to_pem().unwrap()).unwrap();
    std::fs::write(&paths.2, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    paths
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut name = X509Name::builder().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    name.build()
}

fn cert_builder(cn: &str, key: &PKey<Private>) -> openssl::x509::X509Builder {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand_serial())
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b
}

fn rand_serial() -> u32 {
    let mut bytes = [0u8; 4];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    u32::from_be_bytes(bytes) | 1
}
