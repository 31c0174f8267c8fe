//! The PIN mail queue, drained by the Secure Printer (role `manage-pin-letters`).
//!
//! The server sends SMTP mail itself (the SMTP settings and credentials stay in cm.conf) and
//! hands the PINs of mail that must be printed to the Secure Printer, sealed to its one-time
//! transport key. A PIN is deleted from the store once its mail is sent or printed; a failed
//! send is recorded and retried on the next run, up to `pin-mailer.max-attempts`.

use std::sync::Arc;

use serde_json::json;
use zeroize::Zeroizing;

use keyward_kra::{Envelope, Kra};
use keyward_mailer::smtp::PinMail as Mail;
use keyward_proto::{
    DeliverPinMail, PinMailDelivery, PinMailIds, PinMailInfo, PinMailSecret, PIN_MAIL_PRINT_CONTEXT,
};
use keyward_store::{
    AuditCategory, NewAudit, Officer, Outcome, PinDelivery, PinMail, PinMailQuery, PinMailState,
};

use super::pin_mailer::PinMailer;
use super::token_pin::PIN_MAIL_PURPOSE;
use super::{check_request_id, rfc3339, seal_for, PinDesk, Refusal};

/// How long a Secure Printer run holds the PIN mail it took (a crashed run's mail is free
/// again after this).
const CLAIM_SECS: i64 = 300;

/// Most mails one Secure Printer call handles.
const MAX_BATCH: u32 = 1000;

/// Attempts before a mail is marked failed while no SMTP server is configured (cm.conf's
/// default for `pin-mailer.max-attempts`).
const DEFAULT_MAX_ATTEMPTS: i64 = 5;

/// Why an SMTP mail was not sent when cm.conf names no SMTP server, and how to fix it.
const NO_SMTP_SERVER: &str = "no SMTP server is configured: add pin-mailer.* to \
     cm.conf and send the server SIGHUP (or restart it)";

/// The text of a PIN mail or printed PIN letter (both say the same).
pub fn pin_mail_text(subject: &str, certificate_ids: &str, pin: &str) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "A soft token (PKCS#12 file) has been issued for\n\n    {subject}\n\n\
         (Certificate ID {certificate_ids}). The PIN that opens it is:\n\n    {pin}\n\n\
         Keep this PIN secret and apart from the token file. Destroy this message once you \
         have opened your token and, where your software allows it, changed the PIN.\n"
    ))
}

/// The subject line of a PIN mail.
pub const PIN_MAIL_SUBJECT: &str = "The PIN of your soft token";

fn info(m: &PinMail) -> PinMailInfo {
    PinMailInfo {
        id: m.id.to_string(),
        recipient: m.recipient.clone(),
        delivery: m.delivery.as_str().to_string(),
        subject: m.subject.clone(),
        token_procedure: m.token_procedure.clone(),
        certificate_ids: m.certificate_ids.clone(),
        officer: m.officer.clone(),
        state: m.state.as_str().to_string(),
        attempts: m.attempts,
        last_error: m.last_error.clone(),
        queued_at: rfc3339(m.queued_at),
        delivered_at: m.delivered_at.map(rfc3339),
    }
}

/// Sends one PIN mail over SMTP with `mailer` (in a blocking task).
async fn send(mailer: Option<Arc<PinMailer>>, m: &PinMail, pin: &str) -> Result<(), String> {
    let mailer = mailer.ok_or(NO_SMTP_SERVER)?;
    let mail = Mail {
        to: m.recipient.clone(),
        subject: PIN_MAIL_SUBJECT.into(),
        body: pin_mail_text(&m.subject, &m.certificate_ids, pin),
    };
    let server = mailer.mailer.server();
    tokio::task::spawn_blocking(move || mailer.mailer.send(&mail).map_err(|e| e.to_string()))
        .await
        .map_err(|_| format!("SMTP server {server}: the sending task failed"))?
}

fn open_pin(kra: &Kra, m: &PinMail) -> Result<Zeroizing<Vec<u8>>, String> {
    let sealed = m.sealed.clone().ok_or("the PIN was deleted")?;
    let envelope = Envelope {
        kek_id: m.kek_id.clone(),
        sealed,
    };
    kra.open_secret(&envelope, PIN_MAIL_PURPOSE, &m.request_id)
        .map_err(|e| e.to_string())
}

