//! Before submitting: the valid certificates the subject already holds of the certificate
//! procedures the token issues, so that a duplicate is seen ("note: … already holds 2 valid
//! certificates of certificate procedure signing (IDs 4, 9)"). Officers renew: it is a note,
//! never a refusal, and it costs one search by the whole subject (an index look-up: measured
//! in BENCHMARKS.md, "Search with a million certificates").

use serde::Serialize;

use keyward_proto::CertificateInfo;

use super::Prepared;
use crate::client::{CertificateSearch, RaClient, SEARCH_CAP};
use crate::error::RaError;

/// The valid certificates the subject holds of one certificate procedure the token issues.
/// JSON: `certificate_procedure`, `certificate_ids` (oldest first), `capped` (the search
/// returned its maximum, so there may be more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Existing {
    /// The certificate procedure.
    pub certificate_procedure: String,
    /// Their Certificate IDs, oldest first.
    pub certificate_ids: Vec<String>,
    /// The search was capped at [`SEARCH_CAP`] results: the subject may hold more.
    pub capped: bool,
}

/// How many IDs a note lists before `…`.
const IDS_SHOWN: usize = 10;

impl Existing {
    /// The officer's line: `note: SUBJECT already holds N valid certificate(s) of certificate
    /// procedure P (IDs …)`, with `N or more` when the search was capped.
    pub fn note(&self, subject: &str) -> String {
        let n = self.certificate_ids.len();
        let count = if self.capped {
            format!("{n} or more valid certificates")
        } else if n == 1 {
            "1 valid certificate".to_string()
        } else {
            format!("{n} valid certificates")
        };
        let mut ids: Vec<&str> = self
            .certificate_ids
            .iter()
            .take(IDS_SHOWN)
            .map(String::as_str)
            .collect();
        if n > IDS_SHOWN || self.capped {
            ids.push("…");
        }
        format!(
            "note: {subject} already holds {count} of certificate procedure {} ({} {})",
            self.certificate_procedure,
            if n == 1 && !self.capped { "ID" } else { "IDs" },
            ids.join(", ")
        )
    }
}

impl Prepared {
    /// The valid certificates the order's subject already holds of each certificate procedure
    /// the plan issues a new certificate through (none: an empty list), from one search by
    /// subject and status (only the exact subject counts, as for recovery), through the
    /// subject index.
    pub async fn existing(&self, client: &RaClient) -> Result<Vec<Existing>, RaError> {
        let procedures = self.plan.certificate_procedures();
        if procedures.is_empty() {
            return Ok(Vec::new());
        }
        let subject = self.subject.to_string();
        let found = client
            .certificates(&CertificateSearch {
                subject_exact: Some(subject.clone()),
                status: Some("valid".into()),
                ..Default::default()
            })
            .await?;
        Ok(existing_of(&found, &subject, &procedures))
    }
}

/// Groups the search results of `subject` exactly (as the server matched them; an older
/// server that ignores `subject_exact` answers every valid certificate) by the `procedures` named (each once, in
/// plan order); procedures without a certificate are left out.
fn existing_of(found: &[CertificateInfo], subject: &str, procedures: &[&str]) -> Vec<Existing> {
    let capped = found.len() >= SEARCH_CAP;
    let subject = subject.to_lowercase();
    let mut out: Vec<Existing> = Vec::new();
    for procedure in procedures {
        if out.iter().any(|e| e.certificate_procedure == *procedure) {
            continue;
        }
        let ids: Vec<String> = found
            .iter()
            .filter(|c| c.certificate_procedure == *procedure)
            .filter(|c| c.subject.to_lowercase() == subject)
            .map(|c| c.certificate_id.clone())
            .collect();
        if !ids.is_empty() {
            out.push(Existing {
                certificate_procedure: (*procedure).to_string(),
                certificate_ids: ids,
                capped,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_proto::StatusInfo;

    fn info(id: u32, subject: &str, procedure: &str) -> CertificateInfo {
        let status = StatusInfo {
            status: "valid".into(),
            ..Default::default()
        };
        CertificateInfo {
            certificate_id: id.to_string(),
            serial: format!("{id:x}"),
            subject: subject.into(),
            issuer: "CN=CA".into(),
            not_before: String::new(),
            not_after: String::new(),
            certificate_procedure: procedure.into(),
            token_procedure: "t".into(),
            key_origin: "local".into(),
            key_usage: "digitalSignature".into(),
            officer: "alice".into(),
            issued_at: String::new(),
            archived_key_certificate_id: None,
            der: None,
            status,
        }
    }

    const ALICE: &str = "CN=Alice Example,O=Example,C=SE";

    #[test]
    fn only_the_exact_subject_and_the_token_s_procedures_count() {
        let found = [
            info(4, ALICE, "signing"),
            info(5, "CN=Alice Example,O=Example,C=SE,L=Lund", "signing"),
            info(6, ALICE, "encryption"),
            info(9, &ALICE.to_uppercase(), "signing"),
            info(11, ALICE, "tls-client"),
        ];
        let got = existing_of(&found, ALICE, &["signing", "encryption", "signing", "auth"]);
        assert_eq!(
            got,
            [
                Existing {
                    certificate_procedure: "signing".into(),
                    certificate_ids: vec!["4".into(), "9".into()],
                    capped: false,
                },
                Existing {
                    certificate_procedure: "encryption".into(),
                    certificate_ids: vec!["6".into()],
                    capped: false,
                },
            ]
        );
        assert_eq!(
            got[0].note(ALICE),
            "note: CN=Alice Example,O=Example,C=SE already holds 2 valid certificates of \
             certificate procedure signing (IDs 4, 9)"
        );
        assert_eq!(
            got[1].note(ALICE),
            "note: CN=Alice Example,O=Example,C=SE already holds 1 valid certificate of \
             certificate procedure encryption (ID 6)"
        );
        assert!(existing_of(&found, "CN=Bob", &["signing"]).is_empty());
    }

    #[test]
    fn a_capped_search_says_or_more() {
        let found: Vec<CertificateInfo> = (1..=SEARCH_CAP as u32)
            .map(|id| info(id, ALICE, "signing"))
            .collect();
        let got = existing_of(&found, ALICE, &["signing"]);
        assert!(got[0].capped);
        let note = got[0].note(ALICE);
        assert!(
            note.contains("already holds 100 or more valid certificates of certificate procedure signing (IDs 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, …)"),
            "{note}"
        );
    }
}
