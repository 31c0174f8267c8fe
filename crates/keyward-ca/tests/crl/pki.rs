//! The test PKI of the CRL tests: a hierarchy on disk, leaf certificates naming the CRL, CRLs
//! written by the writer, and the foreign tools that check them.

use std::path::{Path, PathBuf};

use keyward_ca::*;
use keyward_policy::keyspec::Curve;
use keyward_policy::procedure::CertificateProcedure;
use keyward_policy::usage::{KeyUsage, KeyUsageSet};
use keyward_policy::{DistinguishedName, KeySpec, RevocationReason};
use openssl::pkey::{PKey, Public};
pub(crate) const URL: &str = "http://127.0.0.1:8080/crl/issuing.crl";
pub(crate) const DELTA_URL: &str = "http://127.0.0.1:8080/crl/issuing-delta.crl";
pub(crate) const DAY: i64 = 86_400;

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A CA hierarchy on disk: root.pem, issuing.pem, chain.pem (both), the issuing CA, and the
/// root CA (software key) for the CRLs about the issuing CA.
pub(crate) struct Pki {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) ca: CertificateAuthority,
    pub(crate) root: CertificateAuthority,
}

/// A hierarchy whose issuing CA key is `public`, signed by `signer`.
pub(crate) fn pki_with(public: &PKey<Public>, signer: Box<dyn Signer>, name: &str) -> Pki {
    let h = create_hierarchy_with_issuing_key(
        &DistinguishedName::parse("CN=CRL Test Root,O=Keyward").unwrap(),
        &DistinguishedName::parse(&format!("CN=CRL Test Issuing {name},O=Keyward,C=SE")).unwrap(),
        public,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = h.root_cert.to_pem().unwrap();
    let issuing = h.issuing_cert.to_pem().unwrap();
    std::fs::write(dir.path().join("root.pem"), &root).unwrap();
    std::fs::write(dir.path().join("issuing.pem"), &issuing).unwrap();
    std::fs::write(dir.path().join("chain.pem"), [issuing, root].concat()).unwrap();
    let root = CertificateAuthority::new(
        h.root_cert.clone(),
        vec![h.root_cert.clone()],
        Box::new(SoftwareSigner::new(h.root_key)),
    );
    let ca = CertificateAuthority::new(
        h.issuing_cert.clone(),
        vec![h.issuing_cert, h.root_cert],
        signer,
    );
    Pki { dir, ca, root }
}

/// A software CA key of `spec`.
pub(crate) fn software(spec: KeySpec) -> Pki {
    let key = keyward_crypto::generate_key(spec).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    pki_with(
        &public,
        Box::new(SoftwareSigner::new(key)),
        &spec.to_string(),
    )
}

impl Pki {
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Issues an end-entity certificate with `serial` whose cRLDistributionPoints name [`URL`]
    /// (OpenSSL uses a CRL with an issuingDistributionPoint only for such certificates), and
    /// writes it to `name`.
    pub(crate) fn leaf(&self, name: &str, serial: [u8; 16]) -> PathBuf {
        let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1)).unwrap();
        let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
        let procedure = CertificateProcedure {
            name: "leaf".into(),
            validity_days: 30,
            key_usage: KeyUsageSet::of(&[KeyUsage::DigitalSignature]),
            crl_urls: vec![URL.into()],
            ..Default::default()
        };
        let cert = self
            .ca
            .issue(&IssueRequest {
                public_key: &public,
                subject: &DistinguishedName::parse(&format!("CN={name},O=Example")).unwrap(),
                email: None,
                procedure: &procedure,
                serial,
                not_before: now() - DAY,
                dns_names: &[],
                ip_addresses: &[],
                qc_statements: &Default::default(),
            })
            .unwrap();
        let path = self.path(&format!("{name}.pem"));
        std::fs::write(&path, cert.to_pem().unwrap()).unwrap();
        path
    }

    /// Writes a CRL of `entries` as `name.der` and `name.pem` (PEM by `openssl crl`).
    pub(crate) fn crl(
        &self,
        name: &str,
        params: &CrlParams,
        entries: &[CrlEntry],
    ) -> (PathBuf, PathBuf) {
        self.write_crl(&self.ca, name, params, entries)
    }

    /// The root's CRL (number 1, no IDP: the issuing CA certificate names no CRL) of `entries`,
    /// as `name.der` and `name.pem`.
    pub(crate) fn root_crl(&self, name: &str, entries: &[CrlEntry]) -> (PathBuf, PathBuf) {
        let mut p = params(1, None);
        p.idp_url = None;
        p.freshest_url = None;
        self.write_crl(&self.root, name, &p, entries)
    }

    fn write_crl(
        &self,
        ca: &CertificateAuthority,
        name: &str,
        params: &CrlParams,
        entries: &[CrlEntry],
    ) -> (PathBuf, PathBuf) {
        let mut writer = ca.crl_writer(params).unwrap();
        for entry in entries {
            writer.push(entry).unwrap();
        }
        let der = writer.finish().unwrap();
        let der_path = self.path(&format!("{name}.der"));
        let pem_path = self.path(&format!("{name}.pem"));
        std::fs::write(&der_path, der).unwrap();
        run(
            "openssl",
            &[
                "crl",
                "-inform",
                "DER",
                "-in",
                s(&der_path),
                "-out",
                s(&pem_path),
            ],
        );
        (der_path, pem_path)
    }

    /// `openssl verify -crl_check` of `leaf` with `crls` (and `extra` flags): its stdout and
    /// stderr, and whether it succeeded.
    pub(crate) fn verify(&self, leaf: &Path, crls: &[&Path], extra: &[&str]) -> (bool, String) {
        let mut cmd = keyward_testkit::tool("openssl");
        cmd.args(["verify", "-crl_check"]).args(extra);
        cmd.args(["-CAfile", s(&self.path("root.pem"))]);
        cmd.args(["-untrusted", s(&self.path("issuing.pem"))]);
        for crl in crls {
            cmd.args(["-CRLfile", s(crl)]);
        }
        let out = cmd.arg(leaf).output().expect("openssl");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success() && text.contains(": OK"), text)
    }
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs a tool that must succeed; its stdout and stderr.
pub(crate) fn run(tool: &str, args: &[&str]) -> String {
    let out = keyward_testkit::tool(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{tool} {args:?}:\n{text}");
    text
}

pub(crate) fn serial() -> [u8; 16] {
    keyward_crypto::random_serial().unwrap()
}

pub(crate) fn entry(serial: &[u8], reason: RevocationReason, revoked_at: i64) -> CrlEntry {
    CrlEntry {
        serial: serial.to_vec(),
        revoked_at,
        reason: Some(reason),
        invalidity_date: None,
        remove_from_crl: false,
    }
}

pub(crate) fn params(number: u64, delta_of: Option<u64>) -> CrlParams {
    CrlParams {
        number,
        this_update: now() - 60,
        next_update: now() + 7 * DAY,
        delta_of,
        idp_url: Some(URL.into()),
        freshest_url: delta_of.is_none().then(|| DELTA_URL.into()),
    }
}

/// pkilint's `lint_crl` (PKIX profile) finds nothing at ERROR or FATAL; every finding (CSV:
/// node_path, validator, severity, code, message) is printed for the record.
pub(crate) fn pkilint_clean(crl_der: &Path) {
    let out = keyward_testkit::tool("lint_crl")
        .args(["lint", "-t", "CRL", "-p", "PKIX", "-s", "ALL", "-f", "CSV"])
        .arg(crl_der)
        .output()
        .expect("run lint_crl");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("lint_crl {}:\n{text}", crl_der.display());
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("node_path,validator,severity,code,message"),
        "lint_crl did not run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let serious: Vec<&str> = lines
        .filter(|l| l.contains(",ERROR,") || l.contains(",FATAL,"))
        .collect();
    assert!(serious.is_empty(), "{}: {serious:#?}", crl_der.display());
}
