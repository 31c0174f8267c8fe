//! QC statements as a procedure writes them in TOML (`[...qc_statements]`). What parses and
//! validates writes back as TOML that reads as the same set, and encodes to DER.
#![no_main]

use keyward_policy::QcStatements;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(qc) = toml::from_str::<QcStatements>(text) else {
        return;
    };
    let kinds = qc.kinds();
    assert_eq!(kinds.is_empty(), qc.is_empty());
    if qc.validate().is_err() {
        return;
    }
    let written = toml::to_string(&qc).unwrap();
    let back: QcStatements = toml::from_str(&written)
        .unwrap_or_else(|e| panic!("written back, it is refused: {e}\n{written}"));
    assert_eq!(qc, back);
    keyward_ca::qc_statements_der(&qc)
        .unwrap_or_else(|e| panic!("valid statements {qc:?} do not encode: {e}"));
});
