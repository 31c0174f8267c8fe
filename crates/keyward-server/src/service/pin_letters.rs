//! PIN/PUK letters: created in batches by an officer with `manage-pin-letters`, each letter's
//! PIN and PUK kept in a KRA envelope bound to its letter ID, later chosen by ID at issuance.

use serde_json::json;
use zeroize::Zeroizing;

use keyward_kra::{Envelope, Kra};
use keyward_policy::letter_id::{self, LetterIdError};
use keyward_policy::{PinMethod, PinProcedure, Role};
use keyward_proto::{
    CreatePinLetters, PinLetterBatch, PinLetterInfo, PinLetterSecret, SealedKey, VoidPinLetter,
    PIN_LETTERS_CONTEXT,
};
use keyward_store::{
    AuditCategory, NewAudit, NewPinLetter, Officer, Outcome, PinLetter, PinLetterQuery,
    RequestAnswer, RequestKey, Store, StoreError, VoidRefused,
};

use super::answers::{idempotent, request_id_taken};
use super::{
    audit_refusal, check_request_id, require_role, rfc3339, seal_for, shorten, Answer, PinDesk,
    Refusal,
};

/// KRA purpose label of a letter's PIN and PUK (bound to the letter ID).
const PIN_LETTER_PURPOSE: &str = "pin-letter";
/// Most letters in one batch (the client renders the whole batch in memory: about 20 KB a
/// letter at its peak).
pub(super) const MAX_BATCH: u32 = 50_000;

/// A letter ID: a positive decimal number.
fn parse_letter_id(field: &str, text: &str) -> Result<i64, Refusal> {
    let bad = || Refusal::invalid(field, "a PIN letter ID is a positive decimal number");
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(bad)
}

/// The letter an officer typed the ID of in `field`: with its check digits, or the bare number
/// of a letter printed without them (the RA sends a bare number only when the officer says the
/// letter has none). A malformed ID or wrong check digits are refused before the store is
/// asked, a bare number for a letter printed with check digits once it is found (400, naming
/// `field`); an unknown letter is 404.
pub(super) async fn find_letter(
    store: &Store,
    field: &str,
    text: &str,
) -> Result<PinLetter, Refusal> {
    let typed = letter_id::parse(text).map_err(|e| Refusal::invalid(field, e.to_string()))?;
    let letter = store
        .pin_letter(typed.number)
        .await
        .map_err(Refusal::internal)?
        .ok_or_else(|| {
            Refusal::not_found(field, format!("there is no PIN letter {}", typed.number))
        })?;
    if !typed.checked && letter.check_printed {
        return Err(Refusal::invalid(
            field,
            LetterIdError::MissingCheck(typed.number.to_string()).to_string(),
        ));
    }
    Ok(letter)
}

/// Opens a letter's envelope: its PIN.
pub(super) fn open_letter(kra: &Kra, letter: &PinLetter) -> Result<keyward_crypto::Pin, Refusal> {
    let envelope = Envelope {
        kek_id: letter.kek_id.clone(),
        sealed: letter.sealed.clone(),
    };
    let bytes = kra
        .open_secret(&envelope, PIN_LETTER_PURPOSE, &letter.letter_id.to_string())
        .map_err(|e| {
            Refusal::conflict(
                "pin_letter",
                format!("PIN letter {} cannot be used: {e}", letter.letter_id),
            )
        })?;
    letter_pin(&bytes).ok_or_else(|| {
        Refusal::conflict(
            "pin_letter",
            format!("PIN letter {} is damaged", letter.letter_id),
        )
    })
}

/// The PIN of a letter, sealed by `create_pin_letters` as `PIN\nPUK` (the PUK is for the holder
/// and stays on the letter).
fn letter_pin(bytes: &[u8]) -> Option<keyward_crypto::Pin> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (pin, _puk) = text.split_once('\n')?;
    Some(keyward_crypto::Pin::new(pin.to_string()))
}

