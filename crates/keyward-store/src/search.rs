//! The SQL of certificate searches, shared by [`Store::find_certificates`] and
//! [`Store::find_archived_keys`]: criteria on the certificate (ID, serial, subject text through
//! the trigram index of migration 0008) plus the caller's own, with numbered placeholders bound
//! in the order they were added.

use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;

use crate::{Engine, StoreError};

/// The searchable form of a hex serial number ([`keyward_policy::serial::normalize`]):
/// lowercase, no leading zeros, so `00AB`, `0x00ab`, `00:ab` and `00 AB` are all `ab`.
pub(crate) fn normalize_serial(hex: &str) -> Result<String, StoreError> {
    keyward_policy::serial::normalize(hex)
        .map_err(|why| StoreError::Invalid(format!("certificate serial: {why}")))
}

/// A `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The FTS5 query (SQLite) that finds, through the trigram index of migration 0008, the
/// certificates whose lowercased subject may contain `text`: every third trigram of the text and
/// its last one, all required. That is necessary for the text to occur, not sufficient: the
/// caller keeps the `LIKE`, which decides (measured on a million rows, reading a third of the
/// trigrams' lists is about twice as fast as the exact phrase and the `LIKE` costs little).
/// `None` off SQLite, and for text under three characters, which no trigram can serve (the
/// `LIKE` alone then decides, by a scan).
pub(crate) fn subject_fts_query(engine: Engine, text: &str) -> Option<String> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    if engine != Engine::Sqlite || chars.len() < 3 {
        return None;
    }
    let trigrams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    let last = trigrams.len() - 1;
    let mut picked: Vec<&String> = Vec::new();
    for (i, trigram) in trigrams.iter().enumerate() {
        if (i % 3 == 0 || i == last) && !picked.contains(&trigram) {
            picked.push(trigram);
        }
    }
    let terms: Vec<String> = picked
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    Some(terms.join(" "))
}

/// The tables of a subject search through the FTS5 index (SQLite): the index drives, in
/// Certificate ID order, so that `ORDER BY` and `LIMIT` stop it early; certificates are `c`.
pub(crate) const SUBJECT_FTS_FROM: &str =
    "certificates_subject_fts JOIN certificates c ON c.id = certificates_subject_fts.rowid";

/// A search's row limit: 100 unless given, clamped to 1..=1000.
pub(crate) fn row_limit(limit: Option<i64>) -> i64 {
    limit.unwrap_or(100).clamp(1, 1000)
}

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
    /// Status now (the search joins `revocations r`).
    pub(crate) status: Option<crate::StatusFilter>,
}

impl Search {
    /// `SELECT columns, revocation columns FROM certificates c [join] LEFT JOIN revocations r`
    /// with the shared criteria; `join` is added after the certificate table (or the trigram
    /// index joined to it). Rows map with `revocations::certificate_with_status`.
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
            sql: format!(
                "SELECT {columns}, {} FROM {from} {join} {} WHERE 1 = 1",
                crate::revocations::REVOCATION_COLUMNS,
                crate::revocations::REVOCATION_JOIN
            ),
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
        if let Some(status) = criteria.status {
            match crate::revocations::status_condition(status) {
                (condition, true) => search.and(condition, Value::Int(crate::now())),
                (condition, false) => search.sql += &format!(" AND {condition}"),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        assert_eq!(normalize_serial("00AbC").unwrap(), "abc");
        assert_eq!(normalize_serial(" 0x00:ab:CD ").unwrap(), "abcd");
        assert_eq!(normalize_serial("000").unwrap(), "0");
        assert!(matches!(normalize_serial(""), Err(StoreError::Invalid(_))));
        assert!(matches!(
            normalize_serial("12g"),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn subject_fts_queries() {
        let q = |text: &str| subject_fts_query(Engine::Sqlite, text);
        assert_eq!(
            q("Alice \"Q\" EX").as_deref(),
            Some("\"ali\" \"ce \" \"\"\"q\"\"\" \" ex\"")
        );
        assert_eq!(q("Åb"), None);
        assert_eq!(q("Åbc").as_deref(), Some("\"åbc\""));
        assert_eq!(q("abcd").as_deref(), Some("\"abc\" \"bcd\""));
        assert_eq!(q("aaaaaaa").as_deref(), Some("\"aaa\""));
        assert_eq!(subject_fts_query(Engine::Postgres, "alice"), None);
    }

    #[test]
    fn patterns() {
        assert_eq!(contains_pattern("50%_A\\"), "%50\\%\\_a\\\\%");
        assert_eq!(contains_pattern("ÄBC"), "%äbc%");
    }

    #[test]
    fn limits() {
        assert_eq!(row_limit(None), 100);
        assert_eq!(row_limit(Some(0)), 1);
        assert_eq!(row_limit(Some(-5)), 1);
        assert_eq!(row_limit(Some(7)), 7);
        assert_eq!(row_limit(Some(5000)), 1000);
    }
}
