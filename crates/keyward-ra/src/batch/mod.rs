//! Batches: one soft token per CSV row, N in flight at once, reported row by row, a
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
//!
//! The engine is shared by every front end (the CLI's `keyward ra batch`, the RA
//! application): [`Batch::open`] reads and checks the rows and resumes an earlier run,
//! [`Batch::run`] issues them with N workers, reporting each row to a [`Progress`], and returns
//! a [`Summary`]; a [`Stopper`] interrupts it (the tokens in flight are finished and recorded).

mod check;
mod error;
mod input;
mod journal;
mod names;
mod open;
mod runner;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use keyward_crypto::KeyPool;
use keyward_policy::{KeySpec, KeySpecList, PinMethod, PinProcedure};
use keyward_proto::ProcedureList;

use crate::{ClientConfig, RaClient};

pub use error::BatchError;
pub use input::{parse_rows, Row};
pub use journal::ResultRecord;

use journal::{Journal, PendingFile};
use runner::worker;

/// What to issue, and where: the options of `keyward ra batch`.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// The input CSV.
    pub csv: PathBuf,
    /// Token procedure for every row.
    pub procedure: String,
    /// Directory for the tokens, the results, the PINs and the batch state.
    pub out_dir: PathBuf,
    /// Tokens in flight at once.
    pub jobs: usize,
    /// Key spec of rows without a `key_spec` column value.
    pub key_spec: Option<String>,
    /// Keys of the batch's key spec to keep generated ahead.
    pub key_pool: Option<usize>,
    /// The results CSV (default: `results.csv` in the output directory).
    pub results: Option<PathBuf>,
    /// Column `pin_letter` may hold bare numbers, for letters printed without check digits
    /// (`--unchecked-letter-id`).
    pub unchecked_letter_ids: bool,
}

/// Told about each row as it is taken up and recorded (a progress bar, per-row lines).
pub trait Progress: Send + Sync {
    /// A worker takes up `row`.
    fn row_started(&self, row: &Row);
    /// `row` is recorded: `record.status` is `issued` or `failed` (with `record.error`).
    fn row_finished(&self, row: &Row, record: &ResultRecord);
    /// [`Batch::open`] is at row `done` of `rows` in `phase` ("reading rows": `rows` is 0 while
    /// the rows are counted; "checking file names", "checking rows"). Told every thousand rows
    /// and at the end of each phase.
    fn checking(&self, phase: &'static str, done: usize, rows: usize) {
        let _ = (phase, done, rows);
    }
}

#[derive(Debug, Default)]
struct Flags {
    /// No more rows are taken up.
    stop: AtomicBool,
    /// Stopped by [`Stopper::interrupt`].
    interrupted: AtomicBool,
}

/// Interrupts a running batch: no further row is taken up; the rows in flight are finished
/// and recorded.
#[derive(Debug, Clone)]
pub struct Stopper(Arc<Flags>);

impl Stopper {
    /// Stops the batch as interrupted (the CLI's Ctrl-C).
    pub fn interrupt(&self) {
        self.0.interrupted.store(true, Ordering::SeqCst);
        self.0.stop.store(true, Ordering::SeqCst);
    }
}

/// One row to issue in this run.
struct Job {
    row: Row,
    file: String,
    request_id: String,
    /// Left by an interrupted run: the request may have reached the server.
    pending: Option<PendingFile>,
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
    unchecked_letter_ids: bool,
    key_spec: Option<String>,
    dir: PathBuf,
    pending_dir: PathBuf,
    queue: Mutex<VecDeque<Job>>,
    journal: Mutex<Journal>,
    flags: Arc<Flags>,
    fatal: Mutex<Option<BatchError>>,
    progress: Arc<dyn Progress>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A batch ready to run: every row checked, what earlier runs did read back, the batch state
/// written.
pub struct Batch {
    client: RaClient,
    options: BatchOptions,
    list: KeySpecList,
    batch_spec: KeySpec,
    procedures: ProcedureList,
    rules: PinProcedure,
    pending_dir: PathBuf,
    queue: VecDeque<Job>,
    journal: Journal,
    flags: Arc<Flags>,
    batch_id: String,
    rows: usize,
    already: Vec<usize>,
    results_path: PathBuf,
    pins_path: Option<PathBuf>,
}

/// What a batch run came to. [`Summary::fatal`] is the error that stopped it, if one did.
/// Serialized (the CLI's `--json`) as `batch_id`, `token_procedure`, `results_file`,
/// `pins_file`, `summary` (the counts), `already_issued_rows` and `rows` (the records; never a
/// PIN).
#[derive(Debug)]
pub struct Summary {
    /// The batch ID.
    pub batch_id: String,
    /// The token procedure.
    pub procedure: String,
    /// Rows in the CSV.
    pub rows: usize,
    /// Rows issued by an earlier run (skipped in this one).
    pub already_issued: Vec<usize>,
    /// The results CSV.
    pub results_path: PathBuf,
    /// `pins.csv` (PIN procedure `show`).
    pub pins_path: Option<PathBuf>,
    /// One record per row, in row order.
    pub records: Vec<ResultRecord>,
    /// `pins.csv` holds at least one PIN.
    pub pins_written: bool,
    /// Stopped by [`Stopper::interrupt`].
    pub interrupted: bool,
    /// The error that stopped the batch (rows not attempted are recorded as skipped).
    pub fatal: Option<BatchError>,
}

impl Summary {
    /// Rows recorded with `status` (`issued`, `failed`, `skipped`).
    pub fn count(&self, status: &str) -> usize {
        self.records.iter().filter(|r| r.status == status).count()
    }
}

impl serde::Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let issued = self.count("issued");
        let already = self.already_issued.len();
        serde_json::json!({
            "batch_id": self.batch_id,
            "token_procedure": self.procedure,
            "results_file": self.results_path,
            "pins_file": self.pins_path,
            "summary": {
                "rows": self.rows,
                "issued": issued,
                "issued_now": issued - already,
                "already_issued": already,
                "failed": self.count("failed"),
                "skipped": self.count("skipped"),
            },
            "already_issued_rows": self.already_issued,
            "rows": self.records,
        })
        .serialize(serializer)
    }
}

