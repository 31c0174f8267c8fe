//! What a CRL costs: a full CRL of 1,000,000 entries (10 % with an invalidityDate, reasons
//! mixed) built with the streaming `CrlWriter` and signed, against two baselines in the same
//! run; and a delta CRL of 1,000 entries.
//!
//! `cargo bench -p keyward-ca --bench crl [-- --entries N --delta N --rounds N]`
//!
//! Each contender runs in a child process of its own (this binary again, `--child NAME`), so
//! that its peak RSS (VmHWM from /proc/self/status) is its own. Contenders:
//!
//! - `writer`: `CrlWriter` (software P-384 CA key: ECDSA-SHA384), rows pushed as generated;
//! - `writer-rsa`: the same with an RSA-2048 CA key (sha256WithRSAEncryption);
//! - `writer-hsm-p384`, `writer-hsm-rsa`: the same with the CA key on SoftHSM2 (`Pkcs11Signer`;
//!   skipped without softhsm2-util): P-384 generated on the token (hashed here, `CKM_ECDSA`),
//!   RSA-2048 imported (`CKM_SHA256_RSA_PKCS`: the token hashes the whole TBSCertList);
//! - `der-whole`: the same entries as x509-cert `RevokedCert`s in a `Vec`, one `TbsCertList`
//!   DER-encoded, *not signed* (the non-streaming way, and its memory);
//! - `openssl`: rust-openssl's `X509CrlBuilder` (OpenSSL's `X509_CRL`), signed with the same
//!   P-384 key; its entries have serial and date only (`X509RevokedBuilder` cannot add entry
//!   extensions), so it does less than the others.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench fails by panicking

use std::process::Command;
use std::time::{Duration, Instant};

use der::asn1::{GeneralizedTime, OctetString, UtcTime};
use der::{DateTime, Encode};
use keyward_ca::{
    create_hierarchy, create_hierarchy_with_issuing_key, CertificateAuthority, CrlEntry, CrlParams,
    CrlWriter, Pkcs11Signer, SoftwareSigner,
};
use keyward_policy::{DistinguishedName, KeySpec, RevocationReason};
use openssl::pkey::{PKey, Private};

const NOW: i64 = 1_780_000_000;
const REASONS: [RevocationReason; 6] = [
    RevocationReason::KeyCompromise,
    RevocationReason::Superseded,
    RevocationReason::AffiliationChanged,
    RevocationReason::CessationOfOperation,
    RevocationReason::CertificateHold,
    RevocationReason::Unspecified,
];

/// Row `i` of the CRL: a 16-octet serial (positive, high bit clear, as Keyward's), a mixed
/// reason, every tenth with an invalidity date.
fn row(i: u64) -> CrlEntry {
    // splitmix64: distinct, unsorted serials without a random source.
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let mut serial = [0u8; 16];
    serial[..8].copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
    serial[8..].copy_from_slice(&i.to_be_bytes());
    serial[0] = (serial[0] & 0x3f) | 0x40;
    CrlEntry {
        serial: serial.to_vec(),
        revoked_at: NOW - 86_400 - (i % 10_000) as i64,
        reason: Some(REASONS[(i % REASONS.len() as u64) as usize]),
        invalidity_date: i.is_multiple_of(10).then_some(NOW - 3 * 86_400),
        remove_from_crl: false,
    }
}

fn params(number: u64, delta_of: Option<u64>) -> CrlParams {
    CrlParams {
        number,
        this_update: NOW,
        next_update: NOW + 7 * 86_400,
        delta_of,
        idp_url: Some("http://127.0.0.1:8080/crl/issuing.crl".into()),
        freshest_url: delta_of
            .is_none()
            .then(|| "http://127.0.0.1:8080/crl/issuing-delta.crl".into()),
    }
}

/// An issuing CA with a `spec` key, and that key.
fn ca(spec: KeySpec) -> (CertificateAuthority, PKey<Private>) {
    let root = DistinguishedName::parse("CN=Bench Root,O=Keyward").unwrap();
    let issuing = DistinguishedName::parse("CN=Bench Issuing,O=Keyward,C=SE").unwrap();
    let (cert, key) = if spec == KeySpec::Ec(keyward_policy::keyspec::Curve::Secp384r1) {
        let h = create_hierarchy(&root, &issuing).unwrap();
        (h.issuing_cert, h.issuing_key)
    } else {
        let key = keyward_crypto::generate_key(spec).unwrap();
        let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
        let h = create_hierarchy_with_issuing_key(&root, &issuing, &public).unwrap();
        (h.issuing_cert, key)
    };
    let copy = PKey::private_key_from_der(&key.private_key_to_der().unwrap()).unwrap();
    let ca = CertificateAuthority::new(
        cert.clone(),
        vec![cert],
        Box::new(SoftwareSigner::new(copy)),
    );
    (ca, key)
}

