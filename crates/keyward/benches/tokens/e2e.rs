//! End to end: the RA library, as `keyward ra batch` drives it (key spec list and procedures
//! fetched once, then [`Prepared::offline`] per token), generates the local key, signs the request with the officer's key, sends it over HTTPS (client
//! certificate) to a real `keyward server`, which checks, has the CA sign, stores certificate
//! and audit record in one transaction; the RA then writes the PKCS#12 and certificate files
//! atomically (fsync).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use keyward_crypto::{KeyPool, Pin};
use keyward_policy::KeySpecList;
use keyward_proto::ProcedureList;
use keyward_ra::issue::{key_spec_list, PinSource, Prepared, TokenOrder};
use keyward_ra::{ClientConfig, RaClient};

use crate::stats::{self, Measure};
use crate::PIN;

/// What one contender issues.
#[derive(Clone)]
pub(crate) struct Job {
    /// Token procedure.
    pub procedure: &'static str,
    /// Key spec for RA-local keys (`None`: the list's default).
    pub key_spec: Option<&'static str>,
    /// RA key pool to take local keys from.
    pub pool: Option<Arc<KeyPool>>,
}

/// Issues `tokens` tokens on `jobs` concurrent tasks, token i through node `i % nodes`.
pub(crate) async fn run(
    name: &str,
    clients: &[(Arc<ClientConfig>, Arc<RaClient>)],
    server_pids: &[u32],
    out: &Path,
    jobs: usize,
    tokens: usize,
    job: Job,
) -> Measure {
    let before = stats::Cpu::now(server_pids);
    let out = out.join(name.replace([' ', '/', ',', '(', ')', ':'], "_"));
    std::fs::create_dir_all(&out).expect("out dir");
    let mut fetched = Vec::new();
    for (config, client) in clients {
        let list = key_spec_list(client, config).await.expect("key specs");
        let procedures = client.procedures(None).await.expect("procedures");
        fetched.push((client.clone(), Arc::new(list), Arc::new(procedures)));
    }
    let clients = Arc::new(fetched);
    let dir = out.clone();
    let (wall, latencies) = stats::tasks(jobs, tokens, move |i| {
        let clients = clients.clone();
        let job = job.clone();
        let dir = dir.clone();
        async move {
            let (client, list, procedures) = &clients[i % clients.len()];
            issue(client, list, procedures, &dir, i, &job).await;
        }
    })
    .await;
    let cpu = stats::Cpu::now(server_pids).since(before);
    let _ = std::fs::remove_dir_all(&out);
    let mut m = Measure::new(name, jobs, wall, latencies);
    m.cpu = Some(cpu);
    m
}

/// One token through the RA library; panics with the RA's error.
pub(crate) async fn issue(
    client: &RaClient,
    list: &KeySpecList,
    procedures: &ProcedureList,
    dir: &Path,
    i: usize,
    job: &Job,
) {
    let order = TokenOrder {
        qc_statements: Default::default(),
        ac_path: None,
        alt_names: Default::default(),
        procedure: job.procedure.to_string(),
        subject: format!("CN=Bench User {i},O=Example,C=SE"),
        email: None,
        key_spec: job.key_spec.map(str::to_string),
        p12_path: dir.join(format!("t{i}.p12")),
        cert_path: None,
        force: true,
        recover: Vec::new(),
        approval: None,
        request_id: None,
    };
    let mut prepared = Prepared::offline(list, procedures, order)
        .unwrap_or_else(|e| panic!("prepare token {i}: {e}"));
    if let Some(pool) = &job.pool {
        prepared = prepared.with_key_pool(pool.clone());
    }
    prepared
        .execute(client, PinSource::Local(Pin::new(PIN.to_string())))
        .await
        .unwrap_or_else(|e| panic!("token {i}: {e}"));
}

/// The same token through the command line: one `keyward ra issue` process per token (what a
/// shell loop does: process start, officer PKCS#12, TLS handshake every time).
pub(crate) fn cli(
    bin: &Path,
    conf: &Path,
    pin_file: &Path,
    server_pids: &[u32],
    out: &Path,
    jobs: usize,
    tokens: usize,
) -> Measure {
    let out: PathBuf = out.join("cli");
    std::fs::create_dir_all(&out).expect("out dir");
    let before = stats::Cpu::now(server_pids);
    let (wall, latencies, _) = stats::threads(jobs, tokens, |i| {
        let p12 = out.join(format!("t{i}.p12"));
        let mut child = Command::new(bin)
            .arg("ra")
            .arg("--config")
            .arg(conf)
            .arg("--signature-pin-file")
            .arg(pin_file)
            .args([
                "issue",
                "--procedure",
                "soft-signing",
                "--key-spec",
                "EC:secp256r1",
            ])
            .args(["--subject", &format!("CN=Bench User {i},O=Example,C=SE")])
            .arg("--p12")
            .arg(&p12)
            .args(["--force", "--pin-stdin", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keyward ra issue");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(format!("{PIN}\n").as_bytes()).expect("PIN");
        drop(stdin);
        let done = child.wait_with_output().expect("keyward ra issue");
        assert!(
            done.status.success(),
            "keyward ra issue: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    });
    let cpu = stats::Cpu::now(server_pids).since(before);
    let _ = std::fs::remove_dir_all(&out);
    Measure::new(
        "CLI: one `keyward ra issue` process per token, EC:secp256r1",
        jobs,
        wall,
        latencies,
    )
    .with_cpu(cpu)
}
