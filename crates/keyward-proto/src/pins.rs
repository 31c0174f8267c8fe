//! PIN distribution: PIN/PUK letters and the PIN mail queue the Secure Printer drains.
//!
//! PINs cross the wire only sealed to a one-time transport key of the receiving client
//! ([`SealedKey`]), never in clear JSON.

use serde::{Deserialize, Serialize};

use crate::{b64, SealedKey};

/// Transport context label of the token PIN in an [`crate::IssueResponse`].
pub const TOKEN_PIN_CONTEXT: &str = "token-pin";
/// Transport context label of a [`PinLetterBatch`]'s secrets.
pub const PIN_LETTERS_CONTEXT: &str = "pin-letters";
/// Transport context label of a [`PinMailDelivery`]'s print secrets.
pub const PIN_MAIL_PRINT_CONTEXT: &str = "pin-mail-print";

/// Where the PIN of an issued token went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinDeliveryInfo {
    /// PIN procedure method: `email` or `letter`.
    pub method: String,
    /// The PIN/PUK letter used (method `letter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letter_id: Option<String>,
    /// The PIN mailer address (method `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// `smtp` or `print` (method `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
}

/// `POST /v1/pin-letters`: create a batch of PIN/PUK letters (role `manage-pin-letters`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatePinLetters {
    /// Random ID chosen by the client: 1 to 64 printable ASCII characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the client when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// The PIN procedure (method `letter`) whose rules the PINs follow.
    pub pin_procedure: String,
    /// The first letter ID (decimal); the others follow it.
    pub first_id: String,
    /// How many letters.
    pub count: u32,
    /// The client's one-time P-256 transport key (SubjectPublicKeyInfo DER).
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub transport_key: Vec<u8>,
}

/// Response to [`CreatePinLetters`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinLetterBatch {
    /// The request ID it answers.
    pub request_id: String,
    /// The batch ID recorded with each letter.
    pub batch: String,
    /// The PIN procedure.
    pub pin_procedure: String,
    /// First letter ID.
    pub first_id: String,
    /// Last letter ID.
    pub last_id: String,
    /// JSON array of [`PinLetterSecret`], sealed to the transport key (context
    /// [`PIN_LETTERS_CONTEXT`]).
    pub sealed: SealedKey,
}

/// One letter's secrets, inside [`PinLetterBatch::sealed`].
#[derive(Clone, Serialize, Deserialize)]
pub struct PinLetterSecret {
    /// Letter ID.
    pub letter_id: String,
    /// The PIN.
    pub pin: String,
    /// The PUK.
    pub puk: String,
}

impl Drop for PinLetterSecret {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.pin.zeroize();
        self.puk.zeroize();
    }
}

impl std::fmt::Debug for PinLetterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinLetterSecret({}, PIN and PUK hidden)", self.letter_id)
    }
}

/// `GET /v1/pin-letters?first=&used=&procedure=&limit=`: one letter, without its secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinLetterInfo {
    /// Letter ID.
    pub letter_id: String,
    /// PIN procedure.
    pub pin_procedure: String,
    /// Batch ID.
    pub batch: String,
    /// When created, RFC 3339.
    pub created_at: String,
    /// Creating officer.
    pub created_by: String,
    /// When used, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    /// Officer who issued the token with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
    /// Certificate IDs of that token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_ids: Option<String>,
    /// The ID as printed on the letter and typed by officers: with its check digits
    /// (`100002-16`), or the bare number for a letter printed before check digits existed.
    pub printed_id: String,
    /// Whether the letter was printed with check digits (else the bare ID is accepted for it,
    /// when the officer says so).
    pub check_printed: bool,
    /// When voided, RFC 3339 (a voided letter never seals a token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at: Option<String>,
    /// Officer who voided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_by: Option<String>,
    /// Why it was voided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void_reason: Option<String>,
}

/// `POST /v1/pin-letters/void`: void a damaged or lost PIN/PUK letter, so that it never seals
/// a token (role `manage-pin-letters`). A used or voided letter is refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoidPinLetter {
    /// Random ID chosen by the client: 1 to 64 printable ASCII characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the client when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// The letter ID as printed, with its check digits (`100002-16`); the bare number only for
    /// a letter printed without them.
    pub letter_id: String,
    /// Why (1 to 200 characters, no control characters); kept with the letter and in the
    /// audit log.
    pub reason: String,
}

/// `POST /v1/pin-mail/deliver`: the Secure Printer drains the queue (role
/// `manage-pin-letters`). The server sends SMTP mail itself and returns the PINs of mail that
/// must be printed, sealed to `transport_key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliverPinMail {
    /// Random ID chosen by the client: 1 to 64 printable ASCII characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the client when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// Most mails handled in this call.
    pub limit: u32,
    /// The Secure Printer's one-time P-256 transport key (SubjectPublicKeyInfo DER).
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub transport_key: Vec<u8>,
}

/// One queued PIN mail, without its PIN.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinMailInfo {
    /// Queue ID (decimal).
    pub id: String,
    /// PIN mailer address.
    pub recipient: String,
    /// `smtp` or `print`.
    pub delivery: String,
    /// The token's subject.
    pub subject: String,
    /// Token procedure.
    pub token_procedure: String,
    /// Certificate IDs of the token.
    pub certificate_ids: String,
    /// Issuing officer.
    pub officer: String,
    /// `queued` (waiting; after a failed attempt it stays queued and is tried again until
    /// `pin-mailer.max-attempts`), `failed` (no more attempts until requeued) or `delivered`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed (it names the SMTP server as `host:port`); absent before a
    /// failure and once delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When queued, RFC 3339.
    pub queued_at: String,
    /// When delivered, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
}

/// Response to [`DeliverPinMail`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinMailDelivery {
    /// The request ID it answers.
    pub request_id: String,
    /// Sent over SMTP now (their PINs are deleted).
    pub sent: Vec<PinMailInfo>,
    /// Failed now (still queued for a retry, or `failed` after the last attempt).
    pub failed: Vec<PinMailInfo>,
    /// To print: confirm with [`PinMailIds`] once the PDF is written.
    pub to_print: Vec<PinMailInfo>,
    /// JSON array of [`PinMailSecret`] for `to_print`, sealed to the transport key (context
    /// [`PIN_MAIL_PRINT_CONTEXT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_print: Option<SealedKey>,
}

/// One PIN to print, inside [`PinMailDelivery::sealed_print`].
#[derive(Clone, Serialize, Deserialize)]
pub struct PinMailSecret {
    /// Queue ID.
    pub id: String,
    /// The PIN.
    pub pin: String,
}

impl Drop for PinMailSecret {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.pin.zeroize();
    }
}

impl std::fmt::Debug for PinMailSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinMailSecret({}, PIN hidden)", self.id)
    }
}

/// `POST /v1/pin-mail/printed` (the PIN letters of these mails are printed: the server deletes
/// their PINs) and `POST /v1/pin-mail/requeue` (failed mails go back in the queue).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinMailIds {
    /// Random ID chosen by the client: 1 to 64 printable ASCII characters.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{1,64}$"))]
    pub request_id: String,
    /// Unix seconds at the client when signing.
    pub timestamp: i64,
    /// Random per request: 16 to 64 printable ASCII characters, used once.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[!-~]{16,64}$"))]
    pub nonce: String,
    /// Queue IDs.
    pub ids: Vec<String>,
}
