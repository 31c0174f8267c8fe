//! What `keyward init` writes for relying parties: the public URL (`--public-url`) that the
//! demo certificate procedures' CRL and OCSP URLs and cm.conf's public listener name, and the
//! delegated OCSP signing certificate issued from the issuing CA.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use keyward_ca::CertificateAuthority;
use keyward_crypto::files::write_secret;
use keyward_policy::keyspec::Curve;
use keyward_policy::{DistinguishedName, KeySpec, ProcedureSet};
use keyward_server::ocsp::renew;
use keyward_store::Store;

use crate::ca::HsmCa;
use crate::error::{input_error, AdminError};

/// The public listener's URL the built-in procedures are written with (the template's value,
/// replaced by `--public-url`).
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// The subject of the OCSP signing certificate.
const OCSP_SUBJECT: &str = "CN=Keyward Issuing CA OCSP Responder,O=Keyward,C=SE";

/// A checked `--public-url`: `http://HOST[:PORT]`, no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// The URL without a trailing slash.
    pub url: String,
    /// Where the public listener listens: the URL's port, on the URL's address if it is an IP
    /// address, else on 127.0.0.1 (behind a proxy that owns the name).
    pub listen: SocketAddr,
}

impl PublicUrl {
    /// Parses `text`; errors name `--public-url`.
    pub fn parse(text: &str) -> Result<PublicUrl, AdminError> {
        let bad = |why: &str| input_error(format!("--public-url {text:?}: {why}"));
        let url = text.trim().trim_end_matches('/');
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(bad(
                "must start with http:// (CRLs and OCSP are fetched over plain HTTP)",
            ));
        };
        if rest.is_empty() || rest.len() > 200 {
            return Err(bad("give a host of 1 to 200 characters"));
        }
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad(
                "give scheme, host and port only (http://HOST[:PORT]): Keyward serves /ocsp and \
                 /crl/ at the root",
            ));
        }
        if !rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(bad(
                "the host may hold letters, digits, '.', '-' and ':' only",
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad("the port is not 1 to 65535"))?;
                (host, port)
            }
            _ => (rest, 80),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.is_empty() {
            return Err(bad("no host"));
        }
        let ip = match bare.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) if !host.contains([':', '[', ']']) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Err(_) => return Err(bad("not a host name or IP address")),
        };
        Ok(PublicUrl {
            url: url.to_string(),
            listen: SocketAddr::new(ip, port),
        })
    }

    /// The built-in procedures with this URL in their CRL and OCSP URLs.
    pub fn procedures(&self) -> String {
        crate::init::DEFAULT_PROCEDURES.replace(DEFAULT_PUBLIC_URL, &self.url)
    }

    /// The cm.conf lines of the public listener, the CRLs and the OCSP responder, whose key
    /// `ocsp_key` names (the lines from [`issue_ocsp_signer`]).
    pub fn cm_conf(&self, ocsp_key: &str) -> String {
        let url = &self.url;
        format!(
            "\n\
             # CRLs and OCSP over plain HTTP for relying parties (the URLs of the certificate\n\
             # procedures point here). Uncomment to serve them (or keyward server --public-listen):\n\
             # public.listen = {listen}\n\
             # crl.url = {url}/crl/issuing.crl\n\
             # crl.delta-url = {url}/crl/issuing-delta.crl\n\
             \n\
             # The OCSP responder's delegated signing certificate (renewed by the server when a\n\
             # third of its validity is left) and its key:\n\
             ocsp.certificate = ocsp/signer.pem\n\
             {ocsp_key}\
             # ocsp.response-validity = 3600     (seconds from thisUpdate to nextUpdate)\n\
             # ocsp.cache-size = 100000          (pre-signed responses kept; 0: none)\n\
             # ocsp.max-requests = 16            (certificates in one OCSP request)\n\
             # ocsp.status-index = 10000000      (certificates whose status is kept in memory,\n\
             #                                    ~36 bytes each; 0: read the database)\n",
            listen = self.listen
        )
    }
}

/// The cm.conf lines of a software OCSP signing key.
pub const SOFTWARE_OCSP_KEY: &str =
    "ocsp.key = ocsp/signer.key.pem\nocsp.key-passphrase-file = ocsp/signer.pass\n";