fn writer(ca: &CertificateAuthority, entries: u64, p: &CrlParams) -> usize {
    let mut w = CrlWriter::begin(ca, p).unwrap();
    for i in 0..entries {
        w.push(&row(i)).unwrap();
    }
    w.finish().unwrap().len()
}

fn time(unix: i64) -> x509_cert::time::Time {
    let dt = DateTime::from_unix_duration(Duration::from_secs(unix as u64)).unwrap();
    x509_cert::time::Time::UtcTime(UtcTime::from_date_time(dt).unwrap())
}

/// The same entries as a whole `TbsCertList` in memory, DER-encoded, unsigned.
fn der_whole(ca: &CertificateAuthority, entries: u64) -> usize {
    use der::Decode;
    use x509_cert::crl::{RevokedCert, TbsCertList};
    use x509_cert::ext::Extension;
    let cert = ca.certificate().to_der().unwrap();
    let cert = x509_cert::Certificate::from_der(&cert).unwrap();
    let mut revoked = Vec::new();
    for i in 0..entries {
        let e = row(i);
        let mut exts = Vec::new();
        if let Some(r) = e.reason.filter(|r| *r != RevocationReason::Unspecified) {
            exts.push(Extension {
                extn_id: der::asn1::ObjectIdentifier::new_unwrap("2.5.29.21"),
                critical: false,
                extn_value: OctetString::new(vec![0x0a, 0x01, r.code()]).unwrap(),
            });
        }
        if let Some(d) = e.invalidity_date {
            let dt = DateTime::from_unix_duration(Duration::from_secs(d as u64)).unwrap();
            let t = GeneralizedTime::from_date_time(dt).to_der().unwrap();
            exts.push(Extension {
                extn_id: der::asn1::ObjectIdentifier::new_unwrap("2.5.29.24"),
                critical: false,
                extn_value: OctetString::new(t).unwrap(),
            });
        }
        revoked.push(RevokedCert {
            serial_number: x509_cert::serial_number::SerialNumber::new(&e.serial).unwrap(),
            revocation_date: time(e.revoked_at),
            crl_entry_extensions: (!exts.is_empty()).then_some(exts),
        });
    }
    let tbs: TbsCertList = TbsCertList {
        version: x509_cert::Version::V2,
        signature: cert.signature_algorithm().clone(),
        issuer: cert.tbs_certificate().subject().clone(),
        this_update: time(NOW),
        next_update: Some(time(NOW + 7 * 86_400)),
        revoked_certificates: Some(revoked),
        crl_extensions: None,
    };
    tbs.to_der().unwrap().len()
}

/// OpenSSL's X509_CRL: serial and date per entry (no entry extensions), sorted and signed.
fn openssl_crl(ca: &CertificateAuthority, key: &PKey<Private>, entries: u64) -> usize {
    use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::x509::{X509CrlBuilder, X509Extension, X509RevokedBuilder};
    let cert = ca.certificate();
    let mut b = X509CrlBuilder::new().unwrap();
    b.set_issuer_name(cert.subject_name()).unwrap();
    b.set_last_update(&Asn1Time::from_unix(NOW).unwrap())
        .unwrap();
    b.set_next_update(&Asn1Time::from_unix(NOW + 7 * 86_400).unwrap())
        .unwrap();
    let ski = cert.subject_key_id().unwrap().as_slice().to_vec();
    let aki = [vec![0x30, ski.len() as u8 + 2, 0x80, ski.len() as u8], ski].concat();
    for (oid, value) in [("2.5.29.35", aki), ("2.5.29.20", vec![0x02, 0x01, 0x07])] {
        let oid = Asn1Object::from_str(oid).unwrap();
        let value = Asn1OctetString::new_from_bytes(&value).unwrap();
        b.append_extension(X509Extension::new_from_der(&oid, false, &value).unwrap())
            .unwrap();
    }
    for i in 0..entries {
        let e = row(i);
        let mut r = X509RevokedBuilder::new().unwrap();
        let serial = Asn1Integer::from_bn(&BigNum::from_slice(&e.serial).unwrap()).unwrap();
        r.set_serial_number(&serial).unwrap();
        r.set_revocation_date(&Asn1Time::from_unix(e.revoked_at).unwrap())
            .unwrap();
        b.add_revoked(r.build()).unwrap();
    }
    b.sign(key, keyward_crypto::message_digest_for(key))
        .unwrap();
    b.build().unwrap().to_der().unwrap().len()
}

