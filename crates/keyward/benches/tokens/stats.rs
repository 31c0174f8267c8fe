//! Timing helpers: run N tokens on J concurrent workers, keep each token's latency.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One contender's run.
#[derive(Debug, Clone)]
pub(crate) struct Measure {
    /// What ran.
    pub name: String,
    /// Concurrent jobs.
    pub jobs: usize,
    /// Tokens made.
    pub tokens: usize,
    /// Wall-clock time of the whole run.
    pub wall: Duration,
    /// Per-token latency, sorted.
    pub latencies: Vec<Duration>,
    /// CPU used during the run, when measured.
    pub cpu: Option<Cpu>,
}

impl Measure {
    pub(crate) fn new(
        name: &str,
        jobs: usize,
        wall: Duration,
        mut latencies: Vec<Duration>,
    ) -> Measure {
        latencies.sort();
        Measure {
            name: name.to_string(),
            jobs,
            tokens: latencies.len(),
            wall,
            latencies,
            cpu: None,
        }
    }

    /// CPU milliseconds per token: servers, RA (this process), PostgreSQL; and the machine's
    /// busy share.
    pub(crate) fn cpu_text(&self) -> String {
        match self.cpu {
            Some(c) => {
                let per = |s: f64| s * 1000.0 / self.tokens.max(1) as f64;
                let busy = if c.total > 0.0 {
                    c.busy / c.total * 100.0
                } else {
                    0.0
                };
                if c.servers == 0.0 && c.postgres < 0.005 {
                    format!("CPU {:.1} ms/token; machine {busy:.0} % busy", per(c.ra))
                } else {
                    format!(
                        "CPU server {:.1} + RA {:.1} + PostgreSQL {:.1} = {:.1} ms/token; machine {busy:.0} % busy",
                        per(c.servers),
                        per(c.ra),
                        per(c.postgres),
                        per(c.servers + c.ra + c.postgres)
                    )
                }
            }
            None => String::new(),
        }
    }

    /// The same, with the CPU used during the run.
    pub(crate) fn with_cpu(mut self, cpu: Cpu) -> Measure {
        self.cpu = Some(cpu);
        self
    }

    /// CPU milliseconds per token of every process involved (servers, RA, PostgreSQL).
    pub(crate) fn cpu_per_token(&self) -> Option<f64> {
        self.cpu
            .map(|c| (c.servers + c.ra + c.postgres) * 1000.0 / self.tokens.max(1) as f64)
    }

    /// Tokens per second.
    pub(crate) fn rate(&self) -> f64 {
        self.tokens as f64 / self.wall.as_secs_f64()
    }

    /// Latency at quantile `q` (nearest rank).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        quantile(&self.latencies, q)
    }
}

/// The nearest-rank quantile of sorted durations.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `work(i)` for i in 0..tokens on `jobs` OS threads; returns wall time and latencies.
pub(crate) fn threads(
    jobs: usize,
    tokens: usize,
    work: impl Fn(usize) + Sync,
) -> (Duration, Vec<Duration>, Cpu) {
    let before = Cpu::now(&[]);
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(tokens));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= tokens {
                    break;
                }
                let t = Instant::now();
                work(i);
                let took = t.elapsed();
                latencies.lock().unwrap().push(took);
            });
        }
    });
    let wall = start.elapsed();
    (
        wall,
        latencies.into_inner().unwrap(),
        Cpu::now(&[]).since(before),
    )
}

/// Runs `work(i)` for i in 0..tokens as `jobs` concurrent tasks; returns wall time and latencies.
pub(crate) async fn tasks<F, Fut>(jobs: usize, tokens: usize, work: F) -> (Duration, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(tokens)));
    let work = Arc::new(work);
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..jobs {
        let (next, latencies, work) = (next.clone(), latencies.clone(), work.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= tokens {
                    break;
                }
                let t = Instant::now();
                work(i).await;
                let took = t.elapsed();
                latencies.lock().unwrap().push(took);
            }
        }));
    }
    for h in handles {
        h.await.expect("bench task");
    }
    let wall = start.elapsed();
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    (wall, latencies)
}

/// CPU seconds (user + system) of process `pid`, from /proc (0 when unreadable).
pub(crate) fn process_cpu(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name; 100 Hz.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of this process and of its children it has waited for (openssl and
/// `keyward ra issue` processes).
pub(crate) fn self_and_children_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12) + ticks(13) + ticks(14)) / 100.0
}

/// CPU seconds of every process whose command name starts with `prefix` (PostgreSQL backends).
pub(crate) fn processes_cpu(prefix: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.starts_with(prefix))
        })
        .map(|pid| process_cpu(&pid))
        .sum()
}

/// Busy and total CPU seconds of the whole machine, from /proc/stat.
pub(crate) fn machine_cpu() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0.0, 0.0);
    };
    let line = stat.lines().next().unwrap_or("");
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / 100.0, total / 100.0)
}

/// Where the CPU went during a run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cpu {
    pub servers: f64,
    pub ra: f64,
    pub postgres: f64,
    pub busy: f64,
    pub total: f64,
}

impl Cpu {
    pub(crate) fn now(server_pids: &[u32]) -> Cpu {
        let (busy, total) = machine_cpu();
        Cpu {
            servers: server_pids
                .iter()
                .map(|p| process_cpu(&p.to_string()))
                .sum(),
            ra: self_and_children_cpu(),
            // Only runs against servers count PostgreSQL (in-process runs do not use it).
            postgres: if server_pids.is_empty() {
                0.0
            } else {
                processes_cpu("postgres")
            },
            busy,
            total,
        }
    }

    pub(crate) fn since(self, before: Cpu) -> Cpu {
        Cpu {
            servers: self.servers - before.servers,
            ra: self.ra - before.ra,
            postgres: self.postgres - before.postgres,
            busy: self.busy - before.busy,
            total: self.total - before.total,
        }
    }
}
