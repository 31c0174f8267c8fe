//! Hand-made signed requests: an officer's credential with an HTTPS client, and the clock.

use std::path::Path;
use std::sync::Arc;

use keyward_ra::{ClientConfig, OfficerCredential, RaClient};

use super::Installation;

/// The officer of client configuration `conf` (Signature PIN in `pin_file`) and an HTTPS
/// client with it.
pub(crate) fn officer_client(conf: &Path, pin_file: &Path) -> (Arc<OfficerCredential>, RaClient) {
    let config = ClientConfig::load(conf).unwrap();
    let pin = std::fs::read_to_string(pin_file).unwrap();
    let officer = Arc::new(OfficerCredential::open(&config, pin.trim()).unwrap());
    let client = RaClient::new(&config, officer.clone()).unwrap();
    (officer, client)
}

/// The first officer (`admin`) of `inst`, with a client.
pub(crate) fn admin_client(inst: &Installation) -> (Arc<OfficerCredential>, RaClient) {
    officer_client(&inst.client_conf(), &inst.dir.join("officer/admin.pin"))
}

/// Seconds since the Unix epoch (a request's timestamp).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
