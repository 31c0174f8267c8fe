//! Checks of our PKCS#12 and certificate files with foreign consumers: the OpenSSL 3 CLI, Java
//! 17 `keytool` and Python `cryptography`. PINs go through the environment, never argv. A missing
//! tool fails the test with one line naming its package (`keyward_testkit::tool`); an algorithm a consumer does not support is
//! an explained `Outcome::Unsupported`, decided by trying, never assumed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether a consumer could check a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Loaded and checked.
    Checked,
    /// The consumer does not support the algorithm; the reason as observed.
    Unsupported(String),
}

pub(crate) fn run(cmd: &mut Command, pin: &str) -> Output {
    cmd.env("KW_PIN", pin)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub(crate) fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) fn openssl(args: &[&str], p12: &Path, pin: &str) -> Result<String, String> {
    let out = run(
        keyward_testkit::tool("openssl")
            .args(args)
            .arg("-in")
            .arg(p12)
            .args(["-passin", "env:KW_PIN"]),
        pin,
    );
    let text = both(&out).replace(pin, "<PIN>");
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("openssl {}: {text}", args.join(" ")))
    }
}

/// What `openssl pkey -text` must show for a key spec.
pub(crate) fn key_markers(spec: &str) -> Result<Vec<String>, String> {
    let (alg, param) = spec
        .split_once(':')
        .ok_or_else(|| format!("bad spec {spec}"))?;
    Ok(match alg {
        "RSA" => vec![format!("({param} bit"), "modulus:".into()],
        "DSA" => vec![format!("({param} bit"), "Q:".into()],
        "EC" => {
            let oid = if param == "secp256r1" {
                "prime256v1"
            } else {
                param
            };
            vec![format!("ASN1 OID: {oid}")]
        }
        _ => return Err(format!("bad spec {spec}")),
    })
}

