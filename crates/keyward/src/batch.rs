//! `keyward ra batch`: one soft token per CSV row, N in flight at once, with a progress bar, a
//! results CSV, and a resume after an interruption that never issues a row twice.
//!
//! The output directory holds, besides each row's `NAME.p12` and `NAME.pem`:
//!
//! - `.keyward-batch.json`: the batch ID (random, the root of every row's request ID), token
//!   procedure and key spec. Its presence makes the same command a *resume*.
//! - `results.csv` (or `--results`, mode 0600): one record per row; appended and fsynced as each
//!   row finishes, rewritten atomically (sorted, one record per row) when the run ends.
//! - `pins.csv` (PIN procedure `show`, mode 0600): row, subject, PKCS#12, PIN; a PIN is appended
//!   (fsynced) before its row is recorded as issued, and the file is rewritten atomically at the
//!   end. PINs go nowhere else: not to stdout, not into the results, not into `--json`.
//! - `.pending/row-N.json` (mode 0600) while row N is in flight: its request ID, and for `show`
//!   tokens with only RA-local keys the exact request, its keys (PKCS#8 encrypted under the
//!   row's PIN) and the PIN, so that a resumed batch re-sends the very same request and can
//!   finish the token from the server's stored answer. It goes once the row is recorded.
//!
//! A row's request ID is `hex(SHA-256(batch ID ‖ procedure ‖ key spec ‖ row number ‖ subject ‖
//! email ‖ PIN columns))[..32]`: a rerun sends the same ID for the same row, and the server's
//! request-ID idempotency answers a request it has already issued with the stored result.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::{Zeroize, Zeroizing};

use keyward_crypto::files::write_secret;
use keyward_crypto::{CryptoError, KeyPool, Pin};
use keyward_policy::{DistinguishedName, KeySpecList, PinMethod, PinProcedure};
use keyward_proto::{IssueRequest, ProcedureList};
use keyward_ra::issue::{
    key_spec_list, IssuedToken, PendingRequest, PinSource, Prepared, TokenOrder,
};
use keyward_ra::{RaClient, RaError};

use crate::cli::BatchArgs;
use crate::output::{input_error, print_json};
use crate::ra::Session;

/// Exit code when the batch ran but some rows failed (README, "Exit codes").
pub const EXIT_SOME_FAILED: i32 = 10;
/// Exit code after Ctrl-C: the tokens in flight were finished and recorded.
pub const EXIT_INTERRUPTED: i32 = 130;

const STATE_FILE: &str = ".keyward-batch.json";
const PENDING_DIR: &str = ".pending";
const PINS_FILE: &str = "pins.csv";
const RESULTS_FILE: &str = "results.csv";
const COLUMNS: [&str; 6] = [
    "subject",
    "email",
    "key_spec",
    "pin_email",
    "pin_letter",
    "file",
];
const MAX_CSV_BYTES: u64 = 64 << 20;
const MAX_FIELD_CHARS: usize = 4096;
const MAX_FILE_CHARS: usize = 100;
const MAX_ERRORS_SHOWN: usize = 20;

/// The batch ran to its end (or to Ctrl-C) but not every row was issued; the results file says
/// which. Exit code [`EXIT_SOME_FAILED`] or [`EXIT_INTERRUPTED`].
#[derive(Debug)]
pub struct BatchIncomplete {
    /// The exit code.
    pub code: i32,
    message: String,
}

impl fmt::Display for BatchIncomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BatchIncomplete {}

/// One data row of the input CSV.
#[derive(Debug, Clone)]
struct Row {
    /// 1 for the first row after the header.
    number: usize,
    /// Line in the file (a quoted field may span lines: the line the row starts on).
    line: u64,
    subject: String,
    email: Option<String>,
    key_spec: Option<String>,
    pin_email: Option<String>,
    pin_letter: Option<String>,
    file: Option<String>,
}

impl Row {
    fn at(&self) -> String {
        format!("row {} (line {})", self.number, self.line)
    }
}

/// `.keyward-batch.json`.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    version: u32,
    batch_id: String,
    procedure: String,
    key_spec: Option<String>,
    csv: String,
    results: PathBuf,
    started: i64,
}

/// One record of the results CSV. Holds no secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResultRecord {
    row: usize,
    subject: String,
    /// `issued`, `failed`, or `skipped` (not attempted: the batch stopped first).
    status: String,
    /// Space-separated when the token holds several certificates.
    certificate_ids: String,
    serials: String,
    p12: String,
    certificate_files: String,
    /// `shown in pins.csv`, `emailed to X`, `posted to X`, `letter N`.
    pin: String,
    request_id: String,
    error: String,
}

/// A line of pins.csv.
struct PinLine {
    subject: String,
    p12: String,
    pin: Zeroizing<String>,
}

/// `.pending/row-N.json`: a row whose request may have reached the server.
#[derive(Serialize, Deserialize)]
struct PendingFile {
    row: usize,
    request_id: String,
    file: String,
    /// The exact request (PIN procedure `show`, RA-local keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<IssueRequest>,
    /// The token PIN the keys are encrypted under (the same protection as the finished token
    /// beside pins.csv).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pin: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keys: Vec<PendingKey>,
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(pin) = self.pin.as_mut() {
            pin.zeroize();
        }
    }
}

#[derive(Serialize, Deserialize)]
struct PendingKey {
    certificate_procedure: String,
    /// Encrypted PKCS#8 PEM (AES-256-CBC, PBKDF2) under the row's PIN.
    pkcs8: String,
}

/// One row to issue in this run.
struct Job {
    row: Row,
    file: String,
    request_id: String,
    /// Left by an interrupted run: the request may have reached the server.
    pending: Option<PendingFile>,
}

/// The files of the run, behind one lock.
struct Journal {
    results_path: PathBuf,
    results: File,
    pins_path: Option<PathBuf>,
    pins: Option<File>,
    records: BTreeMap<usize, ResultRecord>,
    pin_lines: BTreeMap<usize, PinLine>,
}

