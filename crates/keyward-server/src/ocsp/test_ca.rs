//! The CA the responder's tests issue from: a fresh two-level hierarchy and its issuing CA with
//! a software key.

use openssl::pkey::PKey;

use keyward_ca::{CertificateAuthority, Hierarchy, SoftwareSigner};
use keyward_policy::DistinguishedName;

/// A root and an issuing CA named `CN=<root>,O=T` and `CN=<issuing>,O=T`.
pub(super) fn hierarchy(root: &str, issuing: &str) -> Hierarchy {
    keyward_ca::create_hierarchy(
        &DistinguishedName::parse(&format!("CN={root},O=T")).unwrap(),
        &DistinguishedName::parse(&format!("CN={issuing},O=T")).unwrap(),
    )
    .unwrap()
}

/// The issuing CA of `h`, its chain the issuing and root certificates.
pub(super) fn ca_of(h: &Hierarchy) -> CertificateAuthority {
    let key = PKey::private_key_from_der(&h.issuing_key.private_key_to_der().unwrap()).unwrap();
    CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert.clone(), h.root_cert.clone()],
        Box::new(SoftwareSigner::new(key)),
    )
}