/// Generates the letters (blocking: CSPRNG and KRA): envelopes for the store and the secrets
/// sealed for the officer's client.
fn generate(
    kra: &Kra,
    rules: &PinProcedure,
    first: i64,
    count: u32,
    recipient: &openssl::pkey::PKey<openssl::pkey::Public>,
    request_id: &str,
) -> Result<(Vec<NewPinLetter>, SealedKey), Refusal> {
    let mut letters = Vec::with_capacity(count as usize);
    let mut secrets = Vec::with_capacity(count as usize);
    for id in (first..).take(count as usize) {
        let pin = keyward_crypto::generate_for(rules).map_err(Refusal::internal)?;
        let puk = keyward_crypto::generate_puk(rules).map_err(Refusal::internal)?;
        let both = Zeroizing::new(format!("{}\n{}", pin.as_str(), puk.as_str()));
        let envelope = kra
            .seal_secret(PIN_LETTER_PURPOSE, &id.to_string(), both.as_bytes())
            .map_err(Refusal::internal)?;
        letters.push(NewPinLetter {
            letter_id: id,
            kek_id: envelope.kek_id,
            sealed: envelope.sealed,
        });
        secrets.push(PinLetterSecret {
            letter_id: id.to_string(),
            pin: pin.as_str().to_string(),
            puk: puk.as_str().to_string(),
        });
    }
    let json = Zeroizing::new(serde_json::to_vec(&secrets).map_err(Refusal::internal)?);
    let sealed = seal_for(recipient, &json, request_id, PIN_LETTERS_CONTEXT)?;
    Ok((letters, sealed))
}

fn info(letter: PinLetter) -> PinLetterInfo {
    PinLetterInfo {
        letter_id: letter.letter_id.to_string(),
        printed_id: match letter.check_printed {
            true => letter_id::printed(letter.letter_id),
            false => letter.letter_id.to_string(),
        },
        check_printed: letter.check_printed,
        pin_procedure: letter.pin_procedure,
        batch: letter.batch,
        created_at: rfc3339(letter.created_at),
        created_by: letter.created_by,
        used_at: letter.used.as_ref().map(|u| rfc3339(u.at)),
        used_by: letter.used.as_ref().map(|u| u.officer.clone()),
        certificate_ids: letter.used.map(|u| u.certificate_ids),
        voided_at: letter.voided.as_ref().map(|v| rfc3339(v.at)),
        voided_by: letter.voided.as_ref().map(|v| v.officer.clone()),
        void_reason: letter.voided.map(|v| v.reason),
    }
}

/// Longest void reason accepted, in characters.
const MAX_REASON: usize = 200;

/// A void reason: 1 to [`MAX_REASON`] characters once trimmed, no control characters.
fn check_reason(reason: &str) -> Result<&str, Refusal> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(Refusal::invalid(
            "reason",
            format!("give why the letter is voided: 1 to {MAX_REASON} characters"),
        ));
    }
    if reason.chars().any(char::is_control) {
        return Err(Refusal::invalid(
            "reason",
            "control characters are not allowed",
        ));
    }
    Ok(reason)
}

/// A refusal for a letter the store did not void.
fn not_voided(e: StoreError) -> Refusal {
    let field = "letter_id";
    match e {
        StoreError::NotVoided(id, VoidRefused::Unknown) => {
            Refusal::not_found(field, format!("there is no PIN letter {id}"))
        }
        StoreError::NotVoided(id, VoidRefused::Used(u)) => Refusal::conflict(
            field,
            format!(
                "PIN letter {id} sealed a token at {} (request {}, Certificate IDs {}): a used letter cannot be voided (revoke the certificates if the letter was exposed)",
                rfc3339(u.at),
                u.request_id,
                if u.certificate_ids.is_empty() { "none" } else { &u.certificate_ids }
            ),
        ),
        StoreError::NotVoided(id, VoidRefused::Voided(v)) => Refusal::conflict(
            field,
            format!(
                "PIN letter {id} was voided already by {} at {} ({})",
                v.officer,
                rfc3339(v.at),
                v.reason
            ),
        ),
        other => Refusal::internal(other),
    }
}

/// The answer to an idempotent PIN letter request ([`PinDesk::create_pin_letters_request`]).
pub type Letters = Answer<Box<PinLetterBatch>>;

