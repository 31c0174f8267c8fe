//! Key archive and recovery through the real binary, HTTPS and SQLite: archived keys come back
//! as the same private key (checked with OpenSSL's own PKCS#12 parser), `last`/`all` and
//! `new`/`reuse` do what the key procedure says, roles govern recovery, and the archive holds
//! nothing in clear.

mod common;
mod support;

use std::path::Path;
use std::process::Command;

use common::{block_on, keyward, run, text, Installation};
use keyward_store::{AuditCategory, Outcome};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde_json::Value;

const PIN: &str = "Correct-Horse-7";
const ALICE: &str = "CN=Alice Example,O=Example,C=SE";

/// Every private key and certificate in a PKCS#12, read by the `openssl pkcs12` command.
fn p12_contents(p12: &Path) -> (Vec<PKey<Private>>, Vec<X509>) {
    support::interop::require_tool("openssl");
    let out = Command::new("openssl")
        .args(["pkcs12", "-nodes", "-passin", "env:KW_PIN", "-in"])
        .arg(p12)
        .env("KW_PIN", PIN)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl pkcs12 {}: {}",
        p12.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = String::from_utf8_lossy(&out.stdout).into_owned();
    let blocks = |kind: &str| -> Vec<String> {
        let begin = format!("-----BEGIN {kind}-----");
        let end = format!("-----END {kind}-----");
        pem.match_indices(&begin)
            .map(|(i, _)| {
                let stop = pem[i..].find(&end).expect("PEM end") + i + end.len();
                pem[i..stop].to_string()
            })
            .collect()
    };
    let keys = blocks("PRIVATE KEY")
        .iter()
        .map(|b| PKey::private_key_from_pem(b.as_bytes()).expect("key PEM"))
        .collect();
    let certs = blocks("CERTIFICATE")
        .iter()
        .map(|b| X509::from_pem(b.as_bytes()).expect("certificate PEM"))
        .collect();
    (keys, certs)
}

fn serial_of(cert: &X509) -> String {
    cert.serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_lowercase()
}

/// Issues a token with `--json` and returns the parsed output; panics with the output on failure.
fn issue(inst: &Installation, conf: Option<(&Path, &Path)>, args: &[&str]) -> Value {
    let mut all = vec!["issue", "--pin-stdin", "--json"];
    all.extend_from_slice(args);
    let cmd = match conf {
        Some((c, p)) => inst.ra_as(c, p, &all),
        None => inst.ra(&all),
    };
    let out = run(cmd, Some(&format!("{PIN}\n")));
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("issue --json")
}

fn p12_arg(inst: &Installation, name: &str) -> String {
    inst.out.join(name).to_str().unwrap().to_string()
}

fn archive(inst: &Installation, subject: &str, name: &str) -> Value {
    let p12 = p12_arg(inst, name);
    let json = issue(
        inst,
        None,
        &[
            "--procedure",
            "soft-encryption-archived",
            "--subject",
            subject,
            "--p12",
            &p12,
        ],
    );
    assert_eq!(
        json["key_management"],
        "Key Management: archive 1 key in the server"
    );
    assert_eq!(json["certificates"][0]["key_origin"], "archived");
    json
}

