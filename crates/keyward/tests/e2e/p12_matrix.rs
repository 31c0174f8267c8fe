//! The PKCS#12 compatibility matrix: profile (`modern`, `legacy`) × key spec (all twelve) ×
//! consumer (OpenSSL 3, Java 17 keytool, NSS pk12util, GnuTLS certtool, Python cryptography),
//! plus round trips through keytool and NSS.
//!
//! Tokens are sealed as the RA seals them: `keyward_crypto::build_p12_entries` with the
//! profiles the shipped procedures.toml resolves for `soft-signing` and `soft-signing-legacy`,
//! a two-level CA (the issuing CA and the root in the file: the default `to-root` chain rule),
//! an end-entity certificate of the `signing` certificate procedure, friendlyName = the CN.
//!
//! Every cell passes or is listed in [`EXPECTED_SKIPS`] with the reason and the exact failure
//! observed; an unexpected failure fails the test, and so does a listed skip that passes (it
//! must then be removed from the table and from the README). A missing tool fails the test.
//!
//! `cargo test -p keyward --test e2e p12_matrix -- --nocapture` prints the matrix as Markdown.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use keyward_ca::{CertificateAuthority, IssueRequest, SoftwareSigner};
use keyward_crypto::{P12Entry, Pkcs12Profile};
use keyward_policy::{DistinguishedName, KeySpec, ProcedureSet};

use support::consumers;
use support::der;
use support::interop::{self, Outcome};
use support::nss::NssDb;

const PIN: &str = "Matrix-Pin-4711";

/// The twelve key specs, in the order of the table.
const SPECS: [&str; 12] = [
    "RSA:2048",
    "RSA:3072",
    "RSA:4096",
    "RSA:8192",
    "EC:brainpoolP256r1",
    "EC:brainpoolP320r1",
    "EC:brainpoolP384r1",
    "EC:brainpoolP512r1",
    "EC:secp256r1",
    "EC:secp384r1",
    "EC:secp521r1",
    "DSA:1024",
];

/// Token procedures of the shipped procedures.toml whose profiles are tested.
const PROFILES: [(&str, &str); 2] = [
    ("modern", "soft-signing"),
    ("legacy", "soft-signing-legacy"),
];

/// The consumers, in the order of the table's columns.
const CONSUMERS: [&str; 5] = ["openssl", "keytool", "NSS", "GnuTLS", "python"];

/// Specs whose tokens also go through the keytool and NSS round trips.
const ROUND_TRIP_SPECS: [&str; 2] = ["RSA:2048", "EC:secp256r1"];

/// Every cell that does not pass, and why: (profile, spec, consumer, reason for the table, text
/// the observed failure must contain). Observed with Python cryptography 48.0.0 (its wheel
/// bundles OpenSSL 4.0.0): `load_pkcs12` raises `UnsupportedAlgorithm` for a brainpoolP320r1
/// key, because pyca/cryptography maps only a fixed list of named curves and
/// brainpoolP320r1 is not among them (brainpoolP256r1/P384r1/P512r1 are). The PKCS#12 itself
/// is fine: every other consumer reads it. Nothing else fails on this machine: OpenSSL 3.0's
/// default provider still has the PKCS#12 KDF and 3DES, so the legacy profile opens without
/// `-legacy`; keytool 17, NSS 3.87 and GnuTLS 3.7 read both profiles for all specs (their
/// listings leave the key bag encrypted, so they do not judge the key itself; the round trips
/// decrypt it).
const EXPECTED_SKIPS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "modern",
        "EC:brainpoolP320r1",
        "python",
        "cryptography has no brainpoolP320r1",
        "Curve 1.3.36.3.3.2.8.1.1.9 is not supported",
    ),
    (
        "legacy",
        "EC:brainpoolP320r1",
        "python",
        "cryptography has no brainpoolP320r1",
        "Curve 1.3.36.3.3.2.8.1.1.9 is not supported",
    ),
];

/// The shipped procedures.toml (as `keyward init` installs it).
const PROCEDURES: &str = keyward_admin::init::DEFAULT_PROCEDURES;

/// `EC:secp256r1` → `EC secp256r1` (a colon would make NSS read a token name in a nickname).
fn friendly_name(spec: &str) -> String {
    format!("Åsa Öberg {}", spec.replace(':', " "))
}