fn audit(
    officer: &Officer,
    action: &str,
    outcome: Outcome,
    m: &PinMail,
    detail: serde_json::Value,
) -> NewAudit {
    let mut detail = detail;
    detail["recipient"] = json!(m.recipient);
    detail["certificate_ids"] = json!(m.certificate_ids);
    NewAudit {
        category: AuditCategory::PinDistribution,
        action: action.into(),
        officer: Some(officer.name.clone()),
        outcome,
        object: Some(m.id.to_string()),
        detail,
    }
}

fn parse_ids(ids: &[String]) -> Result<Vec<i64>, Refusal> {
    if ids.is_empty() || ids.len() > MAX_BATCH as usize {
        return Err(Refusal::invalid(
            "ids",
            format!("give 1 to {MAX_BATCH} IDs"),
        ));
    }
    ids.iter()
        .map(|id| {
            id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Refusal::invalid("ids", "a PIN mail ID is a positive decimal number")
            })
        })
        .collect()
}

impl PinDesk {
    /// Puts `mailer` (from a reloaded cm.conf) in force for the delivery runs that start from
    /// now on; a run under way finishes with the mailer it started with.
    pub fn replace_pin_mailer(&self, mailer: Option<PinMailer>) {
        self.pin_mailer.replace(mailer);
    }

    /// How many PIN mails wait in the queue (for the metrics).
    pub async fn queued_mail_count(&self) -> Result<i64, keyward_store::StoreError> {
        self.store.queued_pin_mail_count().await
    }

    /// Sends queued SMTP PIN mail and returns the PINs of mail to print; needs
    /// `manage-pin-letters`.
    pub async fn deliver_pin_mail(
        &self,
        officer: &Officer,
        req: DeliverPinMail,
    ) -> Result<PinMailDelivery, Refusal> {
        self.require_pin_role(officer, "deliver-pin-mail").await?;
        check_request_id(&req.request_id)?;
        let recipient = Kra::transport_key(&req.transport_key)
            .map_err(|e| Refusal::invalid("transport_key", e.to_string()))?;
        let limit = i64::from(req.limit.clamp(1, MAX_BATCH));
        // One mailer for the whole run, even if cm.conf is reloaded meanwhile.
        let mailer = self.pin_mailer.current();
        // Claimed for this run only: a concurrent run (any node) skips them, so no PIN goes out
        // twice. Mail to print stays claimed until confirmed, or until the lease ends.
        let queued = self
            .store
            .claim_pin_mail(limit, CLAIM_SECS)
            .await
            .map_err(Refusal::internal)?;
        let mut report = PinMailDelivery {
            request_id: req.request_id.clone(),
            sent: Vec::new(),
            failed: Vec::new(),
            to_print: Vec::new(),
            sealed_print: None,
        };
        let mut print_secrets = Vec::new();
        for m in queued {
            let pin = match open_pin(&self.kra, &m) {
                Ok(pin) => pin,
                Err(why) => {
                    let why = format!("the PIN cannot be opened: {why}");
                    self.mail_failed(officer, &m, &why, mailer.as_deref(), &mut report)
                        .await?;
                    continue;
                }
            };
            let pin = match std::str::from_utf8(&pin) {
                Ok(text) => Zeroizing::new(text.to_string()),
                Err(_) => {
                    let why = "the stored PIN is damaged";
                    self.mail_failed(officer, &m, why, mailer.as_deref(), &mut report)
                        .await?;
                    continue;
                }
            };
            match m.delivery {
                PinDelivery::Print => {
                    print_secrets.push(PinMailSecret {
                        id: m.id.to_string(),
                        pin: pin.to_string(),
                    });
                    report.to_print.push(info(&m));
                }
                PinDelivery::Smtp => match send(mailer.clone(), &m, &pin).await {
                    Ok(()) => {
                        let record =
                            audit(officer, "send-pin-mail", Outcome::Success, &m, json!({}));
                        if self
                            .store
                            .pin_mail_delivered(m.id, &record)
                            .await
                            .map_err(Refusal::internal)?
                        {
                            let mut sent = info(&m);
                            sent.state = PinMailState::Delivered.as_str().into();
                            sent.attempts += 1;
                            // As stored: a delivered mail has no error (the audit log keeps
                            // the earlier attempts' reasons).
                            sent.last_error = None;
                            report.sent.push(sent);
                        }
                    }
                    Err(why) => {
                        self.mail_failed(officer, &m, &why, mailer.as_deref(), &mut report)
                            .await?
                    }
                },
            }
        }
        if !print_secrets.is_empty() {
            let json =
                Zeroizing::new(serde_json::to_vec(&print_secrets).map_err(Refusal::internal)?);
            report.sealed_print = Some(seal_for(
                &recipient,
                &json,
                &req.request_id,
                PIN_MAIL_PRINT_CONTEXT,
            )?);
        }
        tracing::info!(
            officer = %officer.name,
            "PIN mail: {} sent, {} failed, {} to print",
            report.sent.len(),
            report.failed.len(),
            report.to_print.len()
        );
        Ok(report)
    }

