//! An installation under test: `keyward init` in a temporary directory and a real
//! `keyward server` process on a free loopback port, driven through the real binary.
#![allow(dead_code)]

pub mod tokens;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
pub fn keyward() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
    cmd.env_remove("KEYWARD_SIGNATURE_PIN")
        .env_remove("KEYWARD_CONFIG");
    cmd
}

/// Runs a command, feeding `stdin`, and returns its output.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn keyward");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait for keyward")
}

/// Stdout and stderr as text, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A running installation.
pub struct Installation {
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
}

impl Installation {
    /// `keyward init`, then `keyward server` on a free port; client.conf is pointed at it.
    pub fn new() -> Installation {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("kw");
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).expect("out dir");
        let mut init = keyward();
        init.args(["init", "--dir"]).arg(&dir);
        let result = run(init, None);
        assert!(
            result.status.success(),
            "keyward init failed: {}",
            text(&result)
        );

        let server_log = tmp.path().join("server.log");
        let log = std::fs::File::create(&server_log).expect("log file");
        let mut server = keyward()
            .args(["server", "--listen", "127.0.0.1:0", "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(log)
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
                    std::fs::read_to_string(&server_log).unwrap_or_default()
                )
            })
            .to_string();
        let conf = dir.join("client.conf");
        let body = std::fs::read_to_string(&conf).expect("client.conf");
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
        std::fs::write(&conf, body + "\n").expect("write client.conf");
        Installation {
            _tmp: tmp,
            dir,
            out,
            url,
            server_log,
            server,
        }
    }

    /// The first officer's client.conf.
    pub fn client_conf(&self) -> PathBuf {
        self.dir.join("client.conf")
    }

    /// `keyward ra --config client.conf --signature-pin-file admin.pin ARGS…`.
    pub fn ra(&self, args: &[&str]) -> Command {
        self.ra_as(
            &self.client_conf(),
            &self.dir.join("officer/admin.pin"),
            args,
        )
    }

    /// `keyward ra` with another client.conf and Signature PIN file.
    pub fn ra_as(&self, conf: &Path, pin_file: &Path, args: &[&str]) -> Command {
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
    pub fn client_conf_for(&self, officer: &str) -> PathBuf {
        let body = std::fs::read_to_string(self.client_conf()).expect("client.conf");
        let body = body.replace("officer/admin.p12", &format!("officer/{officer}.p12"));
        let path = self.dir.join(format!("client-{officer}.conf"));
        std::fs::write(&path, body).expect("write client conf");
        path
    }

    /// Opens the installation's database (SQLite) through the store crate.
    pub async fn store(&self) -> keyward_store::Store {
        keyward_store::Store::open(&format!(
            "sqlite://{}",
            self.dir.join("keyward.db").display()
        ))
        .await
        .expect("open store")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.server_log).unwrap_or_default()
    }
}

impl Drop for Installation {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A tokio runtime for the few async checks a test makes.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