fn slug(spec: &str) -> String {
    spec.replace(':', "-")
}

struct Ca {
    authority: CertificateAuthority,
    issuing: X509,
    root: X509,
    procedure: keyward_policy::CertificateProcedure,
}

impl Ca {
    fn new(procedures: &ProcedureSet) -> Ca {
        let h = keyward_ca::create_hierarchy(
            &DistinguishedName::parse("CN=Matrix Root CA,O=Keyward").unwrap(),
            &DistinguishedName::parse("CN=Matrix Issuing CA,O=Keyward").unwrap(),
        )
        .expect("CA hierarchy");
        let authority = CertificateAuthority::new(
            h.issuing_cert.clone(),
            vec![h.issuing_cert.clone(), h.root_cert.clone()],
            Box::new(SoftwareSigner::new(h.issuing_key)),
        );
        let procedure = procedures
            .certificate
            .iter()
            .find(|c| c.name == "signing")
            .expect("certificate procedure signing")
            .clone();
        Ca {
            authority,
            issuing: h.issuing_cert,
            root: h.root_cert,
            procedure,
        }
    }

    /// Issues a `signing` certificate for `key`, as `keyward::init::issue` does.
    fn issue(&self, key: &PKey<Private>, cn: &str) -> X509 {
        let dn = DistinguishedName::parse(&format!("CN={cn},O=Example,C=SE")).unwrap();
        let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        self.authority
            .issue(&IssueRequest {
                public_key: &public,
                subject: &dn,
                email: Some("asa.oberg@example.com"),
                procedure: &self.procedure,
                serial: keyward_crypto::random_serial().unwrap(),
                not_before: now,
                dns_names: &[],
                ip_addresses: &[],
                qc_statements: &self.procedure.qc_statements,
            })
            .expect("end-entity certificate")
    }
}

/// One consumer's result for one file, before it is compared with [`EXPECTED_SKIPS`].
type Observed = Result<Outcome, String>;

#[derive(Default)]
struct Results {
    /// (spec, profile, consumer) → observed.
    cells: BTreeMap<(String, String, String), Observed>,
    /// (spec, profile, round trip) → result and findings.
    round_trips: BTreeMap<(String, String, String), Result<String, String>>,
    /// spec → key generation seconds.
    keygen: BTreeMap<String, f64>,
}

fn consumers(
    p12: &Path,
    bytes: &[u8],
    profile: &Pkcs12Profile,
    spec: &str,
    friendly: &str,
    nss: &NssDb,
) -> Vec<(&'static str, Observed)> {
    let openssl = consumers::openssl_pkcs12_profile(p12, PIN, profile, spec, friendly, 2)
        .and_then(|()| der::check_pkcs12(bytes))
        .and_then(|data| {
            // The AuthenticatedSafe and the unencrypted SafeContents of the key bag.
            if data == 2 {
                Ok(Outcome::Checked)
            } else {
                Err(format!("{data} pkcs7-data contents, expected 2"))
            }
        });
    vec![
        ("openssl", openssl),
        ("keytool", interop::keytool(p12, PIN, spec, friendly, 2)),
        ("NSS", nss.list(p12, PIN, friendly, 2)),
        (
            "GnuTLS",
            consumers::gnutls_p12_info(p12, PIN, profile, friendly, 2),
        ),
        (
            "python",
            consumers::python_cryptography_token(p12, PIN, spec, friendly, 2),
        ),
    ]
}

