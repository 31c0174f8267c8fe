//! Audit log search, like the seed product's request log: by category, failures, officer, time
//! range and object, newest first.
//!
//! Search by object goes through `audit_objects`, an index of what each record names, written
//! with the record (see [`object_keys`]): an exact, indexed match instead of a scan of the
//! `detail` texts.

use serde_json::Value;

use crate::rows::{record, RECORD_COLUMNS};
use crate::search::normalize_serial;
use crate::types::{AuditCategory, AuditRecord};
use crate::{Store, StoreError};

/// Longest object key indexed (longer objects are found by the other criteria only).
const MAX_KEY: usize = 256;

/// Audit search criteria; those given are ANDed. Results come newest first (highest ID first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this category.
    pub category: Option<AuditCategory>,
    /// Only refusals and failures (outcome `failure`).
    pub failed_only: bool,
    /// Only records of this acting officer (exact name).
    pub officer: Option<String>,
    /// Only records appended at or after this time (Unix seconds).
    pub from: Option<i64>,
    /// Only records appended at or before this time (Unix seconds).
    pub to: Option<i64>,
    /// Only records naming this object (at most 256 characters): records whose object is
    /// exactly this text or lists it among comma-separated IDs (`12,13`), records whose detail
    /// names it as a Certificate ID (`certificate_id`, `certificate_ids`), and — when it reads
    /// as hex — records whose detail names it as a certificate serial (`serial`, `serials`;
    /// case, leading zeros and `:` ignored). A decimal Certificate ID is also valid hex, so
    /// `12` matches Certificate ID 12 and serial 0x12 alike.
    pub object: Option<String>,
    /// At most this many records: default 100, clamped to 1..=1000.
    pub limit: Option<i64>,
}

fn object_key(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty() && value.len() <= MAX_KEY).then(|| format!("object:{value}"))
}

fn serial_key(value: &str) -> Option<String> {
    if value.len() > MAX_KEY {
        return None;
    }
    normalize_serial(value).ok().map(|s| format!("serial:{s}"))
}

/// The search keys of a record with `object` and `detail`: `object:` + the object, and + each
/// of its comma-separated parts, and + each Certificate ID in `detail.certificate_id` or
/// `detail.certificate_ids` (a number, a string of comma-separated IDs, or an array of them);
/// `serial:` + each normalised serial in `detail.serial` or `detail.serials` (a string or an
/// array of strings). Sorted, without duplicates; keys over 256 characters are left out.
pub(crate) fn object_keys(object: Option<&str>, detail: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    let ids = |text: &str, keys: &mut Vec<String>| {
        keys.extend(object_key(text));
        if text.contains(',') {
            keys.extend(text.split(',').filter_map(object_key));
        }
    };
    if let Some(object) = object {
        ids(object, &mut keys);
    }
    let values = |name: &str| -> Vec<&Value> {
        match detail.get(name) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        }
    };
    for v in values("certificate_id")
        .into_iter()
        .chain(values("certificate_ids"))
    {
        match v {
            Value::String(s) => ids(s, &mut keys),
            Value::Number(n) => keys.extend(object_key(&n.to_string())),
            _ => {}
        }
    }
    for v in values("serial").into_iter().chain(values("serials")) {
        if let Value::String(s) = v {
            keys.extend(serial_key(s));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

impl Store {
    /// Finds audit records matching every criterion given, newest first; see [`AuditQuery`]
    /// for what each matches. Refused as [`StoreError::Invalid`]: an empty officer or object,
    /// an object over 256 characters, `from` after `to`.
    pub async fn search_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        if q.officer.as_deref().is_some_and(|o| o.trim().is_empty()) {
            return Err(StoreError::Invalid("audit officer: empty".into()));
        }
        if let (Some(from), Some(to)) = (q.from, q.to) {
            if from > to {
                return Err(StoreError::Invalid(
                    "audit time range: the start is after the end".into(),
                ));
            }
        }
        let object_keys = match q.object.as_deref() {
            None => Vec::new(),
            Some(o) => {
                let exact = object_key(o).ok_or_else(|| {
                    StoreError::Invalid("audit object: give 1 to 256 characters".into())
                })?;
                let mut keys = vec![exact];
                keys.extend(serial_key(o));
                keys
            }
        };
        let mut sql = format!("SELECT {RECORD_COLUMNS} FROM audit WHERE 1 = 1");
        let mut n = 0;
        let mut placeholder = || {
            n += 1;
            format!("${n}")
        };
        if q.category.is_some() {
            sql += &format!(" AND category = {}", placeholder());
        }
        if q.failed_only {
            // A literal, so that the partial index audit_failures applies.
            sql += " AND outcome = 'failure'";
        }
        if q.officer.is_some() {
            sql += &format!(" AND officer = {}", placeholder());
        }
        if q.from.is_some() {
            sql += &format!(" AND at >= {}", placeholder());
        }
        if q.to.is_some() {
            sql += &format!(" AND at <= {}", placeholder());
        }
        if !object_keys.is_empty() {
            let list: Vec<String> = object_keys.iter().map(|_| placeholder()).collect();
            sql += &format!(
                " AND id IN (SELECT audit_id FROM audit_objects WHERE object_key IN ({}))",
                list.join(", ")
            );
        }
        sql += &format!(" ORDER BY id DESC LIMIT {}", placeholder());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(c) = q.category {
            query = query.bind(c.as_str());
        }
        if let Some(o) = &q.officer {
            query = query.bind(o.as_str());
        }
        if let Some(from) = q.from {
            query = query.bind(from);
        }
        if let Some(to) = q.to {
            query = query.bind(to);
        }
        for key in object_keys {
            query = query.bind(key);
        }
        let rows = query
            .bind(q.limit.unwrap_or(100).clamp(1, 1000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_of_records() {
        assert_eq!(
            object_keys(Some("12,13"), &json!({"serials": ["0A:BC", "00ff"]})),
            [
                "object:12",
                "object:12,13",
                "object:13",
                "serial:abc",
                "serial:ff"
            ]
        );
        assert_eq!(
            object_keys(
                Some("100001"),
                &json!({"certificate_ids": "5,6", "serial": "x"})
            ),
            ["object:100001", "object:5", "object:5,6", "object:6"]
        );
        assert_eq!(
            object_keys(None, &json!({"certificate_id": 7})),
            ["object:7"]
        );
        assert!(object_keys(Some(&"x".repeat(300)), &Value::Null).is_empty());
        assert!(object_keys(None, &json!("text")).is_empty());
    }
}