#[test]
fn archive_then_recover_by_serial_with_reuse_and_with_new() {
    let inst = Installation::new();
    let json = archive(&inst, ALICE, "archived.p12");
    let cert = &json["certificates"][0];
    let serial = cert["serial"].as_str().unwrap().to_string();
    let id = cert["certificate_id"].as_str().unwrap().to_string();
    let (keys, certs) = p12_contents(&inst.out.join("archived.p12"));
    assert_eq!(keys.len(), 1);
    let original = &keys[0];
    assert_eq!(
        original.bits(),
        2048,
        "the key procedure's RSA:2048, not the officer's choice"
    );
    assert!(certs.iter().any(|c| serial_of(c) == serial));

    // Select Archived Key: the criteria refer to the certificate issued with the key.
    let out = run(
        inst.ra(&[
            "archived-keys",
            "--serial",
            &serial.to_uppercase(),
            "--json",
        ]),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["certificate_id"], id.as_str());
    assert_eq!(listed[0]["serial"], serial.as_str());
    assert_eq!(listed[0]["subject"], ALICE);
    assert_eq!(listed[0]["key_usage"], "keyEncipherment");
    assert!(listed[0]["archived_at"].as_str().unwrap().ends_with('Z'));
    let out = run(
        inst.ra(&["archived-keys", "--subject", "alice example"]),
        None,
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&serial),
        "{}",
        text(&out)
    );

    // reuse: the same key and the same certificate.
    let reused_p12 = p12_arg(&inst, "reused.p12");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-reuse",
            "--subject",
            ALICE,
            "--recover-serial",
            &serial,
            "--p12",
            &reused_p12,
        ],
    );
    assert_eq!(
        json["key_management"],
        "Key Management: recover all keys with the reused certificate"
    );
    let c = &json["certificates"][0];
    assert_eq!(json["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(
        (c["serial"].as_str(), c["certificate_id"].as_str()),
        (Some(serial.as_str()), Some(id.as_str()))
    );
    assert_eq!(
        (c["key_origin"].as_str(), c["reused"].as_bool()),
        (Some("recovered"), Some(true))
    );
    let (keys, certs) = p12_contents(Path::new(&reused_p12));
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].public_eq(original),
        "the recovered key is the archived key"
    );
    assert_eq!(
        serial_of(&certs[0]),
        serial,
        "the old certificate comes back"
    );

    // new: the same key, a new certificate with a new serial and Certificate ID.
    let new_p12 = p12_arg(&inst, "renewed.p12");
    let new_cert = inst.out.join("renewed.pem");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-new",
            "--subject",
            ALICE,
            "--recover-id",
            &id,
            "--p12",
            &new_p12,
            "--cert",
            new_cert.to_str().unwrap(),
        ],
    );
    let c = &json["certificates"][0];
    assert_eq!(
        (c["key_origin"].as_str(), c["reused"].as_bool()),
        (Some("recovered"), Some(false))
    );
    assert_ne!(c["serial"].as_str(), Some(serial.as_str()));
    assert_ne!(c["certificate_id"].as_str(), Some(id.as_str()));
    let (keys, certs) = p12_contents(Path::new(&new_p12));
    assert_eq!(keys.len(), 1);
    assert!(keys[0].public_eq(original));
    let new_ee = certs
        .iter()
        .find(|x| serial_of(x) == c["serial"].as_str().unwrap())
        .expect("the new certificate is in the token");
    assert!(new_ee.public_key().unwrap().public_eq(original));
    support::interop::openssl_verify(
        &new_cert,
        &inst.dir.join("ca/issuing.pem"),
        &inst.dir.join("ca/root.pem"),
    )
    .expect("openssl verify of the new certificate");
    support::interop::keytool(Path::new(&new_p12), PIN, "RSA:2048", "Alice Example", 2)
        .expect("keytool reads the recovered token");

    // Every recovery is audited with the archived key's Certificate ID.
    let records = block_on(async { inst.store().await.audit_records(1000).await.unwrap() });
    let recoveries: Vec<_> = records
        .iter()
        .filter(|r| r.category == AuditCategory::KeysRecovered && r.action == "recover-key")
        .collect();
    assert_eq!(recoveries.len(), 2, "{records:#?}");
    assert!(recoveries
        .iter()
        .all(|r| r.object.as_deref() == Some(id.as_str()) && r.outcome == Outcome::Success));
    assert!(records
        .iter()
        .any(|r| r.category == AuditCategory::KeysArchived
            && r.object.as_deref() == Some(id.as_str())));
}

