//! Opening a batch: the rows read and checked, the token procedure resolved, the output
//! directory and what earlier runs recorded in it, the state written and the queue built.

use std::collections::{BTreeMap, VecDeque};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;

use keyward_crypto::files::write_secret;
use keyward_policy::{KeySpec, KeySpecList, PinMethod, PinProcedure};
use keyward_proto::ProcedureList;

use crate::files::check_writable;
use crate::issue::key_spec_list;
use crate::RaError;
use crate::{ClientConfig, RaClient};

use super::check::{check_rows, request_id, CheckInput, Planned};
use super::error::{file_error, input_error, BatchError};
use super::input::RowReader;
use super::journal::{
    load_pending, load_pins, load_results, pending_path, placeholder_file, Journal, PendingFile,
    PinLine, ResultRecord, State, PENDING_DIR, PINS_FILE, RESULTS_FILE, STATE_FILE,
};
use super::{random_hex, unix_now, Batch, BatchOptions, Flags, Job, Progress};

/// The key specs and the token procedure's rules, from the server.
struct Resolved {
    list: KeySpecList,
    batch_spec: KeySpec,
    procedures: ProcedureList,
    rules: PinProcedure,
}

/// The output directory and the files of the batch in it.
struct Layout {
    dir: PathBuf,
    /// Made by this run: removed again if a row is bad.
    created_dir: bool,
    state_path: PathBuf,
    pending_dir: PathBuf,
    pins_path: Option<PathBuf>,
    results_path: PathBuf,
    /// The batch being resumed.
    previous: Option<State>,
}

/// What earlier runs recorded.
struct Earlier {
    records: BTreeMap<usize, ResultRecord>,
    pin_lines: BTreeMap<usize, PinLine>,
    pending: BTreeMap<usize, PendingFile>,
}

/// See [`Batch::open`].
pub(super) async fn open(
    client: RaClient,
    config: &ClientConfig,
    options: BatchOptions,
    progress: &dyn Progress,
) -> Result<Batch, BatchError> {
    // The CSV's structure is checked before the server is asked anything; its rows are read
    // again, one at a time, by the checks.
    progress.checking("reading rows", 0, 0);
    let mut reader = RowReader::open(&options.csv)?;
    let rows = reader.count(progress)?;
    progress.checking("reading rows", rows, rows);
    let resolved = resolve(&client, config, &options).await?;
    let layout = Layout::prepare(&options, &resolved.rules)?;
    let batch_id = match &layout.previous {
        Some(s) => s.batch_id.clone(),
        None => random_hex(16)?,
    };
    let mut earlier = Earlier::load(&layout)?;

    // Check every row before anything is issued.
    let prepared = check_rows(
        &CheckInput {
            csv: &options.csv,
            rows,
            list: &resolved.list,
            procedures: &resolved.procedures,
            procedure: &options.procedure,
            rules: &resolved.rules,
            unchecked_letter_ids: options.unchecked_letter_ids,
            key_spec: options.key_spec.as_deref(),
            batch_id: &batch_id,
            dir: &layout.dir,
            records: &earlier.records,
            pending: &earlier.pending,
            progress,
        },
        &mut reader,
    );
    // The rows are read once more to be queued: still before the batch state is written.
    let queued = prepared.and_then(|plan| {
        build_queue(
            &options,
            &batch_id,
            &mut reader,
            plan,
            &earlier.records,
            &mut earlier.pending,
        )
    });
    let queue = match queued {
        Ok(queue) => queue,
        Err(e) => {
            if layout.created_dir {
                let _ = std::fs::remove_dir(&layout.dir);
            }
            return Err(e);
        }
    };

    earlier.settle(&layout.pending_dir);
    layout.write_state(&options, &batch_id)?;
    let already: Vec<usize> = earlier.records.keys().copied().collect();
    let mut journal = Journal {
        results_path: layout.results_path.clone(),
        results: placeholder_file()?,
        pins_path: layout.pins_path.clone(),
        pins: None,
        records: earlier.records,
        pin_lines: earlier.pin_lines,
    };
    journal.compact()?;
    Ok(Batch {
        client,
        options,
        list: resolved.list,
        batch_spec: resolved.batch_spec,
        procedures: resolved.procedures,
        rules: resolved.rules,
        pending_dir: layout.pending_dir,
        queue,
        journal,
        flags: Arc::new(Flags::default()),
        batch_id,
        rows,
        already,
        results_path: layout.results_path,
        pins_path: layout.pins_path,
    })
}

