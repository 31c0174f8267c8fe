//! `keyward p12 inspect`'s ASN.1 walk over any bytes (no PIN: the empty PIN is tried). A
//! report renders as the tree and as JSON (`--json`).
#![no_main]

use keyward_crypto::p12_inspect::{inspect, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|der: &[u8]| {
    if let Ok(report) = inspect(der, None) {
        let text = render("fuzz.p12", &report);
        assert!(text.starts_with("fuzz.p12\n") && text.ends_with('\n'));
        serde_json::to_string(&report).unwrap();
    }
});
