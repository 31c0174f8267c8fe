//! Issuing the rows: a worker takes rows off the queue; for each, its order, the request (sent
//! anew or re-sent from a pending file), and recording what it came to.

use std::sync::atomic::{AtomicBool, Ordering};

use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use zeroize::Zeroizing;

use crate::issue::{IssuedToken, PendingRequest, PinSource, Prepared, TokenOrder};
use crate::RaError;
use keyward_crypto::files::write_secret;
use keyward_crypto::{CryptoError, Pin};
use keyward_policy::PinMethod;
use keyward_proto::IssueRequest;

use super::check::pin_columns;
use super::error::BatchError;
use super::journal::{pending_path, PendingFile, PendingKey, PinLine, ResultRecord, PINS_FILE};
use super::{lock, random_hex, unix_now, Ctx, Job};

/// What a row came to.
enum Outcome {
    Issued(Box<IssuedToken>, Option<Pin>),
    Failed {
        error: RaError,
        /// The request may have reached the server: keep the pending file.
        keep_pending: bool,
    },
}

/// Takes rows off the queue until it is empty or the batch stops.
pub(super) async fn worker(ctx: &Ctx) {
    loop {
        if ctx.flags.stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(job) = lock(&ctx.queue).pop_front() else {
            return;
        };
        ctx.progress.row_started(&job.row);
        let outcome = ctx.issue_row(&job).await;
        match ctx.finish_row(&job, outcome) {
            Ok(record) => ctx.progress.row_finished(&job.row, &record),
            Err(e) => {
                ctx.flags.stop.store(true, Ordering::SeqCst);
                lock(&ctx.fatal).get_or_insert(e);
                return;
            }
        }
    }
}

impl Ctx {
    fn order(&self, job: &Job, force: bool) -> TokenOrder {
        TokenOrder {
            qc_statements: Default::default(),
            ac_path: None,
            alt_names: Default::default(),
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
            // The columns were checked with the rows; the same function reads them again.
            PinMethod::Email | PinMethod::Letter => {
                match pin_columns(&job.row, &self.rules, self.unchecked_letter_ids) {
                    Ok(Some(source)) => (source, None),
                    Ok(None) => return failed(RaError::input("pin", "no PIN column"), false),
                    Err((column, reason)) => return failed(RaError::input(column, reason), false),
                }
            }
        };
        let sent = AtomicBool::new(false);
        // The pending file keeps the request and its keys (PIN procedure show, RA-local keys
        // only): a rerun can finish a token that was issued but not written.
        let kept_keys = AtomicBool::new(false);
        let result = prepared
            .execute_with(&self.client, source, |request| {
                self.write_pending(job, request, shown.as_ref())?;
                sent.store(true, Ordering::SeqCst);
                kept_keys.store(
                    shown.is_some() && request.transport.is_none(),
                    Ordering::SeqCst,
                );
                Ok(())
            })
            .await;
        match result {
            Ok(token) => Outcome::Issued(Box::new(token), shown),
            // A refusal of a first send: the server issued nothing.
            Err(e @ RaError::Refused { .. }) if job.pending.is_none() => failed(e, false),
            Err(e) => {
                let sent = sent.load(Ordering::SeqCst);
                let e = if kept_keys.load(Ordering::SeqCst) {
                    self.resumable(job, e)
                } else {
                    e
                };
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
                        Err(e) => return failed(RaError::internal(e.to_string())),
                    };
                    let fresh = (unix_now(), nonce);
                    if let Err(e) = self.rewrite_pending(job, pending, &fresh) {
                        return failed(e);
                    }
                    refreshed = Some(fresh);
                }
                Err(e) => return failed(self.resumable(job, e)),
            }
        }
        failed(RaError::input(
            "request",
            "the server refused the re-sent request",
        ))
    }

    /// Keeps what is needed to finish the row after an interruption, before its request goes.
    /// A token issued but not written whose pending file keeps the request and its keys: not
    /// lost, the rerun finishes it from the server's recorded answer.
    fn resumable(&self, job: &Job, error: RaError) -> RaError {
        match error {
            RaError::Undelivered(mut u) => {
                u.advice = format!(
                    "Its request and key are kept in {}: once the directory takes the files, rerun the same command within about 10 minutes (while the server keeps its answer) to finish the token; no second certificate is issued",
                    pending_path(&self.pending_dir, job.row.number).display()
                );
                RaError::Undelivered(u)
            }
            other => other,
        }
    }

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
            error: std::io::Error::other(e),
        })?);
        write_secret(&path, &bytes).map_err(|error| RaError::Io { path, error })
    }

    pub(super) fn record(&self, job: &Job, status: &str) -> ResultRecord {
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

    /// Records the row (PIN first, then the result, each fsynced), then drops its pending file;
    /// returns the record.
    fn finish_row(&self, job: &Job, outcome: Outcome) -> Result<ResultRecord, BatchError> {
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
                let recorded = record.clone();
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
                Ok(recorded)
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
                record.error = message;
                let recorded = record.clone();
                lock(&self.journal).append_result(record)?;
                if !keep_pending {
                    let _ = std::fs::remove_file(&pending);
                }
                if fatal {
                    self.flags.stop.store(true, Ordering::SeqCst);
                    lock(&self.fatal).get_or_insert(BatchError::Ra(error));
                }
                Ok(recorded)
            }
        }
    }
}

/// Errors that will fail every row alike: stop taking rows.
fn is_fatal(e: &RaError) -> bool {
    match e {
        RaError::Config { .. }
        | RaError::Officer { .. }
        | RaError::WrongSignaturePin(_)
        | RaError::Transport { .. }
        | RaError::Untrusted { .. }
        | RaError::Io { .. }
        | RaError::Undelivered(_) => true,
        RaError::Refused { status, .. } => *status == 401 || *status == 403,
        RaError::Input { .. } | RaError::Crypto(_) | RaError::Internal(_) => false,
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
