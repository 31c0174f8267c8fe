//! Verification of the chain and its seals.
//!
//! Records are read in ID order, 10,000 at a time (never the whole log at once). For each
//! record, in order, the first failing rule is reported and the walk stops:
//!
//! 1. Its stored `hash` must equal the hash of its content and `prev_hash`. Otherwise:
//!    `reordered` if the stored hash is that of the record's content under the ID of a later
//!    record, or that of a later record's content under this ID (contents swapped, with or
//!    without their hash columns); else `inserted` if the next record is intact and links to
//!    the record before this one (the chain skips it); else `edited`.
//! 2. Its `prev_hash` must equal the previous record's hash (64 zeros for the first). Otherwise:
//!    `inserted` (the previous record) if this record links to the record before the previous
//!    one; `inserted` (this record) if the next record is intact and links to the previous
//!    one; `deleted` if IDs are missing between the previous record and this one (IDs of
//!    rolled-back appends are never reused, so a gap alone is no evidence — only a gap with a
//!    broken link); else `inserted` (this record does not link to its predecessor: it was
//!    forged, or its predecessor was edited and re-hashed).
//! 3. Every seal up to this record must verify with the public key (`bad-seal`), its record
//!    must exist (`truncated`), and the sealed hash must equal the record's hash (`edited`:
//!    records up to it were edited and the chain re-hashed).
//!
//! After the last record, any seal left refers to a record that no longer exists: `bad-seal` if
//! its signature fails, else `truncated`.

use std::collections::VecDeque;

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use serde::Serialize;

use keyward_store::{AuditSeal, ChainedRecord, Store, GENESIS_HASH};

use crate::chain::{intact, BreakKind, BrokenLink, Records, PAGE};
use crate::classify::{bad_hash, bad_link};
use crate::key::{parse_public, public_key_id, seal_message};
use crate::AuditError;

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// No broken link.
    pub intact: bool,
    /// Records checked (up to the break, if any).
    pub records: u64,
    /// Seals checked.
    pub seals: u64,
    /// The last record checked.
    pub last_record_id: Option<i64>,
    /// The last record covered by a verified seal.
    pub last_sealed_id: Option<i64>,
    /// Records after the last seal: these could be removed or rewritten without a trace.
    pub unsealed_tail: u64,
    /// The key ID of the public key used.
    pub key_id: String,
    /// The first broken link.
    pub broken: Option<BrokenLink>,
}

/// A forward cursor over the seals, by `upto_id`.
/// Only seals stored before the walk started (ID up to `horizon`) count: a seal stored during
/// the walk may cover records appended after the walk read the end of the chain.
struct Seals<'a> {
    store: &'a Store,
    buf: VecDeque<AuditSeal>,
    after: (i64, i64),
    horizon: i64,
    done: bool,
}