/// What a round trip must give back: one key (matching and usable) with the same certificate,
/// friendlyName `friendly`, and the CA certificates, same DER, in chain order.
fn check_round_trip(
    bytes: &[u8],
    key: &PKey<Private>,
    cert: &X509,
    chain: &[X509],
    friendly: &str,
) -> Result<(), String> {
    let parsed = keyward_crypto::parse_p12_entries(bytes, PIN).map_err(|e| e.to_string())?;
    let [entry] = parsed.entries.as_slice() else {
        return Err(format!("expected one key: {parsed:?}"));
    };
    if entry.friendly_name.as_deref() != Some(friendly) {
        return Err(format!(
            "friendlyName {:?}, expected {friendly:?}",
            entry.friendly_name
        ));
    }
    if entry.certificate.to_der().unwrap() != cert.to_der().unwrap() {
        return Err("the end-entity certificate changed".into());
    }
    if !entry.key.public_eq(key) {
        return Err("another key".into());
    }
    let sig = keyward_crypto::sign_message(&entry.key, b"round trip").map_err(|e| e.to_string())?;
    if !keyward_crypto::verify_message(cert.public_key().unwrap().as_ref(), b"round trip", &sig)
        .unwrap_or(false)
    {
        return Err("the key that came back does not sign".into());
    }
    let ders =
        |certs: &[X509]| -> Vec<Vec<u8>> { certs.iter().map(|c| c.to_der().unwrap()).collect() };
    if ders(&parsed.ca) != ders(chain) {
        let subjects: Vec<String> = parsed
            .ca
            .iter()
            .map(|c| format!("{:?}", c.subject_name()))
            .collect();
        return Err(format!(
            "CA certificates differ from issuing CA + root (same DER, that order): {subjects:?}"
        ));
    }
    Ok(())
}

