//! A real SMTP server for tests: Debian's `python3-aiosmtpd` delivering into a Maildir.
//!
//! ```text
//! let server = SmtpServer::start();
//! // … send to 127.0.0.1:server.port() …
//! let mails = server.wait_for(1, Duration::from_secs(10));
//! ```

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long to wait for aiosmtpd to accept connections after spawning it.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running aiosmtpd on 127.0.0.1; killed when dropped.
pub struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    log: PathBuf,
    // Fields drop after `Drop::drop` has killed the child, so aiosmtpd never writes into
    // a removed directory.
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts a plain SMTP server (no TLS, no AUTH).
    pub fn start() -> SmtpServer {
        Self::spawn(&[])
    }

    /// Starts a server that offers STARTTLS with `cert_pem`/`key_pem` and requires it
    /// before MAIL FROM (aiosmtpd's `--tlscert/--tlskey`, `require_starttls` on by default).
    pub fn start_starttls(cert_pem: &Path, key_pem: &Path) -> SmtpServer {
        Self::spawn(&[
            "--tlscert".as_ref(),
            cert_pem.as_os_str(),
            "--tlskey".as_ref(),
            key_pem.as_os_str(),
        ])
    }

    /// Starts an implicit-TLS server ("SMTPS", like port 465) with `cert_pem`/`key_pem`.
    pub fn start_smtps(cert_pem: &Path, key_pem: &Path) -> SmtpServer {
        Self::spawn(&[
            "--smtpscert".as_ref(),
            cert_pem.as_os_str(),
            "--smtpskey".as_ref(),
            key_pem.as_os_str(),
        ])
    }

    /// The TCP port on 127.0.0.1 the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Raw RFC 822 texts of all delivered messages (Maildir `new/` and `cur/`), oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                files.push((modified, entry.path()));
            }
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| fs::read(path).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect()
    }

    /// Waits until at least `n` messages arrived and returns them; panics after `timeout`
    /// with the server log.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() > deadline {
                panic!(
                    "SMTP test server: {} of {n} message(s) after {timeout:?}; log:\n{}",
                    messages.len(),
                    self.log()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// The server's stdout/stderr so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn spawn(extra: &[&std::ffi::OsStr]) -> SmtpServer {
        let python = find_python();
        let dir = tempfile::tempdir().expect("SMTP test server: tempdir");
        let maildir = dir.path().join("maildir");
        let log = dir.path().join("aiosmtpd.log");
        // Bind-then-release can race with another process taking the port; the few tests
        // that run in parallel here make that unlikely, and a clash shows up as a start error.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("SMTP test server: no free port")
            .port();
        let out = fs::File::create(&log).expect("SMTP test server: log file");
        let err = out.try_clone().expect("SMTP test server: log file");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .args(extra)
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("SMTP test server: cannot run {python}: {e}"));
        let mut server = SmtpServer {
            child,
            port,
            maildir,
            log,
            _dir: dir,
        };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "SMTP test server: aiosmtpd exited ({status}) on port {}; log:\n{}",
                    self.port,
                    self.log()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "SMTP test server: not listening on port {} after {STARTUP_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.log()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's /usr/bin/python3 has python3-aiosmtpd; a `python3` earlier on PATH (pyenv) may not.
fn find_python() -> String {
    let mut missing = None;
    for candidate in ["/usr/bin/python3", "python3"] {
        match crate::python_imports(candidate.as_ref(), "aiosmtpd") {
            Ok(()) => return candidate.to_owned(),
            Err(m) => {
                missing.get_or_insert(m);
            }
        }
    }
    match missing {
        Some(missing) => panic!("SMTP test server: {missing}"),
        None => unreachable!("two candidates were tried"),
    }
}
