//! procedures.toml: TOML, then every procedure validated, as `keyward procedures check` and
//! `init` do. A fault points inside the text; a valid set written back as TOML reads back as
//! the same, still valid, set.
#![no_main]

use std::path::Path;

use keyward_admin::procedures::parse;
use keyward_admin::AdminError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let path = Path::new("procedures.toml");
    match parse(path, text) {
        Ok(set) => {
            let written = toml::to_string(&set).unwrap();
            let again = parse(path, &written)
                .unwrap_or_else(|e| panic!("written back, it is refused: {e}\n{written}"));
            assert_eq!(set, again);
        }
        Err(AdminError::ProcedureFile { line, column, .. }) => {
            let lines = text.lines().count().max(1);
            assert!(line <= lines + 1, "line {line} of {lines}");
            assert!(line == 0 || column >= 1, "column {column}");
        }
        Err(e) => panic!("not a procedure-file fault: {e}"),
    }
});