impl<'a> Seals<'a> {
    /// Call before reading any record.
    async fn new(store: &'a Store) -> Result<Seals<'a>, AuditError> {
        let horizon = store.max_audit_seal_id().await?;
        Ok(Seals {
            store,
            buf: VecDeque::new(),
            after: (i64::MIN, i64::MIN),
            horizon: horizon.unwrap_or(i64::MIN),
            done: horizon.is_none(),
        })
    }

    async fn peek_upto(&mut self) -> Result<Option<i64>, AuditError> {
        while self.buf.is_empty() && !self.done {
            let page = self.store.audit_seals_page(self.after, PAGE).await?;
            self.done = (page.len() as i64) < PAGE;
            if let Some(last) = page.last() {
                self.after = (last.upto_id, last.id);
            }
            let horizon = self.horizon;
            self.buf
                .extend(page.into_iter().filter(|s| s.id <= horizon));
        }
        Ok(self.buf.front().map(|s| s.upto_id))
    }
}

/// Verifies the whole chain and every seal against `public_key_pem` (the audit key's public
/// key, PEM). See the module documentation for the rules; the first broken link is reported.
pub async fn verify(store: &Store, public_key_pem: &[u8]) -> Result<VerifyReport, AuditError> {
    let key = parse_public(public_key_pem)?;
    let mut report = VerifyReport {
        intact: true,
        records: 0,
        seals: 0,
        last_record_id: None,
        last_sealed_id: None,
        unsealed_tail: 0,
        key_id: public_key_id(public_key_pem)?,
        broken: None,
    };
    report.broken = walk(store, &key, &mut report).await?;
    report.intact = report.broken.is_none();
    let last = store.last_audit_seal().await?;
    let tail = store
        .count_audit_after(last.map_or(i64::MIN, |s| s.upto_id))
        .await?;
    report.unsealed_tail = u64::try_from(tail).unwrap_or(0);
    Ok(report)
}

async fn walk(
    store: &Store,
    key: &PKey<Public>,
    report: &mut VerifyReport,
) -> Result<Option<BrokenLink>, AuditError> {
    let mut seals = Seals::new(store).await?;
    let mut records = Records::after(store, i64::MIN);
    let mut prev: Option<ChainedRecord> = None;
    while let Some(r) = records.next().await? {
        if !intact(&r) {
            return Ok(Some(
                bad_hash(store, &mut records, prev.as_ref(), &r).await?,
            ));
        }
        let expected = prev
            .as_ref()
            .and_then(|p| p.hash.clone())
            .unwrap_or_else(|| GENESIS_HASH.to_string());
        if r.prev_hash.as_deref() != Some(expected.as_str()) {
            return Ok(Some(
                bad_link(&mut records, prev.as_ref(), &r, &expected).await?,
            ));
        }
        while let Some(upto) = seals.peek_upto().await? {
            if upto > r.id {
                break;
            }
            let Some(seal) = seals.buf.pop_front() else {
                break;
            };
            report.seals += 1;
            if let Some(broken) = check_seal(key, &seal, (upto == r.id).then_some(&r)) {
                return Ok(Some(broken));
            }
            report.last_sealed_id = Some(r.id);
        }
        report.records += 1;
        report.last_record_id = Some(r.id);
        prev = Some(r);
    }
    while seals.peek_upto().await?.is_some() {
        let Some(seal) = seals.buf.pop_front() else {
            break;
        };
        report.seals += 1;
        if let Some(broken) = check_seal(key, &seal, None) {
            return Ok(Some(broken));
        }
    }
    Ok(None)
}

/// Checks one seal against its record (`None`: the record does not exist).
fn check_seal(
    key: &PKey<Public>,
    seal: &AuditSeal,
    record: Option<&ChainedRecord>,
) -> Option<BrokenLink> {
    let broken = |kind, message| {
        Some(BrokenLink {
            kind,
            record_id: seal.upto_id,
            seal_id: Some(seal.id),
            message,
        })
    };
    let verified = Verifier::new(MessageDigest::sha256(), key)
        .and_then(|mut v| {
            v.update(&seal_message(seal.upto_id, &seal.head_hash))?;
            v.verify(&seal.signature)
        })
        .unwrap_or(false);
    if !verified {
        return broken(
            BreakKind::BadSeal,
            format!(
                "seal {} (up to record {}, key {}): the signature does not verify with the public key",
                seal.id, seal.upto_id, seal.key_id
            ),
        );
    }
    match record {
        None => broken(
            BreakKind::Truncated,
            format!(
                "seal {} covers record {}, which no longer exists: the log was cut",
                seal.id, seal.upto_id
            ),
        ),
        Some(r) if r.hash.as_deref() != Some(seal.head_hash.as_str()) => broken(
            BreakKind::Edited,
            format!(
                "record {}'s hash is not the one seal {} signed: records up to it were edited and the chain re-hashed",
                r.id, seal.id
            ),
        ),
        Some(_) => None,
    }
}
