//! client.conf: the RA client's checks of every setting (from text, no file read). A
//! config that is accepted names an https:// server.
#![no_main]

use std::path::Path;

use keyward_ra::ClientConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(config) = ClientConfig::from_text(Path::new("/fuzz/client.conf"), text) {
        assert!(config.server_url.starts_with("https://"));
        assert!(!config.server_url.ends_with('/'));
    }
});
