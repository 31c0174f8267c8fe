//! A test PKI made with the openssl crate (CA, end entities, a delegated OCSP signing
//! certificate), files for `openssl ocsp`, and a status source over a map.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use keyward_ocsp::{CertStatusAnswer, OcspError, Serial, StatusSource};
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use openssl::x509::{X509Extension, X509NameBuilder, X509};

pub fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// What a certificate is for.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Ca,
    EndEntity,
    /// id-kp-OCSPSigning + id-pkix-ocsp-nocheck.
    OcspSigner,
    /// id-kp-clientAuth only: not a responder certificate.
    NotOcsp,
}

/// A certificate for `public` named CN=`cn`, signed by `issuer` (self-signed when `None`).
pub fn certificate<T: HasPublic>(
    cn: &str,
    public: &PKeyRef<T>,
    serial: u32,
    kind: Kind,
    issuer: Option<(&X509, &PKey<Private>)>,
    self_key: Option<&PKey<Private>>,
) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    name.append_entry_by_text("O", "Keyward OCSP test").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(serial).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(public).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    match kind {
        Kind::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            let ku = KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build();
            b.append_extension(ku.unwrap()).unwrap();
        }
        Kind::EndEntity | Kind::NotOcsp | Kind::OcspSigner => {
            let ku = KeyUsage::new().critical().digital_signature().build();
            b.append_extension(ku.unwrap()).unwrap();
        }
    }
    if kind == Kind::OcspSigner {
        let eku = ExtendedKeyUsage::new().other("OCSPSigning").build();
        b.append_extension(eku.unwrap()).unwrap();
        // id-pkix-ocsp-nocheck, value NULL.
        let oid = Asn1Object::from_str("1.3.6.1.5.5.7.48.1.5").unwrap();
        let null = Asn1OctetString::new_from_bytes(&[0x05, 0x00]).unwrap();
        b.append_extension(X509Extension::new_from_der(&oid, false, &null).unwrap())
            .unwrap();
    }
    if kind == Kind::NotOcsp {
        let eku = ExtendedKeyUsage::new().client_auth().build();
        b.append_extension(eku.unwrap()).unwrap();
    }
    let signing_key = match issuer {
        Some((_, k)) => k,
        None => self_key.unwrap(),
    };
    b.sign(signing_key, MessageDigest::sha256()).unwrap();
    b.build()
}

/// The test PKI, written to a temporary directory as PEM for `openssl ocsp`.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: X509,
    pub ca_key: PKey<Private>,
    /// A second CA of ours (index 1 in the issuer set).
    pub ca2: X509,
    /// Serial 0x1001: good.
    pub good: X509,
    /// Serial 0x1002: revoked (keyCompromise).
    pub revoked: X509,
    /// Serial 0x1003: never issued as far as the source knows.
    pub never: X509,
    /// Issued by a CA that is not ours.
    pub foreign: X509,
    pub foreign_ca: X509,
    pub responder: X509,
    pub responder_key: PKey<Private>,
}

pub const REVOKED_AT: u64 = 1_790_000_000; // 2026-09-21T14:13:20Z

