//! PIN/PUK letters and the PIN mail queue, from the officer's side (role `manage-pin-letters`).
//!
//! Secrets come back sealed to a one-time transport key made for the one request; they are
//! opened here and handed to the caller in zeroizing buffers, for printing only.

use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use keyward_crypto::transport::{self, TransportKeyPair};
use keyward_policy::letter_id;
use keyward_proto::{
    CreatePinLetters, DeliverPinMail, PinLetterBatch, PinLetterInfo, PinLetterSecret,
    PinMailDelivery, PinMailIds, PinMailInfo, PinMailSecret, SealedKey, VoidPinLetter,
    PIN_LETTERS_CONTEXT, PIN_LETTERS_PATH, PIN_LETTERS_VOID_PATH, PIN_MAIL_PRINT_CONTEXT,
};

use crate::client::RaClient;
use crate::error::RaError;
use crate::util::{random_hex, unix_now};

/// A sealed secret from its wire form.
pub(crate) fn from_wire(sealed: &SealedKey) -> transport::SealedKey {
    transport::SealedKey {
        ephemeral_key: sealed.ephemeral_key.clone(),
        nonce: sealed.nonce.clone(),
        ciphertext: sealed.ciphertext.clone(),
    }
}

/// Opens a secret the server sealed to `transport` for request `request_id`, labelled `what`.
pub fn open_sealed(
    transport: &TransportKeyPair,
    sealed: &SealedKey,
    request_id: &str,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, RaError> {
    let context = transport::secret_context(request_id, what);
    Ok(transport.open(&from_wire(sealed), &context)?)
}

fn open_json<T: DeserializeOwned>(
    client: &RaClient,
    transport: &TransportKeyPair,
    sealed: &SealedKey,
    request_id: &str,
    what: &str,
) -> Result<T, RaError> {
    let bytes = open_sealed(transport, sealed, request_id, what)?;
    serde_json::from_slice(&bytes).map_err(|_| client.transport(format!("unreadable {what}")))
}

/// A created batch of letters with their secrets (for printing, then dropped).
#[derive(Debug)]
pub struct CreatedLetters {
    /// The batch as the server recorded it.
    pub batch: PinLetterBatch,
    /// Each letter's ID, PIN and PUK, in ID order.
    pub letters: Vec<PinLetterSecret>,
}

/// What one Secure Printer run got back.
#[derive(Debug)]
pub struct Delivery {
    /// The server's report.
    pub report: PinMailDelivery,
    /// The PINs of `report.to_print`, by queue ID.
    pub to_print: Vec<PinMailSecret>,
}

/// PIN letter search criteria.
#[derive(Debug, Default, Clone)]
pub struct PinLetterSearch {
    /// From this letter ID up.
    pub first: Option<String>,
    /// Used (`true`) or unused (`false`) letters only.
    pub used: Option<bool>,
    /// Voided (`true`) or not voided (`false`) letters only.
    pub voided: Option<bool>,
    /// Of this PIN procedure only.
    pub procedure: Option<String>,
    /// At most this many.
    pub limit: Option<u32>,
}

impl RaClient {
    /// Creates `count` PIN/PUK letters from `first_id` under PIN procedure `pin_procedure`.
    pub async fn create_pin_letters(
        &self,
        pin_procedure: &str,
        first_id: &str,
        count: u32,
    ) -> Result<CreatedLetters, RaError> {
        let transport = TransportKeyPair::generate()?;
        let request = CreatePinLetters {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            pin_procedure: pin_procedure.to_string(),
            first_id: first_id.to_string(),
            count,
            transport_key: transport.public_der()?,
        };
        let body = serde_json::to_vec(&request).map_err(|e| self.transport(e))?;
        let batch: PinLetterBatch = self.post_signed(PIN_LETTERS_PATH, body).await?;
        let letters: Vec<PinLetterSecret> = open_json(
            self,
            &transport,
            &batch.sealed,
            &request.request_id,
            PIN_LETTERS_CONTEXT,
        )?;
        if letters.len() != count as usize {
            return Err(self.transport(format!("asked for {count} letters, got {}", letters.len())));
        }
        Ok(CreatedLetters { batch, letters })
    }

    /// Lists PIN letters (no secrets).
    pub async fn pin_letters(
        &self,
        search: &PinLetterSearch,
    ) -> Result<Vec<PinLetterInfo>, RaError> {
        let mut query = Vec::new();
        if let Some(first) = &search.first {
            query.push(("first", first.clone()));
        }
        if let Some(used) = search.used {
            query.push(("used", used.to_string()));
        }
        if let Some(voided) = search.voided {
            query.push(("voided", voided.to_string()));
        }
        if let Some(procedure) = &search.procedure {
            query.push(("procedure", procedure.clone()));
        }
        if let Some(limit) = search.limit {
            query.push(("limit", limit.to_string()));
        }
        self.get(PIN_LETTERS_PATH, &query).await
    }

    /// Voids a damaged or lost letter (`letter_id` as printed, with its check digits; a bare
    /// number only with `unchecked`, for a letter printed without them) so that it never
    /// seals a token. The ID is checked here first: a typo is refused before anything is sent.
    pub async fn void_pin_letter(
        &self,
        letter_id: &str,
        unchecked: bool,
        reason: &str,
    ) -> Result<PinLetterInfo, RaError> {
        let typed = letter_id::parse_required(letter_id, unchecked)
            .map_err(|e| RaError::input("letter ID", e.to_string()))?;
        if reason.trim().is_empty() {
            return Err(RaError::input(
                "reason",
                "say why the letter is voided (it is kept with the letter and in the audit log)",
            ));
        }
        let request = VoidPinLetter {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            letter_id: typed.to_string(),
            reason: reason.trim().to_string(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| self.transport(e))?;
        self.post_signed(PIN_LETTERS_VOID_PATH, body).await
    }

    /// Has the server send queued SMTP PIN mail, and gets the PINs of mail to print.
    pub async fn deliver_pin_mail(&self, limit: u32) -> Result<Delivery, RaError> {
        let transport = TransportKeyPair::generate()?;
        let request = DeliverPinMail {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            limit,
            transport_key: transport.public_der()?,
        };
        let body = serde_json::to_vec(&request).map_err(|e| self.transport(e))?;
        let report: PinMailDelivery = self.post_signed("/v1/pin-mail/deliver", body).await?;
        let to_print = match &report.sealed_print {
            Some(sealed) => open_json(
                self,
                &transport,
                sealed,
                &request.request_id,
                PIN_MAIL_PRINT_CONTEXT,
            )?,
            None => Vec::new(),
        };
        Ok(Delivery { report, to_print })
    }

    async fn post_ids<T: DeserializeOwned>(
        &self,
        path: &str,
        ids: &[String],
    ) -> Result<T, RaError> {
        let request = PinMailIds {
            request_id: random_hex(16)?,
            timestamp: unix_now(),
            nonce: random_hex(16)?,
            ids: ids.to_vec(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| self.transport(e))?;
        self.post_signed(path, body).await
    }

    /// Confirms that the PIN letters of these mails are printed (the server deletes the PINs).
    pub async fn pin_mail_printed(&self, ids: &[String]) -> Result<Vec<PinMailInfo>, RaError> {
        self.post_ids("/v1/pin-mail/printed", ids).await
    }

    /// Puts failed PIN mails back in the queue.
    pub async fn requeue_pin_mail(&self, ids: &[String]) -> Result<Vec<String>, RaError> {
        self.post_ids("/v1/pin-mail/requeue", ids).await
    }

    /// The PIN mail queue (no PINs), newest first; `state`: queued, delivered or failed.
    pub async fn pin_mail(
        &self,
        state: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<PinMailInfo>, RaError> {
        let mut query = Vec::new();
        if let Some(state) = state {
            query.push(("state", state.to_string()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        self.get("/v1/pin-mail", &query).await
    }
}
