//! PIN distribution: PIN/PUK letters made in advance and the PIN mail queue. Store methods are in
//! [`pin_letters`](crate::pin_letters) and [`pin_mail`](crate::pin_mail); this module holds
//! their types and what an issuance does with its PIN ([`PinRecord`], see
//! [`Store::record_token`](crate::Store::record_token)).
//!
//! The server generates the PINs; the store keeps them only as the KRA's envelopes (`kek_id` +
//! `sealed`, opaque here), never in clear, and never shows `sealed` in `Debug` or JSON output.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::types::{NewAudit, SealedLen};
use crate::{pin_letters, pin_mail, StoreError};

/// A PIN/PUK letter to create; the rest (PIN procedure, batch, officer) is common to the batch.
///
/// `Debug` shows the length of `sealed`, never its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPinLetter {
    /// Letter ID (positive), printed on the letter; the officer types it at issuance.
    pub letter_id: i64,
    /// Which KEK wrapped the PIN and PUK.
    pub kek_id: String,
    /// The KRA's envelope of the PIN and PUK (must not be empty).
    pub sealed: Vec<u8>,
}

impl fmt::Debug for NewPinLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPinLetter")
            .field("letter_id", &self.letter_id)
            .field("kek_id", &self.kek_id)
            .field("sealed", &SealedLen(self.sealed.len()))
            .finish()
    }
}

/// The issuance that used a PIN letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinLetterUse {
    /// When, Unix seconds.
    pub at: i64,
    /// The issuing officer.
    pub officer: String,
    /// The issuance request ID.
    pub request_id: String,
    /// The Certificate IDs issued, joined by `,` (empty if none).
    pub certificate_ids: String,
}

/// A stored PIN/PUK letter.
///
/// `Debug` shows the length of `sealed`, never its bytes; JSON output leaves `sealed` out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PinLetter {
    /// Letter ID.
    pub letter_id: i64,
    /// The PIN procedure it was made for (and may only be used with).
    pub pin_procedure: String,
    /// The batch it was made in: an ID shared by the letters created together.
    pub batch: String,
    /// Which KEK wrapped the PIN and PUK.
    pub kek_id: String,
    /// The KRA's envelope of the PIN and PUK (left out of JSON output).
    #[serde(skip)]
    pub sealed: Vec<u8>,
    /// When created, Unix seconds.
    pub created_at: i64,
    /// The officer who created it.
    pub created_by: String,
    /// The issuance that used it, if used.
    pub used: Option<PinLetterUse>,
}

impl fmt::Debug for PinLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinLetter")
            .field("letter_id", &self.letter_id)
            .field("pin_procedure", &self.pin_procedure)
            .field("batch", &self.batch)
            .field("kek_id", &self.kek_id)
            .field("sealed", &SealedLen(self.sealed.len()))
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("used", &self.used)
            .finish()
    }
}

/// PIN letter search criteria; those given are ANDed, results come ordered by letter ID,
/// ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinLetterQuery {
    /// Letters with this ID or a higher one.
    pub first_id: Option<i64>,
    /// Used (`true`) or unused (`false`) letters only.
    pub used: Option<bool>,
    /// Letters of this PIN procedure only.
    pub pin_procedure: Option<String>,
    /// At most this many rows: default 100, clamped to 1..=1000.
    pub limit: Option<i64>,
}

/// How a PIN mail is delivered, stored as `smtp` / `print`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinDelivery {
    /// Sent over SMTP; the recipient is an e-mail address.
    Smtp,
    /// Printed and posted; the recipient is postal text.
    Print,
}

impl PinDelivery {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PinDelivery::Smtp => "smtp",
            PinDelivery::Print => "print",
        }
    }
}

impl fmt::Display for PinDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PinDelivery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smtp" => Ok(PinDelivery::Smtp),
            "print" => Ok(PinDelivery::Print),
            _ => Err(format!("unknown PIN delivery {s:?}")),
        }
    }
}

/// Where a PIN mail is, stored as `queued` / `delivered` / `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinMailState {
    /// Waiting for (another) delivery attempt.
    Queued,
    /// Delivered; the PIN envelope is deleted.
    Delivered,
    /// Given up after too many attempts; an officer may queue it again.
    Failed,
}

impl PinMailState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PinMailState::Queued => "queued",
            PinMailState::Delivered => "delivered",
            PinMailState::Failed => "failed",
        }
    }
}

impl fmt::Display for PinMailState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PinMailState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(PinMailState::Queued),
            "delivered" => Ok(PinMailState::Delivered),
            "failed" => Ok(PinMailState::Failed),
            _ => Err(format!("unknown PIN mail state {s:?}")),
        }
    }
}

