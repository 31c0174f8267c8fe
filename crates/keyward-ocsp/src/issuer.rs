//! Which of our issuing CAs a CertID names: issuerNameHash and issuerKeyHash computed once per
//! CA and hash algorithm, then compared.

use der::asn1::{Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use openssl::hash::{hash, MessageDigest};
use x509_cert::{AlgorithmIdentifier, Certificate};

use crate::asn1::CertId;
use crate::OcspError;

/// A CertID hash algorithm we support (RFC 6960 §4.3 requires SHA-1; RFC 5019 clients send it;
/// `openssl ocsp -sha256` and others send SHA-2).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Hash, PartialOrd, Ord)]
pub enum HashAlg {
    /// SHA-1 (1.3.14.3.2.26).
    Sha1,
    /// SHA-256 (2.16.840.1.101.3.4.2.1).
    Sha256,
    /// SHA-384 (2.16.840.1.101.3.4.2.2).
    Sha384,
    /// SHA-512 (2.16.840.1.101.3.4.2.3).
    Sha512,
}

impl HashAlg {
    /// Every supported algorithm.
    pub const ALL: [HashAlg; 4] = [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        ObjectIdentifier::new_unwrap(match self {
            HashAlg::Sha1 => "1.3.14.3.2.26",
            HashAlg::Sha256 => "2.16.840.1.101.3.4.2.1",
            HashAlg::Sha384 => "2.16.840.1.101.3.4.2.2",
            HashAlg::Sha512 => "2.16.840.1.101.3.4.2.3",
        })
    }

    /// The algorithm a CertID names; `None` for any other OID, or parameters other than absent
    /// or NULL (RFC 5754 §2 allows both).
    pub fn from_algorithm(alg: &AlgorithmIdentifier) -> Option<HashAlg> {
        let params_ok = match &alg.parameters {
            None => true,
            Some(any) => any.decode_as::<Null>().is_ok(),
        };
        if !params_ok {
            return None;
        }
        HashAlg::ALL.into_iter().find(|h| h.oid() == alg.oid)
    }

    /// The AlgorithmIdentifier we write in CertIDs of our own (with NULL parameters, as
    /// OpenSSL writes them).
    pub fn algorithm(self) -> AlgorithmIdentifier {
        AlgorithmIdentifier {
            oid: self.oid(),
            parameters: Some(Null.into()),
        }
    }

    /// `data` hashed.
    pub fn digest(self, data: &[u8]) -> Result<Vec<u8>, OcspError> {
        let md = match self {
            HashAlg::Sha1 => MessageDigest::sha1(),
            HashAlg::Sha256 => MessageDigest::sha256(),
            HashAlg::Sha384 => MessageDigest::sha384(),
            HashAlg::Sha512 => MessageDigest::sha512(),
        };
        hash(md, data)
            .map(|d| d.to_vec())
            .map_err(|e| OcspError::responder("hash", e))
    }
}

/// One issuer's hashes under one algorithm.
#[derive(Clone, Debug)]
struct Hashes {
    alg: HashAlg,
    name: Vec<u8>,
    key: Vec<u8>,
}

/// Our issuing CAs, by index (the index the [`crate::StatusSource`] is asked with).
#[derive(Clone, Debug)]
pub struct IssuerSet {
    issuers: Vec<Vec<Hashes>>,
}

impl IssuerSet {
    /// Computes the CertID hashes of each issuing CA certificate (DER), in the given order.
    pub fn new(certificates: &[Vec<u8>]) -> Result<IssuerSet, OcspError> {
        let mut issuers = Vec::with_capacity(certificates.len());
        for der in certificates {
            let cert = Certificate::from_der(der)
                .map_err(|e| OcspError::responder("issuer certificate", e))?;
            let tbs = cert.tbs_certificate();
            let name = tbs
                .subject()
                .to_der()
                .map_err(|e| OcspError::responder("issuer certificate subject", e))?;
            let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
            let mut hashes = Vec::with_capacity(HashAlg::ALL.len());
            for alg in HashAlg::ALL {
                hashes.push(Hashes {
                    alg,
                    name: alg.digest(&name)?,
                    key: alg.digest(key)?,
                });
            }
            issuers.push(hashes);
        }
        Ok(IssuerSet { issuers })
    }

    /// How many issuers there are.
    pub fn len(&self) -> usize {
        self.issuers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// The index of the issuer a CertID names, or `None` (not ours, or a hash we do not
    /// support): that entry is answered `unknown`.
    pub fn locate(&self, cert_id: &CertId) -> Option<usize> {
        let alg = HashAlg::from_algorithm(&cert_id.hash_algorithm)?;
        self.issuers.iter().position(|hashes| {
            hashes.iter().any(|h| {
                h.alg == alg
                    && h.name == cert_id.issuer_name_hash.as_bytes()
                    && h.key == cert_id.issuer_key_hash.as_bytes()
            })
        })
    }

    /// The CertID for serial `serial` (DER INTEGER content) of issuer `index` under `alg`: what
    /// a client would send, for pre-signing responses.
    pub fn cert_id(&self, index: usize, alg: HashAlg, serial: &[u8]) -> Option<CertId> {
        let h = self.issuers.get(index)?.iter().find(|h| h.alg == alg)?;
        Some(CertId {
            hash_algorithm: alg.algorithm(),
            issuer_name_hash: OctetString::new(h.name.clone()).ok()?,
            issuer_key_hash: OctetString::new(h.key.clone()).ok()?,
            serial_number: der::asn1::Int::new(serial).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_algorithms_are_told_apart_by_oid_and_parameters() {
        for alg in HashAlg::ALL {
            assert_eq!(HashAlg::from_algorithm(&alg.algorithm()), Some(alg));
            let bare = AlgorithmIdentifier {
                oid: alg.oid(),
                parameters: None,
            };
            assert_eq!(HashAlg::from_algorithm(&bare), Some(alg));
            let odd = AlgorithmIdentifier {
                oid: alg.oid(),
                parameters: Some(der::asn1::Any::from(
                    der::asn1::BitString::from_bytes(&[1]).unwrap(),
                )),
            };
            assert_eq!(HashAlg::from_algorithm(&odd), None);
        }
        let md5 = AlgorithmIdentifier {
            oid: ObjectIdentifier::new_unwrap("1.2.840.113549.2.5"),
            parameters: None,
        };
        assert_eq!(HashAlg::from_algorithm(&md5), None);
        // Digest lengths, from the algorithms themselves.
        let lens: Vec<usize> = HashAlg::ALL
            .iter()
            .map(|a| a.digest(b"x").unwrap().len())
            .collect();
        assert_eq!(lens, [20, 32, 48, 64]);
    }

    #[test]
    fn a_certificate_that_does_not_parse_is_named() {
        let err = IssuerSet::new(&[vec![0x30, 0x00]]).unwrap_err();
        assert!(err.to_string().contains("issuer certificate"), "{err}");
        assert!(IssuerSet::new(&[]).unwrap().is_empty());
    }
}