/// The rows to issue, read once more: each as checked (the request ID is computed again, so
/// that a CSV changed since the checks is refused rather than issued unchecked).
fn build_queue(
    options: &BatchOptions,
    batch_id: &str,
    reader: &mut RowReader,
    plan: Vec<Planned>,
    records: &BTreeMap<usize, ResultRecord>,
    pending: &mut BTreeMap<usize, PendingFile>,
) -> Result<VecDeque<Job>, BatchError> {
    let mut queue = VecDeque::new();
    let mut plan = plan.into_iter().peekable();
    reader.rewind()?;
    while let Some(row) = reader.next_row()? {
        let Some(planned) = plan.next_if(|p| p.number == row.number) else {
            continue;
        };
        if records.contains_key(&row.number) {
            continue;
        }
        let key_spec = row.key_spec.as_deref().or(options.key_spec.as_deref());
        let request_id = request_id(batch_id, &options.procedure, key_spec, &row);
        if request_id != planned.request_id() {
            return Err(input_error(format!(
                "--csv {}: {} changed while the batch was being checked; nothing was issued",
                options.csv.display(),
                row.at()
            )));
        }
        let left = pending.remove(&row.number);
        queue.push_back(Job {
            row,
            file: planned.file.into(),
            request_id,
            pending: left,
        });
    }
    if plan.next().is_some() {
        return Err(input_error(format!(
            "--csv {}: rows went missing while the batch was being checked; nothing was issued",
            options.csv.display()
        )));
    }
    Ok(queue)
}

/// The key spec list, the batch's key spec and the token procedure's PIN rules; a batch
/// cannot use PIN method `enter`.
async fn resolve(
    client: &RaClient,
    config: &ClientConfig,
    options: &BatchOptions,
) -> Result<Resolved, BatchError> {
    let list = key_spec_list(client, config).await?;
    let batch_spec = list
        .choose(options.key_spec.as_deref())
        .map_err(|e| input_error(format!("--key-spec: {e}")))?;
    let procedures = client.procedures(None).await?;
    let resolved = procedures
        .token_procedures
        .iter()
        .find(|t| t.token.name == options.procedure)
        .ok_or_else(|| {
            input_error(format!(
                "--procedure: no token procedure named {:?} (see `keyward ra procedures`)",
                options.procedure
            ))
        })?;
    let rules = resolved.pin.clone();
    if rules.method == PinMethod::Enter {
        return Err(input_error(format!(
            "--procedure: token procedure {} uses PIN procedure {} (method enter), where the officer types each PIN; a batch cannot. Use a token procedure whose PIN procedure is show (PINs written to {PINS_FILE}), email or letter (columns pin_email or pin_postal_address, pin_letter)",
            options.procedure, rules.name
        )));
    }
    Ok(Resolved {
        list,
        batch_spec,
        procedures,
        rules,
    })
}

