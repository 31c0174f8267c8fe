//! The "Key Management" line with the old certificates a recovery revokes, before submit: the
//! RA finds the keys to recover the way the server will (the officer's selection, else the
//! subject's archived keys of the key procedure's usage, `last` or `all`), so that the officer
//! reads "recover 1 key, issue 1 new certificate, revoke certificate 42 (superseded)". The
//! server finds them again and decides; its answer names what it revoked.

use keyward_policy::{PlannedAction, RecoverScope};
use keyward_proto::{ArchivedKeyInfo, KeySelection};

use super::Prepared;
use crate::client::{CertificateSearch, RaClient};
use crate::error::RaError;

impl Prepared {
    /// Looks up the keys of the plan's recover actions that revoke old certificates and keeps
    /// the line naming them (see [`Prepared::key_management`]). A plan that revokes nothing
    /// needs no look-up and keeps the plan's line.
    pub async fn preview_recovery(&mut self, client: &RaClient) -> Result<(), RaError> {
        if self.plan.revocations().is_empty() {
            return Ok(());
        }
        let selected = self.selected(client).await?;
        let subject = self.subject.to_string().to_lowercase();
        let mut found: Vec<(&str, Vec<String>)> = Vec::new();
        for action in &self.plan.actions {
            let PlannedAction::Recover {
                key_procedure,
                key_usage,
                scope,
                ..
            } = action
            else {
                continue;
            };
            let usage = key_usage.to_string();
            let mut keys: Vec<&ArchivedKeyInfo> = if self.order.recover.is_empty() {
                selected_or_subject(&selected, &usage, &subject)
            } else {
                selected.iter().filter(|k| k.key_usage == usage).collect()
            };
            if keys.is_empty() {
                // The server will refuse it, naming why: the general line meanwhile.
                continue;
            }
            if *scope == RecoverScope::Last && self.order.recover.is_empty() {
                keys = keys.split_off(keys.len() - 1);
            }
            found.push((
                key_procedure.as_str(),
                keys.iter().map(|k| k.certificate_id.clone()).collect(),
            ));
        }
        self.key_management = Some(self.plan.key_management_with(&found));
        Ok(())
    }

    /// The archived keys the officer picked, or without a pick, the subject's archived keys.
    async fn selected(&self, client: &RaClient) -> Result<Vec<ArchivedKeyInfo>, RaError> {
        if self.order.recover.is_empty() {
            return client
                .archived_keys(&CertificateSearch {
                    subject: Some(self.subject.to_string()),
                    ..Default::default()
                })
                .await;
        }
        let mut keys = Vec::new();
        for selection in &self.order.recover {
            let search = match selection {
                KeySelection::CertificateId(id) => CertificateSearch {
                    id: Some(id.trim().to_string()),
                    ..Default::default()
                },
                KeySelection::Serial(serial) => CertificateSearch {
                    serial: Some(serial.trim().to_string()),
                    ..Default::default()
                },
            };
            for key in client.archived_keys(&search).await? {
                if !keys
                    .iter()
                    .any(|k: &ArchivedKeyInfo| k.certificate_id == key.certificate_id)
                {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }

    /// The "Key Management" line: with the old certificates named when
    /// [`Prepared::preview_recovery`] found them, else the plan's.
    pub fn key_management(&self) -> String {
        self.key_management
            .clone()
            .unwrap_or_else(|| self.plan.to_string())
    }
}

/// The subject's keys of `usage` (the search matches a substring of the subject: only the exact
/// subject counts, as on the server), oldest first.
fn selected_or_subject<'a>(
    keys: &'a [ArchivedKeyInfo],
    usage: &str,
    subject: &str,
) -> Vec<&'a ArchivedKeyInfo> {
    keys.iter()
        .filter(|k| k.key_usage == usage && k.subject.to_lowercase() == subject)
        .collect()
}
