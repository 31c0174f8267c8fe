//! The OCSP responder's parsers, the first unauthenticated ones in Keyward: `parse_request` on
//! any bytes (a POST body), and `decode_get_path` on any text (a GET path) followed by
//! `parse_request`. An accepted request keeps within the limits, re-encodes to a request that
//! parses the same, and survives the GET spelling (URL-safe and percent-encoded base64).
#![no_main]

use base64::Engine;
use keyward_ocsp::{decode_get_path, parse_request, Limits, MAX_NONCE_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    check(data, &limits);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(der) = decode_get_path(text) {
            check(&der, &limits);
        }
    }
});

fn check(der: &[u8], limits: &Limits) {
    let Ok(request) = parse_request(der, limits) else {
        return;
    };
    assert!(!request.entries.is_empty() && request.entries.len() <= limits.max_requests);
    for entry in &request.entries {
        assert!(entry.serial.as_bytes().len() <= limits.max_serial_bytes);
    }
    match request.nonce_value() {
        Some(nonce) => assert!((1..=MAX_NONCE_BYTES).contains(&nonce.len())),
        None => assert!(request.nonce.is_none()),
    }
    let again = request.to_der().unwrap();
    let reparsed = parse_request(&again, limits).unwrap();
    assert_eq!(reparsed, request);
    assert_eq!(reparsed.to_der().unwrap(), again);
    if again.len() <= 2048 {
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&again);
        assert_eq!(decode_get_path(&url).unwrap(), again);
        let std = base64::engine::general_purpose::STANDARD.encode(&again);
        let percent = std.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
        assert_eq!(decode_get_path(&percent).unwrap(), again);
    }
}
