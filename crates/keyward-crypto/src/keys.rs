//! Keys for every key spec, CSRs with proof of possession, and officer request signatures.

use openssl::bn::BigNum;
use openssl::dsa::Dsa;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use openssl::x509::{X509Name, X509Req};

use keyward_policy::keyspec::Curve;
use keyward_policy::{DistinguishedName, KeySpec};

use crate::{ossl, CryptoError};

/// Largest CSR accepted (an RSA-8192 CSR is about 1.2 KiB).
const MAX_CSR_BYTES: usize = 64 * 1024;

fn curve_nid(curve: Curve) -> Nid {
    match curve {
        Curve::BrainpoolP256r1 => Nid::BRAINPOOL_P256R1,
        Curve::BrainpoolP320r1 => Nid::BRAINPOOL_P320R1,
        Curve::BrainpoolP384r1 => Nid::BRAINPOOL_P384R1,
        Curve::BrainpoolP512r1 => Nid::BRAINPOOL_P512R1,
        Curve::Secp256r1 => Nid::X9_62_PRIME256V1,
        Curve::Secp384r1 => Nid::SECP384R1,
        Curve::Secp521r1 => Nid::SECP521R1,
    }
}

/// Generates a key pair of the given spec (RSA with e = 65537; EC keys on named curves).
pub fn generate_key(spec: KeySpec) -> Result<PKey<Private>, CryptoError> {
    match spec {
        KeySpec::Rsa(bits) => {
            let e = BigNum::from_u32(65_537).map_err(ossl("RSA exponent"))?;
            let rsa = Rsa::generate_with_e(bits, &e).map_err(ossl("RSA key generation"))?;
            PKey::from_rsa(rsa).map_err(ossl("RSA key"))
        }
        KeySpec::Ec(curve) => {
            let mut group = EcGroup::from_curve_name(curve_nid(curve)).map_err(ossl("EC curve"))?;
            group.set_asn1_flag(openssl::ec::Asn1Flag::NAMED_CURVE);
            let ec = EcKey::generate(&group).map_err(ossl("EC key generation"))?;
            PKey::from_ec_key(ec).map_err(ossl("EC key"))
        }
        KeySpec::Dsa(bits) => {
            let dsa = Dsa::generate(bits).map_err(ossl("DSA key generation"))?;
            PKey::from_dsa(dsa).map_err(ossl("DSA key"))
        }
    }
}

/// The key spec of a key, or an error for keys Keyward does not issue.
pub fn key_spec_of<T: HasPublic>(key: &PKeyRef<T>) -> Result<KeySpec, CryptoError> {
    let spec = match key.id() {
        Id::RSA => KeySpec::Rsa(key.bits()),
        Id::DSA => KeySpec::Dsa(key.bits()),
        Id::EC => {
            let ec = key.ec_key().map_err(ossl("EC key"))?;
            let nid = ec.group().curve_name();
            let curve = Curve::ALL
                .iter()
                .copied()
                .find(|c| Some(curve_nid(*c)) == nid)
                .ok_or_else(|| {
                    CryptoError::UnsupportedKey("EC key on an unnamed or unknown curve".into())
                })?;
            KeySpec::Ec(curve)
        }
        other => return Err(CryptoError::UnsupportedKey(format!("key type {other:?}"))),
    };
    if KeySpec::supported().contains(&spec) {
        Ok(spec)
    } else {
        Err(CryptoError::UnsupportedKey(format!(
            "{spec} is not a supported key spec"
        )))
    }
}

/// The digest Keyward signs with for a key: SHA-384 for 384-bit curves, SHA-512 for larger
/// curves (so the hash is not the weak link), SHA-256 otherwise (RSA, DSA-1024, 256/320-bit curves).
pub fn message_digest_for<T: HasPublic>(key: &PKeyRef<T>) -> MessageDigest {
    if key.id() == Id::EC {
        match key.bits() {
            0..=320 => MessageDigest::sha256(),
            321..=384 => MessageDigest::sha384(),
            _ => MessageDigest::sha512(),
        }
    } else {
        MessageDigest::sha256()
    }
}

/// An X.509 name from a DN, in certificate order.
pub fn x509_name(dn: &DistinguishedName) -> Result<X509Name, CryptoError> {
    let mut name = X509Name::builder().map_err(ossl("name"))?;
    for (attribute, value) in dn.der_order() {
        name.append_entry_by_text(attribute, value)
            .map_err(ossl("subject attribute"))?;
    }
    Ok(name.build())
}