#[test]
fn scope_last_returns_one_key_and_all_returns_both() {
    let inst = Installation::new();
    let bob = "CN=Bob Example,O=Example";
    let first = archive(&inst, bob, "bob-1.p12");
    let second = archive(&inst, bob, "bob-2.p12");
    // Another user's key, and a longer subject containing Bob's, must not be found.
    archive(&inst, "CN=Bob Example Junior,O=Example", "junior.p12");
    let key_of = |name: &str| p12_contents(&inst.out.join(name)).0.remove(0);
    let (k1, k2) = (key_of("bob-1.p12"), key_of("bob-2.p12"));
    assert!(!k1.public_eq(&k2));

    let last = p12_arg(&inst, "last.p12");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-new",
            "--subject",
            bob,
            "--p12",
            &last,
        ],
    );
    assert_eq!(json["certificates"].as_array().unwrap().len(), 1);
    let (keys, _) = p12_contents(Path::new(&last));
    assert_eq!(keys.len(), 1, "scope = last");
    assert!(
        keys[0].public_eq(&k2),
        "the key of the last issued certificate"
    );

    let all = p12_arg(&inst, "all.p12");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-reuse",
            "--subject",
            bob,
            "--p12",
            &all,
        ],
    );
    let ids: Vec<&str> = json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["certificate_id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = [&first, &second]
        .iter()
        .map(|j| j["certificates"][0]["certificate_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected, "scope = all, oldest first");
    let (keys, certs) = p12_contents(Path::new(&all));
    assert_eq!(keys.len(), 2, "scope = all");
    assert!(keys.iter().any(|k| k.public_eq(&k1)) && keys.iter().any(|k| k.public_eq(&k2)));
    assert_eq!(certs.len(), 4, "two reused certificates and the CA chain");
    // One alias per key in Java.
    let aliases: Vec<String> = ids
        .iter()
        .map(|id| format!("Bob Example (encryption #{id})"))
        .collect();
    support::interop::keytool_aliases(Path::new(&all), PIN, &aliases)
        .expect("keytool reads a two-key token");
    let der_files = json["certificate_files"].as_array().unwrap();
    assert_eq!(der_files.len(), 2, "one DER file per certificate: {json}");
}

#[test]
fn soft_dual_holds_a_local_signing_key_and_an_archived_encryption_key() {
    let inst = Installation::new();
    let p12 = p12_arg(&inst, "dual.p12");
    let pem = inst.out.join("dual.pem");
    let json = issue(
        &inst,
        None,
        &[
            "--procedure",
            "soft-dual",
            "--subject",
            ALICE,
            "--email",
            "alice@example.com",
            "--key-spec",
            "EC:brainpoolP320r1",
            "--p12",
            &p12,
            "--cert",
            pem.to_str().unwrap(),
        ],
    );
    assert_eq!(
        json["key_management"],
        "Key Management: archive 1 key in the server, generate 1 key locally"
    );
    let origins: Vec<&str> = json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key_origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["local", "archived"]);
    let (keys, certs) = p12_contents(Path::new(&p12));
    assert_eq!(keys.len(), 2);
    assert_eq!(
        certs.len(),
        4,
        "two end-entity certificates and the CA chain"
    );
    let specs: Vec<String> = keys
        .iter()
        .map(|k| keyward_crypto::key_spec_of(k).unwrap().to_string())
        .collect();
    assert_eq!(specs, ["EC:brainpoolP320r1", "RSA:2048"]);
    for k in &keys {
        assert!(certs.iter().any(|c| c.public_key().unwrap().public_eq(k)));
    }
    let pem_text = std::fs::read_to_string(&pem).unwrap();
    assert_eq!(
        pem_text.matches("BEGIN CERTIFICATE").count(),
        2,
        "only the PKCs"
    );
    let aliases: Vec<String> = json["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "Alice Example ({} #{})",
                c["certificate_procedure"].as_str().unwrap(),
                c["certificate_id"].as_str().unwrap()
            )
        })
        .collect();
    support::interop::keytool_aliases(Path::new(&p12), PIN, &aliases)
        .expect("keytool reads the dual token");
}

fn create_officer(
    inst: &Installation,
    name: &str,
    roles: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut create = keyward();
    create
        .args(["officer", "create", name, "--roles", roles, "--dir"])
        .arg(&inst.dir);
    let out = run(create, None);
    assert!(out.status.success(), "{}", text(&out));
    (
        inst.client_conf_for(name),
        inst.dir.join(format!("officer/{name}.pin")),
    )
}

