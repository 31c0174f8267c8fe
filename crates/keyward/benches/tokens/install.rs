//! An installation under benchmark: `keyward init` (SQLite, or `--database` on a PostgreSQL
//! database created for the run and dropped afterwards) and one or more real `keyward server`
//! processes on free loopback ports, all on the same database.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Connection;

use keyward_ra::{ClientConfig, OfficerCredential, RaClient};

/// The release binary: `CARGO_BIN_EXE_keyward` (Cargo builds it with the bench profile for
/// `cargo bench`), or `KEYWARD_BIN` to measure another build.
pub(crate) fn binary() -> PathBuf {
    std::env::var_os("KEYWARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_keyward")))
}

/// A PostgreSQL database made for the run; dropped (WITH FORCE) on drop.
pub(crate) struct PgDatabase {
    admin_url: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl PgDatabase {
    /// Creates `keyward_bench_<pid>_<tag>` on the server of `admin_url`, or says why it cannot.
    pub(crate) async fn create(admin_url: &str, tag: &str) -> Result<PgDatabase, String> {
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .map_err(|e| e.to_string())?;
        let name = format!("keyward_bench_{}_{tag}", std::process::id());
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .map_err(|e| e.to_string())?;
        let _ = admin.close().await;
        let (base, params) = match admin_url.split_once('?') {
            Some((base, params)) => (base, format!("?{params}")),
            None => (admin_url, String::new()),
        };
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        Ok(PgDatabase {
            admin_url: admin_url.to_string(),
            url: format!("{server}/{name}{params}"),
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(done, Ok(Some(()))) {
            eprintln!("warning: could not drop database {}", self.name);
        }
    }
}

/// One `keyward server` process.
pub(crate) struct Node {
    child: Child,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// Its stderr (the server log).
    pub log: PathBuf,
    /// `127.0.0.1:PORT` of its metrics listener, when started with metrics.
    pub metrics: Option<String>,
}

impl Node {
    /// The process ID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// An initialised installation and its running nodes.
pub(crate) struct Install {
    /// The installation directory.
    pub dir: PathBuf,
    /// Running servers.
    pub nodes: Vec<Node>,
    bin: PathBuf,
    started: usize,
    /// Whether the next start serves metrics (`--metrics-listen 127.0.0.1:0`).
    pub metrics: bool,
    _pg: Option<PgDatabase>,
}

impl Install {
    /// `keyward init --dir ROOT/kw [--database URL]`.
    pub(crate) fn init(root: &Path, bin: &Path, pg: Option<PgDatabase>) -> Install {
        let dir = root.join("kw");
        let mut cmd = Command::new(bin);
        cmd.args(["init", "--dir"]).arg(&dir);
        if let Some(db) = &pg {
            cmd.args(["--database", &db.url]);
        }
        let out = cmd.output().expect("run keyward init");
        assert!(
            out.status.success(),
            "keyward init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Install {
            dir,
            nodes: Vec::new(),
            bin: bin.to_path_buf(),
            started: 0,
            metrics: false,
            _pg: pg,
        }
    }

    /// Sets (or with `None` removes) `kra.key-pool` in cm.conf; takes effect at the next start.
    pub(crate) fn set_key_pool(&self, value: Option<&str>) {
        let path = self.dir.join("cm.conf");
        let body = std::fs::read_to_string(&path).expect("cm.conf");
        let mut lines: Vec<String> = body
            .lines()
            .filter(|l| !l.trim_start().starts_with("kra.key-pool"))
            .map(str::to_string)
            .collect();
        if let Some(v) = value {
            lines.push(format!("kra.key-pool = {v}"));
        }
        std::fs::write(&path, lines.join("\n") + "\n").expect("write cm.conf");
    }

    /// Starts `count` server nodes (stopping any running ones first).
    pub(crate) fn start(&mut self, count: usize) {
        self.stop();
        for _ in 0..count {
            self.started += 1;
            let log = self.dir.join(format!("server-{}.log", self.started));
            let mut cmd = Command::new(&self.bin);
            cmd.args(["server", "--listen", "127.0.0.1:0", "--dir"])
                .arg(&self.dir);
            if self.metrics {
                cmd.args(["--metrics-listen", "127.0.0.1:0"]);
            }
            let mut child = cmd
                .env_remove("KEYWARD_LOG")
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&log).expect("server log"))
                .spawn()
                .expect("spawn keyward server");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("server banner");
            let url = match line.split_whitespace().find(|w| w.starts_with("https://")) {
                Some(url) => url.to_string(),
                None => {
                    let _ = child.kill();
                    panic!(
                        "server did not start: {line:?}\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            };
            // The banner: `… https://ADDR (metrics at http://ADDR/metrics) …`.
            let metrics = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("http://"))
                .map(|w| {
                    w.trim_end_matches(')')
                        .trim_end_matches("/metrics")
                        .to_string()
                });
            assert_eq!(
                metrics.is_some(),
                self.metrics,
                "metrics listener: {line:?}"
            );
            self.nodes.push(Node {
                child,
                url,
                log,
                metrics,
            });
        }
    }

    /// Stops every node (SIGKILL: the bench does not measure shutdown).
    pub(crate) fn stop(&mut self) {
        for mut node in self.nodes.drain(..) {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }

    /// The process IDs of the running nodes.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(Node::pid).collect()
    }

    /// A client.conf for node `n` (client.conf with its server.url).
    pub(crate) fn client_conf(&self, n: usize) -> PathBuf {
        let body = std::fs::read_to_string(self.dir.join("client.conf")).expect("client.conf");
        let body: Vec<String> = body
            .lines()
            .map(|l| {
                if l.starts_with("server.url") {
                    format!("server.url = {}", self.nodes[n].url)
                } else {
                    l.to_string()
                }
            })
            .collect();
        let path = self.dir.join(format!("client-node{n}.conf"));
        std::fs::write(&path, body.join("\n") + "\n").expect("write client conf");
        path
    }

    /// An RA connection (config and HTTPS client) per running node, as the first officer.
    pub(crate) fn clients(&self) -> Vec<(Arc<ClientConfig>, Arc<RaClient>)> {
        let pin = std::fs::read_to_string(self.dir.join("officer/admin.pin")).expect("admin.pin");
        let pin = pin.lines().next().unwrap_or_default().to_string();
        (0..self.nodes.len())
            .map(|n| {
                let config = ClientConfig::load(&self.client_conf(n)).expect("client.conf");
                let officer = OfficerCredential::open(&config, &pin).expect("officer");
                let client = RaClient::new(&config, Arc::new(officer)).expect("RA client");
                (Arc::new(config), Arc::new(client))
            })
            .collect()
    }

    /// Waits until every node's log shows its key pool full (`ready N/N` for every spec) and
    /// the nodes' logs account for at least `used` keys handed out (taken or generated on demand),
    /// so that a line written before the last run does not count.
    pub(crate) fn wait_pools_full(&self, timeout: Duration, used: u64) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.pool_lines();
            let full = lines.len() == self.nodes.len()
                && lines.iter().all(|l| {
                    let specs = l.split(';').next().unwrap_or("");
                    specs.split(", ").all(|p| {
                        let counts = p.rsplit(' ').next().unwrap_or("");
                        matches!(counts.split_once('/'), Some((a, b)) if a == b)
                    })
                });
            let counted: u64 = lines
                .iter()
                .map(|l| counter(l, "taken ") + counter(l, "generated on demand "))
                .sum();
            if full && counted >= used {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The last `key pool:` line of each node's log.
    pub(crate) fn pool_lines(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|n| {
                n.log_text()
                    .lines()
                    .rev()
                    .find(|l| l.contains("key pool: "))
                    .map(|l| l[l.find("key pool: ").unwrap_or(0)..].to_string())
            })
            .collect()
    }
}

impl Drop for Install {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The number after `name` in a `key pool:` line (0 when absent).
fn counter(line: &str, name: &str) -> u64 {
    line.find(name)
        .and_then(|i| {
            line[i + name.len()..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
