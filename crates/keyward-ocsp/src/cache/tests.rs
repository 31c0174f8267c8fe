use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn response(tag: u8, produced: u64, nonce: bool) -> SignedResponse {
    let at = UNIX_EPOCH + Duration::from_secs(produced);
    SignedResponse {
        der: vec![0x30, 0x01, tag],
        produced_at: at,
        this_update: at,
        next_update: at + Duration::from_secs(3600),
        has_nonce: nonce,
    }
}

fn serial(n: u8) -> Serial {
    Serial::from_der_bytes(&[n])
}

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn http_dates_are_imf_fixdate() {
    // RFC 9110's own example, and a leap day.
    assert_eq!(http_date(at(784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(http_date(at(951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
}

#[test]
fn cache_facts_follow_rfc_5019() {
    let r = response(1, T0, false);
    let facts = CacheFacts::for_response(&r, at(T0 + 600)).unwrap();
    assert_eq!(facts.max_age_secs, 3000);
    assert_eq!(facts.last_modified, r.produced_at);
    assert_eq!(facts.expires, r.next_update);
    assert!(facts.etag.starts_with('"') && facts.etag.ends_with('"') && facts.etag.len() == 34);
    let other = CacheFacts::for_response(&response(2, T0, false), at(T0)).unwrap();
    assert_ne!(facts.etag, other.etag, "the ETag follows the bytes");
    let headers = facts.headers();
    assert_eq!(
        headers[0].1,
        "max-age=3000, public, no-transform, must-revalidate"
    );
    assert!(CacheFacts::for_response(&response(1, T0, true), at(T0)).is_none());
    assert!(CacheFacts::for_response(&r, at(T0 + 3601)).is_none());
}

#[test]
fn the_cache_serves_until_max_age_or_invalidation() {
    let cache = ResponseCache::new(CacheSettings {
        capacity: 10,
        max_age: Duration::from_secs(600),
    });
    let g = cache.generation();
    assert!(cache.insert(0, &serial(1), b"sha1", response(1, T0, false), g));
    assert!(cache.insert(0, &serial(1), b"sha256", response(2, T0, false), g));
    assert!(cache.insert(1, &serial(1), b"sha1", response(3, T0, false), g));
    assert!(!cache.insert(0, &serial(2), b"sha1", response(4, T0, true), g));
    assert_eq!(cache.len(), 3);
    let hit = |i, s: u8, id: &[u8], t| cache.get(i, &serial(s), id, at(t)).map(|r| r.der[2]);
    assert_eq!(hit(0, 1, b"sha1", T0 + 1), Some(1));
    assert_eq!(hit(0, 1, b"sha256", T0 + 1), Some(2));
    assert_eq!(hit(0, 1, b"sha384", T0 + 1), None);
    assert_eq!(hit(0, 1, b"sha1", T0 + 600), None, "older than max_age");
    // Invalidation drops every spelling of that (issuer, serial) and nothing else.
    cache.invalidate(0, &serial(1));
    assert_eq!(hit(0, 1, b"sha1", T0 + 1), None);
    assert_eq!(hit(0, 1, b"sha256", T0 + 1), None);
    assert_eq!(hit(1, 1, b"sha1", T0 + 1), Some(3));
    assert_eq!(cache.len(), 1);
    // A response built from a status read before the invalidation is refused.
    assert!(!cache.insert(0, &serial(1), b"sha1", response(5, T0, false), g));
    assert!(cache.insert(
        0,
        &serial(1),
        b"sha1",
        response(6, T0, false),
        cache.generation()
    ));
    // Replacing a spelling does not grow the cache.
    assert!(cache.insert(
        0,
        &serial(1),
        b"sha1",
        response(7, T0, false),
        cache.generation()
    ));
    assert_eq!(cache.len(), 2);
    assert_eq!(hit(0, 1, b"sha1", T0 + 1), Some(7));
}

#[test]
fn the_cache_is_bounded_and_drops_the_oldest() {
    let cache = ResponseCache::new(CacheSettings {
        capacity: 3,
        max_age: Duration::from_secs(600),
    });
    for n in 0..10u8 {
        assert!(cache.insert(0, &serial(n), b"id", response(n, T0, false), 0));
        assert!(cache.len() <= 3);
    }
    assert_eq!(cache.len(), 3);
    for n in 0..7u8 {
        assert!(cache.get(0, &serial(n), b"id", at(T0)).is_none(), "{n}");
    }
    for n in 7..10u8 {
        assert!(cache.get(0, &serial(n), b"id", at(T0)).is_some(), "{n}");
    }
    let none = ResponseCache::new(CacheSettings {
        capacity: 0,
        max_age: Duration::from_secs(600),
    });
    assert!(!none.insert(0, &serial(1), b"id", response(1, T0, false), 0));
    assert!(none.is_empty());
}
