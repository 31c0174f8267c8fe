//! Read-only look-ups for officers: token procedures, certificates, attribute certificates and
//! archived keys (their certificates and metadata, never a key).

use keyward_proto::{ArchivedKeyInfo, CertificateInfo, ProcedureList, RaConfig};
use keyward_store::{ArchivedKeyQuery, AuditCategory, CertificateQuery, Officer};

use super::revoke::status_info;
use super::{require_role, rfc3339, unix_now, Queries, Refusal};

impl Queries {
    /// What the RA needs to know from cm.conf.
    pub fn ra_config(&self) -> RaConfig {
        RaConfig {
            ra_key_generation: self.ra_key_generation.clone(),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Token procedures whose name or description contains `filter` (case-insensitive).
    pub async fn procedures(&self, filter: Option<&str>) -> Result<ProcedureList, Refusal> {
        let set = self.store.procedures().await.map_err(Refusal::internal)?;
        let filter = filter.map(str::to_lowercase);
        let mut token_procedures = Vec::new();
        for token in &set.token {
            let text = format!("{} {}", token.name, token.description).to_lowercase();
            if filter.as_ref().is_some_and(|f| !text.contains(f.as_str())) {
                continue;
            }
            match set.resolve(&token.name) {
                Ok(resolved) => token_procedures.push(resolved),
                Err(e) => tracing::warn!("skipping broken token procedure: {e}"),
            }
        }
        Ok(ProcedureList { token_procedures })
    }

    /// Searches issued certificates; `with_der`: each with its DER.
    pub async fn certificates(
        &self,
        query: &CertificateQuery,
        with_der: bool,
    ) -> Result<Vec<CertificateInfo>, Refusal> {
        let found = self
            .store
            .find_certificates(query)
            .await
            .map_err(Refusal::internal)?;
        let now = unix_now();
        Ok(found
            .into_iter()
            .map(|c| CertificateInfo {
                status: status_info(&c, now),
                archived_key_certificate_id: match (c.key_origin.as_str(), c.recovered_from) {
                    // The key was archived with this very certificate.
                    ("archived", _) => Some(c.id.to_string()),
                    (_, from) => from.map(|id| id.to_string()),
                },
                der: with_der.then_some(c.der),
                certificate_id: c.id.to_string(),
                serial: c.serial_hex,
                subject: c.subject,
                issuer: c.issuer,
                not_before: rfc3339(c.not_before),
                not_after: rfc3339(c.not_after),
                certificate_procedure: c.certificate_procedure,
                token_procedure: c.token_procedure,
                key_origin: c.key_origin,
                key_usage: c.key_usage,
                officer: c.officer,
                issued_at: rfc3339(c.issued_at),
            })
            .collect())
    }

    /// The attribute certificates held by Certificate `holder`, oldest first.
    pub async fn attribute_certificates(
        &self,
        holder: i64,
    ) -> Result<Vec<keyward_proto::IssuedAttributeCertificate>, Refusal> {
        let found = self
            .store
            .attribute_certificates_of(holder)
            .await
            .map_err(Refusal::internal)?;
        Ok(found
            .into_iter()
            .map(|ac| keyward_proto::IssuedAttributeCertificate {
                serial: ac.serial_hex,
                procedure: ac.procedure,
                holder_certificate_id: ac.holder_certificate_id.to_string(),
                der: ac.der,
            })
            .collect())
    }

    /// Searches archived keys (Select Archived Key); needs the `recover-key` role, and a
    /// refusal is audited.
    pub async fn archived_keys(
        &self,
        officer: &Officer,
        query: &ArchivedKeyQuery,
    ) -> Result<Vec<ArchivedKeyInfo>, Refusal> {
        require_role(
            &self.store,
            officer,
            keyward_policy::Role::RecoverKey,
            AuditCategory::KeysRecovered,
            "search-archived-keys",
        )
        .await?;
        let found = self
            .store
            .find_archived_keys(query)
            .await
            .map_err(Refusal::internal)?;
        let now = unix_now();
        Ok(found
            .into_iter()
            .map(|k| ArchivedKeyInfo {
                status: status_info(&k.certificate, now),
                certificate_id: k.certificate.id.to_string(),
                serial: k.certificate.serial_hex,
                subject: k.certificate.subject,
                key_usage: k.key_usage,
                key_spec: k.key_spec,
                key_procedure: k.key_procedure,
                archived_at: rfc3339(k.archived_at),
                not_after: rfc3339(k.certificate.not_after),
            })
            .collect())
    }
}
