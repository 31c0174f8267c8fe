//! The two contenders beside the end-to-end path: the same token's crypto alone, in process
//! (key generation, CSR with proof of possession and its check, the CA's signature, PKCS#12
//! sealing with the `modern` profile at 2,048 PBKDF2 iterations), and the classic OpenSSL
//! command-line pipeline (`openssl req -newkey`, `openssl x509 -req`, `openssl pkcs12 -export`)
//! with the installation's own issuing CA.

use std::path::{Path, PathBuf};

use keyward_ca::{CertificateAuthority, IssueRequest};
use keyward_crypto::Pkcs12Profile;
use keyward_policy::{CertificateProcedure, DistinguishedName, KeySpec, ProcedureSet};
use keyward_server::ServerConfig;

use crate::PIN;

/// The installation's issuing CA and the `soft-signing` token's certificate procedure.
pub(crate) struct Crypto {
    ca: CertificateAuthority,
    procedure: CertificateProcedure,
}

impl Crypto {
    pub(crate) fn load(dir: &Path) -> Crypto {
        let config = ServerConfig::load(&dir.join("cm.conf")).expect("cm.conf");
        let ca = keyward_server::service::load_ca(&config).expect("issuing CA");
        let text = std::fs::read_to_string(dir.join("procedures.toml")).expect("procedures.toml");
        let set: ProcedureSet = toml::from_str(&text).expect("procedures.toml");
        let procedure = set
            .resolve("soft-signing")
            .expect("soft-signing")
            .certificates
            .remove(0);
        Crypto { ca, procedure }
    }

    /// One token's crypto: key, CSR (signed and checked), certificate, sealed PKCS#12.
    pub(crate) fn token(&self, spec: KeySpec, i: usize) -> usize {
        let dn =
            DistinguishedName::parse(&format!("CN=Bench User {i},O=Example,C=SE")).expect("DN");
        let key = keyward_crypto::generate_key(spec).expect("key");
        let csr = keyward_crypto::build_csr(&key, &dn).expect("CSR");
        let public = keyward_crypto::verify_csr(&csr).expect("CSR check");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let cert = self
            .ca
            .issue(&IssueRequest {
                public_key: &public,
                subject: &dn,
                email: None,
                procedure: &self.procedure,
                serial: keyward_crypto::random_serial().expect("serial"),
                not_before: now,
                dns_names: &[],
                ip_addresses: &[],
                qc_statements: &self.procedure.qc_statements,
            })
            .expect("certificate");
        let p12 = keyward_crypto::build_p12(
            &key,
            &cert,
            self.ca.chain(),
            &format!("Bench User {i}"),
            PIN,
            &Pkcs12Profile::modern(),
        )
        .expect("PKCS#12");
        std::hint::black_box(p12.len())
    }
}

/// The OpenSSL command-line pipeline, in a work directory of its own.
pub(crate) struct OpensslPipeline {
    work: PathBuf,
    ca_cert: PathBuf,
    ca_key: PathBuf,
    ca_pass: String,
    chain: PathBuf,
    ext: PathBuf,
}

