//! Profile-aware checks for the PKCS#12 compatibility matrix: what the OpenSSL 3 CLI, GnuTLS
//! `certtool`, Python `cryptography` and Java `keytool` show of a token, and the keytool round
//! trip. The basic single-consumer checks are in `interop`.

use std::path::Path;

use super::interop::{both, key_markers, keytool_list, openssl, run, Outcome, PYTHON_CHECK};

/// A private key PEM that `Debug` does not show.
#[derive(Clone)]
pub(crate) struct RedactedPem(pub String);

impl std::fmt::Debug for RedactedPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<private key>")
    }
}

/// One bag as `openssl pkcs12 -info -nodes` prints it.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrintedBag {
    /// `subject=` of a certificate bag.
    pub subject: Option<String>,
    /// The key of a key bag.
    pub key: Option<RedactedPem>,
    /// The friendlyName attribute.
    pub friendly_name: Option<String>,
    /// The localKeyID attribute, as OpenSSL prints it (hex bytes separated by spaces).
    pub local_key_id: Option<String>,
    /// Any other bag attribute, `name: value`.
    pub other_attributes: Vec<String>,
}

impl PrintedBag {
    /// Whether this is a certificate bag.
    pub(crate) fn is_certificate(&self) -> bool {
        self.subject.is_some()
    }
}

/// What `openssl pkcs12 -info -nodes` shows of a PKCS#12.
#[derive(Debug, Clone)]
pub(crate) struct OpensslDump {
    /// The algorithm lines (`MAC: ...`, `PKCS7 Encrypted data: ...`, `Shrouded Keybag: ...`),
    /// which OpenSSL prints on stderr.
    pub info: String,
    /// Every bag, in file order.
    pub bags: Vec<PrintedBag>,
}

