//! Subject DNs as typed by the officer (`--subject`, the CSV's subject column, the JSON
//! `subject`). A DN that parses must print as text that parses back to the same DN, and
//! the e-mail check must not panic.
#![no_main]

use keyward_policy::subject::{check_email, MAX_DN_CHARS};
use keyward_policy::DistinguishedName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = check_email(text);
    let Ok(dn) = DistinguishedName::parse(text) else {
        return;
    };
    assert!(!dn.attributes().is_empty());
    assert_eq!(dn.der_order().count(), dn.attributes().len());
    let shown = dn.to_string();
    // Escaping may lengthen the text past the limit, which parse refuses first.
    if shown.chars().count() <= MAX_DN_CHARS {
        let again = DistinguishedName::parse(&shown)
            .unwrap_or_else(|e| panic!("{shown:?} (printed from {text:?}) does not parse: {e}"));
        assert_eq!(dn, again, "{text:?} printed as {shown:?}");
    }
});