/// A PIN mail to queue with an issuance (see [`PinRecord::QueueMail`]); the Certificate IDs
/// come from the issuance.
///
/// `Debug` shows the length of `sealed`, never its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPinMail {
    /// The issuance request ID (unique: one PIN mail per request).
    pub request_id: String,
    /// E-mail address, or postal text for print.
    pub recipient: String,
    /// How it is delivered.
    pub delivery: PinDelivery,
    /// The token subject DN, for the letter text.
    pub subject: String,
    /// The token procedure.
    pub token_procedure: String,
    /// The issuing officer.
    pub officer: String,
    /// Which KEK wrapped the PIN.
    pub kek_id: String,
    /// The KRA's envelope of the PIN (must not be empty).
    pub sealed: Vec<u8>,
}

impl fmt::Debug for NewPinMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPinMail")
            .field("request_id", &self.request_id)
            .field("recipient", &self.recipient)
            .field("delivery", &self.delivery)
            .field("subject", &self.subject)
            .field("token_procedure", &self.token_procedure)
            .field("officer", &self.officer)
            .field("kek_id", &self.kek_id)
            .field("sealed", &SealedLen(self.sealed.len()))
            .finish()
    }
}

/// A PIN mail in the queue (or delivered, or failed).
///
/// `Debug` shows the length of `sealed`, never its bytes; JSON output leaves `sealed` out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PinMail {
    /// Row ID.
    pub id: i64,
    /// The issuance request ID.
    pub request_id: String,
    /// E-mail address, or postal text for print.
    pub recipient: String,
    /// How it is delivered.
    pub delivery: PinDelivery,
    /// The token subject DN.
    pub subject: String,
    /// The token procedure.
    pub token_procedure: String,
    /// The Certificate IDs issued, joined by `,`.
    pub certificate_ids: String,
    /// The issuing officer.
    pub officer: String,
    /// Which KEK wrapped the PIN.
    pub kek_id: String,
    /// The KRA's envelope of the PIN; `None` once delivered (the PIN is deleted). Left out of
    /// JSON output.
    #[serde(skip)]
    pub sealed: Option<Vec<u8>>,
    /// Where it is.
    pub state: PinMailState,
    /// Delivery attempts so far (reset when queued again).
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When queued, Unix seconds.
    pub queued_at: i64,
    /// When last attempted.
    pub last_attempt_at: Option<i64>,
    /// When delivered.
    pub delivered_at: Option<i64>,
}

impl fmt::Debug for PinMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinMail")
            .field("id", &self.id)
            .field("request_id", &self.request_id)
            .field("recipient", &self.recipient)
            .field("delivery", &self.delivery)
            .field("subject", &self.subject)
            .field("token_procedure", &self.token_procedure)
            .field("certificate_ids", &self.certificate_ids)
            .field("officer", &self.officer)
            .field("kek_id", &self.kek_id)
            .field("sealed", &self.sealed.as_ref().map(|s| SealedLen(s.len())))
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("last_error", &self.last_error)
            .field("queued_at", &self.queued_at)
            .field("last_attempt_at", &self.last_attempt_at)
            .field("delivered_at", &self.delivered_at)
            .finish()
    }
}

/// PIN mail search criteria; results come newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinMailQuery {
    /// In this state only.
    pub state: Option<PinMailState>,
    /// At most this many rows: default 100, clamped to 1..=1000.
    pub limit: Option<i64>,
}

/// What an issuance does with its PIN, in the issuance transaction (see
/// [`Store::record_token`](crate::Store::record_token)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinRecord {
    /// Marks the PIN letter used, by this officer for this request. The letter must exist,
    /// belong to `pin_procedure` and be unused.
    UseLetter {
        /// Letter ID.
        letter_id: i64,
        /// The token procedure's PIN procedure.
        pin_procedure: String,
        /// The issuing officer.
        officer: String,
        /// The issuance request ID.
        request_id: String,
    },
    /// Queues a PIN mail.
    QueueMail(NewPinMail),
}

/// Refuses a PIN record the store cannot accept, before any transaction.
pub(crate) fn check(pin: &PinRecord) -> Result<(), StoreError> {
    match pin {
        PinRecord::UseLetter { letter_id, .. } => pin_letters::check_id(*letter_id),
        PinRecord::QueueMail(mail) => pin_mail::check(mail),
    }
}

/// Writes `pin` on `conn` (inside the issuance transaction) for the certificates
/// `certificate_ids` (joined by `,`) and returns its audit record, to append.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    pin: &PinRecord,
    certificate_ids: &str,
    at: i64,
) -> Result<NewAudit, StoreError> {
    match pin {
        PinRecord::UseLetter {
            letter_id,
            pin_procedure,
            officer,
            request_id,
        } => {
            let used = PinLetterUse {
                at,
                officer: officer.clone(),
                request_id: request_id.clone(),
                certificate_ids: certificate_ids.to_string(),
            };
            pin_letters::use_letter(conn, *letter_id, pin_procedure, &used).await
        }
        PinRecord::QueueMail(mail) => pin_mail::queue(conn, mail, certificate_ids, at).await,
    }
}