impl Journal {
    fn append_result(&mut self, record: ResultRecord) -> anyhow::Result<()> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        w.serialize(&record)?;
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        let path = &self.results_path;
        self.results
            .write_all(&bytes)
            .and_then(|()| self.results.sync_data())
            .with_context(|| format!("writing {}", path.display()))?;
        self.records.insert(record.row, record);
        Ok(())
    }

    fn append_pin(&mut self, row: usize, line: PinLine) -> anyhow::Result<()> {
        let (Some(path), Some(file)) = (&self.pins_path, self.pins.as_mut()) else {
            anyhow::bail!("no PIN file for this batch");
        };
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(SecretBuf::default());
        w.write_record([
            row.to_string().as_str(),
            &line.subject,
            &line.p12,
            line.pin.as_str(),
        ])?;
        let bytes = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        file.write_all(&bytes.0)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("writing {}", path.display()))?;
        self.pin_lines.insert(row, line);
        Ok(())
    }

    /// Rewrites both files atomically: one record per row, sorted.
    fn compact(&mut self) -> anyhow::Result<()> {
        write_results(&self.results_path, self.records.values())?;
        self.results = append_to(&self.results_path)?;
        if let Some(path) = &self.pins_path {
            write_pins(path, &self.pin_lines)?;
            self.pins = Some(append_to(path)?);
        }
        Ok(())
    }
}

