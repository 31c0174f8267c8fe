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

mod check;
mod input;
mod journal;
mod runner;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::IsTerminal;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use keyward_crypto::files::write_secret;
use keyward_crypto::KeyPool;
use keyward_policy::{KeySpecList, PinMethod, PinProcedure};
use keyward_proto::ProcedureList;
use keyward_ra::issue::key_spec_list;
use keyward_ra::RaClient;

use crate::cli::BatchArgs;
use crate::output::{input_error, print_json};
use crate::ra::Session;

use check::{check_rows, CheckInput};
use input::{read_rows, Row};
use journal::{
    load_pending, load_pins, load_results, pending_path, placeholder_file, Journal, PendingFile,
    ResultRecord, State, PENDING_DIR, PINS_FILE, RESULTS_FILE, STATE_FILE,
};
use runner::worker;

/// Exit code when the batch ran but some rows failed (README, "Exit codes").
pub const EXIT_SOME_FAILED: i32 = 10;
/// Exit code after Ctrl-C: the tokens in flight were finished and recorded.
pub const EXIT_INTERRUPTED: i32 = 130;

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
