//! Certificates of one certificate procedure and issuer that have not expired (migration 0014's
//! index): what a CA node or an OCSP responder looks through for a renewal of its delegated
//! OCSP signing certificate recorded by another node.

use crate::revocations::{certificate_with_status, REVOCATION_COLUMNS, REVOCATION_JOIN};
use crate::rows::certificate_columns;
use crate::types::StoredCertificate;
use crate::{Store, StoreError};

/// The most certificates [`Store::unexpired_certificates`] returns, whatever it is asked.
pub const MAX_UNEXPIRED: u32 = 256;

impl Store {
    /// The certificates of certificate procedure `procedure` issued by `issuer` (its name as
    /// certificates record it) that are not expired at `now` (Unix seconds; `not_after` at or
    /// after it), newest `not_after` first (then the newest Certificate ID), at most `limit`
    /// (and never more than [`MAX_UNEXPIRED`]), each with its revocation row if it has one.
    pub async fn unexpired_certificates(
        &self,
        procedure: &str,
        issuer: &str,
        now: i64,
        limit: u32,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        let sql = format!(
            "SELECT {}, {REVOCATION_COLUMNS} FROM certificates c {REVOCATION_JOIN} \
             WHERE c.certificate_procedure = $1 AND c.not_after >= $2 AND c.issuer = $3 \
             ORDER BY c.not_after DESC, c.id DESC LIMIT $4",
            certificate_columns(Some("c"))
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(procedure)
            .bind(now)
            .bind(issuer)
            .bind(i64::from(limit.min(MAX_UNEXPIRED)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(certificate_with_status).collect()
    }
}
