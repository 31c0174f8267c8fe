//! subjectAltNames besides the e-mail: DNS names and IP addresses that the officer gives
//! (`--dns-name`, `--ip`) where the certificate procedure allows them, checked by the RA and the
//! server with the same rule, and read back from the certificate with `openssl x509`.

use crate::common;

use common::tokens::{issue, p12_arg, try_issue, ALICE};
use common::{on_both_engines, text, Engine, Installation};

on_both_engines!(dns_names_and_addresses_where_the_procedure_allows_them);

fn dns_names_and_addresses_where_the_procedure_allows_them(engine: Engine) {
    let inst = Installation::on(engine);
    let cert = inst.out.join("www.pem");
    issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-tls-server",
            "--subject",
            "CN=www.example.com,O=Example,C=SE",
            "--p12",
            &p12_arg(&inst, "www.p12"),
            "--cert",
            cert.to_str().unwrap(),
            "--dns-name",
            "WWW.Example.com",
            "--dns-name",
            "api.example.com",
            "--ip",
            "192.0.2.10",
            "--ip",
            "2001:db8::1",
        ],
    );
    let out = keyward_testkit::tool("openssl")
        .args([
            "x509",
            "-noout",
            "-ext",
            "subjectAltName,extendedKeyUsage",
            "-in",
        ])
        .arg(&cert)
        .output()
        .expect("openssl");
    let ext = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "DNS:www.example.com",
        "DNS:api.example.com",
        "IP Address:192.0.2.10",
        "IP Address:2001:DB8:0:0:0:0:0:1",
        "TLS Web Server Authentication",
    ] {
        assert!(ext.contains(needle), "{needle} missing:\n{ext}");
    }

    let cases: [(&str, &[&str], &str); 4] = [
        ("soft-tls-server", &["--dns-name", "localhost"], "dns-name"),
        ("soft-tls-server", &["--ip", "192.0.2.1"], "dns-name"),
        (
            "soft-tls-server",
            &["--dns-name", "a.example.com", "--ip", "no"],
            "ip",
        ),
        ("soft-signing", &["--dns-name", "a.example.com"], "dns-name"),
    ];
    for (i, (procedure, extra, field)) in cases.into_iter().enumerate() {
        let p12 = p12_arg(&inst, &format!("refused-{i}.p12"));
        let subject = if procedure == "soft-signing" {
            ALICE
        } else {
            "CN=a.example.com"
        };
        let args = [
            &[
                "--procedure",
                procedure,
                "--subject",
                subject,
                "--p12",
                &p12,
            ][..],
            extra,
        ]
        .concat();
        let out = try_issue(&inst, &args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", text(&out));
        assert!(
            text(&out).contains(&format!("{field}:")),
            "{extra:?}: {}",
            text(&out)
        );
        assert!(!std::path::Path::new(&p12).exists());
    }
}
