//! The token PIN when the server chooses it: PIN procedure `letter` (the PIN of a pre-generated
//! PIN/PUK letter) and `email` (a fresh PIN, queued for the PIN mailer). Enter and show PINs
//! never reach the server.
//!
//! The PIN leaves the server only sealed to the RA's transport key; the store keeps it only
//! inside a KRA envelope.

use keyward_crypto::Pin;
use keyward_policy::procedure::ResolvedToken;
use keyward_policy::{MailDelivery, PinMethod};
use keyward_proto::{IssueRequest, PinDeliveryInfo, SealedKey, TOKEN_PIN_CONTEXT};
use keyward_store::{NewPinMail, Officer, PinDelivery, PinRecord};
use openssl::pkey::{PKey, Public};

use super::pin_letters::{find_letter, open_letter};
use super::{rfc3339, seal_for, Refusal, TokenPins};

/// KRA purpose label of a queued PIN mail's PIN (bound to the issuance request ID).
pub(super) const PIN_MAIL_PURPOSE: &str = "pin-mail";
/// Longest PIN mailer address accepted (an e-mail address is at most 254).
const MAX_ADDRESS: usize = 254;

/// A PIN the server chose for a token, what the store must do with it, and where it goes.
pub(super) struct ServerPin {
    pub pin: Pin,
    pub record: PinRecord,
    pub info: PinDeliveryInfo,
}

impl ServerPin {
    /// The PIN sealed to the RA's transport key, bound to the request.
    pub(super) fn seal(
        &self,
        recipient: &PKey<Public>,
        request_id: &str,
    ) -> Result<SealedKey, Refusal> {
        seal_for(
            recipient,
            self.pin.as_str().as_bytes(),
            request_id,
            TOKEN_PIN_CONTEXT,
        )
    }
}

/// A PIN mailer address: an e-mail address for SMTP delivery; for a printed PIN letter, the
/// postal address (up to 6 lines, joined by `\n`), returned in the form stored and printed.
fn check_address(address: &str, delivery: MailDelivery) -> Result<String, Refusal> {
    let field = "pin_mailer_address";
    if address.trim().is_empty() || address.len() > MAX_ADDRESS {
        return Err(Refusal::invalid(
            field,
            format!("must be 1 to {MAX_ADDRESS} characters"),
        ));
    }
    match delivery {
        MailDelivery::Smtp => keyward_mailer::smtp::check_address(address)
            .map(|()| address.to_string())
            .map_err(|e| Refusal::invalid(field, e.to_string())),
        MailDelivery::Print => keyward_policy::postal::postal_address(address)
            .map_err(|e| Refusal::invalid(field, e.to_string())),
    }
}

impl TokenPins {
    /// Checks the request's PIN fields against the token procedure's PIN procedure and, when
    /// the server chooses the PIN, prepares it. `None` for `enter` and `show`.
    pub(super) async fn server_pin(
        &self,
        officer: &Officer,
        resolved: &ResolvedToken,
        req: &IssueRequest,
    ) -> Result<Option<ServerPin>, Refusal> {
        let pin_procedure = &resolved.pin;
        let method = pin_procedure.method;
        let not_for = |field: &str| {
            Refusal::invalid(
                field,
                format!(
                    "token procedure {} uses PIN procedure {} (method {}), which takes no {field}",
                    resolved.token.name,
                    pin_procedure.name,
                    method.name()
                ),
            )
        };
        if req.pin_letter.is_some() && method != PinMethod::Letter {
            return Err(not_for("pin_letter"));
        }
        if req.pin_mailer_address.is_some() && method != PinMethod::Email {
            return Err(not_for("pin_mailer_address"));
        }
        match method {
            PinMethod::Enter | PinMethod::Show => Ok(None),
            PinMethod::Letter => {
                let text = req.pin_letter.as_deref().ok_or_else(|| {
                    Refusal::invalid(
                        "pin_letter",
                        format!(
                            "token procedure {} takes its PIN from a PIN/PUK letter: give the letter ID",
                            resolved.token.name
                        ),
                    )
                })?;
                let letter = find_letter(&self.store, "pin_letter", text).await?;
                let letter_id = letter.letter_id;
                if letter.used.is_some() {
                    return Err(Refusal::conflict(
                        "pin_letter",
                        format!("PIN letter {letter_id} has been used already"),
                    ));
                }
                if let Some(v) = &letter.voided {
                    return Err(Refusal::conflict(
                        "pin_letter",
                        format!(
                            "PIN letter {letter_id} was voided by {} at {} ({}): it never seals a token; take another letter",
                            v.officer,
                            rfc3339(v.at),
                            v.reason
                        ),
                    ));
                }
                if letter.pin_procedure != pin_procedure.name {
                    return Err(Refusal::invalid(
                        "pin_letter",
                        format!(
                            "PIN letter {letter_id} belongs to PIN procedure {}, but token procedure {} uses {}",
                            letter.pin_procedure, resolved.token.name, pin_procedure.name
                        ),
                    ));
                }
                let pin = open_letter(&self.kra, &letter)?;
                Ok(Some(ServerPin {
                    pin,
                    record: PinRecord::UseLetter {
                        letter_id,
                        pin_procedure: pin_procedure.name.clone(),
                        officer: officer.name.clone(),
                        request_id: req.request_id.clone(),
                    },
                    info: PinDeliveryInfo {
                        method: method.name().into(),
                        letter_id: Some(letter_id.to_string()),
                        recipient: None,
                        delivery: None,
                    },
                }))
            }
            PinMethod::Email => {
                let address = req.pin_mailer_address.as_deref().ok_or_else(|| {
                    Refusal::invalid(
                        "pin_mailer_address",
                        format!(
                            "token procedure {} sends the PIN by the PIN mailer: give the PIN mailer address",
                            resolved.token.name
                        ),
                    )
                })?;
                let delivery = pin_procedure.delivery;
                let address = check_address(address, delivery)?;
                if !self.kra.can_archive() {
                    return Err(Refusal::unsupported(
                        "PIN mail needs the archive key to keep the PIN encrypted until it is delivered (kra.archive-key in cm.conf)",
                    ));
                }
                let pin = keyward_crypto::generate_for(pin_procedure).map_err(Refusal::internal)?;
                let envelope = self
                    .kra
                    .seal_secret(PIN_MAIL_PURPOSE, &req.request_id, pin.as_str().as_bytes())
                    .map_err(Refusal::internal)?;
                let store_delivery = match delivery {
                    MailDelivery::Smtp => PinDelivery::Smtp,
                    MailDelivery::Print => PinDelivery::Print,
                };
                Ok(Some(ServerPin {
                    pin,
                    record: PinRecord::QueueMail(NewPinMail {
                        request_id: req.request_id.clone(),
                        recipient: address.clone(),
                        delivery: store_delivery,
                        subject: shorten_subject(&req.subject),
                        token_procedure: resolved.token.name.clone(),
                        officer: officer.name.clone(),
                        kek_id: envelope.kek_id,
                        sealed: envelope.sealed,
                    }),
                    info: PinDeliveryInfo {
                        method: method.name().into(),
                        letter_id: None,
                        recipient: Some(address),
                        delivery: Some(delivery.name().into()),
                    },
                }))
            }
        }
    }
}

/// The subject as the letter shows it (already validated; bounded for the queue row).
fn shorten_subject(subject: &str) -> String {
    subject.chars().take(512).collect()
}
