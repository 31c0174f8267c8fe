//! The status index: which serials the issuing CA issued and which of them are revoked, in
//! memory, so that an OCSP answer needs no database read. Measured at 1M certificates (see
//! BENCHMARKS.md), a store read per request cost more CPU than the signature: each read is a
//! hand-off to the SQLite worker thread and back.
//!
//! The index only ever answers what it knows for certain, and the store answers the rest:
//! - the revoked map is complete from the start: loaded before the first answer
//!   ([`super::Freshness::start`]) and kept current by the revocation-change poller, so a
//!   revocation reaches it within the poll interval, as it reaches the pre-signed cache;
//! - the issued set is filled in the background ([`StatusIndex::fill`]) and by every store
//!   answer, so a serial it lacks (not yet loaded, issued since, or never issued) is asked of the
//!   store. Certificates are never deleted, so a serial in the set stays ours.
//!
//! Keyward's serials are 16 random bytes ([`keyward_crypto::random_serial`]), so a serial is kept
//! as a `u128` in a hash set: about 36 bytes a certificate measured (32 → 68 MB resident at 1M,
//! BENCHMARKS.md). A longer serial is not indexed (the store answers).

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::{Duration, UNIX_EPOCH};

use futures_util::StreamExt;

use keyward_ocsp::CertStatusAnswer;
use keyward_policy::RevocationReason;
use keyward_store::{RevokedEntry, Store, StoreError};

/// How many serials the background fill inserts per write lock: short enough that answers do
/// not wait behind it.
const FILL_BATCH: usize = 4096;

/// The in-memory status of the issuing CA's certificates (see the module documentation).
pub struct StatusIndex {
    /// Most serials held in the issued set (`ocsp.status-index`); 0: no index at all.
    capacity: usize,
    issued: RwLock<HashSet<u128>>,
    revoked: RwLock<HashMap<u128, Revoked>>,
}

/// A revocation in force (holds included), as an answer needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Revoked {
    at: i64,
    reason: RevocationReason,
}

/// The index key of a serial given as DER INTEGER content bytes (or magnitude bytes): `None` for
/// a negative serial or one longer than 16 bytes, which the index does not hold.
pub fn key_of_bytes(bytes: &[u8]) -> Option<u128> {
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let magnitude = &bytes[start..];
    if magnitude.len() > 16 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[16 - magnitude.len()..].copy_from_slice(magnitude);
    Some(u128::from_be_bytes(buf))
}

/// The index key of a serial in the store's form (lowercase hex without leading zeros).
pub fn key_of_hex(hex: &str) -> Option<u128> {
    let digits = hex.trim_start_matches('0');
    if digits.len() > 32 {
        return None;
    }
    if digits.is_empty() {
        return if hex.is_empty() { None } else { Some(0) };
    }
    u128::from_str_radix(digits, 16).ok()
}

impl StatusIndex {
    /// An empty index holding at most `capacity` issued serials (0: the index is off and every
    /// question goes to the store).
    pub fn new(capacity: usize) -> StatusIndex {
        StatusIndex {
            capacity,
            issued: RwLock::new(HashSet::new()),
            revoked: RwLock::new(HashMap::new()),
        }
    }

    /// Whether the index answers at all.
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The answer for serial `key` if the index knows it for certain; `None`: ask the store.
    pub fn answer(&self, key: u128) -> Option<CertStatusAnswer> {
        if !self.enabled() {
            return None;
        }
        // The revoked map first: a serial revoked while the fill or a store answer put it in the
        // issued set is revoked.
        if let Some(r) = read(&self.revoked).get(&key) {
            return Some(CertStatusAnswer::Revoked {
                at: UNIX_EPOCH + Duration::from_secs(u64::try_from(r.at).unwrap_or(0)),
                reason: r.reason,
            });
        }
        read(&self.issued)
            .contains(&key)
            .then_some(CertStatusAnswer::Good)
    }

    /// Records what the store answered for `key`. Only a good answer is kept: a revocation the
    /// store shows before the poller has applied it is left to the poller, so that the index never
    /// says good for it in between.
    pub fn learn(&self, key: u128, answer: &CertStatusAnswer) {
        if self.enabled() && *answer == CertStatusAnswer::Good {
            self.insert_issued(&[key]);
        }
    }

    /// Applies one revocation row (a change, or a row of the full list): in force → revoked;
    /// a released hold → no longer revoked. The serial is ours either way.
    pub fn apply(&self, entry: &RevokedEntry) {
        let Some(key) = self
            .enabled()
            .then(|| key_of_hex(&entry.serial_hex))
            .flatten()
        else {
            return;
        };
        let mut revoked = write(&self.revoked);
        match entry.released_at {
            Some(_) => revoked.remove(&key),
            None => revoked.insert(
                key,
                Revoked {
                    at: entry.revoked_at,
                    reason: entry.reason,
                },
            ),
        };
        drop(revoked);
        self.insert_issued(&[key]);
    }

