//! subjectAltNames an officer gives besides the e-mail (rfc822Name): DNS names and IP
//! addresses, each allowed, required or refused by the certificate procedure.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::procedure::{CertificateProcedure, EmailRule};
use crate::subject::SubjectError;

/// Most DNS names or IP addresses in one certificate.
pub const MAX_ALT_NAMES: usize = 16;

/// DNS names and IP addresses for the subjectAltName extension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AltNames {
    /// dNSName entries, as typed (checked and lower-cased by [`AltNames::checked`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// iPAddress entries, as typed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip: Vec<String>,
}

fn err(field: &str, reason: impl Into<String>) -> SubjectError {
    SubjectError {
        field: field.into(),
        reason: reason.into(),
    }
}

impl AltNames {
    /// No name given.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ip.is_empty()
    }

    /// Checks the names against the procedure's `dns_names` and `ip_addresses` rules and
    /// returns them ready for the certificate (DNS names lower-case). Errors name the field
    /// (`dns-name`, `ip`).
    pub fn checked(
        &self,
        procedure: &CertificateProcedure,
    ) -> Result<(Vec<String>, Vec<IpAddr>), SubjectError> {
        rule(
            "dns-name",
            procedure.dns_names,
            self.dns.len(),
            &procedure.name,
        )?;
        rule("ip", procedure.ip_addresses, self.ip.len(), &procedure.name)?;
        self.normalized()
    }

    /// The names checked on their own and ready for the certificate (DNS names lower-case,
    /// duplicates dropped), whatever a procedure says.
    pub fn normalized(&self) -> Result<(Vec<String>, Vec<IpAddr>), SubjectError> {
        if self.dns.len() > MAX_ALT_NAMES || self.ip.len() > MAX_ALT_NAMES {
            return Err(err(
                "dns-name",
                format!("at most {MAX_ALT_NAMES} names of each kind"),
            ));
        }
        let mut dns = Vec::with_capacity(self.dns.len());
        for name in &self.dns {
            let lower = name.trim().to_ascii_lowercase();
            check_dns_name(&lower).map_err(|r| err("dns-name", format!("{name:?}: {r}")))?;
            if !dns.contains(&lower) {
                dns.push(lower);
            }
        }
        let mut ips = Vec::with_capacity(self.ip.len());
        for text in &self.ip {
            let ip: IpAddr = text
                .trim()
                .parse()
                .map_err(|_| err("ip", format!("{text:?} is not an IPv4 or IPv6 address")))?;
            if ip.is_unspecified() || ip.is_multicast() {
                return Err(err("ip", format!("{ip} cannot name a host")));
            }
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        Ok((dns, ips))
    }
}

fn rule(field: &str, rule: EmailRule, given: usize, procedure: &str) -> Result<(), SubjectError> {
    match (rule, given) {
        (EmailRule::Required, 0) => Err(err(
            field,
            format!("required by certificate procedure {procedure}"),
        )),
        (EmailRule::Forbidden, n) if n > 0 => Err(err(
            field,
            format!("not allowed by certificate procedure {procedure}"),
        )),
        (_, n) if n > MAX_ALT_NAMES => Err(err(field, format!("at most {MAX_ALT_NAMES}"))),
        _ => Ok(()),
    }
}

/// A host name of two or more LDH labels (RFC 1034/5280; a single label such as `localhost`
/// is not a domain name in a certificate). No wildcards.
fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("1 to 253 characters".into());
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err("a domain name has at least two labels (host.example.com)".into());
    }
    for label in &labels {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if label.is_empty() || label.len() > 63 || !ldh {
            return Err(format!(
                "label {label:?} is not 1 to 63 letters, digits or '-' (no wildcards)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("the last label is all digits (an IP address goes in --ip)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procedure(dns: EmailRule, ip: EmailRule) -> CertificateProcedure {
        CertificateProcedure {
            name: "tls".into(),
            validity_days: 1,
            dns_names: dns,
            ip_addresses: ip,
            ..Default::default()
        }
    }

    fn names(dns: &[&str], ip: &[&str]) -> AltNames {
        AltNames {
            dns: dns.iter().map(|s| s.to_string()).collect(),
            ip: ip.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_are_checked_normalised_and_deduplicated() {
        let p = procedure(EmailRule::Required, EmailRule::Optional);
        let (dns, ips) = names(
            &["Host.Example.COM", "host.example.com", "a-b.example.org"],
            &["10.0.0.1", "::1"],
        )
        .checked(&p)
        .unwrap();
        assert_eq!(dns, ["host.example.com", "a-b.example.org"]);
        assert_eq!(ips.len(), 2);
    }

    #[test]
    fn refusals_name_the_field() {
        let p = procedure(EmailRule::Optional, EmailRule::Forbidden);
        let cases: [(&[&str], &[&str], &str); 8] = [
            (&["localhost"], &[], "dns-name"),
            (&["*.example.com"], &[], "dns-name"),
            (&["-a.example.com"], &[], "dns-name"),
            (&["a..example.com"], &[], "dns-name"),
            (&["10.0.0.1"], &[], "dns-name"),
            (&["a_b.example.com"], &[], "dns-name"),
            (&[], &["10.0.0.1"], "ip"),
            (&["x.example.com"; 17], &[], "dns-name"),
        ];
        for (dns, ip, field) in cases {
            let e = names(dns, ip).checked(&p).unwrap_err();
            assert_eq!(e.field, field, "{dns:?} {ip:?}: {}", e.reason);
        }
        let open = procedure(EmailRule::Optional, EmailRule::Optional);
        assert_eq!(
            names(&[], &["0.0.0.0"]).checked(&open).unwrap_err().field,
            "ip"
        );
        assert_eq!(
            names(&[], &["nope"]).checked(&open).unwrap_err().field,
            "ip"
        );
        let required = procedure(EmailRule::Required, EmailRule::Forbidden);
        assert!(names(&[], &[])
            .checked(&required)
            .unwrap_err()
            .reason
            .contains("required"));
        // The default procedure refuses both.
        let default = CertificateProcedure::default();
        assert_eq!(
            names(&["a.example.com"], &[])
                .checked(&default)
                .unwrap_err()
                .field,
            "dns-name"
        );
    }
}