impl PinDesk {
    /// Refuses (and audits) an officer without `manage-pin-letters`.
    pub(super) async fn require_pin_role(
        &self,
        officer: &Officer,
        action: &str,
    ) -> Result<(), Refusal> {
        require_role(
            &self.store,
            officer,
            Role::ManagePinLetters,
            AuditCategory::PinDistribution,
            action,
        )
        .await
    }

    /// Creates a batch of PIN/PUK letters; refusals are audited.
    pub async fn create_pin_letters(
        &self,
        officer: &Officer,
        req: CreatePinLetters,
    ) -> Result<PinLetterBatch, Refusal> {
        match self.create_pin_letters_inner(officer, req, None).await? {
            Answer::New(batch) => Ok(*batch),
            Answer::Again(_) => Err(Refusal::internal("an answer without a request key")),
        }
    }

    /// Creates a batch of PIN/PUK letters as an idempotent request, like
    /// [`Issuance::issue_request`](super::Issuance::issue_request): a retry of the very same
    /// signed request (its answer was lost, or the server died after the commit) gets the
    /// recorded answer — the same letters, their secrets sealed to the same one-time transport
    /// key — instead of a refusal that would leave the letters created but never printable.
    pub async fn create_pin_letters_request(
        &self,
        officer: &Officer,
        req: CreatePinLetters,
        key: &RequestKey,
    ) -> Result<Letters, Refusal> {
        self.create_pin_letters_inner(officer, req, Some(key)).await
    }

    async fn create_pin_letters_inner(
        &self,
        officer: &Officer,
        req: CreatePinLetters,
        key: Option<&RequestKey>,
    ) -> Result<Letters, Refusal> {
        self.require_pin_role(officer, "create-pin-letters").await?;
        let attempt = self.try_create_pin_letters(officer, &req, key);
        let result = idempotent(
            &self.store,
            key,
            |_| AuditCategory::PinDistribution,
            async { attempt.await.map(Box::new) },
        )
        .await;
        match result {
            Err(refusal) => {
                audit_refusal(
                    &self.store,
                    AuditCategory::PinDistribution,
                    "create-pin-letters",
                    Some(&officer.name),
                    &refusal,
                    json!({
                        "request_id": shorten(&req.request_id),
                        "pin_procedure": shorten(&req.pin_procedure),
                        "first_id": shorten(&req.first_id),
                        "count": req.count,
                    }),
                )
                .await;
                Err(refusal)
            }
            done => done,
        }
    }