impl Batch {
    /// Reads and checks every row (nothing is issued when one is bad), resumes the batch in
    /// the output directory if there is one, and writes the batch state.
    /// `progress` is told how far the checks are ([`Progress::checking`]).
    pub async fn open(
        client: RaClient,
        config: &ClientConfig,
        options: BatchOptions,
        progress: &dyn Progress,
    ) -> Result<Batch, BatchError> {
        open::open(client, config, options, progress).await
    }

    /// The batch ID.
    pub fn batch_id(&self) -> &str {
        &self.batch_id
    }

    /// Rows in the CSV.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows this run will issue.
    pub fn to_issue(&self) -> usize {
        self.queue.len()
    }

    /// Rows issued by an earlier run.
    pub fn already_issued(&self) -> &[usize] {
        &self.already
    }

    /// The PIN method of the token procedure.
    pub fn pin_method(&self) -> PinMethod {
        self.rules.method
    }

    /// A handle that interrupts [`Batch::run`].
    pub fn stopper(&self) -> Stopper {
        Stopper(self.flags.clone())
    }

    /// Issues the rows, `jobs` at once, until they are done, an error stops every row alike,
    /// or the batch is interrupted; rows never started are recorded as skipped, and both
    /// files are rewritten once, sorted.
    pub async fn run(self, progress: Arc<dyn Progress>) -> Result<Summary, BatchError> {
        let todo = self.queue.len();
        let workers = self.options.jobs.min(todo.max(1));
        let ctx = Arc::new(Ctx {
            client: self.client,
            key_pool: self
                .options
                .key_pool
                .map(|n| Arc::new(KeyPool::new(vec![(self.batch_spec, n)]))),
            list: self.list,
            procedures: self.procedures,
            procedure: self.options.procedure.clone(),
            rules: self.rules,
            unchecked_letter_ids: self.options.unchecked_letter_ids,
            key_spec: self.options.key_spec,
            dir: self.options.out_dir,
            pending_dir: self.pending_dir,
            queue: Mutex::new(self.queue),
            journal: Mutex::new(self.journal),
            flags: self.flags,
            fatal: Mutex::new(None),
            progress,
        });
        let procedure = self.options.procedure.clone();
        run_workers(&ctx, workers).await;
        let records = ctx.finish()?;
        let pins_written = !lock(&ctx.journal).pin_lines.is_empty();
        let fatal = lock(&ctx.fatal).take();
        Ok(Summary {
            batch_id: self.batch_id,
            procedure,
            rows: self.rows,
            already_issued: self.already,
            results_path: self.results_path,
            pins_path: self.pins_path,
            records,
            pins_written,
            interrupted: ctx.flags.interrupted.load(Ordering::SeqCst),
            fatal,
        })
    }
}

/// Runs `n` workers until the queue is empty or the batch stops.
async fn run_workers(ctx: &Arc<Ctx>, n: usize) {
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..n {
        let ctx = ctx.clone();
        workers.spawn(async move { worker(&ctx).await });
    }
    while let Some(done) = workers.join_next().await {
        if let Err(e) = done {
            ctx.flags.stop.store(true, Ordering::SeqCst);
            lock(&ctx.fatal).get_or_insert_with(|| BatchError::Worker(e.to_string()));
        }
    }
}

impl Ctx {
    /// Records the rows never started as skipped, rewrites both files, removes an empty
    /// pending directory; returns every record in row order.
    fn finish(&self) -> Result<Vec<ResultRecord>, BatchError> {
        let left: Vec<Job> = lock(&self.queue).drain(..).collect();
        let reason = if self.flags.interrupted.load(Ordering::SeqCst) {
            "not attempted: the batch was interrupted (rerun the same command to resume)"
        } else {
            "not attempted: the batch stopped after an error (rerun the same command to resume)"
        };
        let mut journal = lock(&self.journal);
        for job in &left {
            let mut record = self.record(job, "skipped");
            record.error = reason.to_string();
            journal.records.insert(job.row.number, record);
        }
        journal.compact()?;
        if std::fs::read_dir(&self.pending_dir).is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(&self.pending_dir);
        }
        Ok(journal.records.values().cloned().collect())
    }
}

fn random_hex(bytes: usize) -> Result<String, BatchError> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf).map_err(BatchError::Random)?;
    Ok(hex::encode(buf))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