/// Everything the workers share.
struct Ctx {
    client: RaClient,
    /// `--key-pool`: keys of the batch's key spec generated ahead.
    key_pool: Option<Arc<KeyPool>>,
    list: KeySpecList,
    procedures: ProcedureList,
    procedure: String,
    rules: PinProcedure,
    key_spec: Option<String>,
    dir: PathBuf,
    pending_dir: PathBuf,
    queue: Mutex<VecDeque<Job>>,
    journal: Mutex<Journal>,
    stop: AtomicBool,
    interrupted: AtomicBool,
    fatal: Mutex<Option<anyhow::Error>>,
    bar: ProgressBar,
    /// Per-row lines on stderr (when the bar is hidden and the output is not JSON).
    lines: bool,
    json: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `keyward ra batch`.
pub async fn run(session: Session, args: BatchArgs) -> anyhow::Result<()> {
    let Session { config, client } = session;
    let jobs = usize::from(args.jobs);
    let rows = read_rows(&args.csv)?;

    let list = key_spec_list(&client, &config).await?;
    let batch_spec = list
        .choose(args.key_spec.as_deref())
        .map_err(|e| input_error(format!("--key-spec: {e}")))?;
    let procedures = client.procedures(None).await?;
    let resolved = procedures
        .token_procedures
        .iter()
        .find(|t| t.token.name == args.procedure)
        .ok_or_else(|| {
            input_error(format!(
                "--procedure: no token procedure named {:?} (see `keyward ra procedures`)",
                args.procedure
            ))
        })?;
    let rules = resolved.pin.clone();
    if rules.method == PinMethod::Enter {
        return Err(input_error(format!(
            "--procedure: token procedure {} uses PIN procedure {} (method enter), where the officer types each PIN; a batch cannot. Use a token procedure whose PIN procedure is show (PINs written to {PINS_FILE}), email or letter (columns pin_email, pin_letter)",
            args.procedure, rules.name
        )));
    }

    // The output directory and the batch state: new, or the one being resumed.
    let dir = args.out_dir.clone();
    let created_dir = !dir.exists();
    if created_dir {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating --out-dir {}", dir.display()))?;
    } else if !dir.is_dir() {
        return Err(input_error(format!(
            "--out-dir: {} is not a directory",
            dir.display()
        )));
    }
    let state_path = dir.join(STATE_FILE);
    let pending_dir = dir.join(PENDING_DIR);
    let pins_path = (rules.method == PinMethod::Show).then(|| dir.join(PINS_FILE));
    let previous: Option<State> = if state_path.exists() {
        let text = std::fs::read_to_string(&state_path)
            .with_context(|| format!("reading {}", state_path.display()))?;
        let state: State = serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged", state_path.display()))?;
        Some(state)
    } else {
        None
    };
    let results_path = match (&previous, &args.results) {
        (Some(s), Some(r)) if *r != s.results => {
            return Err(input_error(format!(
                "--results: this batch records its results in {} (started with that --results)",
                s.results.display()
            )))
        }
        (Some(s), _) => s.results.clone(),
        (None, Some(r)) => r.clone(),
        (None, None) => dir.join(RESULTS_FILE),
    };
    if let Some(s) = &previous {
        if s.procedure != args.procedure {
            return Err(input_error(format!(
                "--procedure: the batch in {} was started with --procedure {}; resume it with the same, or use another --out-dir",
                dir.display(),
                s.procedure
            )));
        }
        if s.key_spec != args.key_spec {
            return Err(input_error(format!(
                "--key-spec: the batch in {} was started with {}; resume it with the same, or use another --out-dir",
                dir.display(),
                s.key_spec
                    .as_deref()
                    .map(|k| format!("--key-spec {k}"))
                    .unwrap_or_else(|| "no --key-spec".into())
            )));
        }
    } else {
        for path in [Some(&results_path), pins_path.as_ref(), Some(&pending_dir)]
            .into_iter()
            .flatten()
        {
            if path.exists() {
                return Err(input_error(format!(
                    "--out-dir: {} exists but {} holds no batch state ({STATE_FILE}); use an empty --out-dir",
                    path.display(),
                    dir.display()
                )));
            }
        }
    }
    let batch_id = match &previous {
        Some(s) => s.batch_id.clone(),
        None => random_hex(16)?,
    };

    // What earlier runs did.
    let mut records = load_results(&results_path)?;
    let mut pin_lines = match &pins_path {
        Some(p) => load_pins(p)?,
        None => BTreeMap::new(),
    };
    let mut pending = load_pending(&pending_dir)?;
    // Only issued rows stay recorded: failed and skipped ones are tried again.
    records.retain(|_, r| r.status == "issued");

    // Check every row before anything is issued.
    let prepared = check_rows(&CheckInput {
        csv: &args.csv,
        rows: &rows,
        list: &list,
        procedures: &procedures,
        procedure: &args.procedure,
        rules: &rules,
        key_spec: args.key_spec.as_deref(),
        batch_id: &batch_id,
        dir: &dir,
        records: &records,
        pending: &pending,
    });
    let plan = match prepared {
        Ok(plan) => plan,
        Err(e) => {
            if created_dir {
                let _ = std::fs::remove_dir(&dir);
            }
            return Err(e);
        }
    };

    // A stale pending file of an issued row goes.
    pin_lines.retain(|row, _| records.contains_key(row));
    for row in records.keys() {
        if pending.remove(row).is_some() {
            let _ = std::fs::remove_file(pending_path(&pending_dir, *row));
        }
    }
    if previous.is_none() {
        let state = State {
            version: 1,
            batch_id: batch_id.clone(),
            procedure: args.procedure.clone(),
            key_spec: args.key_spec.clone(),
            csv: args.csv.display().to_string(),
            results: results_path.clone(),
            started: unix_now(),
        };
        write_secret(&state_path, &serde_json::to_vec_pretty(&state)?)
            .with_context(|| format!("writing {}", state_path.display()))?;
    }
    if !pending_dir.exists() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&pending_dir)
            .with_context(|| format!("creating {}", pending_dir.display()))?;
    }
    let already: Vec<usize> = records.keys().copied().collect();
    let mut queue = VecDeque::new();
    for (row, file, request_id) in plan {
        if records.contains_key(&row.number) {
            continue;
        }
        let left = pending.remove(&row.number);
        queue.push_back(Job {
            row,
            file,
            request_id,
            pending: left,
        });
    }
    let todo = queue.len();

    let mut journal = Journal {
        results_path: results_path.clone(),
        results: placeholder_file()?,
        pins_path: pins_path.clone(),
        pins: None,
        records,
        pin_lines,
    };
    journal.compact()?;

    let show_bar = std::io::stderr().is_terminal() && !args.json;
    let bar = ProgressBar::new(todo as u64);
    if show_bar {
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} rows  {elapsed_precise}  ETA {eta}  {wide_msg}",
            )
            .map_err(|e| anyhow::anyhow!("progress bar: {e}"))?
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if !args.json {
        let note = if already.is_empty() {
            String::new()
        } else {
            format!(
                "; skipping {} row(s) issued by an earlier run",
                already.len()
            )
        };
        let line = format!(
            "Batch {batch_id}: {} rows, token procedure {} ({} PINs), {todo} to issue with {jobs} job(s){note}",
            rows.len(),
            args.procedure,
            rules.method.name()
        );
        if show_bar {
            bar.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    let ctx = Arc::new(Ctx {
        client,
        key_pool: args
            .key_pool
            .map(|n| Arc::new(KeyPool::new(vec![(batch_spec, usize::from(n))]))),
        list,
        procedures,
        procedure: args.procedure.clone(),
        rules,
        key_spec: args.key_spec.clone(),
        dir: dir.clone(),
        pending_dir: pending_dir.clone(),
        queue: Mutex::new(queue),
        journal: Mutex::new(journal),
        stop: AtomicBool::new(false),
        interrupted: AtomicBool::new(false),
        fatal: Mutex::new(None),
        bar,
        lines: !show_bar && !args.json,
        json: args.json,
    });

    let signals = {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                ctx.interrupted.store(true, Ordering::SeqCst);
                ctx.stop.store(true, Ordering::SeqCst);
                let line = "Interrupted: finishing the tokens in flight (Ctrl-C again to quit at once); rerun the same command to resume.";
                if ctx.bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    ctx.bar.println(line);
                }
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(EXIT_INTERRUPTED);
                }
            }
        })
    };
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..jobs.min(todo.max(1)) {
        let ctx = ctx.clone();
        workers.spawn(async move { worker(&ctx).await });
    }
    while let Some(done) = workers.join_next().await {
        if let Err(e) = done {
            ctx.stop.store(true, Ordering::SeqCst);
            lock(&ctx.fatal).get_or_insert_with(|| anyhow::anyhow!("a batch worker failed: {e}"));
        }
    }
    signals.abort();
    ctx.bar.finish_and_clear();

    // Rows never started are recorded as skipped; then both files are rewritten once, sorted.
    let left: Vec<Job> = lock(&ctx.queue).drain(..).collect();
    let reason = if ctx.interrupted.load(Ordering::SeqCst) {
        "not attempted: the batch was interrupted (rerun the same command to resume)".to_string()
    } else {
        "not attempted: the batch stopped after an error (rerun the same command to resume)"
            .to_string()
    };
    let mut journal = lock(&ctx.journal);
    for job in &left {
        let mut record = ctx.record(job, "skipped");
        record.error = reason.clone();
        journal.records.insert(job.row.number, record);
    }
    journal.compact()?;
    if std::fs::read_dir(&pending_dir).is_ok_and(|mut d| d.next().is_none()) {
        let _ = std::fs::remove_dir(&pending_dir);
    }

    let count = |status: &str| {
        journal
            .records
            .values()
            .filter(|r| r.status == status)
            .count()
    };
    let (issued, failed, skipped) = (count("issued"), count("failed"), count("skipped"));
    let total = rows.len();
    if args.json {
        let listed: Vec<&ResultRecord> = journal.records.values().collect();
        print_json(&json!({
            "batch_id": batch_id,
            "token_procedure": args.procedure,
            "results_file": results_path,
            "pins_file": pins_path,
            "summary": {
                "rows": total,
                "issued": issued,
                "issued_now": issued - already.len(),
                "already_issued": already.len(),
                "failed": failed,
                "skipped": skipped,
            },
            "already_issued_rows": already,
            "rows": listed,
        }))?;
    } else {
        println!(
            "{issued} of {total} rows issued ({} now, {} by an earlier run), {failed} failed, {skipped} not attempted.",
            issued - already.len(),
            already.len()
        );
        println!("Results: {}", results_path.display());
        if let Some(p) = &pins_path {
            if !journal.pin_lines.is_empty() {
                println!(
                    "PINs: {} (mode 0600): hand each PIN to its holder, then delete the file.",
                    p.display()
                );
            }
        }
    }
    drop(journal);

    if let Some(e) = lock(&ctx.fatal).take() {
        return Err(e.context(format!(
            "batch stopped: {issued} of {total} rows issued, results in {}; rerun the same command to resume",
            results_path.display()
        )));
    }
    if ctx.interrupted.load(Ordering::SeqCst) {
        return Err(anyhow::Error::new(BatchIncomplete {
            code: EXIT_INTERRUPTED,
            message: format!(
                "interrupted: {issued} of {total} rows issued; rerun the same command to resume"
            ),
        }));
    }
    if failed + skipped > 0 {
        return Err(anyhow::Error::new(BatchIncomplete {
            code: EXIT_SOME_FAILED,
            message: format!(
                "{} of {total} rows not issued (see {}); rerun the same command to retry them",
                failed + skipped,
                results_path.display()
            ),
        }));
    }
    Ok(())
}

