//! Which archived keys a recovery returns: the officer's own selection (Select Archived Key), or
//! a search with the subject entered; `last` or `all` as the key procedure says.

use keyward_policy::procedure::RecoverScope;
use keyward_policy::DistinguishedName;
use keyward_proto::KeySelection;
use keyward_store::{ArchivedKey, ArchivedKeyQuery};

use super::{Issuance, Refusal};

/// Most keys one request may pick by hand.
const MAX_SELECTIONS: usize = 100;
/// Most keys `scope = all` returns for one key procedure.
const MAX_RECOVERED: i64 = 1000;

impl Issuance {
    /// Loads the archived keys the officer picked by Certificate ID or serial number.
    pub(super) async fn selected_keys(
        &self,
        selections: &[KeySelection],
    ) -> Result<Vec<ArchivedKey>, Refusal> {
        if selections.len() > MAX_SELECTIONS {
            return Err(Refusal::invalid(
                "recover",
                format!("at most {MAX_SELECTIONS} keys can be selected"),
            ));
        }
        let mut keys: Vec<ArchivedKey> = Vec::new();
        for selection in selections {
            let (query, what) = match selection {
                KeySelection::CertificateId(text) => {
                    let id = text.trim().parse::<i64>().map_err(|_| {
                        Refusal::invalid("recover", "a Certificate ID is a decimal number")
                    })?;
                    (
                        ArchivedKeyQuery {
                            certificate_id: Some(id),
                            ..Default::default()
                        },
                        format!("Certificate ID {id}"),
                    )
                }
                KeySelection::Serial(text) => {
                    let hex = keyward_policy::serial::normalize(text)
                        .map_err(|why| Refusal::invalid("recover", why))?;
                    (
                        ArchivedKeyQuery {
                            serial_hex: Some(hex.to_string()),
                            ..Default::default()
                        },
                        format!("serial {hex}"),
                    )
                }
            };
            let found = self
                .store
                .find_archived_keys(&query)
                .await
                .map_err(Refusal::internal)?;
            let key = found.into_iter().next().ok_or_else(|| {
                Refusal::not_found(
                    "recover",
                    format!("no archived key belongs to the certificate with {what}"),
                )
            })?;
            if !keys.iter().any(|k| k.id == key.id) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// The keys one recover key procedure returns. With a selection, the selected keys of its
    /// key usage (each must belong to the subject entered); without, the subject's archived
    /// keys of that usage, newest last.
    pub(super) async fn keys_to_recover(
        &self,
        key_procedure: &str,
        key_usage: &str,
        scope: RecoverScope,
        subject: &DistinguishedName,
        selected: &[ArchivedKey],
        claimed: &mut [bool],
    ) -> Result<Vec<ArchivedKey>, Refusal> {
        let subject_text = subject.to_string();
        if !selected.is_empty() {
            let mut mine = Vec::new();
            for (i, key) in selected.iter().enumerate() {
                if key.key_usage != key_usage {
                    continue;
                }
                if key.certificate.subject.to_lowercase() != subject_text.to_lowercase() {
                    return Err(Refusal::invalid(
                        "subject",
                        format!(
                            "the selected key (Certificate ID {}) belongs to {}; enter that subject",
                            key.certificate.id, key.certificate.subject
                        ),
                    ));
                }
                claimed[i] = true;
                mine.push(key.clone());
            }
            if mine.is_empty() {
                return Err(Refusal::invalid(
                    "recover",
                    format!("no selected key has key usage {key_usage}, which key procedure {key_procedure} recovers"),
                ));
            }
            if scope == RecoverScope::Last && mine.len() > 1 {
                return Err(Refusal::invalid(
                    "recover",
                    format!("key procedure {key_procedure} recovers only the last key: select one"),
                ));
            }
            return Ok(mine);
        }
        let mut found = self
            .store
            .find_archived_keys(&ArchivedKeyQuery {
                subject_exact: Some(subject_text.clone()),
                key_usage: Some(key_usage.to_string()),
                limit: Some(MAX_RECOVERED),
                ..Default::default()
            })
            .await
            .map_err(Refusal::internal)?;
        if found.is_empty() {
            return Err(Refusal::not_found(
                "subject",
                format!("no archived key with key usage {key_usage} for {subject_text}"),
            ));
        }
        Ok(match scope {
            RecoverScope::Last => found.split_off(found.len() - 1),
            RecoverScope::All => found,
        })
    }
}
