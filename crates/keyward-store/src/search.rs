//! The SQL of certificate searches, shared by [`Store::find_certificates`] and
//! [`Store::find_archived_keys`]: criteria on the certificate (ID, serial, subject text through
//! the trigram index of migration 0008) plus the caller's own, with numbered placeholders bound
//! in the order they were added.

use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;

use crate::certificates::{
    contains_pattern, normalize_serial, row_limit, subject_fts_query, SUBJECT_FTS_FROM,
};
use crate::{Engine, StoreError};

/// A value to bind.
enum Value {
    Int(i64),
    Text(String),
}

/// A search being built: `SELECT … FROM … WHERE 1 = 1 AND …`.
pub(crate) struct Search {
    sql: String,
    values: Vec<Value>,
    fts: bool,
    subject: bool,
}

/// The criteria every certificate search shares.
pub(crate) struct CertificateCriteria<'a> {
    /// Certificate ID.
    pub(crate) id: Option<i64>,
    /// Serial number, hex as typed.
    pub(crate) serial_hex: Option<&'a str>,
    /// Case-insensitive substring of the subject.
    pub(crate) subject: Option<&'a str>,
}

impl Search {
    /// `SELECT columns FROM certificates c [join]` with the shared criteria; `join` is added
    /// after the certificate table (or the trigram index joined to it).
    pub(crate) fn certificates(
        engine: Engine,
        columns: &str,
        join: &str,
        criteria: &CertificateCriteria<'_>,
    ) -> Result<Search, StoreError> {
        let serial = criteria.serial_hex.map(normalize_serial).transpose()?;
        let fts = criteria.subject.and_then(|s| subject_fts_query(engine, s));
        let from = if fts.is_some() {
            SUBJECT_FTS_FROM
        } else {
            "certificates c"
        };
        let mut search = Search {
            sql: format!("SELECT {columns} FROM {from} {join} WHERE 1 = 1"),
            values: Vec::new(),
            fts: fts.is_some(),
            subject: criteria.subject.is_some(),
        };
        if let Some(id) = criteria.id {
            search.and("c.id = {}", Value::Int(id));
        }
        if let Some(serial) = serial {
            search.and("c.serial_norm = {}", Value::Text(serial));
        }
        if let Some(fts) = fts {
            search.and("certificates_subject_fts MATCH {}", Value::Text(fts));
        }
        if let Some(subject) = criteria.subject {
            search.and(
                "c.subject_lower LIKE {} ESCAPE '\\'",
                Value::Text(contains_pattern(subject)),
            );
        }
        Ok(search)
    }

    /// Adds `AND condition`, its `{}` standing for the next placeholder.
    fn and(&mut self, condition: &str, value: Value) {
        self.values.push(value);
        let placeholder = format!("${}", self.values.len());
        self.sql += " AND ";
        self.sql += &condition.replacen("{}", &placeholder, 1);
    }

    /// Adds `AND condition` with a text value.
    pub(crate) fn and_text(&mut self, condition: &str, value: String) {
        self.and(condition, Value::Text(value));
    }

    /// Orders by Certificate ID (through the trigram index when it drives the search, so that
    /// `LIMIT` stops it early), newest first when `newest_first`, and keeps at most `limit`
    /// rows (see [`row_limit`]).
    pub(crate) fn query(
        mut self,
        newest_first: bool,
        limit: Option<i64>,
    ) -> Query<'static, Any, AnyArguments> {
        let order = if self.fts {
            "certificates_subject_fts.rowid"
        } else {
            "c.id"
        };
        let direction = if newest_first { " DESC" } else { "" };
        self.values.push(Value::Int(row_limit(limit)));
        self.sql += &format!(" ORDER BY {order}{direction} LIMIT ${}", self.values.len());
        // A subject search is planned for its text each time (an unnamed statement): a cached
        // generic plan on PostgreSQL walks the primary key in ID order and filters every row,
        // instead of asking the trigram index (migration 0008).
        let mut query = sqlx::query(sqlx::AssertSqlSafe(self.sql)).persistent(!self.subject);
        for value in self.values {
            query = match value {
                Value::Int(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
            };
        }
        query
    }
}
