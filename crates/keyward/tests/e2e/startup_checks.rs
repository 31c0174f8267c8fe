//! The server's start-up checks through the real binary: a key that is not its certificate's or
//! public key file's, an issuing CA the root did not sign, a key file or directory others may
//! write, a read-only database, and seals or envelopes made with another key all make
//! `keyward server` exit 3 naming the setting; `keyward init` under `umask 000` still leaves
//! every directory 0700 and every file 0600.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::tokens::{archive, ALICE};
use common::{keyward, on_both_engines, run, start_server, text, Engine, Installation};

/// `keyward init --dir DIR` (SQLite in DIR), under `umask` when given.
fn init(dir: &Path, umask: Option<&str>) {
    let mut cmd = match umask {
        Some(mask) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("umask {mask}; exec \"$0\" \"$@\""))
                .arg(env!("CARGO_BIN_EXE_keyward"));
            sh
        }
        None => keyward(),
    };
    cmd.args(["init", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir);
    let out = run(cmd, None);
    assert!(out.status.success(), "keyward init: {}", text(&out));
}

/// Runs `keyward server` on `dir` and expects it to refuse to start: exit 3 within 60 s, its
/// stderr naming every needle. A server that starts is killed and fails the test.
fn refuses_to_start(dir: &Path, needles: &[&str]) {
    let mut cmd = keyward();
    cmd.args(["server", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir);
    refuses(cmd, needles);
}

/// As [`refuses_to_start`], for the server command `cmd`.
fn refuses(mut cmd: Command, needles: &[&str]) {
    let mut server = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = server.kill();
            let out = server.wait_with_output().expect("output");
            panic!("the server started (needles {needles:?}): {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = server.wait_with_output().expect("output");
    let all = text(&out);
    assert_eq!(status.code(), Some(3), "needles {needles:?}: {all}");
    for needle in needles {
        assert!(all.contains(needle), "stderr lacks {needle:?}: {all}");
    }
}

/// Replaces the value of `setting` in DIR/cm.conf (the line must exist); returns the old body.
fn set(dir: &Path, setting: &str, value: &str) -> String {
    let path = dir.join("cm.conf");
    let body = std::fs::read_to_string(&path).expect("cm.conf");
    let prefix = format!("{setting} =");
    assert!(
        body.lines().any(|l| l.starts_with(&prefix)),
        "{setting} in cm.conf"
    );
    let edited: Vec<String> = body
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{setting} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, edited.join("\n") + "\n").expect("write cm.conf");
    body
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

/// An EC P-256 key file (unencrypted PKCS#8 PEM, mode 0600) made by OpenSSL.
fn openssl_key(path: &Path) {
    let out = keyward_testkit::tool("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt"])
        .arg("ec_paramgen_curve:P-256")
        .arg("-out")
        .arg(path)
        .output()
        .expect("openssl genpkey");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    chmod(path, 0o600);
}

#[test]
fn keys_that_do_not_match_their_certificates_refuse_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kw");
    init(&dir, None);
    let other = dir.join("tls/other.key");
    openssl_key(&other);
    let cases: &[(&str, &str, &[&str])] = &[
        // The case: the root's key signs, so nothing issued verifies.
        (
            "ca.issuing.key",
            "ca/root.key.pem",
            &["ca.issuing.key", "not the key of the CA certificate"],
        ),
        (
            "ca.issuing.certificate",
            "ca/root.pem",
            &["ca.issuing.key", "ca.issuing.certificate"],
        ),
        (
            "ca.root",
            "tls/server.pem",
            &[
                "ca.issuing.certificate",
                "not signed by the root CA of ca.root",
            ],
        ),
        ("tls.key", "tls/other.key", &["tls.key", "not the key of"]),
        (
            "audit.key",
            "tls/server.key",
            &["audit.key", "audit-key.pub.pem"],
        ),
    ];
    for (setting, value, needles) in cases {
        let body = set(&dir, setting, value);
        refuses_to_start(&dir, needles);
        std::fs::write(dir.join("cm.conf"), body).unwrap();
    }
    // Put back, it starts.
    let log = tmp.path().join("server.log");
    let (mut server, _url) = start_server(&dir, &[], &[], &log);
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn init_under_umask_000_leaves_every_directory_0700_and_every_file_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kw");
    init(&dir, Some("000"));
    // The database's -wal and -shm exist while a server has it open.
    let log = tmp.path().join("server.log");
    let (mut server, _url) = start_server(&dir, &[], &[], &log);
    let mut seen = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    for name in [
        "keyward.db",
        "keyward.db-wal",
        "keyward.db-shm",
        "cm.conf",
        "root.pem",
    ] {
        assert!(seen.iter().any(|s| s == name), "{name} checked: {seen:?}");
    }
}

#[test]
fn key_files_or_directories_others_may_write_refuse_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kw");
    init(&dir, None);
    let cases: &[(&str, u32, &[&str])] = &[
        (
            "ca/issuing.key.pem",
            0o620,
            &["ca.issuing.key", "writable by group"],
        ),
        (
            "tls/server.key",
            0o602,
            &["tls.key", "writable by group or others"],
        ),
        ("audit/audit.pass", 0o660, &["audit.key-passphrase-file"]),
        ("kra", 0o757, &["kra.archive-key", "the directory"]),
        ("ca", 0o770, &["ca.issuing.key", "the directory"]),
    ];
    for (file, bad, needles) in cases {
        let path = dir.join(file);
        let good = mode(&path);
        chmod(&path, *bad);
        refuses_to_start(&dir, needles);
        chmod(&path, good);
    }
}