impl Pki {
    pub fn new() -> Pki {
        let mut dir = tempfile::tempdir().unwrap();
        // OCSP_KEEP=1 keeps the files for a look by hand.
        dir.disable_cleanup(std::env::var_os("OCSP_KEEP").is_some());
        let ca_key = ec_key();
        let ca = certificate("Test Issuing CA", &ca_key, 1, Kind::Ca, None, Some(&ca_key));
        let ca2_key = ec_key();
        let ca2 = certificate("Second CA", &ca2_key, 2, Kind::Ca, None, Some(&ca2_key));
        let foreign_key = ec_key();
        let foreign_ca = certificate(
            "Foreign CA",
            &foreign_key,
            3,
            Kind::Ca,
            None,
            Some(&foreign_key),
        );
        let ee = |cn: &str, serial: u32, issuer: (&X509, &PKey<Private>)| {
            certificate(cn, &ec_key(), serial, Kind::EndEntity, Some(issuer), None)
        };
        let good = ee("good", 0x1001, (&ca, &ca_key));
        let revoked = ee("revoked", 0x1002, (&ca, &ca_key));
        let never = ee("never", 0x1003, (&ca, &ca_key));
        let foreign = ee("foreign", 0x1001, (&foreign_ca, &foreign_key));
        let responder_key = ec_key();
        let responder = certificate(
            "OCSP responder",
            &responder_key,
            0x2001,
            Kind::OcspSigner,
            Some((&ca, &ca_key)),
            None,
        );
        let pki = Pki {
            dir,
            ca,
            ca_key,
            ca2,
            good,
            revoked,
            never,
            foreign,
            foreign_ca,
            responder,
            responder_key,
        };
        for (name, cert) in [
            ("ca", &pki.ca),
            ("good", &pki.good),
            ("revoked", &pki.revoked),
            ("never", &pki.never),
            ("foreign", &pki.foreign),
            ("foreign-ca", &pki.foreign_ca),
        ] {
            std::fs::write(pki.path(&format!("{name}.pem")), cert.to_pem().unwrap()).unwrap();
        }
        // A requestor identity for signed requests (any certificate and key will do).
        let requestor_key = ec_key();
        let requestor = certificate(
            "requestor",
            &requestor_key,
            0x4001,
            Kind::EndEntity,
            Some((&pki.ca, &pki.ca_key)),
            None,
        );
        std::fs::write(pki.path("requestor.pem"), requestor.to_pem().unwrap()).unwrap();
        let key_pem = requestor_key.private_key_to_pem_pkcs8().unwrap();
        std::fs::write(pki.path("requestor.key"), key_pem).unwrap();
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Our issuing CAs in issuer-set order.
    pub fn issuers(&self) -> Vec<Vec<u8>> {
        vec![self.ca2.to_der().unwrap(), self.ca.to_der().unwrap()]
    }

    /// `openssl ocsp -issuer ISSUER.pem [digest] -cert CERT.pem ... -reqout NAME`: the request
    /// DER. `extra` goes before `-cert` (digest options apply to the certificates after them).
    pub fn openssl_request(
        &self,
        name: &str,
        issuer: &str,
        certs: &[&str],
        extra: &[&str],
    ) -> Vec<u8> {
        let mut cmd = keyward_testkit::tool("openssl");
        cmd.arg("ocsp")
            .arg("-issuer")
            .arg(self.path(&format!("{issuer}.pem")))
            .args(extra);
        for cert in certs {
            cmd.arg("-cert").arg(self.path(&format!("{cert}.pem")));
        }
        let out = cmd.arg("-reqout").arg(self.path(name)).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(self.path(name)).unwrap()
    }

    /// Two runs of `openssl ocsp` on the response file `resp`, (both succeeded, their output):
    /// `-reqin REQ -respin RESP -CAfile ca.pem` checks the signature and that the nonce of
    /// request REQ is echoed; `-respin RESP -CAfile ca.pem -issuer ISSUER.pem -no_nonce -cert
    /// ...` prints each certificate's status (given `-cert`, OpenSSL builds a request of its
    /// own with a fresh nonce and ignores `-reqin`, hence the two runs). `extra` (a CertID
    /// digest, `-noverify`) goes before the certificates; digests only to the second run.
    pub fn openssl_check(
        &self,
        req: &str,
        resp: &str,
        issuer: &str,
        certs: &[&str],
        extra: &[&str],
    ) -> (bool, String) {
        let run = |cmd: &mut Command| {
            cmd.arg("-respin")
                .arg(self.path(resp))
                .arg("-CAfile")
                .arg(self.path("ca.pem"));
            if std::env::var_os("OCSP_DEBUG").is_some() {
                cmd.args(["-req_text", "-resp_text"]);
            }
            let out = cmd.output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        };
        let mut with_request = keyward_testkit::tool("openssl");
        // OpenSSL refuses a CertID digest option without -cert after it.
        with_request
            .arg("ocsp")
            .args(extra.iter().filter(|a| !a.starts_with("-sha")))
            .arg("-reqin")
            .arg(self.path(req));
        let (ok1, text1) = run(&mut with_request);
        let mut with_certs = keyward_testkit::tool("openssl");
        with_certs
            .arg("ocsp")
            .args(extra)
            .arg("-issuer")
            .arg(self.path(&format!("{issuer}.pem")))
            .arg("-no_nonce");
        for cert in certs {
            with_certs
                .arg("-cert")
                .arg(self.path(&format!("{cert}.pem")));
        }
        let (ok2, text2) = run(&mut with_certs);
        (ok1 && ok2, format!("{text1}\n--\n{text2}"))
    }
}

/// Status over a map: (issuer index, serial hex) → answer; anything else is `Unknown`.
#[derive(Default)]
pub struct MapSource {
    pub map: HashMap<(usize, String), CertStatusAnswer>,
    pub fail: bool,
    pub asked: std::sync::atomic::AtomicUsize,
}

impl MapSource {
    /// The test PKI's statuses: good 1001, revoked 1002 (keyCompromise at REVOKED_AT), both of
    /// issuer 1 (`ca`).
    pub fn for_pki() -> MapSource {
        let mut map = HashMap::new();
        map.insert((1, "1001".to_string()), CertStatusAnswer::Good);
        map.insert(
            (1, "1002".to_string()),
            CertStatusAnswer::Revoked {
                at: SystemTime::UNIX_EPOCH + Duration::from_secs(REVOKED_AT),
                reason: keyward_policy::RevocationReason::KeyCompromise,
            },
        );
        MapSource {
            map,
            ..MapSource::default()
        }
    }
}

impl StatusSource for MapSource {
    async fn status(&self, issuer: usize, serial: &Serial) -> Result<CertStatusAnswer, OcspError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.fail {
            return Err(OcspError::Unavailable("database down".into()));
        }
        Ok(self
            .map
            .get(&(issuer, serial.hex()))
            .copied()
            .unwrap_or(CertStatusAnswer::Unknown))
    }
}

pub fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap();
}
