//! RFC 5019 caching: the HTTP cache facts of a response (as data: the HTTP layer sends them),
//! and a bounded cache of pre-signed responses keyed by (issuer, serial), invalidated
//! explicitly when a certificate's status changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::request::Serial;
use crate::response::SignedResponse;

/// What RFC 5019 §6.2 has a responder send with a GET answer.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CacheFacts {
    /// `Cache-Control: max-age=N, public, no-transform, must-revalidate`: seconds until
    /// nextUpdate (never beyond it).
    pub max_age_secs: u64,
    /// `ETag`: a strong validator, the quoted SHA-256 of the response (first 16 bytes, hex).
    pub etag: String,
    /// `Last-Modified`: producedAt.
    pub last_modified: SystemTime,
    /// `Expires`: nextUpdate.
    pub expires: SystemTime,
}

impl CacheFacts {
    /// The facts for `response` served at `now`; `None` when it must not be cached (a nonce
    /// was echoed) or is past its nextUpdate.
    pub fn for_response(response: &SignedResponse, now: SystemTime) -> Option<CacheFacts> {
        if response.has_nonce {
            return None;
        }
        let left = response.next_update.duration_since(now).ok()?;
        let digest = openssl::sha::sha256(&response.der);
        Some(CacheFacts {
            max_age_secs: left.as_secs(),
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
            last_modified: response.produced_at,
            expires: response.next_update,
        })
    }

    /// The header lines, names and values, dates in IMF-fixdate (RFC 9110 §5.6.7).
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            (
                "cache-control",
                format!(
                    "max-age={}, public, no-transform, must-revalidate",
                    self.max_age_secs
                ),
            ),
            ("etag", self.etag.clone()),
            ("last-modified", http_date(self.last_modified)),
            ("expires", http_date(self.expires)),
        ]
    }
}

/// `t` as an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Sizing of a [`ResponseCache`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct CacheSettings {
    /// Most responses held; the oldest goes first when full.
    pub capacity: usize,
    /// How long a pre-signed response is served after producedAt (and never past nextUpdate).
    pub max_age: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            capacity: 100_000,
            max_age: Duration::from_secs(600),
        }
    }
}

/// (issuer index, serial): what a status change invalidates.
type Key = (usize, Serial);

/// One cached response: clients differ in CertID hash algorithm and NULL parameters, and a
/// response echoes the CertID byte for byte, so each spelling has its own.
struct Variant {
    cert_id_der: Vec<u8>,
    seq: u64,
    response: SignedResponse,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Vec<Variant>>,
    /// Insertion order, for eviction: sequence number → key.
    order: BTreeMap<u64, Key>,
    count: usize,
    next_seq: u64,
    /// Bumped by every invalidation: a response built from a status read before it is stale.
    generation: u64,
}

impl Inner {
    fn remove_variant(&mut self, key: &Key, seq: u64) {
        self.order.remove(&seq);
        if let Some(variants) = self.entries.get_mut(key) {
            let before = variants.len();
            variants.retain(|v| v.seq != seq);
            self.count -= before - variants.len();
            if variants.is_empty() {
                self.entries.remove(key);
            }
        }
    }
}

/// Pre-signed successful responses for single-entry requests without a nonce (RFC 5019 §2.1).
pub struct ResponseCache {
    settings: CacheSettings,
    inner: Mutex<Inner>,
}

impl ResponseCache {
    /// An empty cache.
    pub fn new(settings: CacheSettings) -> Self {
        ResponseCache {
            settings,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the maps consistent (every update
        // is a few inserts/removes), so keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation to pass to [`ResponseCache::insert`]: read it *before* asking the status
    /// source, so that an invalidation racing with the lookup keeps the stale answer out.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The cached response for this CertID, if still fresh at `now`.
    pub fn get(
        &self,
        issuer: usize,
        serial: &Serial,
        cert_id_der: &[u8],
        now: SystemTime,
    ) -> Option<SignedResponse> {
        let inner = self.lock();
        let variants = inner.entries.get(&(issuer, serial.clone()))?;
        let response = &variants
            .iter()
            .find(|v| v.cert_id_der == cert_id_der)?
            .response;
        let fresh_until = (response.produced_at + self.settings.max_age).min(response.next_update);
        (now < fresh_until).then(|| response.clone())
    }

    /// Caches `response` (refused with a nonce, or when an invalidation happened since
    /// `generation` was read). Returns whether it was stored.
    pub fn insert(
        &self,
        issuer: usize,
        serial: &Serial,
        cert_id_der: &[u8],
        response: SignedResponse,
        generation: u64,
    ) -> bool {
        if response.has_nonce || self.settings.capacity == 0 {
            return false;
        }
        let key = (issuer, serial.clone());
        let mut inner = self.lock();
        if inner.generation != generation {
            return false;
        }
        let old = inner
            .entries
            .get(&key)
            .and_then(|vs| vs.iter().find(|v| v.cert_id_der == cert_id_der))
            .map(|v| v.seq);
        if let Some(seq) = old {
            inner.remove_variant(&key, seq);
        }
        while inner.count >= self.settings.capacity {
            let Some((seq, oldest)) = inner.order.pop_first() else {
                break;
            };
            inner.remove_variant(&oldest, seq);
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.order.insert(seq, key.clone());
        inner.entries.entry(key).or_default().push(Variant {
            cert_id_der: cert_id_der.to_vec(),
            seq,
            response,
        });
        inner.count += 1;
        true
    }

    /// Drops every cached response for `serial` of `issuer` (any CertID spelling): call it when
    /// the certificate's status changes.
    pub fn invalidate(&self, issuer: usize, serial: &Serial) {
        let mut inner = self.lock();
        inner.generation += 1;
        if let Some(variants) = inner.entries.remove(&(issuer, serial.clone())) {
            inner.count -= variants.len();
            for v in variants {
                inner.order.remove(&v.seq);
            }
        }
    }

    /// How many responses are held.
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