on_both_engines!(a_read_only_database_refuses_to_start);

fn a_read_only_database_refuses_to_start(engine: Engine) {
    let mut inst = Installation::on(engine);
    inst.stop_server();
    match engine {
        Engine::Sqlite => {
            set(&inst.dir, "database.url", "sqlite://keyward.db?mode=ro");
            refuses_to_start(&inst.dir, &["database.url", "cannot be written"]);
        }
        Engine::Postgres => {
            // A user who may read every table but write none: the migrations (all applied)
            // and the start-up reads pass, and only a write tells.
            let reader = PgReader::create(&inst);
            let mut server = keyward();
            server
                .args([
                    "server",
                    "--listen",
                    "127.0.0.1:0",
                    "--database",
                    &reader.url,
                ])
                .arg("--dir")
                .arg(&inst.dir);
            refuses(
                server,
                &["database.url", "from --database", "cannot be written"],
            );
            drop(reader); // before the database turns read-only, which would refuse DROP OWNED
                          // A read-only database (a hot standby would answer the same).
            common::block_on(async {
                let pool = inst.raw().await;
                let name: String = sqlx::query_scalar("SELECT current_database()::text")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                let sql = format!("ALTER DATABASE {name} SET default_transaction_read_only = on");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            });
            refuses_to_start(&inst.dir, &["database.url", "read-only"]);
        }
    }
}

/// A PostgreSQL role that may read every table of the installation's database and write none,
/// dropped with this.
struct PgReader {
    admin_url: String,
    role: String,
    url: String,
}

impl PgReader {
    fn create(inst: &Installation) -> PgReader {
        let role = format!(
            "kw_reader_{}",
            inst.database_url.rsplit('_').next().unwrap_or("x")
        );
        let admin_url = inst.database_url.clone();
        let url = admin_url.replacen("postgres@", &format!("{role}@"), 1);
        assert_ne!(url, admin_url, "the test database URL names user postgres");
        common::block_on(async {
            let pool = inst.raw().await;
            for sql in [
                format!("CREATE ROLE {role} LOGIN"),
                format!("GRANT USAGE, CREATE ON SCHEMA public TO {role}"),
                format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        });
        PgReader {
            admin_url,
            role,
            url,
        }
    }
}

impl Drop for PgReader {
    fn drop(&mut self) {
        let (url, role) = (self.admin_url.clone(), self.role.clone());
        // On a thread of its own: Drop may run inside a runtime.
        let _ = std::thread::spawn(move || {
            common::block_on(async move {
                sqlx::any::install_default_drivers();
                let Ok(pool) = sqlx::any::AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(&url)
                    .await
                else {
                    return;
                };
                for sql in [
                    format!("DROP OWNED BY {role}"),
                    format!("DROP ROLE IF EXISTS {role}"),
                ] {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                }
                pool.close().await;
            })
        })
        .join();
    }
}

on_both_engines!(seals_and_envelopes_made_with_other_keys_refuse_to_start);

/// An audit key and archive key from another installation: the public key file is replaced
/// too, so only the database tells.
fn seals_and_envelopes_made_with_other_keys_refuse_to_start(engine: Engine) {
    let mut inst = Installation::on(engine);
    archive(&inst, ALICE, "archived.p12");
    inst.stop_server(); // SIGKILL: the seal made at start stays the last one
    let other = inst.out.join("other");
    init(&other, None);

    let dir = &inst.dir;
    let public = dir.join("audit/audit-key.pub.pem");
    let kept = std::fs::read(&public).unwrap();
    std::fs::copy(other.join("audit/audit-key.pub.pem"), &public).unwrap();
    let body = set(
        dir,
        "audit.key",
        other.join("audit/audit-key.pem").to_str().unwrap(),
    );
    set(
        dir,
        "audit.key-passphrase-file",
        other.join("audit/audit.pass").to_str().unwrap(),
    );
    refuses_to_start(dir, &["audit.key", "last seal"]);
    std::fs::write(dir.join("cm.conf"), body).unwrap();
    std::fs::write(&public, kept).unwrap();

    set(
        dir,
        "kra.archive-key",
        other.join("kra/archive-key.json").to_str().unwrap(),
    );
    set(
        dir,
        "kra.archive-key-passphrase-file",
        other.join("kra/archive.pass").to_str().unwrap(),
    );
    refuses_to_start(dir, &["kra.archive-key", "sealed under archive key"]);
}

/// The case: with `audit.key = tls/server.key`, `audit verify` (with cm.conf's key)
/// said intact and `audit seal` sealed with the wrong key. Both refuse it now, naming the
/// setting, as the server does.
#[test]
fn audit_commands_refuse_an_audit_key_that_is_not_the_public_key_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kw");
    init(&dir, None);
    set(&dir, "audit.key", "tls/server.key");
    for command in ["verify", "seal"] {
        let mut cmd = keyward();
        cmd.args(["audit", command, "--dir"]).arg(&dir);
        let out = run(cmd, None);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(3), "audit {command}: {all}");
        assert!(
            all.contains("audit.key") && all.contains("audit-key.pub.pem"),
            "audit {command}: {all}"
        );
    }
}
