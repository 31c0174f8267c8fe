//! Procedures: one row per procedure, its definition as the JSON of the policy struct.

use keyward_policy::ProcedureSet;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::types::NewAudit;
use crate::{audit, ConflictOn, Store, StoreError};

fn to_json<T: Serialize>(kind: &str, name: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Invalid(format!("{kind} procedure {name:?}: {e}")))
}

fn from_json<T: DeserializeOwned>(kind: &str, name: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("{kind} procedure {name:?}: {e}")))
}

/// Replaces every row of `procedures` by those of `set`, inside the caller's transaction.
pub(crate) async fn write_procedures(
    conn: &mut AnyConnection,
    set: &ProcedureSet,
) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for (i, p) in set.certificate.iter().enumerate() {
        rows.push((
            "certificate",
            i,
            &p.name,
            to_json("certificate", &p.name, p)?,
        ));
    }
    for (i, p) in set.key.iter().enumerate() {
        rows.push(("key", i, &p.name, to_json("key", &p.name, p)?));
    }
    for (i, p) in set.token.iter().enumerate() {
        rows.push(("token", i, &p.name, to_json("token", &p.name, p)?));
    }
    for (i, p) in set.pin.iter().enumerate() {
        rows.push(("pin", i, &p.name, to_json("PIN", &p.name, p)?));
    }
    for (i, p) in set.p12.iter().enumerate() {
        rows.push(("p12", i, &p.name, to_json("PKCS#12", &p.name, p)?));
    }
    for (i, p) in set.attribute.iter().enumerate() {
        rows.push((
            "attribute",
            i,
            &p.name,
            to_json("attribute-certificate", &p.name, p)?,
        ));
    }
    sqlx::query("DELETE FROM procedures")
        .execute(&mut *conn)
        .await?;
    for (kind, position, name, definition) in rows {
        sqlx::query(
            "INSERT INTO procedures (kind, name, position, definition) VALUES ($1, $2, $3, $4)",
        )
        .bind(kind)
        .bind(name.as_str())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(definition)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::unique(ConflictOn::ProcedureName))?;
    }
    Ok(())
}

impl Store {
    /// Replaces every procedure with those of `set` and appends `audit`, in one transaction.
    ///
    /// The set is stored as given (validate it with [`ProcedureSet::validate`] first); two
    /// procedures of one kind with the same name are a [`StoreError::Conflict`].
    pub async fn replace_procedures(
        &self,
        set: &ProcedureSet,
        audit: &NewAudit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        write_procedures(&mut tx, set).await?;
        audit::insert(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every procedure, in the order they were stored.
    pub async fn procedures(&self) -> Result<ProcedureSet, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, name, definition FROM procedures ORDER BY kind, position, name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut set = ProcedureSet::default();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let name: String = row.try_get("name")?;
            let definition: String = row.try_get("definition")?;
            match kind.as_str() {
                "certificate" => set.certificate.push(from_json(&kind, &name, &definition)?),
                "key" => set.key.push(from_json(&kind, &name, &definition)?),
                "token" => set.token.push(from_json(&kind, &name, &definition)?),
                "pin" => set.pin.push(from_json(&kind, &name, &definition)?),
                "p12" => set.p12.push(from_json(&kind, &name, &definition)?),
                "attribute" => set.attribute.push(from_json(&kind, &name, &definition)?),
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "procedure {name:?} has unknown kind {other:?}"
                    )))
                }
            }
        }
        Ok(set)
    }
}