/// A line of `openssl pkcs12 -info` output as text. OpenSSL 3.0 prints a BMPString
/// friendlyName with `OPENSSL_uni2asc`, one byte per UTF-16 unit (Latin-1 for "Åsa Öberg"), so a
/// line that is not UTF-8 is read as Latin-1: names within Latin-1 come out right.
fn output_line(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

fn parse_bags(stdout: &[u8]) -> Vec<PrintedBag> {
    let mut bags: Vec<PrintedBag> = Vec::new();
    let mut in_attributes = false;
    let mut key_pem: Option<String> = None;
    for line in stdout.split(|b| *b == b'\n').map(output_line) {
        let line = line.as_str();
        if let Some(pem) = key_pem.as_mut() {
            pem.push_str(line);
            pem.push('\n');
            if line.starts_with("-----END") {
                if let Some(bag) = bags.last_mut() {
                    bag.key = key_pem.take().map(RedactedPem);
                }
                key_pem = None;
            }
            continue;
        }
        if line.starts_with("Bag Attributes") {
            bags.push(PrintedBag::default());
            in_attributes = !line.contains("<No Attributes>");
            continue;
        }
        if in_attributes && line.starts_with(' ') {
            let bag = bags.last_mut().expect("a bag");
            match line.trim().split_once(':') {
                Some(("friendlyName", v)) => bag.friendly_name = Some(v.trim().to_string()),
                Some(("localKeyID", v)) => bag.local_key_id = Some(v.trim().to_string()),
                _ => bag.other_attributes.push(line.trim().to_string()),
            }
            continue;
        }
        in_attributes = false;
        if let Some(subject) = line.strip_prefix("subject=") {
            if let Some(bag) = bags.last_mut() {
                bag.subject = Some(subject.to_string());
            }
        } else if line.starts_with("-----BEGIN") && line.contains("PRIVATE KEY") {
            key_pem = Some(format!("{line}\n"));
        }
    }
    bags
}

/// `openssl pkcs12 -info -nodes` (OpenSSL 3's default providers; with `legacy`, `-legacy`
/// too): verifies the MAC, decrypts every bag and prints them.
pub(crate) fn openssl_dump(p12: &Path, pin: &str, legacy: bool) -> Result<OpensslDump, String> {
    let mut cmd = keyward_testkit::tool("openssl");
    cmd.args(["pkcs12", "-info", "-nodes"]);
    if legacy {
        cmd.arg("-legacy");
    }
    let out = run(cmd.arg("-in").arg(p12).args(["-passin", "env:KW_PIN"]), pin);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(pin, "<PIN>");
    if !out.status.success() {
        return Err(format!(
            "openssl pkcs12 -info -nodes{}: {stderr}",
            if legacy { " -legacy" } else { "" }
        ));
    }
    Ok(OpensslDump {
        info: stderr,
        bags: parse_bags(&out.stdout),
    })
}

/// The algorithm lines `openssl pkcs12 -info` must show for a profile.
fn openssl_algorithm_lines(profile: &keyward_crypto::Pkcs12Profile) -> Vec<String> {
    let (iter, mac_iter) = (profile.iterations, profile.mac_iterations);
    match profile.scheme {
        keyward_crypto::P12Scheme::Modern => vec![
            format!("MAC: sha256, Iteration {mac_iter}"),
            "MAC length: 32, salt length: 16".into(),
            format!(
                "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration {iter}, PRF hmacWithSHA256"
            ),
            format!(
                "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration {iter}, PRF hmacWithSHA256"
            ),
        ],
        keyward_crypto::P12Scheme::Legacy => vec![
            format!("MAC: sha1, Iteration {mac_iter}"),
            "MAC length: 20, salt length: 8".into(),
            format!("PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration {iter}"),
            format!("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration {iter}"),
        ],
    }
}

/// The OpenSSL 3 CLI reads a token of `profile`: `-info -nodes` and `-noout` succeed (for the
/// legacy profile with the default providers AND with `-legacy`, with the same result), the
/// algorithms are the profile's, there is one key of the spec and `1 + chain_len`
/// certificates; the key bag and its certificate bag carry the same friendlyName (`friendly`)
/// and localKeyID, the CA certificate bags no attributes; `openssl asn1parse -inform DER`
/// reads the file.
pub(crate) fn openssl_pkcs12_profile(
    p12: &Path,
    pin: &str,
    profile: &keyward_crypto::Pkcs12Profile,
    spec: &str,
    friendly: &str,
    chain_len: usize,
) -> Result<(), String> {
    let dump = openssl_dump(p12, pin, false)?;
    for line in openssl_algorithm_lines(profile) {
        if !dump.info.lines().any(|l| l == line) {
            return Err(format!(
                "openssl pkcs12 -info lacks {line:?}:\n{}",
                dump.info
            ));
        }
    }
    let forbidden: &[&str] = match profile.scheme {
        keyward_crypto::P12Scheme::Modern => &["3DES", "RC2", "pbeWithSHA1", "sha1"],
        keyward_crypto::P12Scheme::Legacy => &["PBES2", "AES", "RC2", "sha256"],
    };
    if let Some(bad) = forbidden.iter().find(|f| dump.info.contains(*f)) {
        return Err(format!(
            "{bad} in a {} PKCS#12:\n{}",
            profile.scheme.name(),
            dump.info
        ));
    }
    let certs: Vec<&PrintedBag> = dump.bags.iter().filter(|b| b.is_certificate()).collect();
    let keys: Vec<&PrintedBag> = dump.bags.iter().filter(|b| b.key.is_some()).collect();
    if certs.len() != 1 + chain_len || keys.len() != 1 || dump.bags.len() != 2 + chain_len {
        return Err(format!(
            "expected 1 key and {} certificates, openssl shows {:?}",
            1 + chain_len,
            dump.bags
        ));
    }
    let key = keys[0];
    let ee: Vec<&&PrintedBag> = certs
        .iter()
        .filter(|c| c.friendly_name.is_some() || c.local_key_id.is_some())
        .collect();
    let attributes_ok = ee.len() == 1
        && key.friendly_name.as_deref() == Some(friendly)
        && ee[0].friendly_name.as_deref() == Some(friendly)
        && key.local_key_id.is_some()
        && key.local_key_id == ee[0].local_key_id
        && dump.bags.iter().all(|b| b.other_attributes.is_empty());
    if !attributes_ok {
        return Err(format!(
            "the key bag and its certificate bag (only) must carry friendlyName {friendly:?} \
             and the same localKeyID: {:?}",
            dump.bags
        ));
    }
    let pem = &key.key.as_ref().expect("a key bag").0;
    let mut child = keyward_testkit::tool("openssl")
        .args(["pkey", "-noout", "-text"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("openssl pkey: {e}"))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(pem.as_bytes())
            .map_err(|e| format!("openssl pkey: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("openssl pkey: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    for marker in key_markers(spec)? {
        if !text.contains(&marker) {
            let head: String = text.lines().take(2).collect::<Vec<_>>().join(" / ");
            return Err(format!(
                "key is not {spec}: `openssl pkey -text` lacks {marker:?} (starts {head:?})"
            ));
        }
    }
    openssl(&["pkcs12", "-noout"], p12, pin)?;
    if profile.scheme == keyward_crypto::P12Scheme::Legacy {
        let with_legacy = openssl_dump(p12, pin, true)?;
        if with_legacy.info != dump.info
            || format!("{:?}", with_legacy.bags) != format!("{:?}", dump.bags)
        {
            return Err(format!(
                "openssl -legacy reads it differently:\n{}\n{:?}",
                with_legacy.info, with_legacy.bags
            ));
        }
        openssl(&["pkcs12", "-noout", "-legacy"], p12, pin)?;
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

/// GnuTLS `certtool --p12-info`: verifies the MAC and decrypts the certificate safe (it shows
/// the key bag still encrypted). Checks the profile's MAC, bag encryption and salt sizes, one
/// PKCS#8 key bag and `1 + chain_len` certificates, friendlyName `friendly` and the same key ID
/// on the key bag and one certificate bag. certtool takes the password only on argv.
pub(crate) fn gnutls_p12_info(
    p12: &Path,
    pin: &str,
    profile: &keyward_crypto::Pkcs12Profile,
    friendly: &str,
    chain_len: usize,
) -> Result<Outcome, String> {
    let out = keyward_testkit::tool("certtool")
        .args(["--p12-info", "--inder", "--infile"])
        .arg(p12)
        .args(["--password", pin])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run certtool: {e}"))?;
    let text = both(&out).replace(pin, "<PIN>");
    if !out.status.success() || text.contains("failed") || text.contains("errors") {
        return Err(format!("certtool --p12-info: {text}"));
    }
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let count = |wanted: &str| lines.iter().filter(|l| **l == wanted).count();
    let (mac, schema, salt) = match profile.scheme {
        keyward_crypto::P12Scheme::Modern => (
            "MAC: SHA256 (2.16.840.1.101.3.4.2.1)",
            "Schema: PBES2-AES256-CBC (2.16.840.1.101.3.4.1.42)",
            "Salt size: 16",
        ),
        keyward_crypto::P12Scheme::Legacy => (
            "MAC: SHA1 (1.3.14.3.2.26)",
            "Schema: PKCS12-3DES-SHA1 (1.2.840.113549.1.12.1.3)",
            "Salt size: 8",
        ),
    };
    let key_ids: Vec<&&str> = lines.iter().filter(|l| l.starts_with("Key ID:")).collect();
    let checks = [
        (count("MAC info:"), 1, "MAC info".to_string()),
        (count(mac), 1, mac.to_string()),
        (count(schema), 2, schema.to_string()),
        (count(salt), 3, format!("{salt} (MAC and both bags)")),
        (
            count(&format!("Iteration count: {}", profile.mac_iterations)),
            if profile.mac_iterations == profile.iterations {
                3
            } else {
                1
            },
            "iteration counts".to_string(),
        ),
        (
            count("Type: PKCS #8 Encrypted key"),
            1,
            "the key bag".to_string(),
        ),
        (
            count("Type: Certificate"),
            1 + chain_len,
            "the certificates".to_string(),
        ),
        (
            count(&format!("Friendly name: {friendly}")),
            2,
            format!("friendlyName {friendly:?} on key and certificate bag"),
        ),
        (
            key_ids.len(),
            2,
            "key IDs on key and certificate bag".into(),
        ),
    ];
    for (found, expected, what) in checks {
        if found != expected {
            return Err(format!(
                "certtool --p12-info: {found} times {what}, expected {expected}:\n{text}"
            ));
        }
    }
    if key_ids[0] != key_ids[1] {
        return Err(format!("certtool --p12-info: the key IDs differ:\n{text}"));
    }
    Ok(Outcome::Checked)
}

/// Python `cryptography`'s `pkcs12.load_pkcs12`: the key matches the spec, the certificate has
/// friendly name `friendly`, and there are `cas` additional certificates.
pub(crate) fn python_cryptography_token(
    p12: &Path,
    pin: &str,
    spec: &str,
    friendly: &str,
    cas: usize,
) -> Result<Outcome, String> {
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
    if json["spec"] != spec || json["friendly_name"] != friendly || json["cas"] != cas {
        return Err(format!(
            "python cryptography sees {json}, expected {spec}, {friendly:?} and {cas} CAs"
        ));
    }
    Ok(Outcome::Checked)
}

/// Python `cryptography`'s version; panics if python3 cannot import it.
pub(crate) fn python_cryptography_version() -> String {
    let out =
        keyward_testkit::python_script("import cryptography; print(cryptography.__version__)")
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3: {e}"));
    assert!(out.status.success(), "python3: {}", both(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Java 17 `keytool -importkeystore` from a PKCS#12 into a new PKCS#12 keystore (same password).
pub(crate) fn keytool_import_keystore(src: &Path, pin: &str, dest: &Path) -> Result<(), String> {
    let out = run(
        keyward_testkit::tool("keytool")
            .args([
                "-J-Duser.language=en",
                "-J-Duser.country=US",
                "-J-Dfile.encoding=UTF-8",
                "-J-Dsun.stdout.encoding=UTF-8",
                "-J-Dsun.stderr.encoding=UTF-8",
                "-importkeystore",
                "-noprompt",
                "-srcstoretype",
                "PKCS12",
                "-srcstorepass:env",
                "KW_PIN",
                "-deststoretype",
                "PKCS12",
                "-deststorepass:env",
                "KW_PIN",
                "-srckeystore",
            ])
            .arg(src)
            .arg("-destkeystore")
            .arg(dest),
        pin,
    );
    let text = both(&out).replace(pin, "<PIN>");
    if out.status.success() && text.contains("1 entries successfully imported, 0 entries failed") {
        Ok(())
    } else {
        Err(format!("keytool -importkeystore: {text}"))
    }
}

/// `keytool -list -v` (Java 17) of a PKCS#12 with one entry: the alias as keytool shows it.
pub(crate) fn keytool_alias(p12: &Path, pin: &str) -> Result<String, String> {
    let text = keytool_list(p12, pin)?;
    let aliases: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Alias name: "))
        .collect();
    match aliases.as_slice() {
        [alias] => Ok(alias.to_string()),
        _ => Err(format!("expected one alias:\n{text}")),
    }
}

/// The first line of a tool's version output (`openssl version`, `java -version`, ...).
pub(crate) fn tool_version(tool: &str, args: &[&str]) -> String {
    let out = keyward_testkit::tool(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    both(&out)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}
