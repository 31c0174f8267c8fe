//! The responders under test, each a process started and stopped by the bench: Keyward's
//! standalone responder (`keyward ocsp`, the release binary) and OpenSSL's reference responder
//! (`openssl ocsp -index … -multi 2`).

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A responder process (and, for OpenSSL, its process group: the parent and its children).
pub(crate) struct Process {
    child: Child,
    /// Where it answers.
    pub addr: SocketAddr,
    /// Its stderr.
    log: std::path::PathBuf,
}

impl Process {
    /// The process ID (of the parent).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The first log line containing `needle`, waiting up to `timeout` for it.
    pub(crate) fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log_text();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its resident memory (VmRSS), MB.
    pub(crate) fn resident_mb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()));
        status
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGTERM to the whole group: OpenSSL's -multi parent forwards it to its children, and
        // a child left behind by a parent killed first still gets it.
        let _ = keyward_testkit::tool("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = keyward_testkit::tool("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// `keyward ocsp --config CONF --listen 127.0.0.1:0`: the address from its banner.
pub(crate) fn keyward(bin: &Path, conf: &Path, log: &Path) -> Process {
    let mut child = Command::new(bin)
        .args(["ocsp", "--listen", "127.0.0.1:0", "--config"])
        .arg(conf)
        .env_remove("KEYWARD_LOG")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("responder log"))
        .spawn()
        .expect("spawn keyward ocsp");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut banner)
        .expect("banner");
    let addr = banner
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|w| w.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "keyward ocsp did not start: {banner:?}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
    Process {
        child,
        addr,
        log: log.to_path_buf(),
    }
}

/// A free loopback port (bound, then released for the responder to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The installation's files OpenSSL's responder needs.
pub(crate) struct OpensslFiles<'a> {
    /// The folder holding `index.txt`.
    pub index_dir: &'a Path,
    /// The issuing CA certificate (`-CA`).
    pub ca: &'a Path,
    /// The delegated OCSP signing certificate (`-rsigner`), the same Keyward signs with.
    pub signer: &'a Path,
    /// Its encrypted key (`-rkey`) and passphrase file (`-passin file:`).
    pub key: &'a Path,
    pub pass: &'a Path,
}

/// `openssl ocsp -index index.txt -CA … -rsigner … -rkey … -port P -multi N -nmin 60`; waits
/// until it answers (it reads the whole index first), up to `timeout`.
pub(crate) fn openssl(files: &OpensslFiles<'_>, multi: usize, timeout: Duration) -> Process {
    let port = free_port();
    let log = files.index_dir.join("openssl-ocsp.log");
    let child = keyward_testkit::tool("openssl")
        .arg("ocsp")
        .arg("-index")
        .arg(files.index_dir.join("index.txt"))
        .arg("-CA")
        .arg(files.ca)
        .arg("-rsigner")
        .arg(files.signer)
        .arg("-rkey")
        .arg(files.key)
        .arg("-passin")
        .arg(format!("file:{}", files.pass.display()))
        .args(["-port", &port.to_string(), "-multi", &multi.to_string()])
        // nextUpdate an hour ahead, as Keyward's default ocsp.response-validity.
        .args(["-nmin", "60"])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("openssl log"))
        .spawn()
        .expect("spawn openssl ocsp");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let mut process = Process { child, addr, log };
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("openssl ocsp exited ({status}): {}", process.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "openssl ocsp did not listen within {timeout:?}: {}",
            process.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    process
}

/// The PIDs of `parent` and its children (OpenSSL's -multi workers), from /proc.
pub(crate) fn with_children(parent: u32) -> Vec<u32> {
    let mut pids = vec![parent];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.filter_map(Result::ok) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) {
                pids.push(pid);
            }
        }
    }
    pids
}