impl Layout {
    /// The output directory (made if missing) and the batch state: new, or the one being
    /// resumed, which must have been started with the same options.
    fn prepare(options: &BatchOptions, rules: &PinProcedure) -> Result<Layout, BatchError> {
        let dir = options.out_dir.clone();
        let created_dir = !dir.exists();
        if created_dir {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(file_error(|| {
                    format!("creating --out-dir {}", dir.display())
                }))?;
        } else if !dir.is_dir() {
            return Err(input_error(format!(
                "--out-dir: {} is not a directory",
                dir.display()
            )));
        } else {
            // Once for every row: a file created and removed (the rows' checks skip it).
            check_writable(&dir.join(STATE_FILE), "out-dir").map_err(|e| match e {
                RaError::Input { reason, .. } => input_error(format!("--out-dir: {reason}")),
                other => BatchError::Ra(other),
            })?;
        }
        let state_path = dir.join(STATE_FILE);
        let pending_dir = dir.join(PENDING_DIR);
        let pins_path = (rules.method == PinMethod::Show).then(|| dir.join(PINS_FILE));
        let previous: Option<State> = if state_path.exists() {
            let text = std::fs::read_to_string(&state_path)
                .map_err(file_error(|| format!("reading {}", state_path.display())))?;
            let state: State = serde_json::from_str(&text).map_err(file_error(|| {
                format!("{} is damaged", state_path.display())
            }))?;
            Some(state)
        } else {
            None
        };
        let results_path = match (&previous, &options.results) {
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
        let layout = Layout {
            dir,
            created_dir,
            state_path,
            pending_dir,
            pins_path,
            results_path,
            previous,
        };
        layout.check_resume(options)?;
        Ok(layout)
    }

    /// A resumed batch runs with the options it started with; a new one in a directory
    /// holding none of the batch's files.
    fn check_resume(&self, options: &BatchOptions) -> Result<(), BatchError> {
        let dir = &self.dir;
        let Some(s) = &self.previous else {
            for path in [
                Some(&self.results_path),
                self.pins_path.as_ref(),
                Some(&self.pending_dir),
            ]
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
            return Ok(());
        };
        if s.procedure != options.procedure {
            return Err(input_error(format!(
                "--procedure: the batch in {} was started with --procedure {}; resume it with the same, or use another --out-dir",
                dir.display(),
                s.procedure
            )));
        }
        if s.key_spec != options.key_spec {
            return Err(input_error(format!(
                "--key-spec: the batch in {} was started with {}; resume it with the same, or use another --out-dir",
                dir.display(),
                s.key_spec
                    .as_deref()
                    .map(|k| format!("--key-spec {k}"))
                    .unwrap_or_else(|| "no --key-spec".into())
            )));
        }
        Ok(())
    }

    /// Writes the state of a new batch and makes the pending directory.
    fn write_state(&self, options: &BatchOptions, batch_id: &str) -> Result<(), BatchError> {
        if self.previous.is_none() {
            let state = State {
                version: 1,
                batch_id: batch_id.to_string(),
                procedure: options.procedure.clone(),
                key_spec: options.key_spec.clone(),
                csv: options.csv.display().to_string(),
                results: self.results_path.clone(),
                started: unix_now(),
            };
            write_secret(&self.state_path, &serde_json::to_vec_pretty(&state)?).map_err(
                file_error(|| format!("writing {}", self.state_path.display())),
            )?;
        }
        if !self.pending_dir.exists() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&self.pending_dir)
                .map_err(file_error(|| {
                    format!("creating {}", self.pending_dir.display())
                }))?;
        }
        Ok(())
    }
}

impl Earlier {
    /// The results, PINs and pending requests of earlier runs; only issued rows stay
    /// recorded: failed and skipped ones are tried again.
    fn load(layout: &Layout) -> Result<Earlier, BatchError> {
        let mut records = load_results(&layout.results_path)?;
        let pin_lines = match &layout.pins_path {
            Some(p) => load_pins(p)?,
            None => BTreeMap::new(),
        };
        let pending = load_pending(&layout.pending_dir)?;
        records.retain(|_, r| r.status == "issued");
        Ok(Earlier {
            records,
            pin_lines,
            pending,
        })
    }

    /// Drops the PINs of rows not issued and the stale pending files of issued rows.
    fn settle(&mut self, pending_dir: &std::path::Path) {
        self.pin_lines
            .retain(|row, _| self.records.contains_key(row));
        for row in self.records.keys() {
            if self.pending.remove(row).is_some() {
                let _ = std::fs::remove_file(pending_path(pending_dir, *row));
            }
        }
    }
}