/// Opens the PKCS#12 with OpenSSL 3 and checks: the MAC (SHA-256) verifies with the PIN; key and
/// certificate bags use PBES2/PBKDF2/hmacWithSHA256/AES-256-CBC; exactly one private key, of the
/// spec's type and size or curve; friendlyName and localKeyID on the key bag and the
/// end-entity certificate bag; `expected_chain_len` CA certificates; DER (no indefinite length).
pub(crate) fn openssl_pkcs12(
    p12: &Path,
    pin: &str,
    spec: &str,
    expected_chain_len: usize,
) -> Result<(), String> {
    let info = openssl(&["pkcs12", "-info", "-noout"], p12, pin)?;
    for needle in [
        "MAC: sha256",
        "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC",
        "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC",
        "PRF hmacWithSHA256",
    ] {
        if !info.contains(needle) {
            return Err(format!("openssl pkcs12 -info lacks {needle:?}:\n{info}"));
        }
    }
    if info.contains("3DES") || info.contains("RC2") || info.contains("pbeWithSHA1") {
        return Err(format!("legacy algorithm in a modern PKCS#12:\n{info}"));
    }
    let keys = openssl(&["pkcs12", "-nocerts", "-nodes"], p12, pin)?;
    if keys.matches("-----BEGIN PRIVATE KEY-----").count() != 1 {
        return Err(format!(
            "expected exactly one private key:\n{}",
            redact_keys(&keys)
        ));
    }
    for attr in ["friendlyName:", "localKeyID:"] {
        if !keys.contains(attr) {
            return Err(format!("key bag lacks {attr}:\n{}", redact_keys(&keys)));
        }
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let key_file = dir.path().join("key.pem");
    std::fs::write(&key_file, &keys).map_err(|e| e.to_string())?;
    let out = keyward_testkit::tool("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(&key_file)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for marker in key_markers(spec)? {
        if !text.contains(&marker) {
            let head: String = text.lines().take(2).collect::<Vec<_>>().join(" / ");
            return Err(format!(
                "key is not {spec}: `openssl pkey -text` lacks {marker:?} (starts {head:?})"
            ));
        }
    }
    let ee = openssl(&["pkcs12", "-nokeys", "-clcerts"], p12, pin)?;
    if ee.matches("BEGIN CERTIFICATE").count() != 1
        || !ee.contains("friendlyName:")
        || !ee.contains("localKeyID:")
    {
        return Err(format!(
            "end-entity certificate bag lacks a certificate, friendlyName or localKeyID:\n{ee}"
        ));
    }
    let cas = openssl(&["pkcs12", "-nokeys", "-cacerts"], p12, pin)?;
    let n = cas.matches("BEGIN CERTIFICATE").count();
    if n != expected_chain_len {
        return Err(format!(
            "expected {expected_chain_len} CA certificates, found {n}"
        ));
    }
    let parsed = keyward_testkit::tool("openssl")
        .args(["asn1parse", "-inform", "DER", "-in"])
        .arg(p12)
        .output()
        .map_err(|e| e.to_string())?;
    let tree = String::from_utf8_lossy(&parsed.stdout);
    if !parsed.status.success() || tree.contains("l=inf") {
        return Err(format!(
            "not DER (asn1parse failed or shows indefinite lengths):\n{tree}"
        ));
    }
    Ok(())
}

fn redact_keys(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.contains("BEGIN PRIVATE KEY") {
            inside = true;
            out.push_str("-----BEGIN PRIVATE KEY----- <redacted>\n");
        } else if line.contains("END PRIVATE KEY") {
            inside = false;
        } else if !inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn pem_of(cert: &Path, dir: &Path) -> Result<PathBuf, String> {
    let bytes = std::fs::read(cert).map_err(|e| format!("{}: {e}", cert.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        return Ok(cert.to_path_buf());
    }
    let pem = dir.join("cert.pem");
    let out = keyward_testkit::tool("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(cert)
        .arg("-out")
        .arg(&pem)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("openssl x509 -inform DER: {}", both(&out)));
    }
    Ok(pem)
}

/// `openssl verify -CAfile root -untrusted issuing cert` (the certificate file may be DER or PEM).
pub(crate) fn openssl_verify(
    cert: &Path,
    issuing_pem: &Path,
    root_pem: &Path,
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let pem = pem_of(cert, dir.path())?;
    let out = keyward_testkit::tool("openssl")
        .args(["verify", "-x509_strict", "-CAfile"])
        .arg(root_pem)
        .arg("-untrusted")
        .arg(issuing_pem)
        .arg(&pem)
        .output()
        .map_err(|e| e.to_string())?;
    let text = both(&out);
    if out.status.success() && text.contains(": OK") {
        Ok(())
    } else {
        Err(format!("openssl verify: {text}"))
    }
}

pub(crate) const PYTHON_CHECK: &str = r#"
import json, os, sys
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
data = open(sys.argv[1], "rb").read()
try:
    p = pkcs12.load_pkcs12(data, os.environb[b"KW_PIN"])
except UnsupportedAlgorithm as e:
    print(json.dumps({"unsupported": str(e)})); sys.exit(0)
k = p.key
if isinstance(k, rsa.RSAPrivateKey): spec = "RSA:%d" % k.key_size
elif isinstance(k, dsa.DSAPrivateKey): spec = "DSA:%d" % k.key_size
elif isinstance(k, ec.EllipticCurvePrivateKey): spec = "EC:" + k.curve.name
else: spec = type(k).__name__
name = p.cert.friendly_name.decode() if p.cert and p.cert.friendly_name else None
print(json.dumps({"spec": spec, "friendly_name": name, "cas": len(p.additional_certs)}))
"#;

/// Python `cryptography`'s `pkcs12.load_pkcs12`: the key matches the spec, the certificate has a
/// friendly name.
pub(crate) fn python_cryptography(p12: &Path, pin: &str, spec: &str) -> Result<Outcome, String> {
    let out = run(keyward_testkit::python_script(PYTHON_CHECK).arg(p12), pin);
    let text = both(&out).replace(pin, "<PIN>");
    if !out.status.success() {
        return Err(format!("python cryptography: {text}"));
    }
    let json: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("{e}: {text}"))?;
    if let Some(why) = json["unsupported"].as_str() {
        return Ok(Outcome::Unsupported(format!("python cryptography: {why}")));
    }
    if json["spec"] != spec {
        return Err(format!(
            "python cryptography sees {} for {spec}",
            json["spec"]
        ));
    }
    if json["friendly_name"].is_null() {
        return Err("python cryptography: the certificate has no friendly name".into());
    }
    Ok(Outcome::Checked)
}

/// `keytool -list -v` of a PKCS#12, with the PIN masked in the text.
pub(crate) fn keytool_list(p12: &Path, pin: &str) -> Result<String, String> {
    let out = run(
        keyward_testkit::tool("keytool")
            .args([
                "-J-Duser.language=en",
                "-J-Duser.country=US",
                "-J-Dfile.encoding=UTF-8",
                "-J-Dsun.stdout.encoding=UTF-8",
                "-J-Dsun.stderr.encoding=UTF-8",
                "-list",
                "-v",
                "-storetype",
                "pkcs12",
                "-storepass:env",
                "KW_PIN",
                "-keystore",
            ])
            .arg(p12),
        pin,
    );
    let text = both(&out).replace(pin, "<PIN>");
    if !out.status.success() {
        return Err(format!("keytool: {text}"));
    }
    Ok(text)
}

/// Java 17 `keytool -list -v`: one PrivateKeyEntry whose alias is the friendly name, a chain of
/// 1 + `chain_len` certificates, and the spec's key algorithm and size or curve.
pub(crate) fn keytool(
    p12: &Path,
    pin: &str,
    spec: &str,
    friendly_name: &str,
    chain_len: usize,
) -> Result<Outcome, String> {
    let text = keytool_list(p12, pin)?;
    let (alg, param) = spec.split_once(':').ok_or("bad spec")?;
    let key_line = match alg {
        "RSA" => format!("{param}-bit RSA key"),
        "DSA" => format!("{param}-bit DSA key"),
        _ => format!("({param}) key"),
    };
    let checks = [
        ("Your keystore contains 1 entry".to_string(), "one entry"),
        (
            "Entry type: PrivateKeyEntry".to_string(),
            "a private key entry",
        ),
        (
            format!("Alias name: {}", friendly_name.to_lowercase()),
            "the friendly name as alias",
        ),
        (
            format!("Certificate chain length: {}", chain_len + 1),
            "the chain",
        ),
        (key_line, "the key algorithm"),
    ];
    for (needle, what) in checks {
        if !text.contains(&needle) {
            return Err(format!("keytool output lacks {what} ({needle:?}):\n{text}"));
        }
    }
    Ok(Outcome::Checked)
}

/// Java 17 `keytool -list`: exactly one PrivateKeyEntry per expected alias (friendly names,
/// which keytool lowercases), for tokens that hold several keys.
pub(crate) fn keytool_aliases(p12: &Path, pin: &str, aliases: &[String]) -> Result<(), String> {
    let text = keytool_list(p12, pin)?;
    let entries = text.matches("Entry type: PrivateKeyEntry").count();
    if entries != aliases.len() {
        return Err(format!(
            "keytool lists {entries} private key entries, expected {}:\n{text}",
            aliases.len()
        ));
    }
    for alias in aliases {
        let needle = format!("Alias name: {}", alias.to_lowercase());
        if !text.contains(&needle) {
            return Err(format!("keytool output lacks {needle:?}:\n{text}"));
        }
    }
    Ok(())
}
