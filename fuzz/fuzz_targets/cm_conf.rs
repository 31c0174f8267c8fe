//! cm.conf: the `key = value` format, then the server's checks of every setting (from text,
//! no file read). A file that parses must give the same settings when parsed twice, and
//! the server's listen address and key generation list must be usable.
#![no_main]

use std::path::Path;

use keyward_policy::config::Settings;
use keyward_server::ServerConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(settings) = Settings::parse(text) {
        assert_eq!(Settings::parse(text).ok(), Some(settings));
    }
    if let Ok(config) = ServerConfig::from_text(Path::new("/fuzz/cm.conf"), text) {
        assert!(keyward_policy::KeySpecList::parse(&config.ra_key_generation).is_ok());
    }
});
