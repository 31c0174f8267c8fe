//! PIN distribution: PIN/PUK letters made in advance ([`pin_letters`](crate::pin_letters)) and
//! the PIN mail queue ([`pin_mail`](crate::pin_mail)), each with its types; this module holds
//! what an issuance does with its PIN ([`PinRecord`], see
//! [`Store::record_token`](crate::Store::record_token)), above both.
//!
//! The server generates the PINs; the store keeps them only as the KRA's envelopes (`kek_id` +
//! `sealed`, opaque here), never in clear, and never shows `sealed` in `Debug` or JSON output.

use sqlx::AnyConnection;

use crate::pin_letters::{self, PinLetterUse};
use crate::pin_mail::{self, NewPinMail};
use crate::types::NewAudit;
use crate::StoreError;

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