/// A PKCS#10 request (DER) for `key`, signed by it: the proof of possession.
pub fn build_csr(
    key: &PKeyRef<Private>,
    subject: &DistinguishedName,
) -> Result<Vec<u8>, CryptoError> {
    let mut req = X509Req::builder().map_err(ossl("CSR"))?;
    req.set_version(0).map_err(ossl("CSR version"))?;
    let name = x509_name(subject)?;
    req.set_subject_name(&name).map_err(ossl("CSR subject"))?;
    req.set_pubkey(key).map_err(ossl("CSR key"))?;
    req.sign(key, message_digest_for(key))
        .map_err(ossl("CSR signature"))?;
    req.build().to_der().map_err(ossl("CSR encoding"))
}

/// Parses a DER CSR, verifies its self-signature, and returns its public key.
pub fn verify_csr(der: &[u8]) -> Result<PKey<Public>, CryptoError> {
    if der.len() > MAX_CSR_BYTES {
        return Err(CryptoError::BadCsr(format!(
            "larger than {MAX_CSR_BYTES} bytes"
        )));
    }
    let req = X509Req::from_der(der)
        .map_err(|_| CryptoError::BadCsr("not a DER PKCS#10 request".into()))?;
    let reencoded = req
        .to_der()
        .map_err(|_| CryptoError::BadCsr("cannot be re-encoded".into()))?;
    if reencoded.len() != der.len() {
        return Err(CryptoError::BadCsr("trailing or non-DER bytes".into()));
    }
    let key = req
        .public_key()
        .map_err(|_| CryptoError::BadCsr("no usable public key".into()))?;
    match req.verify(&key) {
        Ok(true) => Ok(key),
        _ => Err(CryptoError::BadCsr(
            "the signature does not verify (no proof of possession)".into(),
        )),
    }
}

/// Signs `msg` with `key` (ECDSA/DSA DER signature, or RSA PKCS#1 v1.5).
pub fn sign_message(key: &PKeyRef<Private>, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut signer = Signer::new(message_digest_for(key), key).map_err(ossl("signature"))?;
    signer.update(msg).map_err(ossl("signature"))?;
    signer.sign_to_vec().map_err(ossl("signature"))
}

/// Verifies a signature made by [`sign_message`].
pub fn verify_message<T: HasPublic>(
    key: &PKeyRef<T>,
    msg: &[u8],
    sig: &[u8],
) -> Result<bool, CryptoError> {
    let mut verifier = Verifier::new(message_digest_for(key), key).map_err(ossl("verification"))?;
    verifier.update(msg).map_err(ossl("verification"))?;
    Ok(verifier.verify(sig).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_generates_round_trips_and_proves_possession() {
        let dn = DistinguishedName::parse("CN=Test Person,O=Example,C=SE").unwrap();
        for spec in KeySpec::supported() {
            if spec == KeySpec::Rsa(8192) || spec == KeySpec::Rsa(4096) {
                continue; // slow; covered by the integration tests
            }
            let key = generate_key(spec).unwrap();
            assert_eq!(key_spec_of(&key).unwrap(), spec);
            let csr = build_csr(&key, &dn).unwrap();
            let public = verify_csr(&csr).unwrap();
            assert!(public.public_eq(&key), "{spec}");
            let sig = sign_message(&key, b"request").unwrap();
            assert!(verify_message(&public, b"request", &sig).unwrap(), "{spec}");
            assert!(
                !verify_message(&public, b"tampered", &sig).unwrap(),
                "{spec}"
            );
        }
    }

    #[test]
    fn tampered_or_garbage_csrs_are_refused() {
        let dn = DistinguishedName::parse("CN=Test").unwrap();
        let key = generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
        let mut csr = build_csr(&key, &dn).unwrap();
        let last = csr.len() - 2;
        csr[last] ^= 0x01;
        assert!(matches!(verify_csr(&csr), Err(CryptoError::BadCsr(_))));
        assert!(matches!(
            verify_csr(b"\x30\x03\x02\x01\x00"),
            Err(CryptoError::BadCsr(_))
        ));
        let mut trailing = build_csr(&key, &dn).unwrap();
        trailing.push(0);
        assert!(verify_csr(&trailing).is_err());
    }
}