fn openssl(args: &[&str], work: &Path, ca_pass: &str) {
    let out = keyward_testkit::tool("openssl")
        .args(args)
        .current_dir(work)
        .env("KW_PIN", PIN)
        .env("KW_CA_PASS", ca_pass)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl OpensslPipeline {
    /// Uses the installation's issuing CA; its key is re-encrypted once with OpenSSL's own
    /// defaults (AES-256-CBC, PBKDF2 at 2,048 iterations), as `openssl genpkey -aes256` would
    /// have left it.
    pub(crate) fn new(dir: &Path, work: &Path) -> OpensslPipeline {
        std::fs::create_dir_all(work).expect("work dir");
        let ca_pass = std::fs::read_to_string(dir.join("ca/ca.pass")).expect("ca.pass");
        let ca_pass = ca_pass.trim_end().to_string();
        let ca_key = work.join("issuing.key.pem");
        openssl(
            &[
                "pkey",
                "-in",
                dir.join("ca/issuing.key.pem").to_str().unwrap(),
                "-passin",
                "env:KW_CA_PASS",
                "-aes256",
                "-passout",
                "env:KW_CA_PASS",
                "-out",
                ca_key.to_str().unwrap(),
            ],
            work,
            &ca_pass,
        );
        let chain = work.join("chain.pem");
        let mut pem = std::fs::read(dir.join("ca/issuing.pem")).expect("issuing.pem");
        pem.extend(std::fs::read(dir.join("ca/root.pem")).expect("root.pem"));
        std::fs::write(&chain, pem).expect("chain");
        let ext = work.join("signing.ext");
        std::fs::write(
            &ext,
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, nonRepudiation\n\
             extendedKeyUsage = emailProtection, clientAuth\n\
             subjectKeyIdentifier = hash\n\
             authorityKeyIdentifier = keyid\n",
        )
        .expect("extensions");
        OpensslPipeline {
            work: work.to_path_buf(),
            ca_cert: dir.join("ca/issuing.pem"),
            ca_key,
            ca_pass,
            chain,
            ext,
        }
    }

    /// One token: three commands, files in the work directory.
    pub(crate) fn token(&self, spec: KeySpec, i: usize) {
        let newkey = match spec {
            KeySpec::Rsa(bits) => format!("rsa:{bits}"),
            KeySpec::Ec(_) => "ec".to_string(),
            KeySpec::Dsa(_) => unreachable!("not benchmarked"),
        };
        let mut serial = [0u8; 16];
        openssl::rand::rand_bytes(&mut serial).unwrap();
        serial[0] = (serial[0] & 0x3f) | 0x40;
        let f = |ext: &str| self.work.join(format!("t{i}.{ext}"));
        let (key, csr, cert, p12) = (f("key"), f("csr"), f("pem"), f("p12"));
        let mut req = vec![
            "req",
            "-new",
            "-newkey",
            &newkey,
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-subj",
        ];
        let subj = format!("/C=SE/O=Example/CN=Bench User {i}");
        req.push(&subj);
        if matches!(spec, KeySpec::Ec(_)) {
            req.extend(["-pkeyopt", "ec_paramgen_curve:prime256v1"]);
        }
        req.extend(["-out", csr.to_str().unwrap()]);
        openssl(&req, &self.work, &self.ca_pass);
        let serial = format!("0x{}", hex::encode(serial));
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                csr.to_str().unwrap(),
                "-CA",
                self.ca_cert.to_str().unwrap(),
                "-CAkey",
                self.ca_key.to_str().unwrap(),
                "-passin",
                "env:KW_CA_PASS",
                "-set_serial",
                &serial,
                "-days",
                "730",
                "-sha256",
                "-extfile",
                self.ext.to_str().unwrap(),
                "-out",
                cert.to_str().unwrap(),
            ],
            &self.work,
            &self.ca_pass,
        );
        let name = format!("Bench User {i}");
        openssl(
            &[
                "pkcs12",
                "-export",
                "-inkey",
                key.to_str().unwrap(),
                "-in",
                cert.to_str().unwrap(),
                "-certfile",
                self.chain.to_str().unwrap(),
                "-name",
                &name,
                "-passout",
                "env:KW_PIN",
                "-out",
                p12.to_str().unwrap(),
            ],
            &self.work,
            &self.ca_pass,
        );
        for path in [&key, &csr, &cert, &p12] {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Crypto {
    /// A real certificate (EC P-256 key, the `signing` procedure) as DER, for the size test.
    pub(crate) fn certificate_der(&self) -> Vec<u8> {
        let dn = DistinguishedName::parse(
            "CN=Anna Svensson,serialNumber=197001010000,O=Example Org 1,C=SE",
        )
        .expect("DN");
        let key =
            keyward_crypto::generate_key(KeySpec::Ec(keyward_policy::keyspec::Curve::Secp256r1))
                .expect("key");
        let public = openssl::pkey::PKey::public_key_from_der(&key.public_key_to_der().unwrap())
            .expect("public key");
        self.ca
            .issue(&IssueRequest {
                public_key: &public,
                subject: &dn,
                email: None,
                procedure: &self.procedure,
                serial: keyward_crypto::random_serial().expect("serial"),
                not_before: 1_700_000_000,
                dns_names: &[],
                ip_addresses: &[],
                qc_statements: &self.procedure.qc_statements,
            })
            .expect("certificate")
            .to_der()
            .expect("DER")
    }
}