    /// Loads every revocation in force of `issuer`: before the first answer, after the poller's
    /// starting change number was read (changes after it are applied again by the poller).
    pub async fn load_revoked(&self, store: &Store, issuer: &str) -> Result<usize, StoreError> {
        if !self.enabled() {
            return Ok(0);
        }
        let mut entries = store.revoked_entries(issuer);
        let mut loaded = 0;
        while let Some(entry) = entries.next().await {
            self.apply(&entry?);
            loaded += 1;
        }
        Ok(loaded)
    }

    /// Fills the issued set with every serial of `issuer`, in batches, up to the capacity.
    /// Returns how many serials the set holds when done. Answers are served meanwhile: a serial
    /// not loaded yet is asked of the store.
    pub async fn fill(&self, store: &Store, issuer: &str) -> Result<usize, StoreError> {
        if !self.enabled() {
            return Ok(0);
        }
        let mut serials = store.issued_serials(issuer);
        let mut batch = Vec::with_capacity(FILL_BATCH);
        while let Some(serial) = serials.next().await {
            if let Some(key) = key_of_hex(&serial?) {
                batch.push(key);
            }
            if batch.len() == FILL_BATCH {
                if !self.insert_issued(&batch) {
                    break;
                }
                batch.clear();
            }
        }
        self.insert_issued(&batch);
        Ok(self.issued_len())
    }

    /// How many serials the issued set holds.
    pub fn issued_len(&self) -> usize {
        read(&self.issued).len()
    }

    /// How many revocations in force the index holds.
    pub fn revoked_len(&self) -> usize {
        read(&self.revoked).len()
    }

    /// Inserts `keys` while the set is below its capacity; false once it is full.
    fn insert_issued(&self, keys: &[u128]) -> bool {
        let mut issued = write(&self.issued);
        for key in keys {
            if issued.len() >= self.capacity {
                return false;
            }
            issued.insert(*key);
        }
        true
    }
}

/// The lock's value even if a writer panicked: the sets are valid after any completed insert.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(serial: &str, released: bool) -> RevokedEntry {
        RevokedEntry {
            certificate_id: 1,
            serial_hex: serial.into(),
            reason: RevocationReason::CertificateHold,
            revoked_at: 1_790_000_000,
            invalidity_date: None,
            released_at: released.then_some(1_790_000_100),
            change_seq: 1,
            not_after: 2_000_000_000,
        }
    }

    #[test]
    fn keys_agree_between_der_bytes_and_the_store_form() {
        for (bytes, hex) in [
            (&[0x01][..], "1"),
            (&[0x00, 0x8f, 0x01][..], "8f01"),
            (&[0x7f, 0xff][..], "7fff"),
            (&[0x00][..], "0"),
            (
                &[0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15][..],
                "400102030405060708090a0b0c0d0e0f",
            ),
        ] {
            assert_eq!(key_of_bytes(bytes), key_of_hex(hex), "{hex}");
            assert!(key_of_bytes(bytes).is_some(), "{hex}");
        }
        // Negative, longer than 16 bytes, not hex, empty: not indexed.
        assert_eq!(key_of_bytes(&[0x80, 1]), None);
        assert_eq!(key_of_bytes(&[1; 17]), None);
        assert_eq!(key_of_hex(&"1".repeat(33)), None);
        assert_eq!(key_of_hex("xyz"), None);
        assert_eq!(key_of_hex(""), None);
        // Leading zero bytes do not make a different serial.
        assert_eq!(key_of_bytes(&[0, 0, 5]), key_of_bytes(&[5]));
    }

    #[test]
    fn answers_only_what_it_knows_revocations_first() {
        let index = StatusIndex::new(10);
        let key = key_of_hex("abc").unwrap();
        assert_eq!(
            index.answer(key),
            None,
            "unknown to the index: ask the store"
        );
        index.learn(key, &CertStatusAnswer::Good);
        assert_eq!(index.answer(key), Some(CertStatusAnswer::Good));
        index.apply(&entry("abc", false));
        assert_eq!(
            index.answer(key),
            Some(CertStatusAnswer::Revoked {
                at: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
                reason: RevocationReason::CertificateHold
            })
        );
        index.apply(&entry("abc", true));
        assert_eq!(index.answer(key), Some(CertStatusAnswer::Good));
        assert_eq!(index.revoked_len(), 0);
    }

    #[test]
    fn a_revoked_store_answer_is_left_to_the_poller() {
        let index = StatusIndex::new(10);
        let key = key_of_hex("5").unwrap();
        index.learn(
            key,
            &CertStatusAnswer::Revoked {
                at: UNIX_EPOCH,
                reason: RevocationReason::KeyCompromise,
            },
        );
        assert_eq!(index.answer(key), None);
        index.learn(key, &CertStatusAnswer::Unknown);
        assert_eq!(index.answer(key), None);
    }

    #[test]
    fn the_issued_set_stops_at_its_capacity_and_zero_turns_it_off() {
        let index = StatusIndex::new(2);
        assert!(!index.insert_issued(&[1, 2, 3]));
        assert_eq!(index.issued_len(), 2);
        assert_eq!(index.answer(3), None);
        let off = StatusIndex::new(0);
        off.learn(1, &CertStatusAnswer::Good);
        off.apply(&entry("1", false));
        assert_eq!(
            (off.answer(1), off.issued_len(), off.revoked_len()),
            (None, 0, 0)
        );
    }
}
