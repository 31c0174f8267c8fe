//! An installation under test: `keyward init` in a temporary directory and a real
//! `keyward server` process on a free loopback port, driven through the real binary — on SQLite
//! (`keyward.db` in the installation) or on a PostgreSQL database of its own
//! ([`Installation::on`]; see [`on_both_engines!`] to run a test on both).
//!
//! Here rather than in `keyward-testkit`: it runs `env!("CARGO_BIN_EXE_keyward")`, which Cargo
//! sets only when it builds this package's own tests.

pub(crate) mod pins;
pub(crate) mod signed;
pub(crate) mod softhsm;
pub(crate) mod tokens;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub(crate) use keyward_testkit::{block_on, on_both_engines, run, skip_pg, text, Engine};
use keyward_testkit::{create_pg_database, pg_dump, PgDatabase};

/// The binary under test.
pub(crate) fn keyward() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
    cmd.env_remove("KEYWARD_SIGNATURE_PIN")
        .env_remove("KEYWARD_CONFIG");
    cmd
}

/// A running installation.
pub(crate) struct Installation {
    _tmp: tempfile::TempDir,
    /// The installation directory.
    pub dir: PathBuf,
    /// A scratch directory for outputs.
    pub out: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// Where the server's stderr (its log) goes.
    pub server_log: PathBuf,
    server: Child,
    /// The database engine.
    pub engine: Engine,
    /// The database URL cm.conf names: `sqlite:///…/keyward.db` or `postgres://…/keyward_test_…`.
    pub database_url: String,
    /// The PostgreSQL database, dropped after the server has been stopped.
    _pg: Option<PgDatabase>,
}

impl Installation {
    /// `keyward init`, then `keyward server` on a free port; client.conf is pointed at it.
    pub(crate) fn new() -> Installation {
        Installation::with_cm_conf("")
    }

    /// As [`Installation::new`], on `engine`: on PostgreSQL, a new database of its own
    /// (`keyward init --database URL`), dropped with the installation.
    pub(crate) fn on(engine: Engine) -> Installation {
        Installation::with_cm_conf_on(engine, "")
    }

    /// As [`Installation::new`], with `extra` lines appended to cm.conf before the server starts.
    pub(crate) fn with_cm_conf(extra: &str) -> Installation {
        Installation::with_cm_conf_on(Engine::Sqlite, extra)
    }

    /// As [`Installation::with_cm_conf`], on `engine`.
    pub(crate) fn with_cm_conf_on(engine: Engine, extra: &str) -> Installation {
        Installation::with_setup_on(engine, &[], &[], |dir| {
            if !extra.is_empty() {
                let cm_conf = dir.join("cm.conf");
                let body = std::fs::read_to_string(&cm_conf).expect("cm.conf");
                std::fs::write(&cm_conf, format!("{body}\n{extra}\n")).expect("write cm.conf");
            }
        })
    }

    /// `keyward init INIT_ARGS…` and `keyward server` with `env` set (e.g. `SOFTHSM2_CONF`),
    /// and `before_server` run on the installation directory in between (e.g. to move a key to
    /// an HSM and edit cm.conf).
    pub(crate) fn with_setup(
        init_args: &[&str],
        env: &[(&str, &Path)],
        before_server: impl FnOnce(&Path),
    ) -> Installation {
        Installation::with_setup_on(Engine::Sqlite, init_args, env, before_server)
    }

