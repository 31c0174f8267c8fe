//! `keyward ra batch`: the options, the progress bar, Ctrl-C, the summary and the exit codes
//! around the batch engine of [`keyward_ra::batch`].

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use keyward_ra::batch::{
    Batch, BatchError, BatchOptions, Progress, ResultRecord, Row, Stopper, Summary,
};
use keyward_ra::{ClientConfig, RaClient};

use crate::cli::BatchArgs;
use crate::output::{input_error, print_json};

/// Exit code when the batch ran but some rows failed (README, "Exit codes").
pub(crate) const EXIT_SOME_FAILED: i32 = 10;
/// Exit code after Ctrl-C: the tokens in flight were finished and recorded.
pub(crate) const EXIT_INTERRUPTED: i32 = 130;

/// The batch ran to its end (or to Ctrl-C) but not every row was issued; the results file says
/// which. Exit code [`EXIT_SOME_FAILED`] or [`EXIT_INTERRUPTED`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct BatchIncomplete {
    /// The exit code.
    pub code: i32,
    message: String,
}

/// A batch error with the exit code it has always had: 2 for input, the RA's own code for an
/// RA error, else 1.
fn batch_error(e: BatchError) -> anyhow::Error {
    match e {
        BatchError::Input(message) => input_error(message),
        BatchError::Ra(e) => anyhow::Error::new(e),
        other => anyhow::Error::new(other),
    }
}

/// The progress bar on a terminal; else a line per row on stderr (not with `--json`).
struct Bar {
    bar: ProgressBar,
    /// Per-row lines on stderr (when the bar is hidden and the output is not JSON).
    lines: bool,
    json: bool,
}

impl Bar {
    fn println(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl Progress for Bar {
    fn row_started(&self, row: &Row) {
        self.bar.set_message(format!(
            "row {}: {}",
            row.number,
            keyward_policy::subject::printable(&row.subject)
        ));
    }

    fn checking(&self, phase: &'static str, done: usize, rows: usize) {
        if rows == 0 {
            self.bar.set_message(format!("{phase}: {done}"));
        } else {
            self.bar.set_length(rows as u64);
            self.bar.set_position(done as u64);
            self.bar.set_message(phase);
        }
    }

    fn row_finished(&self, row: &Row, record: &ResultRecord) {
        if record.status == "issued" {
            if self.lines {
                eprintln!(
                    "row {}: issued, Certificate ID {} → {}",
                    row.number, record.certificate_ids, record.p12
                );
            }
        } else {
            let line = format!(
                "row {} ({}): failed: {}",
                row.number,
                keyward_policy::subject::printable(&row.subject),
                record.error
            );
            if self.lines {
                eprintln!("{line}");
            } else if !self.json {
                self.bar.println(line);
            }
        }
        self.bar.inc(1);
    }
}

/// `keyward ra batch`.
pub(crate) async fn run(
    config: ClientConfig,
    client: RaClient,
    args: BatchArgs,
) -> anyhow::Result<()> {
    let jobs = usize::from(args.jobs);
    let options = BatchOptions {
        csv: args.csv.clone(),
        procedure: args.procedure.clone(),
        out_dir: args.out_dir.clone(),
        jobs,
        key_spec: args.key_spec.clone(),
        key_pool: args.key_pool.map(usize::from),
        results: args.results.clone(),
        unchecked_letter_ids: args.unchecked_letter_id,
    };
    // One bar for both phases: the checks (every row, before anything is issued), then the
    // issuance.
    let show_bar = std::io::stderr().is_terminal() && !args.json;
    let bar = ProgressBar::new(0);
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
    let bar = Arc::new(Bar {
        bar,
        lines: !show_bar && !args.json,
        json: args.json,
    });
    let opened = Batch::open(client, &config, options, bar.as_ref()).await;
    let batch = match opened {
        Ok(batch) => batch,
        Err(e) => {
            bar.bar.finish_and_clear();
            return Err(batch_error(e));
        }
    };
    let todo = batch.to_issue();
    bar.bar.set_length(todo as u64);
    bar.bar.set_position(0);
    bar.bar.set_message("");
    bar.bar.reset_elapsed();
    bar.bar.reset_eta();
    if !args.json {
        let already = batch.already_issued().len();
        let note = if already == 0 {
            String::new()
        } else {
            format!("; skipping {already} row(s) issued by an earlier run")
        };
        bar.println(format!(
            "Batch {}: {} rows, token procedure {} ({} PINs), {todo} to issue with {jobs} job(s){note}",
            batch.batch_id(),
            batch.rows(),
            args.procedure,
            batch.pin_method().name()
        ));
    }

    let signals = tokio::spawn(on_ctrl_c(batch.stopper(), bar.clone()));
    let result = batch.run(bar.clone()).await;
    signals.abort();
    bar.bar.finish_and_clear();
    let summary = result.map_err(batch_error)?;
    report(&summary, args.json)?;
    outcome(summary)
}

/// The first Ctrl-C stops the batch after the tokens in flight; a second quits at once.
async fn on_ctrl_c(stopper: Stopper, bar: Arc<Bar>) {
    if tokio::signal::ctrl_c().await.is_ok() {
        stopper.interrupt();
        bar.println("Interrupted: finishing the tokens in flight (Ctrl-C again to quit at once); rerun the same command to resume.".into());
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(EXIT_INTERRUPTED);
        }
    }
}

/// The summary: JSON (`--json`), else three lines on stdout.
fn report(s: &Summary, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(s);
    }
    let (issued, failed, skipped) = (s.count("issued"), s.count("failed"), s.count("skipped"));
    let already = s.already_issued.len();
    println!(
        "{issued} of {} rows issued ({} now, {already} by an earlier run), {failed} failed, {skipped} not attempted.",
        s.rows,
        issued - already,
    );
    println!("Results: {}", s.results_path.display());
    if let (Some(p), true) = (&s.pins_path, s.pins_written) {
        println!(
            "PINs: {} (mode 0600): hand each PIN to its holder, then delete the file.",
            p.display()
        );
    }
    Ok(())
}

/// The error (and exit code) the run ends with: the one that stopped it, an interruption, or
/// rows not issued.
fn outcome(s: Summary) -> anyhow::Result<()> {
    let issued = s.count("issued");
    let not_issued = s.count("failed") + s.count("skipped");
    let (total, results) = (s.rows, s.results_path.display());
    if let Some(e) = s.fatal {
        return Err(batch_error(e).context(format!(
            "batch stopped: {issued} of {total} rows issued, results in {results}; rerun the same command to resume"
        )));
    }
    if s.interrupted {
        return Err(anyhow::Error::new(BatchIncomplete {
            code: EXIT_INTERRUPTED,
            message: format!(
                "interrupted: {issued} of {total} rows issued; rerun the same command to resume"
            ),
        }));
    }
    if not_issued > 0 {
        return Err(anyhow::Error::new(BatchIncomplete {
            code: EXIT_SOME_FAILED,
            message: format!(
                "{not_issued} of {total} rows not issued (see {results}); rerun the same command to retry them"
            ),
        }));
    }
    Ok(())
}
