//! Key specs: one spec (`--key-spec`, the CSV's key_spec column), a `ra-key-generation` list
//! and a `kra.key-pool` definition. What parses prints as text that parses back the same.
#![no_main]

use keyward_policy::{KeySpec, KeySpecList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(spec) = text.parse::<KeySpec>() {
        assert_eq!(spec.to_string().parse::<KeySpec>().ok(), Some(spec));
    }
    if let Ok(list) = KeySpecList::parse(text) {
        let again = KeySpecList::parse(&list.to_string()).unwrap();
        assert_eq!(list, again);
        assert!(list.specs().contains(&list.default_spec()));
        assert_eq!(list.choose(None).ok(), Some(list.default_spec()));
        for spec in list.specs() {
            assert_eq!(list.choose(Some(&spec.to_string())).ok(), Some(*spec));
        }
    }
    if let Ok(targets) = keyward_crypto::key_pool::parse_pool_targets(text) {
        let shown: Vec<String> = targets.iter().map(|(s, n)| format!("{s}={n}")).collect();
        let again = keyward_crypto::key_pool::parse_pool_targets(&shown.join(", ")).unwrap();
        assert_eq!(targets, again);
    }
});