    /// As [`Installation::with_setup`], on `engine`.
    pub(crate) fn with_setup_on(
        engine: Engine,
        init_args: &[&str],
        env: &[(&str, &Path)],
        before_server: impl FnOnce(&Path),
    ) -> Installation {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("kw");
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).expect("out dir");
        let pg = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(block_on(create_pg_database())),
        };
        let database_url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}", dir.join("keyward.db").display()),
        };
        let mut init = keyward();
        init.args(["init", "--dir"])
            .arg(&dir)
            .args(init_args)
            .envs(env.iter().copied());
        if let Some(db) = &pg {
            init.args(["--database", &db.url]);
        }
        let result = run(init, None);
        assert!(
            result.status.success(),
            "keyward init failed: {}",
            text(&result)
        );
        before_server(&dir);
        let server_log = tmp.path().join("server.log");
        let (server, url) = start_server(&dir, env, &[], &server_log);
        point_client_conf(&dir.join("client.conf"), &dir.join("client.conf"), &url);
        Installation {
            _tmp: tmp,
            dir,
            out,
            url,
            server_log,
            server,
            engine,
            database_url,
            _pg: pg,
        }
    }

    /// The first officer's client.conf.
    pub(crate) fn client_conf(&self) -> PathBuf {
        self.dir.join("client.conf")
    }

    /// `keyward ra --config client.conf --signature-pin-file admin.pin ARGS…`.
    pub(crate) fn ra(&self, args: &[&str]) -> Command {
        self.ra_as(
            &self.client_conf(),
            &self.dir.join("officer/admin.pin"),
            args,
        )
    }

    /// `keyward ra` with another client.conf and Signature PIN file.
    pub(crate) fn ra_as(&self, conf: &Path, pin_file: &Path, args: &[&str]) -> Command {
        let mut cmd = keyward();
        cmd.arg("ra")
            .arg("--config")
            .arg(conf)
            .arg("--signature-pin-file")
            .arg(pin_file)
            .args(args);
        cmd
    }

    /// A client.conf for another officer's P12 (same server).
    pub(crate) fn client_conf_for(&self, officer: &str) -> PathBuf {
        let body = std::fs::read_to_string(self.client_conf()).expect("client.conf");
        let body = body.replace("officer/admin.p12", &format!("officer/{officer}.p12"));
        let path = self.dir.join(format!("client-{officer}.conf"));
        std::fs::write(&path, body).expect("write client conf");
        path
    }

    /// Opens the installation's database through the store crate.
    pub(crate) async fn store(&self) -> keyward_store::Store {
        keyward_store::Store::open(&self.database_url)
            .await
            .expect("open store")
    }

    /// The Certificate IDs of the certificates whose subject contains `text`.
    pub(crate) async fn certificate_ids(&self, text: &str) -> Vec<i64> {
        let store = self.store().await;
        let found = store
            .find_certificates(&keyward_store::CertificateQuery {
                subject: Some(text.into()),
                ..Default::default()
            })
            .await
            .expect("search certificates");
        store.close().await;
        found.iter().map(|c| c.id).collect()
    }

    /// A raw connection pool on the installation's database, for changes behind the server's
    /// back (`$1, $2, …` placeholders work on both engines).
    pub(crate) async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.database_url)
            .await
            .expect("raw database connection")
    }

    /// Everything the database holds, for searches for secrets that must not be there, as
    /// `(name, bytes)`: on SQLite the database file and its WAL as they are on disk; on
    /// PostgreSQL a dump made with SQL — every column of every table of the `public` schema,
    /// `bytea` columns as their raw bytes and every other column as `::text`.
    pub(crate) fn database_image(&self) -> Vec<(String, Vec<u8>)> {
        match self.engine {
            Engine::Sqlite => ["keyward.db", "keyward.db-wal"]
                .into_iter()
                .filter_map(|name| {
                    let bytes = std::fs::read(self.dir.join(name)).ok()?;
                    Some((name.to_string(), bytes))
                })
                .collect(),
            Engine::Postgres => vec![(
                "PostgreSQL dump".to_string(),
                block_on(pg_dump(&self.database_url)),
            )],
        }
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.server_log).unwrap_or_default()
    }

    /// Sends the installation's server SIGHUP, as an operator does after editing cm.conf
    /// (`kill -HUP PID`).
    pub(crate) fn hangup_server(&self) {
        let out = keyward_testkit::tool("kill")
            .args(["-HUP", &self.server.id().to_string()])
            .output()
            .expect("kill");
        assert!(out.status.success(), "kill -HUP: {}", text(&out));
    }

    /// Kills the installation's own server (SIGKILL) and waits for it, for tests that run
    /// servers of their own on its directory, database and port (see `tests/e2e/crash.rs`).
    pub(crate) fn stop_server(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl Drop for Installation {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Starts `keyward server --dir DIR --listen 127.0.0.1:0 ARGS…` with `env`, its stderr (the
/// log) in `log`, and returns it with its `https://127.0.0.1:PORT` once it listens.
pub(crate) fn start_server(
    dir: &Path,
    env: &[(&str, &Path)],
    args: &[&str],
    log: &Path,
) -> (Child, String) {
    let log_file = std::fs::File::create(log).expect("log file");
    let mut server = keyward()
        .args(["server", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .expect("spawn server");
    let stdout = server.stdout.take().expect("server stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("server banner");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| {
            let _ = server.kill();
            panic!(
                "server did not start: {line:?}, log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .to_string();
    (server, url)
}

/// A process the test started (a server, a responder), killed when dropped, however the test
/// ends.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` on a public listener: (status line, body).
pub(crate) fn http_get(at: std::net::SocketAddr, path: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect_timeout(&at, std::time::Duration::from_secs(5))
        .expect("connect");
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {at}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).expect("read");
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    let head = String::from_utf8_lossy(&answer[..end]).to_string();
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, answer[end + 4..].to_vec())
}

/// Starts `keyward ocsp --listen 127.0.0.1:0 --dir DIR --database URL` (stderr discarded):
/// the process and its OCSP URL from the banner.
pub(crate) fn start_responder(dir: &Path, database_url: &str) -> (Child, String) {
    let mut responder = keyward()
        .args(["ocsp", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(["--database", database_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn keyward ocsp");
    let mut banner = String::new();
    BufReader::new(responder.stdout.take().expect("stdout"))
        .read_line(&mut banner)
        .expect("banner");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(str::to_string);
    match url {
        Some(url) => (responder, url),
        None => {
            let _ = responder.kill();
            panic!("no address in the responder's banner {banner:?}")
        }
    }
}

/// Polls `check` every 250 ms for at most 30 s; panics with `what` if it never holds.
pub(crate) fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..120 {
        if let Some(v) = check() {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!("{what} did not happen within 30 s");
}

/// Stops `server` as an operator does (SIGTERM) and waits for it: it gives up its leases.
pub(crate) fn terminate(mut server: KillOnDrop) {
    let pid = server.0.id().to_string();
    let out = keyward_testkit::tool("kill")
        .args(["-TERM", &pid])
        .output()
        .expect("kill");
    assert!(out.status.success(), "{}", text(&out));
    let status = server.0.wait().expect("wait");
    assert!(status.success(), "the server stopped cleanly: {status}");
}

/// The public listener's address, from the banner the server logs in `log`.
pub(crate) fn public_addr(log: &Path) -> std::net::SocketAddr {
    let text = std::fs::read_to_string(log).expect("server log");
    text.split("public listener (CRLs, OCSP) at http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| panic!("no public listener in the log: {text}"))
}

/// Rewrites DIR/cm.conf without init's `crl.*` and `public.*` lines, with CRLs at `base`
/// (`http://HOST:PORT`): a full CRL a day (so a test sees no scheduled one), a delta every
/// second, `crl.on-revoke` as given, and `extra` lines.
pub(crate) fn crl_settings(dir: &Path, base: &str, on_revoke: bool, extra: &str) {
    let cm_conf = dir.join("cm.conf");
    let body = std::fs::read_to_string(&cm_conf).expect("cm.conf");
    let kept: Vec<&str> = body
        .lines()
        .filter(|l| !l.starts_with("crl.") && !l.starts_with("public."))
        .collect();
    let settings = format!(
        "crl.url = {base}/crl/issuing.crl\ncrl.delta-url = {base}/crl/issuing-delta.crl\n\
         crl.full-interval = 86400\ncrl.full-validity = 172800\n\
         crl.delta-interval = 1\ncrl.delta-validity = 300\ncrl.on-revoke = {on_revoke}\n{extra}"
    );
    std::fs::write(&cm_conf, format!("{}\n{settings}", kept.join("\n"))).expect("cm.conf");
}

/// Writes `to`: the client.conf `from` with `server.url` replaced by `url`.
pub(crate) fn point_client_conf(from: &Path, to: &Path, url: &str) {
    let body = std::fs::read_to_string(from).expect("client.conf");
    let body: String = body
        .lines()
        .map(|l| {
            if l.starts_with("server.url") {
                format!("server.url = {url}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(to, body + "\n").expect("write client.conf");
}
