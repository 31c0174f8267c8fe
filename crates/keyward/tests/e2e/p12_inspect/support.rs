//! Helpers of the `p12_inspect` tests: a small PKI, PKCS#12 files made by Keyward and by the
//! OpenSSL CLI, running the inspector, and checks shared by several tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use keyward_crypto::{build_p12, Pkcs12Profile};
use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::BasicConstraints;
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use serde_json::Value;

use crate::common::{keyward, run, text};

pub(super) const PIN: &str = "Correct-Horse-7";

/// A root CA and an end-entity certificate it issued, with their keys, as PEM files too.
pub(super) struct Pki {
    pub dir: tempfile::TempDir,
    pub root: X509,
    pub ee_key: PKey<Private>,
    pub ee: X509,
}

pub(super) fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

pub(super) fn cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    serial: u32,
) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = openssl::bn::BigNum::from_u32(serial).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    if issuer.is_none() {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

pub(super) fn pki() -> Pki {
    let root_key = ec_key();
    let root = cert("Example Root", &root_key, None, 1);
    let ee_key = ec_key();
    let ee = cert("Alice Example", &ee_key, Some((&root, &root_key)), 0x4f0a);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        ee_key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("ee.pem"), ee.to_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("root.pem"), root.to_pem().unwrap()).unwrap();
    Pki {
        dir,
        root,
        ee_key,
        ee,
    }
}

impl Pki {
    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(super) fn own(&self, name: &str, profile: &Pkcs12Profile) -> PathBuf {
        let der = build_p12(
            &self.ee_key,
            &self.ee,
            std::slice::from_ref(&self.root),
            "alice",
            PIN,
            profile,
        );
        std::fs::write(self.path(name), der.unwrap()).unwrap();
        self.path(name)
    }

    /// `openssl pkcs12 -export` of the key, its certificate and the root, plus `extra` flags.
    pub(super) fn openssl(&self, name: &str, extra: &[&str]) -> PathBuf {
        let out = keyward_testkit::tool("openssl")
            .args([
                "pkcs12",
                "-export",
                "-name",
                "alice",
                "-passout",
                "env:KW_PIN",
            ])
            .args([
                "-inkey",
                "key.pem",
                "-in",
                "ee.pem",
                "-certfile",
                "root.pem",
                "-out",
                name,
            ])
            .args(extra)
            .env("KW_PIN", PIN)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.path(name)
    }
}

/// `keyward p12 inspect FILE ARGS…` with `stdin`, never reading the caller's PIN variable.
pub(super) fn inspect(file: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = keyward();
    cmd.env_remove("KEYWARD_P12_PIN")
        .args(["p12", "inspect"])
        .arg(file)
        .args(args);
    run(cmd, stdin)
}

/// The JSON report, with the PIN on stdin or without a PIN; the run must succeed.
pub(super) fn report(file: &Path, pin: Option<&str>) -> Value {
    let out = match pin {
        Some(pin) => inspect(file, &["--json", "--pin-stdin"], Some(&format!("{pin}\n"))),
        None => inspect(file, &["--json"], None),
    };
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The key bag (the shrouded key of the data safe) of a report.
pub(super) fn key_bag(r: &Value) -> &Value {
    let safes = r["safes"].as_array().unwrap();
    safes
        .iter()
        .flat_map(|s| s["bags"].as_array().unwrap())
        .find(|b| b["bag_type"] == "pkcs8ShroudedKeyBag")
        .unwrap()
}

pub(super) fn pbes2(e: &Value, cipher: &str, iterations: u64, salt: u64) {
    assert_eq!(e["algorithm"], "PBES2", "{e}");
    assert_eq!(
        (e["kdf"].as_str(), e["prf"].as_str()),
        (Some("PBKDF2"), Some("hmacWithSHA256")),
        "{e}"
    );
    assert_eq!(e["cipher"], cipher, "{e}");
    assert_eq!(
        (e["iterations"].as_u64(), e["salt_length"].as_u64()),
        (Some(iterations), Some(salt)),
        "{e}"
    );
}

/// After the PIN: one key, its certificate first, the root second, all linked.
pub(super) fn check_opened(r: &Value, key_type: &str) {
    assert_eq!(r["pin"], "accepted", "{r}");
    assert_eq!(r["mac"]["status"], "verified", "{r}");
    let key = &r["keys"][0];
    assert_eq!(key["key_type"], key_type, "{r}");
    let cert = key["certificate"].as_u64().unwrap() as usize;
    assert_eq!(r["certificates"][cert - 1]["end_entity_of"], 1, "{r}");
    assert_eq!(r["certificates"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(r["chain"]["forms_path"], true, "{r}");
    assert_eq!(r["chain"]["ends_at_root"], true, "{r}");
}

/// DER → BER: the PFX, its authSafe ContentInfo and [0] with indefinite lengths, the
/// AuthenticatedSafe OCTET STRING constructed from 512-byte pieces (as Windows writes it).
pub(super) fn der_to_ber(der: &[u8]) -> Vec<u8> {
    let header = |at: usize| -> (usize, usize) {
        match der[at + 1] {
            n if n < 0x80 => (2, usize::from(n)),
            n => {
                let k = usize::from(n & 0x7f);
                (
                    2 + k,
                    der[at + 2..at + 2 + k]
                        .iter()
                        .fold(0, |a, b| a << 8 | usize::from(*b)),
                )
            }
        }
    };
    let len = |n: usize| -> Vec<u8> {
        match n {
            0..=127 => vec![n as u8],
            128..=255 => vec![0x81, n as u8],
            _ => vec![0x82, (n >> 8) as u8, n as u8],
        }
    };
    let version = header(0).0;
    let auth = version + header(version).0 + header(version).1;
    let mac = auth + header(auth).0 + header(auth).1;
    let oid = auth + header(auth).0;
    let a0 = oid + header(oid).0 + header(oid).1;
    let octets = a0 + header(a0).0;
    let content = &der[octets + header(octets).0..octets + header(octets).0 + header(octets).1];
    let mut out = vec![0x30, 0x80];
    out.extend(&der[version..auth]);
    out.extend([0x30, 0x80]);
    out.extend(&der[oid..a0]);
    out.extend([0xa0, 0x80, 0x24, 0x80]);
    for piece in content.chunks(512) {
        out.push(0x04);
        out.extend(len(piece.len()));
        out.extend(piece);
    }
    out.extend([0, 0, 0, 0, 0, 0]);
    out.extend(&der[mac..]);
    out.extend([0, 0]);
    out
}