/// What a row came to.
enum Outcome {
    Issued(Box<IssuedToken>, Option<Pin>),
    Failed {
        error: RaError,
        /// The request may have reached the server: keep the pending file.
        keep_pending: bool,
    },
}

async fn worker(ctx: &Ctx) {
    loop {
        if ctx.stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(job) = lock(&ctx.queue).pop_front() else {
            return;
        };
        ctx.bar
            .set_message(format!("row {}: {}", job.row.number, job.row.subject));
        let outcome = ctx.issue_row(&job).await;
        if let Err(e) = ctx.finish_row(&job, outcome) {
            ctx.stop.store(true, Ordering::SeqCst);
            lock(&ctx.fatal).get_or_insert(e);
            return;
        }
        ctx.bar.inc(1);
    }
}

impl Ctx {
    fn order(&self, job: &Job, force: bool) -> TokenOrder {
        TokenOrder {
            qc_statements: Default::default(),
            ac_path: None,
            procedure: self.procedure.clone(),
            subject: job.row.subject.clone(),
            email: job.row.email.clone(),
            key_spec: job.row.key_spec.clone().or_else(|| self.key_spec.clone()),
            p12_path: self.dir.join(format!("{}.p12", job.file)),
            cert_path: Some(self.dir.join(format!("{}.pem", job.file))),
            force,
            recover: Vec::new(),
            approval: None,
            request_id: Some(job.request_id.clone()),
        }
    }

    fn prepare(&self, job: &Job) -> Result<Prepared, RaError> {
        let prepared = Prepared::offline(
            &self.list,
            &self.procedures,
            self.order(job, job.pending.is_some()),
        )?;
        Ok(match &self.key_pool {
            Some(pool) => prepared.with_key_pool(pool.clone()),
            None => prepared,
        })
    }