#[test]
fn roles_govern_recovery_and_every_refusal_is_audited() {
    let inst = Installation::new();
    let json = archive(&inst, ALICE, "archived.p12");
    let serial = json["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let issuer = create_officer(&inst, "issuer", "issue-certificate");
    let recoverer = create_officer(&inst, "recoverer", "recover-key");
    let attempt = |who: &(std::path::PathBuf, std::path::PathBuf), procedure: &str, file: &str| {
        let p12 = p12_arg(&inst, file);
        let args = [
            "issue",
            "--procedure",
            procedure,
            "--subject",
            ALICE,
            "--recover-serial",
            &serial,
            "--p12",
            &p12,
            "--pin-stdin",
        ];
        let out = run(inst.ra_as(&who.0, &who.1, &args), Some(&format!("{PIN}\n")));
        (out, inst.out.join(file))
    };
    for procedure in ["recover-encryption-reuse", "recover-encryption-new"] {
        let (out, p12) = attempt(&issuer, procedure, "issuer.p12");
        assert_eq!(out.status.code(), Some(5), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("lacks the role recover-key"),
            "{}",
            text(&out)
        );
        assert!(!p12.exists(), "nothing written");
    }
    let (out, _) = attempt(&issuer, "recover-encryption-reuse", "x.p12");
    assert_eq!(out.status.code(), Some(5));
    let out = run(
        inst.ra_as(
            &issuer.0,
            &issuer.1,
            &["archived-keys", "--subject", "alice"],
        ),
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "searching archived keys needs recover-key"
    );

    let (out, p12) = attempt(&recoverer, "recover-encryption-new", "recoverer-new.p12");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lacks the role issue-certificate"),
        "{}",
        text(&out)
    );
    assert!(!p12.exists());
    let (out, p12) = attempt(
        &recoverer,
        "recover-encryption-reuse",
        "recoverer-reuse.p12",
    );
    assert!(
        out.status.success(),
        "recover-key alone suffices for reuse: {}",
        text(&out)
    );
    assert!(p12.exists());

    let records = block_on(async { inst.store().await.audit_records(1000).await.unwrap() });
    let refusals = |officer: &str| {
        records
            .iter()
            .filter(|r| {
                r.officer.as_deref() == Some(officer)
                    && r.outcome == Outcome::Failure
                    && r.category == AuditCategory::KeysRecovered
            })
            .count()
    };
    assert_eq!(
        refusals("issuer"),
        4,
        "3 recoveries and 1 search refused: {records:#?}"
    );
    assert_eq!(refusals("recoverer"), 1, "{records:#?}");
    assert!(records
        .iter()
        .any(|r| r.officer.as_deref() == Some("recoverer")
            && r.action == "recover-key"
            && r.outcome == Outcome::Success));
}