/// The bag attributes and algorithms after a round trip, for the report.
fn describe(p12: &Path, original_key_id: Option<&str>) -> Result<String, String> {
    let dump = consumers::openssl_dump(p12, PIN, false)?;
    let mac = dump
        .info
        .lines()
        .filter(|l| {
            l.starts_with("MAC:")
                || l.starts_with("MAC length")
                || l.starts_with("Shrouded Keybag")
                || l.starts_with("PKCS7 Encrypted data")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut bags = Vec::new();
    for bag in &dump.bags {
        let what = match &bag.subject {
            Some(subject) => format!("cert {subject}"),
            None => "key".to_string(),
        };
        let id = match (&bag.local_key_id, original_key_id) {
            (None, _) => "no localKeyID".to_string(),
            (Some(id), Some(orig)) if id == orig => "localKeyID kept".to_string(),
            (Some(id), _) => format!("localKeyID {id}"),
        };
        bags.push(format!(
            "{what}: friendlyName {:?}, {id}{}",
            bag.friendly_name,
            if bag.other_attributes.is_empty() {
                String::new()
            } else {
                format!(", {}", bag.other_attributes.join(", "))
            }
        ));
    }
    Ok(format!("{mac} | {}", bags.join(" | ")))
}

/// `keytool -importkeystore` into a new PKCS#12, then our parser on the result. Java 17 keeps
/// the alias lowercased (the friendlyName it writes is the lowercased alias).
fn keytool_round_trip(
    p12: &Path,
    key: &PKey<Private>,
    cert: &X509,
    ca: &Ca,
    friendly: &str,
    original_key_id: Option<&str>,
) -> Result<String, String> {
    let dest = p12.with_extension("keytool.p12");
    consumers::keytool_import_keystore(p12, PIN, &dest)?;
    let alias = consumers::keytool_alias(&dest, PIN)?;
    if alias != friendly.to_lowercase() {
        return Err(format!("keytool alias {alias:?}"));
    }
    let bytes = std::fs::read(&dest).map_err(|e| e.to_string())?;
    check_round_trip(
        &bytes,
        key,
        cert,
        &[ca.issuing.clone(), ca.root.clone()],
        &friendly.to_lowercase(),
    )?;
    describe(&dest, original_key_id)
}

/// `pk12util -i` into a new NSS database, `pk12util -o -n NICKNAME` out, our parser on the
/// result. The nickname NSS gives the key's certificate is the friendlyName.
fn nss_round_trip(
    p12: &Path,
    key: &PKey<Private>,
    cert: &X509,
    ca: &Ca,
    friendly: &str,
    original_key_id: Option<&str>,
) -> Result<String, String> {
    let db = NssDb::new();
    db.import(p12, PIN)?;
    let nicknames = db.nicknames()?;
    if !nicknames.iter().any(|n| n == friendly) {
        return Err(format!("NSS nicknames {nicknames:?} lack {friendly:?}"));
    }
    let dest = p12.with_extension("nss.p12");
    db.export(friendly, &dest, PIN)?;
    let bytes = std::fs::read(&dest).map_err(|e| e.to_string())?;
    check_round_trip(
        &bytes,
        key,
        cert,
        &[ca.issuing.clone(), ca.root.clone()],
        friendly,
    )?;
    Ok(format!(
        "nicknames {nicknames:?} | {}",
        describe(&dest, original_key_id)?
    ))
}

fn one_spec(
    spec: &str,
    ca: &Ca,
    profiles: &[(String, Pkcs12Profile)],
    dir: &Path,
    nss: &NssDb,
    results: &Mutex<Results>,
) {
    let started = Instant::now();
    let key = keyward_crypto::generate_key(spec.parse::<KeySpec>().unwrap()).expect("key");
    let keygen = started.elapsed().as_secs_f64();
    let friendly = friendly_name(spec);
    let cert = ca.issue(&key, &friendly);
    let chain = ca.authority.chain().to_vec();
    let mut cells = Vec::new();
    let mut trips = Vec::new();
    for (name, profile) in profiles {
        let entry = P12Entry {
            key: &key,
            certificate: &cert,
            friendly_name: &friendly,
        };
        let bytes = keyward_crypto::build_p12_entries(&[entry], &chain, PIN, profile)
            .unwrap_or_else(|e| panic!("{spec} {name}: build_p12_entries: {e}"));
        let p12: PathBuf = dir.join(format!("{}-{name}.p12", slug(spec)));
        std::fs::write(&p12, &bytes).unwrap();
        for (consumer, observed) in consumers(&p12, &bytes, profile, spec, &friendly, nss) {
            cells.push((
                (spec.to_string(), name.clone(), consumer.to_string()),
                observed,
            ));
        }
        if ROUND_TRIP_SPECS.contains(&spec) {
            let key_id = consumers::openssl_dump(&p12, PIN, false)
                .ok()
                .and_then(|d| d.bags.iter().find_map(|b| b.local_key_id.clone()));
            let key_id = key_id.as_deref();
            trips.push((
                (spec.to_string(), name.clone(), "keytool".to_string()),
                keytool_round_trip(&p12, &key, &cert, ca, &friendly, key_id),
            ));
            trips.push((
                (spec.to_string(), name.clone(), "NSS".to_string()),
                nss_round_trip(&p12, &key, &cert, ca, &friendly, key_id),
            ));
        }
    }
    let mut r = results.lock().unwrap();
    r.cells.extend(cells);
    r.round_trips.extend(trips);
    r.keygen.insert(spec.to_string(), keygen);
}

fn expected_skip(
    profile: &str,
    spec: &str,
    consumer: &str,
) -> Option<(&'static str, &'static str)> {
    EXPECTED_SKIPS
        .iter()
        .find(|(p, s, c, _, _)| *p == profile && *s == spec && *c == consumer)
        .map(|(_, _, _, reason, text)| (*reason, *text))
}

/// The cell text and, if the cell is not as expected, the failure.
fn judge(
    profile: &str,
    spec: &str,
    consumer: &str,
    observed: &Observed,
) -> (String, Option<String>) {
    let failure_text = match observed {
        Ok(Outcome::Checked) => None,
        Ok(Outcome::Unsupported(why)) => Some(why.as_str()),
        Err(e) => Some(e.as_str()),
    };
    match (expected_skip(profile, spec, consumer), failure_text) {
        (None, None) => ("ok".into(), None),
        (None, Some(e)) => (
            "**FAIL**".into(),
            Some(format!("{profile} / {spec} / {consumer}: {e}")),
        ),
        (Some((reason, _)), None) => (
            format!("ok (listed skip: {reason})"),
            Some(format!(
                "{profile} / {spec} / {consumer} passes now: remove it from EXPECTED_SKIPS \
                 and from the README table"
            )),
        ),
        (Some((reason, text)), Some(e)) if e.contains(text) => (format!("skip: {reason}"), None),
        (Some(_), Some(e)) => (
            "**FAIL**".into(),
            Some(format!(
                "{profile} / {spec} / {consumer} fails otherwise than listed: {e}"
            )),
        ),
    }
}

#[test]
fn every_profile_spec_and_consumer() {
    let started = Instant::now();
    let procedures: ProcedureSet = toml::from_str(PROCEDURES).expect("procedures.toml");
    let profiles: Vec<(String, Pkcs12Profile)> = PROFILES
        .iter()
        .map(|(name, token_procedure)| {
            let token = procedures
                .token
                .iter()
                .find(|t| t.name == *token_procedure)
                .unwrap_or_else(|| panic!("token procedure {token_procedure}"));
            assert_eq!(token.p12_profile, *name, "{token_procedure}");
            // What the matrix builds: issuing CA + root in the file, friendlyName = the CN.
            assert_eq!(token.chain, keyward_policy::procedure::ChainRule::ToRoot);
            assert_eq!(token.friendly_name, keyward_policy::FriendlyName::Cn);
            let profile = Pkcs12Profile::from(&procedures.p12_profile(name).unwrap());
            let builtin = match *name {
                "modern" => Pkcs12Profile::modern(),
                _ => Pkcs12Profile::legacy(),
            };
            assert_eq!(profile, builtin, "procedures.toml redefines {name}");
            (name.to_string(), profile)
        })
        .collect();
    // Every tool up front: a missing one fails here, naming its package.
    keyward_testkit::require_tools(&[
        "openssl", "keytool", "python3", "pk12util", "certutil", "certtool",
    ]);
    let python_cryptography = consumers::python_cryptography_version();

    let ca = Ca::new(&procedures);
    let tmp = tempfile::tempdir().unwrap();
    // RSA:8192 first: its key takes longest, the other specs run beside it.
    let mut schedule: Vec<&str> = SPECS.to_vec();
    schedule.sort_by_key(|s| match *s {
        "RSA:8192" => 0,
        "RSA:4096" => 1,
        _ => 2,
    });
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Results::default());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let nss = NssDb::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(spec) = schedule.get(i) else { break };
                    one_spec(spec, &ca, &profiles, tmp.path(), &nss, &results);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();

    // The matrix.
    let mut failures = Vec::new();
    let mut table = String::from("| key spec |");
    let mut rule = String::from("|---|");
    for (profile, _) in &profiles {
        for consumer in CONSUMERS {
            table.push_str(&format!(" {profile}: {consumer} |"));
            rule.push_str("---|");
        }
    }
    table.push('\n');
    table.push_str(&rule);
    table.push('\n');
    for spec in SPECS {
        table.push_str(&format!("| {spec} |"));
        for (profile, _) in &profiles {
            for consumer in CONSUMERS {
                let key = (spec.to_string(), profile.clone(), consumer.to_string());
                let observed = results
                    .cells
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| Err("not run".into()));
                let (cell, failure) = judge(profile, spec, consumer, &observed);
                table.push_str(&format!(" {cell} |"));
                failures.extend(failure);
            }
        }
        table.push('\n');
    }
    let mut trips =
        String::from("| key spec | profile | round trip | result |\n|---|---|---|---|\n");
    let mut round_trips: Vec<_> = results.round_trips.iter().collect();
    round_trips.sort_by_key(|((spec, profile, via), _)| {
        (
            ROUND_TRIP_SPECS.iter().position(|s| s == spec),
            PROFILES.iter().position(|(p, _)| p == profile),
            via.clone(),
        )
    });
    for ((spec, profile, via), result) in round_trips {
        let cell = match result {
            Ok(findings) => format!("ok: {findings}"),
            Err(e) => {
                failures.push(format!("{profile} / {spec} / {via} round trip: {e}"));
                format!("**FAIL**: {}", e.lines().next().unwrap_or(""))
            }
        };
        trips.push_str(&format!("| {spec} | {profile} | {via} | {cell} |\n"));
    }
    let expected_trips = ROUND_TRIP_SPECS.len() * profiles.len() * 2;
    if results.round_trips.len() != expected_trips {
        failures.push(format!(
            "{} round trips ran, expected {expected_trips}",
            results.round_trips.len()
        ));
    }
    let versions = [
        consumers::tool_version("openssl", &["version"]),
        consumers::tool_version("java", &["-version"]),
        format!(
            "NSS pk12util {}",
            consumers::tool_version("dpkg-query", &["-W", "-f", "${Version}", "libnss3-tools"])
        ),
        consumers::tool_version("certtool", &["--version"]),
        format!("python cryptography {python_cryptography}"),
    ];
    let keygen: Vec<String> = results
        .keygen
        .iter()
        .map(|(spec, s)| format!("{spec} {s:.1} s"))
        .collect();
    println!("\n## PKCS#12 compatibility matrix\n\n{table}");
    println!("## Round trips\n\n{trips}");
    println!("Expected skips:");
    for (profile, spec, consumer, reason, text) in EXPECTED_SKIPS {
        println!("- {profile} / {spec} / {consumer}: {reason} ({text:?})");
    }
    println!("\nTools: {}", versions.join("; "));
    println!("Key generation: {}", keygen.join(", "));
    println!(
        "Matrix: {} cells and {} round trips in {:.1} s with {workers} workers",
        results.cells.len(),
        results.round_trips.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        results.cells.len(),
        SPECS.len() * profiles.len() * CONSUMERS.len(),
        "every cell ran"
    );
    assert!(
        failures.is_empty(),
        "{} cells are not as expected:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The DER check itself rejects BER: indefinite lengths, long-form short lengths, constructed
/// strings, unsorted SET OF, and a pkcs7-data content that is not DER.
#[test]
fn der_check_rejects_ber() {
    // SEQUENCE { INTEGER 3, SEQUENCE { pkcs7-data, [0] { OCTET STRING { SEQUENCE {} } } } }
    let data = |inner: &[u8]| -> Vec<u8> {
        let mut octets = vec![0x04, inner.len() as u8];
        octets.extend_from_slice(inner);
        let mut explicit = vec![0xa0, octets.len() as u8];
        explicit.extend(octets);
        let oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
        ];
        let mut ci = vec![0x30, (oid.len() + explicit.len()) as u8];
        ci.extend_from_slice(&oid);
        ci.extend(explicit);
        let mut pfx = vec![0x30, (3 + ci.len()) as u8, 0x02, 0x01, 0x03];
        pfx.extend(ci);
        pfx
    };
    let good = data(&[0x30, 0x03, 0x02, 0x01, 0x01]);
    assert_eq!(der::check_pkcs12(&good), Ok(1));
    let cases: [(&str, Vec<u8>); 5] = [
        (
            "indefinite",
            data(&[0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00]),
        ),
        ("long form", data(&[0x30, 0x81, 0x03, 0x02, 0x01, 0x01])),
        (
            "constructed",
            data(&[0x30, 0x05, 0x24, 0x03, 0x04, 0x01, 0x01]),
        ),
        (
            "unsorted",
            data(&[0x30, 0x08, 0x31, 0x06, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01]),
        ),
        (
            "trailing",
            data(&[0x30, 0x03, 0x02, 0x01, 0x01, 0x05, 0x00]),
        ),
    ];
    for (what, bytes) in cases {
        assert!(der::check_pkcs12(&bytes).is_err(), "{what}");
    }
    let mut indefinite_outside = good.clone();
    indefinite_outside[1] = 0x80;
    indefinite_outside.extend([0, 0]);
    assert!(der::check_pkcs12(&indefinite_outside).is_err());
}

/// A cell passes only as expected: an unlisted failure, a listed skip that passes and a listed
/// skip that fails in another way all count as failures.
#[test]
fn cells_are_judged_strictly() {
    let listed = ("modern", "EC:brainpoolP320r1", "python");
    let as_listed = Ok(Outcome::Unsupported(
        "python cryptography: Curve 1.3.36.3.3.2.8.1.1.9 is not supported".into(),
    ));
    let (cell, failure) = judge(listed.0, listed.1, listed.2, &as_listed);
    assert!(cell.starts_with("skip: ") && failure.is_none(), "{cell}");
    let otherwise: Observed = Err("python cryptography: bad MAC".into());
    assert!(judge(listed.0, listed.1, listed.2, &otherwise).1.is_some());
    assert!(judge(listed.0, listed.1, listed.2, &Ok(Outcome::Checked))
        .1
        .is_some());
    assert!(judge("modern", "EC:secp256r1", "python", &as_listed)
        .1
        .is_some());
    assert!(judge("legacy", "RSA:2048", "NSS", &otherwise).1.is_some());
    assert_eq!(
        judge("legacy", "RSA:2048", "NSS", &Ok(Outcome::Checked)),
        ("ok".to_string(), None)
    );
}