    async fn issue_row(&self, job: &Job) -> Outcome {
        if let Some(p) = job.pending.as_ref().filter(|p| p.request.is_some()) {
            return self.resend(job, p).await;
        }
        let failed = |error: RaError, sent: bool| Outcome::Failed {
            error,
            keep_pending: sent || job.pending.is_some(),
        };
        let prepared = match self.prepare(job) {
            Ok(p) => p,
            Err(e) => return failed(e, false),
        };
        let (source, shown) = match self.rules.method {
            PinMethod::Show | PinMethod::Enter => match keyward_crypto::generate_for(&self.rules) {
                Ok(pin) => (PinSource::Local(pin.clone()), Some(pin)),
                Err(e) => return failed(e.into(), false),
            },
            PinMethod::Email => (
                PinSource::Mail(job.row.pin_email.clone().unwrap_or_default()),
                None,
            ),
            PinMethod::Letter => (
                PinSource::Letter(job.row.pin_letter.clone().unwrap_or_default()),
                None,
            ),
        };
        let sent = AtomicBool::new(false);
        let result = prepared
            .execute_with(&self.client, source, |request| {
                self.write_pending(job, request, shown.as_ref())?;
                sent.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        match result {
            Ok(token) => Outcome::Issued(Box::new(token), shown),
            // A refusal of a first send: the server issued nothing.
            Err(e @ RaError::Refused { .. }) if job.pending.is_none() => failed(e, false),
            Err(e) => {
                let sent = sent.load(Ordering::SeqCst);
                failed(e, sent)
            }
        }
    }

    /// Re-sends the exact request an interrupted run sent (or was about to send) for this row,
    /// with the same keys and PIN: a server that issued it answers with the stored result.
    async fn resend(&self, job: &Job, pending: &PendingFile) -> Outcome {
        let failed = |error: RaError| Outcome::Failed {
            error,
            keep_pending: true,
        };
        let mut refreshed = None;
        for attempt in 0..2 {
            let (mut request, keys, pin) = match open_pending(pending) {
                Ok(opened) => opened,
                Err(e) => return failed(e),
            };
            if let Some((timestamp, nonce)) = &refreshed {
                request.timestamp = *timestamp;
                request.nonce = String::clone(nonce);
            }
            let prepared = match self.prepare(job) {
                Ok(p) => p,
                Err(e) => return failed(e),
            };
            let result = prepared
                .resume(
                    &self.client,
                    PinSource::Local(pin.clone()),
                    PendingRequest {
                        request,
                        keys,
                        transport: None,
                    },
                )
                .await;
            match result {
                Ok(token) => return Outcome::Issued(Box::new(token), Some(pin)),
                // Sent more than the allowed clock skew ago: refused before the server looked
                // at it. Once more with a fresh time and nonce (same ID, keys and CSRs).
                Err(RaError::Refused { error, .. })
                    if attempt == 0 && error.field.as_deref() == Some("timestamp") =>
                {
                    let nonce = match random_hex(16) {
                        Ok(n) => n,
                        Err(e) => return failed(RaError::input("random", e.to_string())),
                    };
                    let fresh = (unix_now(), nonce);
                    if let Err(e) = self.rewrite_pending(job, pending, &fresh) {
                        return failed(e);
                    }
                    refreshed = Some(fresh);
                }
                Err(e) => return failed(e),
            }
        }
        failed(RaError::input(
            "request",
            "the server refused the re-sent request",
        ))
    }

    /// Keeps what is needed to finish the row after an interruption, before its request goes.
    fn write_pending(
        &self,
        job: &Job,
        pending: &PendingRequest,
        pin: Option<&Pin>,
    ) -> Result<(), RaError> {
        let mut file = PendingFile {
            row: job.row.number,
            request_id: pending.request.request_id.clone(),
            file: job.file.clone(),
            request: None,
            pin: None,
            keys: Vec::new(),
        };
        if let (Some(pin), None) = (pin, &pending.transport) {
            for (name, key) in &pending.keys {
                let pem = key
                    .private_key_to_pem_pkcs8_passphrase(
                        Cipher::aes_256_cbc(),
                        pin.as_str().as_bytes(),
                    )
                    .map_err(|e| {
                        RaError::Crypto(CryptoError::OpenSsl {
                            context: "encrypting a pending key",
                            detail: e.to_string(),
                        })
                    })?;
                file.keys.push(PendingKey {
                    certificate_procedure: name.clone(),
                    pkcs8: String::from_utf8_lossy(&pem).into_owned(),
                });
            }
            file.request = Some(pending.request.clone());
            file.pin = Some(pin.as_str().to_string());
        }
        self.save_pending(&file)
    }

    fn rewrite_pending(
        &self,
        job: &Job,
        pending: &PendingFile,
        fresh: &(i64, String),
    ) -> Result<(), RaError> {
        let mut request = pending.request.clone();
        if let Some(r) = request.as_mut() {
            r.timestamp = fresh.0;
            r.nonce = fresh.1.clone();
        }
        let file = PendingFile {
            row: job.row.number,
            request_id: pending.request_id.clone(),
            file: pending.file.clone(),
            request,
            pin: pending.pin.clone(),
            keys: pending
                .keys
                .iter()
                .map(|k| PendingKey {
                    certificate_procedure: k.certificate_procedure.clone(),
                    pkcs8: k.pkcs8.clone(),
                })
                .collect(),
        };
        self.save_pending(&file)
    }

    fn save_pending(&self, file: &PendingFile) -> Result<(), RaError> {
        let path = pending_path(&self.pending_dir, file.row);
        let bytes = Zeroizing::new(serde_json::to_vec(file).map_err(|e| RaError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?);
        write_secret(&path, &bytes).map_err(|source| RaError::Io { path, source })
    }

    fn record(&self, job: &Job, status: &str) -> ResultRecord {
        ResultRecord {
            row: job.row.number,
            subject: job.row.subject.clone(),
            status: status.into(),
            certificate_ids: String::new(),
            serials: String::new(),
            p12: String::new(),
            certificate_files: String::new(),
            pin: String::new(),
            request_id: job.request_id.clone(),
            error: String::new(),
        }
    }

    /// Records the row (PIN first, then the result, each fsynced), then drops its pending file.
    fn finish_row(&self, job: &Job, outcome: Outcome) -> anyhow::Result<()> {
        let pending = pending_path(&self.pending_dir, job.row.number);
        match outcome {
            Outcome::Issued(token, pin) => {
                let mut record = self.record(job, "issued");
                record.certificate_ids = join(token.certificates.iter().map(|c| &c.certificate_id));
                record.serials = join(token.certificates.iter().map(|c| &c.serial));
                record.p12 = token.p12_path.display().to_string();
                record.certificate_files =
                    join(token.cert_paths.iter().map(|p| p.display().to_string()));
                record.pin = match (&pin, &token.pin_delivery) {
                    (Some(_), _) => format!("shown in {PINS_FILE}"),
                    (None, Some(d)) if d.letter_id.is_some() => {
                        format!("letter {}", d.letter_id.as_deref().unwrap_or_default())
                    }
                    (None, Some(d)) => format!(
                        "{} to {}",
                        if d.delivery.as_deref() == Some("print") {
                            "posted"
                        } else {
                            "emailed"
                        },
                        d.recipient.as_deref().unwrap_or("?")
                    ),
                    (None, None) => String::new(),
                };
                let line = format!(
                    "row {}: issued, Certificate ID {} → {}",
                    job.row.number, record.certificate_ids, record.p12
                );
                {
                    let mut journal = lock(&self.journal);
                    if let Some(pin) = &pin {
                        journal.append_pin(
                            job.row.number,
                            PinLine {
                                subject: job.row.subject.clone(),
                                p12: record.p12.clone(),
                                pin: Zeroizing::new(pin.as_str().to_string()),
                            },
                        )?;
                    }
                    journal.append_result(record)?;
                }
                let _ = std::fs::remove_file(&pending);
                if self.lines {
                    eprintln!("{line}");
                }
            }
            Outcome::Failed {
                error,
                keep_pending,
            } => {
                let mut message = error.to_string();
                if job.pending.is_some() {
                    message.push_str(&format!(
                        " (this row's request {} had been sent before an interruption: the server may have issued its certificate; see `keyward ra certificates --subject …`. To issue the row anew, delete {} and rerun)",
                        job.request_id,
                        pending.display()
                    ));
                }
                let fatal = is_fatal(&error);
                let mut record = self.record(job, "failed");
                record.error = message.clone();
                lock(&self.journal).append_result(record)?;
                if !keep_pending {
                    let _ = std::fs::remove_file(&pending);
                }
                let line = format!(
                    "row {} ({}): failed: {message}",
                    job.row.number, job.row.subject
                );
                if self.lines {
                    eprintln!("{line}");
                } else if !self.json {
                    self.bar.println(line);
                }
                if fatal {
                    self.stop.store(true, Ordering::SeqCst);
                    lock(&self.fatal).get_or_insert_with(|| anyhow::Error::new(error));
                }
            }
        }
        Ok(())
    }
}

/// Errors that will fail every row alike: stop taking rows.
fn is_fatal(e: &RaError) -> bool {
    match e {
        RaError::Config { .. }
        | RaError::Officer { .. }
        | RaError::WrongSignaturePin(_)
        | RaError::Transport { .. }
        | RaError::Io { .. } => true,
        RaError::Refused { status, .. } => *status == 401 || *status == 403,
        RaError::Input { .. } | RaError::Crypto(_) => false,
    }
}

/// A pending request opened again: the request, its keys, the PIN.
type Opened = (IssueRequest, Vec<(String, PKey<Private>)>, Pin);

fn open_pending(p: &PendingFile) -> Result<Opened, RaError> {
    let damaged = |what: &str| RaError::input("pending", format!("row {}: {what}", p.row));
    let request = p.request.clone().ok_or_else(|| damaged("no request"))?;
    let pin = Pin::new(p.pin.clone().ok_or_else(|| damaged("no PIN"))?);
    let mut keys = Vec::with_capacity(p.keys.len());
    for k in &p.keys {
        let key =
            PKey::private_key_from_pem_passphrase(k.pkcs8.as_bytes(), pin.as_str().as_bytes())
                .map_err(|_| damaged("its key does not open with its PIN"))?;
        keys.push((k.certificate_procedure.clone(), key));
    }
    Ok((request, keys, pin))
}

fn join<T: AsRef<str>>(items: impl Iterator<Item = T>) -> String {
    items
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn pending_path(dir: &Path, row: usize) -> PathBuf {
    dir.join(format!("row-{row}.json"))
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).context("the random generator failed")?;
    Ok(hex::encode(buf))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Input

/// Reads and checks the CSV's structure: header, known columns, field sizes, a subject per row.
fn read_rows(path: &Path) -> anyhow::Result<Vec<Row>> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| input_error(format!("--csv {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(input_error(format!("--csv {shown}: not a file")));
    }
    if meta.len() > MAX_CSV_BYTES {
        return Err(input_error(format!(
            "--csv {shown}: larger than {} MiB",
            MAX_CSV_BYTES >> 20
        )));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| input_error(format!("--csv {shown}: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| input_error(format!("--csv {shown}: header row: {}", csv_reason(&e))))?
        .clone();
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.to_ascii_lowercase().replace('-', "_");
        let Some(known) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(input_error(format!(
                "--csv {shown}: header row, column {}: unknown column {:?} (the columns are {})",
                i + 1,
                shorten(h),
                COLUMNS.join(", ")
            )));
        };
        if index.insert(known, i).is_some() {
            return Err(input_error(format!(
                "--csv {shown}: header row: column {known} appears twice"
            )));
        }
    }
    if !index.contains_key("subject") {
        return Err(input_error(format!(
            "--csv {shown}: header row: no subject column (the columns are {}; subject is required)",
            COLUMNS.join(", ")
        )));
    }
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let number = n + 1;
        let record = record
            .map_err(|e| input_error(format!("--csv {shown}: row {number}: {}", csv_reason(&e))))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let at = format!("--csv {shown}: row {number} (line {line})");
        for (column, &i) in &index {
            if record
                .get(i)
                .is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS)
            {
                return Err(input_error(format!(
                    "{at}, column {column}: longer than {MAX_FIELD_CHARS} characters"
                )));
            }
            if record
                .get(i)
                .is_some_and(|v| v.chars().any(|c| c.is_control() && c != '\n'))
            {
                return Err(input_error(format!(
                    "{at}, column {column}: contains control characters"
                )));
            }
        }
        let get = |column: &str| {
            index
                .get(column)
                .and_then(|&i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let subject = get("subject").ok_or_else(|| {
            input_error(format!(
                "{at}, column subject: empty (every row needs a subject)"
            ))
        })?;
        rows.push(Row {
            number,
            line,
            subject,
            email: get("email"),
            key_spec: get("key_spec"),
            pin_email: get("pin_email"),
            pin_letter: get("pin_letter"),
            file: get("file"),
        });
    }
    if rows.is_empty() {
        return Err(input_error(format!(
            "--csv {shown}: no rows after the header"
        )));
    }
    Ok(rows)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len,
            len,
            pos,
        } => format!(
            "{}{len} fields where the header has {expected_len}",
            pos.as_ref()
                .map(|p| format!("line {}: ", p.line()))
                .unwrap_or_default()
        ),
        csv::ErrorKind::Utf8 { pos, err } => format!(
            "{}field {} is not UTF-8 text",
            pos.as_ref()
                .map(|p| format!("line {}: ", p.line()))
                .unwrap_or_default(),
            err.field() + 1
        ),
        _ => e.to_string(),
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

struct CheckInput<'a> {
    csv: &'a Path,
    rows: &'a [Row],
    list: &'a KeySpecList,
    procedures: &'a ProcedureList,
    procedure: &'a str,
    rules: &'a PinProcedure,
    key_spec: Option<&'a str>,
    batch_id: &'a str,
    dir: &'a Path,
    records: &'a BTreeMap<usize, ResultRecord>,
    pending: &'a BTreeMap<usize, PendingFile>,
}

/// Checks every row as `ra issue` would (subject rules, e-mail, key spec, PIN columns, output
/// files) and against what earlier runs recorded; returns each row's file name and request ID,
/// or one error listing every bad row.
fn check_rows(c: &CheckInput<'_>) -> anyhow::Result<Vec<(Row, String, String)>> {
    let mut errors: Vec<String> = Vec::new();
    let shown = c.csv.display();
    for &row in c.records.keys().chain(c.pending.keys()) {
        if row > c.rows.len() {
            errors.push(format!(
                "row {row}: {} records it, but the CSV has {} rows (resume with the CSV the batch started with)",
                if c.records.contains_key(&row) { "the results file" } else { "a pending request" },
                c.rows.len()
            ));
        }
    }
    // File names: kept from earlier runs and the file column, else derived from the CN.
    let mut taken: HashSet<String> = HashSet::new();
    let mut files: Vec<Option<String>> = vec![None; c.rows.len()];
    for row in c.rows {
        let kept = c
            .records
            .get(&row.number)
            .and_then(|r| {
                Path::new(&r.p12)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .or_else(|| c.pending.get(&row.number).map(|p| p.file.clone()));
        let name = match (kept, &row.file) {
            (Some(name), _) => name,
            (None, Some(given)) => match file_base(given) {
                Ok(name) => name,
                Err(reason) => {
                    errors.push(format!("{}, column file: {reason}", row.at()));
                    continue;
                }
            },
            (None, None) => continue,
        };
        if !taken.insert(name.to_lowercase()) {
            errors.push(format!(
                "{}, column file: {name:?} is used by another row",
                row.at()
            ));
        }
        files[row.number - 1] = Some(name);
    }
    for row in c.rows {
        if files[row.number - 1].is_none() && row.file.is_none() {
            let base = derived_base(row);
            let mut name = base.clone();
            let mut n = 2;
            while taken.contains(&name.to_lowercase()) {
                name = format!("{base}-{n}");
                n += 1;
            }
            taken.insert(name.to_lowercase());
            files[row.number - 1] = Some(name);
        }
    }

    let mut letters: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(c.rows.len());
    for row in c.rows {
        let Some(file) = files[row.number - 1].clone() else {
            continue;
        };
        let key_spec = row.key_spec.as_deref().or(c.key_spec);
        let request_id = request_id(c.batch_id, c.procedure, key_spec, row);
        if let Some(done) = c.records.get(&row.number) {
            if done.request_id != request_id {
                errors.push(format!(
                    "{}: issued by an earlier run of this batch as request {} ({}), but the row has changed since; restore it, or issue the change in another batch",
                    row.at(),
                    done.request_id,
                    done.subject
                ));
            }
            out.push((row.clone(), file, request_id));
            continue;
        }
        if let Some(p) = c.pending.get(&row.number) {
            if p.request_id != request_id {
                errors.push(format!(
                    "{}: its request {} was sent to the server before an interruption, but the row has changed since; restore it, or delete {} to give that request up",
                    row.at(),
                    p.request_id,
                    pending_path(&c.dir.join(PENDING_DIR), row.number).display()
                ));
            }
        }
        let source = match pin_columns(row, c.rules) {
            Ok(s) => s,
            Err((column, reason)) => {
                errors.push(format!("{}, column {column}: {reason}", row.at()));
                continue;
            }
        };
        if let Some(PinSource::Letter(id)) = &source {
            if let Some(first) = letters.insert(id.clone(), row.number) {
                errors.push(format!(
                    "{}, column pin_letter: PIN letter {id} is also given in row {first} (a letter seals one token)",
                    row.at()
                ));
            }
        }
        if let Some(source) = &source {
            if let Err(e) = source.check(c.rules, c.procedure) {
                errors.push(row_error(row, &e));
                continue;
            }
        }
        let order = TokenOrder {
            qc_statements: Default::default(),
            ac_path: None,
            procedure: c.procedure.to_string(),
            subject: row.subject.clone(),
            email: row.email.clone(),
            key_spec: key_spec.map(str::to_string),
            p12_path: c.dir.join(format!("{file}.p12")),
            cert_path: Some(c.dir.join(format!("{file}.pem"))),
            force: c.pending.contains_key(&row.number),
            recover: Vec::new(),
            approval: None,
            request_id: Some(request_id.clone()),
        };
        if let Err(e) = Prepared::offline(c.list, c.procedures, order) {
            errors.push(row_error(row, &e));
            continue;
        }
        out.push((row.clone(), file, request_id));
    }
    if errors.is_empty() {
        return Ok(out);
    }
    let more = errors.len().saturating_sub(MAX_ERRORS_SHOWN);
    let mut message = format!(
        "--csv {shown}: {} row error(s); nothing was issued:",
        errors.len()
    );
    for e in errors.iter().take(MAX_ERRORS_SHOWN) {
        message.push_str("\n  ");
        message.push_str(e);
    }
    if more > 0 {
        message.push_str(&format!("\n  … and {more} more"));
    }
    Err(input_error(message))
}

/// The PIN source a row's columns give, checked against the PIN method.
fn pin_columns(
    row: &Row,
    rules: &PinProcedure,
) -> Result<Option<PinSource>, (&'static str, String)> {
    let unused = |column: &'static str| {
        (
            column,
            format!(
                "the token procedure's PIN procedure {} has method {}, which takes no {column}; leave it empty",
                rules.name,
                rules.method.name()
            ),
        )
    };
    let required = |column: &'static str, what: &str| {
        (
            column,
            format!(
                "empty, but the PIN procedure {} (method {}) needs {what} for every row",
                rules.name,
                rules.method.name()
            ),
        )
    };
    match rules.method {
        PinMethod::Show | PinMethod::Enter => {
            if row.pin_email.is_some() {
                return Err(unused("pin_email"));
            }
            if row.pin_letter.is_some() {
                return Err(unused("pin_letter"));
            }
            Ok(None)
        }
        PinMethod::Email => {
            if row.pin_letter.is_some() {
                return Err(unused("pin_letter"));
            }
            let to = row
                .pin_email
                .clone()
                .ok_or_else(|| required("pin_email", "a PIN mailer address"))?;
            Ok(Some(PinSource::Mail(to)))
        }
        PinMethod::Letter => {
            if row.pin_email.is_some() {
                return Err(unused("pin_email"));
            }
            let id = row
                .pin_letter
                .clone()
                .ok_or_else(|| required("pin_letter", "a PIN/PUK letter ID"))?;
            Ok(Some(PinSource::Letter(id)))
        }
    }
}

/// An RA input error as "row N (line L), column C: reason".
fn row_error(row: &Row, e: &RaError) -> String {
    let (field, reason) = match e {
        RaError::Input { field, reason } => (field.as_str(), reason.clone()),
        other => ("subject", other.to_string()),
    };
    let column = match field {
        "key-spec" => "key_spec",
        "email" => "email",
        "p12" | "cert" => "file",
        "pin-email" => "pin_email",
        "pin-letter" => "pin_letter",
        _ => "subject",
    };
    let reason = if column == "subject" && field != "subject" {
        format!("{field}: {reason}")
    } else {
        reason.replace(
            "(use --force to overwrite)",
            "(give the row another file name, or move that file away)",
        )
    };
    format!("{}, column {column}: {reason}", row.at())
}

/// The request ID of a row: the same for the same batch, procedure, key spec and row content.
fn request_id(batch_id: &str, procedure: &str, key_spec: Option<&str>, row: &Row) -> String {
    let mut data = Vec::new();
    let mut part = |value: Option<&str>| match value {
        None => data.push(0u8),
        Some(v) => {
            data.push(1u8);
            data.extend_from_slice(&(v.len() as u64).to_be_bytes());
            data.extend_from_slice(v.as_bytes());
        }
    };
    part(Some("keyward batch row v1"));
    part(Some(batch_id));
    part(Some(procedure));
    part(key_spec);
    part(Some(&row.number.to_string()));
    part(Some(&row.subject));
    part(row.email.as_deref());
    part(row.pin_email.as_deref());
    part(row.pin_letter.as_deref());
    hex::encode(openssl::sha::sha256(&data))[..32].to_string()
}

/// A `file` column value as a base name: no directories, no leading dot, `.p12` dropped.
fn file_base(given: &str) -> Result<String, String> {
    let trimmed = given
        .strip_suffix(".p12")
        .or_else(|| given.strip_suffix(".P12"))
        .unwrap_or(given);
    if trimmed.is_empty() || trimmed.chars().count() > MAX_FILE_CHARS {
        return Err(format!("give 1 to {MAX_FILE_CHARS} characters"));
    }
    if trimmed.starts_with('.') || trimmed.starts_with('-') {
        return Err(format!("{:?} starts with '.' or '-'", shorten(given)));
    }
    if !trimmed
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'))
    {
        return Err(format!(
            "{:?}: a file name here is letters, digits and - _ . @ + (no directories, no spaces)",
            shorten(given)
        ));
    }
    Ok(trimmed.to_string())
}

/// A file name from the subject's CN (or the whole subject): letters and digits kept, the rest
/// `_`, at most 80 characters; `row-N` when nothing is left.
fn derived_base(row: &Row) -> String {
    let source = DistinguishedName::parse(&row.subject)
        .ok()
        .and_then(|dn| dn.get("CN").map(str::to_string))
        .unwrap_or_else(|| row.subject.clone());
    let mut name = String::new();
    for c in source.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '-' | '.') {
            c
        } else {
            '_'
        };
        if c == '_' && name.ends_with('_') {
            continue;
        }
        name.push(c);
    }
    let name: String = name
        .trim_matches(['_', '.', '-'])
        .chars()
        .take(80)
        .collect();
    let name = name.trim_end_matches(['_', '.', '-']);
    if name.is_empty() {
        format!("row-{}", row.number)
    } else {
        name.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// A buffer for CSV lines with PINs, wiped when dropped.
#[derive(Default)]
struct SecretBuf(Zeroizing<Vec<u8>>);

impl Write for SecretBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn placeholder_file() -> anyhow::Result<File> {
    Ok(tempfile::tempfile()?)
}

fn append_to(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

fn write_results<'a>(
    path: &Path,
    records: impl Iterator<Item = &'a ResultRecord>,
) -> anyhow::Result<()> {
    // The header by hand, so that it is there before the first record.
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record([
        "row",
        "subject",
        "status",
        "certificate_ids",
        "serials",
        "p12",
        "certificate_files",
        "pin",
        "request_id",
        "error",
    ])?;
    for r in records {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_secret(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

fn write_pins(path: &Path, lines: &BTreeMap<usize, PinLine>) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(SecretBuf::default());
    w.write_record(["row", "subject", "p12", "pin"])?;
    for (row, line) in lines {
        w.write_record([
            row.to_string().as_str(),
            &line.subject,
            &line.p12,
            line.pin.as_str(),
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
    write_secret(path, &bytes.0).with_context(|| format!("writing {}", path.display()))
}

/// The records of an earlier run, the last one of each row. A record torn by a kill (the last
/// line, half written) is ignored: its row is not recorded, so it is issued or re-sent.
fn load_results(path: &Path) -> anyhow::Result<BTreeMap<usize, ResultRecord>> {
    let mut records = BTreeMap::new();
    if !path.exists() {
        return Ok(records);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    for record in reader.deserialize::<ResultRecord>() {
        match record {
            Ok(r) if matches!(r.status.as_str(), "issued" | "failed" | "skipped") && r.row > 0 => {
                records.insert(r.row, r);
            }
            _ => continue,
        }
    }
    Ok(records)
}

fn load_pins(path: &Path) -> anyhow::Result<BTreeMap<usize, PinLine>> {
    let mut lines = BTreeMap::new();
    if !path.exists() {
        return Ok(lines);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    for record in reader.records() {
        let Ok(record) = record else { continue };
        if record.len() != 4 {
            continue;
        }
        let Ok(row) = record[0].parse::<usize>() else {
            continue;
        };
        lines.insert(
            row,
            PinLine {
                subject: record[1].to_string(),
                p12: record[2].to_string(),
                pin: Zeroizing::new(record[3].to_string()),
            },
        );
    }
    Ok(lines)
}

fn load_pending(dir: &Path) -> anyhow::Result<BTreeMap<usize, PendingFile>> {
    let mut pending = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(pending);
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(name.starts_with("row-") && name.ends_with(".json")) {
            continue;
        }
        let bytes = Zeroizing::new(
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        );
        let file: PendingFile = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is damaged", path.display()))?;
        pending.insert(file.row, file);
    }
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(number: usize, subject: &str) -> Row {
        Row {
            number,
            line: number as u64 + 1,
            subject: subject.into(),
            email: None,
            key_spec: None,
            pin_email: None,
            pin_letter: None,
            file: None,
        }
    }

    #[test]
    fn derived_names_are_safe() {
        assert_eq!(
            derived_base(&row(1, "CN=Alice Example,O=Example,C=SE")),
            "Alice_Example"
        );
        assert_eq!(derived_base(&row(2, "CN=../../etc/passwd")), "etc_passwd");
        assert_eq!(derived_base(&row(3, "CN=Åsa Öberg")), "Åsa_Öberg");
        assert_eq!(derived_base(&row(4, "CN=***")), "row-4");
        assert_eq!(derived_base(&row(5, "O=Example")), "O_Example");
    }

    #[test]
    fn file_column_is_a_base_name() {
        assert_eq!(file_base("alice.p12").unwrap(), "alice");
        assert_eq!(file_base("bob-2").unwrap(), "bob-2");
        assert!(file_base("../x").is_err());
        assert!(file_base("a/b").is_err());
        assert!(file_base(".hidden").is_err());
        assert!(file_base("with space").is_err());
    }

    #[test]
    fn request_ids_follow_the_row() {
        let a = row(1, "CN=A");
        let id = request_id("b1", "p", None, &a);
        assert_eq!(id.len(), 32);
        assert_eq!(id, request_id("b1", "p", None, &a));
        assert_ne!(id, request_id("b2", "p", None, &a));
        assert_ne!(id, request_id("b1", "p", Some("RSA:2048"), &a));
        assert_ne!(id, request_id("b1", "p", None, &row(2, "CN=A")));
        assert_ne!(id, request_id("b1", "p", None, &row(1, "CN=B")));
    }
}
