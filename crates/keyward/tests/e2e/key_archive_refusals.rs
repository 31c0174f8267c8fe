//! Key archive and recovery refusals and secrecy: roles govern recovery and every refusal is
//! audited, the database and the log hold no archived key in clear, a damaged archived key is
//! refused, and bad recovery input names its field and writes nothing.

use crate::common;

use common::tokens::{archive, create_officer, issue, p12_arg, p12_contents, ALICE, PIN};
use common::{block_on, on_both_engines, run, text, Engine, Installation};
use keyward_store::{AuditCategory, Outcome};
use openssl::pkey::{PKey, Private};

on_both_engines!(roles_govern_recovery_and_every_refusal_is_audited);

fn roles_govern_recovery_and_every_refusal_is_audited(engine: Engine) {
    let inst = Installation::on(engine);
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

on_both_engines!(the_database_and_the_log_hold_no_archived_key_in_clear);

fn the_database_and_the_log_hold_no_archived_key_in_clear(engine: Engine) {
    let inst = Installation::on(engine);
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
    let database = inst.database_image();
    assert!(
        database.iter().any(|(_, b)| b.len() > 4096),
        "the database is not empty"
    );
    let mut haystacks = vec![("server log".to_string(), inst.log().into_bytes())];
    haystacks.extend(database);
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

on_both_engines!(a_damaged_archived_key_row_fails_recovery_with_a_clear_error);

fn a_damaged_archived_key_row_fails_recovery_with_a_clear_error(engine: Engine) {
    let inst = Installation::on(engine);
    let json = archive(&inst, ALICE, "a.p12");
    let id: i64 = json["certificates"][0]["certificate_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Flip one byte of the stored envelope, as a disk or an attacker might.
    block_on(async {
        use sqlx::Row;
        let conn = inst.raw().await;
        let row = sqlx::query("SELECT sealed FROM archived_keys WHERE certificate_id = $1")
            .bind(id)
            .fetch_one(&conn)
            .await
            .unwrap();
        let mut sealed: Vec<u8> = row.get("sealed");
        let middle = sealed.len() / 2;
        sealed[middle] ^= 0x01;
        sqlx::query("UPDATE archived_keys SET sealed = $1 WHERE certificate_id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&conn)
            .await
            .unwrap();
        conn.close().await;
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

on_both_engines!(bad_recovery_input_is_refused_naming_the_cause_and_writes_nothing);

fn bad_recovery_input_is_refused_naming_the_cause_and_writes_nothing(engine: Engine) {
    let inst = Installation::on(engine);
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
