//! Extensions OpenSSL's builders do not cover, appended from our own DER: shared by the
//! end-entity extensions and the policy and QC-statement encoders they call.

use der::asn1::ObjectIdentifier;
use openssl::asn1::{Asn1Object, Asn1OctetString};
use openssl::x509::{X509Builder, X509Extension};

use crate::{ossl, CaError};

/// Appends an extension whose value (`value`, DER) was encoded by our own `der` types, for the
/// extensions OpenSSL's builders do not cover (policies with qualifiers, QC statements).
pub(crate) fn append_der(
    b: &mut X509Builder,
    oid: ObjectIdentifier,
    critical: bool,
    value: &[u8],
    what: &'static str,
) -> Result<(), CaError> {
    let oid = Asn1Object::from_str(&oid.to_string()).map_err(ossl(what))?;
    let value = Asn1OctetString::new_from_bytes(value).map_err(ossl(what))?;
    let ext = X509Extension::new_from_der(&oid, critical, &value).map_err(ossl(what))?;
    b.append_extension(ext).map_err(ossl(what))
}