/// Issues the delegated OCSP signing certificate of `ca` with procedure `ocsp-signing` of
/// `procedures` for a new P-256 key: on the CA's token when `hsm` is given, else encrypted
/// under a passphrase of its own (`ocsp/signer.key.pem`, `ocsp/signer.pass`); records and
/// audits it and writes `ocsp/signer.pem` in `dir`. Returns the cm.conf lines naming the key.
pub async fn issue_ocsp_signer(
    dir: &Path,
    ca: &CertificateAuthority,
    procedures: &ProcedureSet,
    store: &Store,
    actor: &str,
    hsm: Option<&HsmCa>,
) -> Result<String, AdminError> {
    let procedure = procedures
        .certificate
        .iter()
        .find(|c| c.name == renew::PROCEDURE)
        .ok_or_else(|| {
            AdminError::Other(format!(
                "built-in procedures.toml lacks certificate procedure {}",
                renew::PROCEDURE
            ))
        })?;
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
        .create(dir.join("ocsp"))?;
    let (public, conf) = match hsm {
        Some(hsm) => hsm.generate_ocsp_key()?,
        None => {
            let key = keyward_crypto::generate_key(KeySpec::Ec(Curve::Secp256r1))?;
            let pass = keyward_crypto::generate_pin(32, keyward_policy::pin::PIN_ALPHABET)?;
            write_secret(&dir.join("ocsp/signer.pass"), pass.as_str().as_bytes())?;
            write_secret(
                &dir.join("ocsp/signer.key.pem"),
                &keyward_ca::encrypt_key_pem(&key, pass.as_str().as_bytes())?,
            )?;
            let public = openssl::pkey::PKey::public_key_from_der(&key.public_key_to_der()?)?;
            (public, SOFTWARE_OCSP_KEY.to_string())
        }
    };
    let subject = DistinguishedName::parse(OCSP_SUBJECT)?;
    let cert = renew::issue(ca, &public, &subject, procedure).map_err(AdminError::Other)?;
    write_secret(&dir.join("ocsp/signer.pem"), &cert.to_pem()?)?;
    renew::record(
        store,
        ca.certificate(),
        &cert,
        actor,
        "issue-ocsp-certificate",
    )
    .await
    .map_err(AdminError::Other)?;
    Ok(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_checked_and_name_the_option() {
        let ok = PublicUrl::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(ok.url, "http://127.0.0.1:8080");
        assert_eq!(ok.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        let named = PublicUrl::parse("http://pki.example.org").unwrap();
        assert_eq!(named.listen, SocketAddr::from(([127, 0, 0, 1], 80)));
        let v6 = PublicUrl::parse("http://[::1]:9000").unwrap();
        assert_eq!(v6.listen.port(), 9000);
        assert!(v6.listen.ip().is_loopback());
        for bad in [
            "https://pki.example.org",
            "http://",
            "http://pki.example.org/pki",
            "http://pki.example.org:0",
            "http://pki.example.org:99999",
            "http://pki\".example.org",
            "http://user@pki.example.org",
            "ftp://x",
        ] {
            let err = PublicUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains("--public-url"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_procedures_template_takes_the_url() {
        let url = PublicUrl::parse("http://192.0.2.7:8081").unwrap();
        let text = url.procedures();
        assert!(!text.contains(DEFAULT_PUBLIC_URL));
        let set: ProcedureSet = toml::from_str(&text).unwrap();
        set.validate().unwrap();
        for name in [
            "signing",
            "encryption",
            "tls-server",
            "qualified-natural-person",
            "psd2-qseal",
        ] {
            let p = set.certificate.iter().find(|c| c.name == name).unwrap();
            assert_eq!(
                p.crl_urls,
                ["http://192.0.2.7:8081/crl/issuing.crl"],
                "{name}"
            );
            assert_eq!(p.ocsp_urls, ["http://192.0.2.7:8081/ocsp"], "{name}");
        }
        let ocsp = set
            .certificate
            .iter()
            .find(|c| c.name == renew::PROCEDURE)
            .unwrap();
        assert!(ocsp.ocsp_no_check);
        assert_eq!(ocsp.extended_key_usage, ["OCSPSigning"]);
        assert!(ocsp.crl_urls.is_empty() && ocsp.ocsp_urls.is_empty());
    }

    #[test]
    fn no_token_procedure_may_issue_an_ocsp_signing_certificate() {
        let text = crate::init::DEFAULT_PROCEDURES.replace(
            r#"certificate_procedures = ["tls-server"]"#,
            r#"certificate_procedures = ["ocsp-signing"]"#,
        );
        let set: ProcedureSet = toml::from_str(&text).unwrap();
        let err = set.validate().unwrap_err().to_string();
        assert!(
            err.contains("soft-tls-server") && err.contains("ocsp-signing has ocsp_no_check"),
            "{err}"
        );
    }
}
