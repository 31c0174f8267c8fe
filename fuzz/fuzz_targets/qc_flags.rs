//! `--qc-statement KIND[=VALUE]` flags, one a line. A set built from flags that validates is
//! encoded to DER by the CA and survives a JSON round trip (how it travels to the server).
#![no_main]

use keyward_policy::QcStatements;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let mut qc = QcStatements::default();
    for flag in text.lines() {
        if qc.add_flag(flag).is_err() {
            return;
        }
    }
    if qc.validate().is_err() {
        return;
    }
    let json = serde_json::to_string(&qc).unwrap();
    let back: QcStatements = serde_json::from_str(&json).unwrap();
    assert_eq!(qc, back);
    keyward_ca::qc_statements_der(&qc)
        .unwrap_or_else(|e| panic!("valid statements {qc:?} do not encode: {e}"));
});