    async fn try_create_pin_letters(
        &self,
        officer: &Officer,
        req: &CreatePinLetters,
        key: Option<&RequestKey>,
    ) -> Result<PinLetterBatch, Refusal> {
        check_request_id(&req.request_id)?;
        let procedures = self.store.procedures().await.map_err(Refusal::internal)?;
        let rules = procedures
            .pin_procedure(&req.pin_procedure)
            .cloned()
            .ok_or_else(|| {
                Refusal::not_found(
                    "pin_procedure",
                    format!("no PIN procedure named {:?}", shorten(&req.pin_procedure)),
                )
            })?;
        if rules.method != PinMethod::Letter {
            return Err(Refusal::invalid(
                "pin_procedure",
                format!(
                    "PIN procedure {} has method {}; PIN letters need method letter",
                    rules.name,
                    rules.method.name()
                ),
            ));
        }
        if req.count == 0 || req.count > MAX_BATCH {
            return Err(Refusal::invalid(
                "count",
                format!("must be 1 to {MAX_BATCH}"),
            ));
        }
        let first = parse_letter_id("first_id", &req.first_id)?;
        let last = first
            .checked_add(i64::from(req.count) - 1)
            .filter(|last| *last < 1_000_000_000_000_000_000)
            .ok_or_else(|| Refusal::invalid("first_id", "the letter IDs would exceed 18 digits"))?;
        if !self.kra.can_archive() {
            return Err(Refusal::unsupported(
                "PIN letters need the archive key to keep PINs and PUKs encrypted (kra.archive-key in cm.conf)",
            ));
        }
        let recipient = Kra::transport_key(&req.transport_key)
            .map_err(|e| Refusal::invalid("transport_key", e.to_string()))?;
        let (kra, count, request_id) = (self.kra.clone(), req.count, req.request_id.clone());
        let (letters, sealed) = tokio::task::spawn_blocking(move || {
            generate(&kra, &rules, first, count, &recipient, &request_id)
        })
        .await
        .map_err(|_| Refusal::internal("PIN letter generation task failed"))??;
        let audit = NewAudit {
            category: AuditCategory::PinDistribution,
            action: "create-pin-letters".into(),
            officer: Some(officer.name.clone()),
            outcome: Outcome::Success,
            object: Some(format!("{first}-{last}")),
            detail: json!({
                "request_id": req.request_id,
                "pin_procedure": req.pin_procedure,
                "count": req.count,
            }),
        };
        let batch = PinLetterBatch {
            request_id: req.request_id.clone(),
            batch: req.request_id.clone(),
            pin_procedure: req.pin_procedure.clone(),
            first_id: first.to_string(),
            last_id: last.to_string(),
            sealed,
        };
        let answer = match key {
            Some(_) => Some(RequestAnswer {
                response: serde_json::to_string(&batch).map_err(Refusal::internal)?,
                certificate_ids: Vec::new(),
            }),
            None => None,
        };
        self.store
            .create_pin_letters_answered(
                &req.pin_procedure,
                &req.request_id,
                &officer.name,
                &letters,
                &audit,
                key.zip(answer.as_ref()),
            )
            .await
            .map_err(|e| {
                if let Some(refusal) = request_id_taken(&e, &req.request_id, &officer.name) {
                    return refusal;
                }
                match e {
                    StoreError::Conflict(what) => {
                        Refusal::conflict("first_id", format!("{what} exists already"))
                    }
                    other => Refusal::internal(other),
                }
            })?;
        tracing::info!(officer = %officer.name, "created PIN letters {first}-{last}");
        Ok(batch)
    }

    /// Voids a damaged or lost letter (never used for a token afterwards); needs
    /// `manage-pin-letters`. The voiding and its audit record are one transaction; refusals
    /// are audited.
    pub async fn void_pin_letter(
        &self,
        officer: &Officer,
        req: VoidPinLetter,
    ) -> Result<PinLetterInfo, Refusal> {
        self.require_pin_role(officer, "void-pin-letter").await?;
        let result = self.try_void_pin_letter(officer, &req).await;
        if let Err(refusal) = &result {
            audit_refusal(
                &self.store,
                AuditCategory::PinDistribution,
                "void-pin-letter",
                Some(&officer.name),
                refusal,
                json!({
                    "request_id": shorten(&req.request_id),
                    "letter_id": shorten(&req.letter_id),
                }),
            )
            .await;
        }
        result
    }

    async fn try_void_pin_letter(
        &self,
        officer: &Officer,
        req: &VoidPinLetter,
    ) -> Result<PinLetterInfo, Refusal> {
        check_request_id(&req.request_id)?;
        let reason = check_reason(&req.reason)?;
        let letter = find_letter(&self.store, "letter_id", &req.letter_id).await?;
        let letter_id = letter.letter_id;
        let audit = NewAudit {
            category: AuditCategory::PinDistribution,
            action: "void-pin-letter".into(),
            officer: Some(officer.name.clone()),
            outcome: Outcome::Success,
            object: Some(letter_id.to_string()),
            detail: json!({
                "request_id": req.request_id,
                "pin_procedure": letter.pin_procedure,
                "reason": reason,
            }),
        };
        let voided = self
            .store
            .void_pin_letter(letter_id, &officer.name, reason, &audit)
            .await
            .map_err(not_voided)?;
        tracing::info!(officer = %officer.name, "voided PIN letter {letter_id}");
        Ok(info(voided))
    }

    /// Lists PIN letters (without their secrets); needs `manage-pin-letters`.
    pub async fn pin_letters(
        &self,
        officer: &Officer,
        query: &PinLetterQuery,
    ) -> Result<Vec<PinLetterInfo>, Refusal> {
        self.require_pin_role(officer, "list-pin-letters").await?;
        let found = self
            .store
            .pin_letters(query)
            .await
            .map_err(Refusal::internal)?;
        Ok(found.into_iter().map(info).collect())
    }
}