/// Peak resident set of this process, KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The CA with its key on a fresh SoftHSM2 token in `dir`: P-384 generated there, or RSA-2048
/// imported.
fn hsm_ca(dir: &std::path::Path, rsa: bool) -> CertificateAuthority {
    let conf = dir.join("softhsm2.conf");
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    let tokens = dir.join("tokens");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            tokens.display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let pin = "bench-pin";
    let ok = keyward_testkit::tool("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "B",
            "--so-pin",
            "so-bench",
            "--pin",
            pin,
        ])
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "softhsm2-util --init-token");
    let module = std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so");
    let root = DistinguishedName::parse("CN=Bench Root,O=Keyward").unwrap();
    let issuing = DistinguishedName::parse("CN=Bench Issuing HSM,O=Keyward,C=SE").unwrap();
    let (signer, public) = if rsa {
        let key = keyward_crypto::generate_key(KeySpec::Rsa(2048)).unwrap();
        let pem = dir.join("rsa.pem");
        std::fs::write(&pem, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let ok = keyward_testkit::tool("softhsm2-util")
            .args([
                "--import",
                pem.to_str().unwrap(),
                "--token",
                "B",
                "--label",
                "ca",
            ])
            .args(["--id", "01", "--pin", pin])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "softhsm2-util --import");
        let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
        let signer = Pkcs11Signer::open(module, "B", "ca", pin, &public).unwrap();
        (signer, public)
    } else {
        Pkcs11Signer::generate(module, "B", "ca", pin, keyward_pkcs11::EcCurve::P384).unwrap()
    };
    let h = create_hierarchy_with_issuing_key(&root, &issuing, &public).unwrap();
    let cert = h.issuing_cert;
    CertificateAuthority::new(cert.clone(), vec![cert], Box::new(signer))
}

/// Runs contender `name` in this process; prints `RESULT name seconds bytes hwm_kib`.
fn child(name: &str, entries: u64, rounds: usize) {
    let p384 = KeySpec::Ec(keyward_policy::keyspec::Curve::Secp384r1);
    let spec = if name == "writer-rsa" {
        KeySpec::Rsa(2048)
    } else {
        p384
    };
    let (ca, key) = ca(spec);
    let dir = tempfile::tempdir().unwrap();
    let hsm = match name {
        "writer-hsm-p384" => Some(hsm_ca(dir.path(), false)),
        "writer-hsm-rsa" => Some(hsm_ca(dir.path(), true)),
        _ => None,
    };
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        bytes = match name {
            "writer" | "writer-rsa" => writer(&ca, entries, &params(7, None)),
            "writer-hsm-p384" | "writer-hsm-rsa" => {
                writer(hsm.as_ref().unwrap(), entries, &params(7, None))
            }
            "delta" => writer(&ca, entries, &params(8, Some(7))),
            "der-whole" => der_whole(&ca, entries),
            "openssl" => openssl_crl(&ca, &key, entries),
            other => panic!("unknown contender {other}"),
        };
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!("RESULT {name} {median:.6} {bytes} {}", vm_hwm_kib());
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let entries = arg(&args, "--n", 0);
        let rounds = arg(&args, "--rounds", 1) as usize;
        child(&args[i + 1], entries, rounds);
        return;
    }
    let entries = arg(&args, "--entries", 1_000_000);
    let delta = arg(&args, "--delta", 1_000);
    let rounds = arg(&args, "--rounds", 1);
    let exe = std::env::current_exe().unwrap();
    println!("| contender | entries | time | DER | peak RSS |");
    println!("|---|---:|---:|---:|---:|");
    let runs = [
        ("writer", entries, rounds),
        ("writer-rsa", entries, rounds),
        ("writer-hsm-p384", entries, rounds),
        ("writer-hsm-rsa", entries, rounds),
        ("der-whole", entries, rounds),
        ("openssl", entries, rounds),
        ("delta", delta, 21),
    ];
    for (name, n, rounds) in runs {
        let out = Command::new(&exe)
            .args(["--child", name, "--n", &n.to_string()])
            .args(["--rounds", &rounds.to_string()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
            eprintln!("{name}: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        };
        let f: Vec<&str> = line.split(' ').collect();
        let secs: f64 = f[1].parse().unwrap();
        let bytes: f64 = f[2].parse().unwrap();
        let hwm: f64 = f[3].parse().unwrap();
        let time = if secs < 1.0 {
            format!("{:.1} ms", secs * 1e3)
        } else {
            format!("{secs:.2} s")
        };
        let size = if bytes < 1e6 {
            format!("{:.1} kB", bytes / 1e3)
        } else {
            format!("{:.1} MB", bytes / 1e6)
        };
        println!(
            "| {name} | {n} | {time} | {size} | {:.0} MiB |",
            hwm / 1024.0
        );
    }
}