/// The private parts of an RSA key as big-endian bytes (d, p, q).
fn rsa_secrets(key: &PKey<Private>) -> Vec<Vec<u8>> {
    let rsa = key.rsa().unwrap();
    vec![
        rsa.d().to_vec(),
        rsa.p().unwrap().to_vec(),
        rsa.q().unwrap().to_vec(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_database_and_the_log_hold_no_archived_key_in_clear() {
    let inst = Installation::new();
    archive(&inst, ALICE, "a.p12");
    let json = archive(&inst, "CN=Carol Example", "c.p12");
    let serial = json["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    // Recover once too, so the recovery path has written its log lines.
    issue(
        &inst,
        None,
        &[
            "--procedure",
            "recover-encryption-reuse",
            "--subject",
            "CN=Carol Example",
            "--recover-serial",
            &serial,
            "--p12",
            &p12_arg(&inst, "r.p12"),
        ],
    );
    let mut haystacks = vec![("server log", inst.log().into_bytes())];
    for file in ["keyward.db", "keyward.db-wal"] {
        if let Ok(bytes) = std::fs::read(inst.dir.join(file)) {
            haystacks.push((file, bytes));
        }
    }
    assert!(haystacks
        .iter()
        .any(|(n, b)| n.starts_with("keyward.db") && b.len() > 4096));
    for p12 in ["a.p12", "c.p12"] {
        let (keys, _) = p12_contents(&inst.out.join(p12));
        let key = &keys[0];
        let pkcs8 = key.private_key_to_pkcs8().unwrap();
        let mut needles = vec![pkcs8, key.private_key_to_der().unwrap()];
        needles.extend(rsa_secrets(key));
        for (name, hay) in &haystacks {
            for needle in &needles {
                assert!(needle.len() >= 64);
                assert!(
                    !contains(hay, needle),
                    "{p12}: key material in clear in {name}"
                );
                assert!(
                    !contains(hay, hex::encode(needle).as_bytes()),
                    "{p12}: key material as hex in {name}"
                );
            }
        }
    }
}

#[test]
fn a_damaged_archived_key_row_fails_recovery_with_a_clear_error() {
    let inst = Installation::new();
    let json = archive(&inst, ALICE, "a.p12");
    let id: i64 = json["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Flip one byte of the stored envelope, as a disk or an attacker might.
    block_on(async {
        use sqlx::{Connection, Row};
        let url = format!("sqlite://{}", inst.dir.join("keyward.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let row = sqlx::query("SELECT sealed FROM archived_keys WHERE certificate_id = ?")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let mut sealed: Vec<u8> = row.get("sealed");
        let middle = sealed.len() / 2;
        sealed[middle] ^= 0x01;
        sqlx::query("UPDATE archived_keys SET sealed = ? WHERE certificate_id = ?")
            .bind(sealed)
            .bind(id)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
    for procedure in ["recover-encryption-reuse", "recover-encryption-new"] {
        let p12 = inst.out.join("damaged.p12");
        let out = run(
            inst.ra(&[
                "issue",
                "--procedure",
                procedure,
                "--subject",
                ALICE,
                "--p12",
                p12.to_str().unwrap(),
                "--pin-stdin",
            ]),
            Some(&format!("{PIN}\n")),
        );
        assert_eq!(out.status.code(), Some(6), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for needle in [
            format!("Certificate ID {id}"),
            "cannot be recovered".to_string(),
            "damaged".to_string(),
        ] {
            assert!(
                stderr.contains(&needle),
                "stderr lacks {needle:?}: {}",
                text(&out)
            );
        }
        assert!(!p12.exists(), "no token from a damaged key");
    }
    let issued_after = block_on(async {
        inst.store()
            .await
            .find_certificates(&keyward_store::CertificateQuery {
                subject: Some("alice".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    });
    assert_eq!(
        issued_after, 1,
        "a failed recovery issues no new certificate"
    );
}

#[test]
fn bad_recovery_input_is_refused_naming_the_cause_and_writes_nothing() {
    let inst = Installation::new();
    let json = archive(&inst, ALICE, "a.p12");
    let serial = json["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let p12 = inst.out.join("refused.p12");
    let attempt = |procedure: &str, subject: &str, extra: &[&str]| {
        let mut args = vec![
            "issue",
            "--procedure",
            procedure,
            "--subject",
            subject,
            "--p12",
            p12.to_str().unwrap(),
            "--pin-stdin",
        ];
        args.extend_from_slice(extra);
        run(inst.ra(&args), Some(&format!("{PIN}\n")))
    };
    let cases: Vec<(std::process::Output, i32, String)> = vec![
        (
            attempt(
                "recover-encryption-reuse",
                ALICE,
                &["--recover-serial", "xyz"],
            ),
            2,
            "recover-serial".into(),
        ),
        (
            attempt("recover-encryption-reuse", ALICE, &["--recover-id", "12a"]),
            2,
            "recover-id".into(),
        ),
        (
            attempt("soft-signing", ALICE, &["--recover-serial", &serial]),
            2,
            "recovers no keys".into(),
        ),
        (
            attempt("recover-encryption-new", "CN=Nobody Example", &[]),
            6,
            "no archived key with key usage keyEncipherment for CN=Nobody Example".into(),
        ),
        (
            attempt(
                "recover-encryption-reuse",
                "CN=Mallory",
                &["--recover-serial", &serial],
            ),
            6,
            format!("belongs to {ALICE}"),
        ),
        (
            attempt(
                "recover-encryption-reuse",
                ALICE,
                &["--recover-serial", "7fffffff"],
            ),
            6,
            "no archived key belongs to the certificate with serial 7fffffff".into(),
        ),
    ];
    for (out, code, needle) in cases {
        assert_eq!(out.status.code(), Some(code), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&needle),
            "stderr lacks {needle:?}: {}",
            text(&out)
        );
        assert!(
            !p12.exists() && !p12.with_extension("der").exists(),
            "nothing written"
        );
    }
    let out = run(inst.ra(&["archived-keys"]), None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
