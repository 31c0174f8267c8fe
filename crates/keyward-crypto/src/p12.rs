//! PKCS#12 tokens.

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::{X509Ref, X509};

use crate::{ossl, CryptoError};

/// How a PKCS#12 is sealed. Only the `modern` profile exists yet: PBES2 with
/// PBKDF2-HMAC-SHA-256 and AES-256-CBC for key and certificate bags, HMAC-SHA-256 MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs12Profile {
    /// PBKDF2 and MAC iterations.
    pub iterations: u32,
}

impl Default for Pkcs12Profile {
    fn default() -> Self {
        Pkcs12Profile { iterations: 2048 }
    }
}

/// Seals a key, its certificate and the CA chain. Both bags get the friendlyName and the
/// localKeyId (OpenSSL derives it from the certificate).
pub fn build_p12(
    key: &PKeyRef<Private>,
    cert: &X509Ref,
    chain: &[X509],
    friendly_name: &str,
    pin: &str,
    profile: &Pkcs12Profile,
) -> Result<Vec<u8>, CryptoError> {
    let mut cas = Stack::new().map_err(ossl("PKCS#12 chain"))?;
    for ca in chain {
        cas.push(ca.clone()).map_err(ossl("PKCS#12 chain"))?;
    }
    let iterations = i32::try_from(profile.iterations).unwrap_or(i32::MAX);
    let mut builder = Pkcs12::builder();
    builder
        .name(friendly_name)
        .pkey(key)
        .cert(cert)
        .ca(cas)
        .key_algorithm(Nid::AES_256_CBC)
        .cert_algorithm(Nid::AES_256_CBC)
        .key_iter(iterations as u32)
        .mac_iter(iterations as u32)
        .mac_md(MessageDigest::sha256());
    let p12 = builder.build2(pin).map_err(ossl("PKCS#12 sealing"))?;
    p12.to_der().map_err(ossl("PKCS#12 encoding"))
}

/// Opens a PKCS#12: its key, certificate and CA certificates.
pub fn parse_p12(der: &[u8], pin: &str) -> Result<(PKey<Private>, X509, Vec<X509>), CryptoError> {
    let p12 = Pkcs12::from_der(der)
        .map_err(|_| CryptoError::BadPkcs12("not a DER PKCS#12 file".into()))?;
    let parsed = p12.parse2(pin).map_err(|_| CryptoError::WrongPin)?;
    let key = parsed
        .pkey
        .ok_or_else(|| CryptoError::BadPkcs12("no private key".into()))?;
    let cert = parsed
        .cert
        .ok_or_else(|| CryptoError::BadPkcs12("no certificate".into()))?;
    let chain = parsed
        .ca
        .map(|s| s.into_iter().collect())
        .unwrap_or_default();
    Ok((key, cert, chain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_policy::keyspec::Curve;
    use keyward_policy::{DistinguishedName, KeySpec};
    use openssl::asn1::Asn1Time;
    use openssl::x509::X509Builder;

    fn self_signed(key: &PKeyRef<Private>) -> X509 {
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let name = crate::x509_name(&DistinguishedName::parse("CN=Holder").unwrap()).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(key, crate::message_digest_for(key)).unwrap();
        b.build()
    }

    #[test]
    fn modern_p12_opens_with_openssl_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        for spec in [
            KeySpec::Ec(Curve::BrainpoolP320r1),
            KeySpec::Dsa(1024),
            KeySpec::Rsa(2048),
        ] {
            let key = crate::generate_key(spec).unwrap();
            let cert = self_signed(&key);
            let der = build_p12(
                &key,
                &cert,
                std::slice::from_ref(&cert),
                "Holder",
                "pin-1234-x",
                &Pkcs12Profile::default(),
            )
            .unwrap();
            let (back, back_cert, chain) = parse_p12(&der, "pin-1234-x").unwrap();
            assert!(back.public_eq(&key));
            assert_eq!(back_cert.to_der().unwrap(), cert.to_der().unwrap());
            assert_eq!(chain.len(), 1);
            assert!(matches!(
                parse_p12(&der, "wrong"),
                Err(CryptoError::WrongPin)
            ));
            let path = dir.path().join("t.p12");
            std::fs::write(&path, &der).unwrap();
            let out = std::process::Command::new("openssl")
                .args([
                    "pkcs12",
                    "-info",
                    "-noout",
                    "-passin",
                    "env:KW_TEST_PIN",
                    "-in",
                ])
                .arg(&path)
                .env("KW_TEST_PIN", "pin-1234-x")
                .output()
                .unwrap();
            let info = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{spec}: {info}");
            for needle in [
                "MAC: sha256",
                "PBES2, PBKDF2, AES-256-CBC",
                "hmacWithSHA256",
            ] {
                assert!(info.contains(needle), "{spec}: missing {needle}: {info}");
            }
        }
    }
}