    /// Records a failed attempt (audited) and reports it.
    async fn mail_failed(
        &self,
        officer: &Officer,
        m: &PinMail,
        why: &str,
        mailer: Option<&PinMailer>,
        report: &mut PinMailDelivery,
    ) -> Result<(), Refusal> {
        let max = mailer.map_or(DEFAULT_MAX_ATTEMPTS, |p| p.max_attempts);
        let record = audit(
            officer,
            "send-pin-mail",
            Outcome::Failure,
            m,
            json!({ "reason": why }),
        );
        let state = self
            .store
            .pin_mail_failed(m.id, why, max, &record)
            .await
            .map_err(Refusal::internal)?;
        tracing::warn!(officer = %officer.name, "PIN mail {} not delivered: {why}", m.id);
        let mut failed = info(m);
        failed.attempts += 1;
        failed.last_error = Some(why.to_string());
        if let Some(state) = state {
            failed.state = state.as_str().into();
        }
        report.failed.push(failed);
        Ok(())
    }

    /// Confirms printed PIN letters: their PINs are deleted.
    pub async fn pin_mail_printed(
        &self,
        officer: &Officer,
        req: PinMailIds,
    ) -> Result<Vec<PinMailInfo>, Refusal> {
        self.require_pin_role(officer, "print-pin-mail").await?;
        check_request_id(&req.request_id)?;
        let ids = parse_ids(&req.ids)?;
        let queued = self
            .store
            .queued_pin_mail(i64::from(MAX_BATCH))
            .await
            .map_err(Refusal::internal)?;
        // Check every ID before changing anything: nothing half-done.
        let mut chosen = Vec::with_capacity(ids.len());
        for id in ids {
            let m = queued
                .iter()
                .find(|m| m.id == id && m.delivery == PinDelivery::Print)
                .ok_or_else(|| {
                    Refusal::not_found("ids", format!("no queued PIN mail {id} to print"))
                })?;
            chosen.push(m);
        }
        let mut done = Vec::new();
        for m in chosen {
            let record = audit(officer, "print-pin-mail", Outcome::Success, m, json!({}));
            if self
                .store
                .pin_mail_delivered(m.id, &record)
                .await
                .map_err(Refusal::internal)?
            {
                let mut printed = info(m);
                printed.state = PinMailState::Delivered.as_str().into();
                printed.last_error = None;
                done.push(printed);
            }
        }
        Ok(done)
    }

    /// Puts failed PIN mails back in the queue.
    pub async fn requeue_pin_mail(
        &self,
        officer: &Officer,
        req: PinMailIds,
    ) -> Result<Vec<String>, Refusal> {
        self.require_pin_role(officer, "requeue-pin-mail").await?;
        check_request_id(&req.request_id)?;
        let ids = parse_ids(&req.ids)?;
        let failed = self
            .store
            .pin_mail(&PinMailQuery {
                state: Some(PinMailState::Failed),
                limit: Some(i64::from(MAX_BATCH)),
            })
            .await
            .map_err(Refusal::internal)?;
        if let Some(id) = ids.iter().find(|id| !failed.iter().any(|m| m.id == **id)) {
            return Err(Refusal::not_found(
                "ids",
                format!("no failed PIN mail {id}"),
            ));
        }
        let mut requeued = Vec::new();
        for id in ids {
            let record = NewAudit {
                category: AuditCategory::PinDistribution,
                action: "requeue-pin-mail".into(),
                officer: Some(officer.name.clone()),
                outcome: Outcome::Success,
                object: Some(id.to_string()),
                detail: json!({ "request_id": req.request_id }),
            };
            if self
                .store
                .requeue_pin_mail(id, &record)
                .await
                .map_err(Refusal::internal)?
            {
                requeued.push(id.to_string());
            }
        }
        Ok(requeued)
    }

    /// The PIN mail queue (without PINs); needs `manage-pin-letters`.
    pub async fn pin_mail(
        &self,
        officer: &Officer,
        query: &PinMailQuery,
    ) -> Result<Vec<PinMailInfo>, Refusal> {
        self.require_pin_role(officer, "list-pin-mail").await?;
        let found = self
            .store
            .pin_mail(query)
            .await
            .map_err(Refusal::internal)?;
        Ok(found.iter().map(info).collect())
    }
}
