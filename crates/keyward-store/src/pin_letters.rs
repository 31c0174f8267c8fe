//! PIN/PUK letters: created in batches in advance, each used by one issuance (see
//! [`Store::record_token`] and [`PinRecord::UseLetter`](crate::PinRecord::UseLetter)).
//!
//! The store keeps only the KRA's envelope of the PIN and PUK (`sealed`), as opaque bytes.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::request_results::{self, RequestAnswer, RequestKey};
use crate::search::row_limit;
use crate::types::{AuditCategory, NewAudit, Outcome, SealedLen};
use crate::{audit, now, ConflictOn, Store, StoreError, UsedItem};

/// A PIN/PUK letter to create; the rest (PIN procedure, batch, officer) is common to the batch.
///
/// `Debug` shows the length of `sealed`, never its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPinLetter {
    /// Letter ID (positive), printed on the letter; the officer types it at issuance.
    pub letter_id: i64,
    /// Which KEK wrapped the PIN and PUK.
    pub kek_id: String,
    /// The KRA's envelope of the PIN and PUK (must not be empty).
    pub sealed: Vec<u8>,
}

impl fmt::Debug for NewPinLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPinLetter")
            .field("letter_id", &self.letter_id)
            .field("kek_id", &self.kek_id)
            .field("sealed", &SealedLen(self.sealed.len()))
            .finish()
    }
}

/// The issuance that used a PIN letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinLetterUse {
    /// When, Unix seconds.
    pub at: i64,
    /// The issuing officer.
    pub officer: String,
    /// The issuance request ID.
    pub request_id: String,
    /// The Certificate IDs issued, joined by `,` (empty if none).
    pub certificate_ids: String,
}

/// A stored PIN/PUK letter.
///
/// `Debug` shows the length of `sealed`, never its bytes; JSON output leaves `sealed` out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PinLetter {
    /// Letter ID.
    pub letter_id: i64,
    /// The PIN procedure it was made for (and may only be used with).
    pub pin_procedure: String,
    /// The batch it was made in: an ID shared by the letters created together.
    pub batch: String,
    /// Which KEK wrapped the PIN and PUK.
    pub kek_id: String,
    /// The KRA's envelope of the PIN and PUK (left out of JSON output).
    #[serde(skip)]
    pub sealed: Vec<u8>,
    /// When created, Unix seconds.
    pub created_at: i64,
    /// The officer who created it.
    pub created_by: String,
    /// The issuance that used it, if used.
    pub used: Option<PinLetterUse>,
    /// Whether it was printed with check digits (created by Keyward with letter ID checks); a
    /// letter printed before carries the bare number.
    pub check_printed: bool,
    /// Why and by whom it was voided, if voided: it is then never used for a token.
    pub voided: Option<PinLetterVoid>,
}

/// The voiding of a damaged or lost PIN letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinLetterVoid {
    /// When, Unix seconds.
    pub at: i64,
    /// The officer who voided it.
    pub officer: String,
    /// Why, as the officer gave it.
    pub reason: String,
}

/// Why [`Store::void_pin_letter`] did not void a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoidRefused {
    /// There is no letter with this ID.
    Unknown,
    /// The letter sealed a token already.
    Used(PinLetterUse),
    /// The letter was voided before.
    Voided(PinLetterVoid),
}

impl fmt::Display for VoidRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VoidRefused::Unknown => f.write_str("no such letter"),
            VoidRefused::Used(u) => write!(
                f,
                "used by request {} (certificates {}) at Unix time {}: a used letter cannot be voided",
                u.request_id, u.certificate_ids, u.at
            ),
            VoidRefused::Voided(v) => write!(
                f,
                "voided already by {} at Unix time {} ({})",
                v.officer, v.at, v.reason
            ),
        }
    }
}

impl fmt::Debug for PinLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinLetter")
            .field("letter_id", &self.letter_id)
            .field("pin_procedure", &self.pin_procedure)
            .field("batch", &self.batch)
            .field("kek_id", &self.kek_id)
            .field("sealed", &SealedLen(self.sealed.len()))
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("used", &self.used)
            .field("check_printed", &self.check_printed)
            .field("voided", &self.voided)
            .finish()
    }
}

/// PIN letter search criteria; those given are ANDed, results come ordered by letter ID,
/// ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinLetterQuery {
    /// Letters with this ID or a higher one.
    pub first_id: Option<i64>,
    /// Used (`true`) or unused (`false`) letters only.
    pub used: Option<bool>,
    /// Voided (`true`) or not voided (`false`) letters only.
    pub voided: Option<bool>,
    /// Letters of this PIN procedure only.
    pub pin_procedure: Option<String>,
    /// At most this many rows: default 100, clamped to 1..=1000.
    pub limit: Option<i64>,
}

const COLUMNS: &str = "letter_id, pin_procedure, batch, kek_id, sealed, created_at, created_by, \
     used_at, used_by, used_request, used_certificates, check_printed, voided_at, voided_by, \
     void_reason";

/// The field named by errors about letter IDs.
const FIELD: &str = "PIN letter ID";

/// Letters per INSERT statement: 3 parameters each plus 4 shared ones, far below the
/// bind-parameter limits (SQLite 32766, PostgreSQL 65535).
const CHUNK: usize = 500;

/// Existing letter IDs read per round trip by [`lowest_existing`].
const PAGE: i64 = 1000;

/// Refuses a letter ID that is not positive.
pub(crate) fn check_id(letter_id: i64) -> Result<(), StoreError> {
    if letter_id <= 0 {
        return Err(StoreError::Invalid(format!(
            "{FIELD} {letter_id}: must be positive"
        )));
    }
    Ok(())
}

fn letter(row: &AnyRow) -> Result<PinLetter, StoreError> {
    let letter_id: i64 = row.try_get("letter_id")?;
    let used = match (
        row.try_get::<Option<i64>, _>("used_at")?,
        row.try_get::<Option<String>, _>("used_by")?,
        row.try_get::<Option<String>, _>("used_request")?,
        row.try_get::<Option<String>, _>("used_certificates")?,
    ) {
        (None, None, None, None) => None,
        (Some(at), Some(officer), Some(request_id), Some(certificate_ids)) => Some(PinLetterUse {
            at,
            officer,
            request_id,
            certificate_ids,
        }),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "PIN letter {letter_id}: use recorded in part"
            )))
        }
    };
    let voided = match (
        row.try_get::<Option<i64>, _>("voided_at")?,
        row.try_get::<Option<String>, _>("voided_by")?,
        row.try_get::<Option<String>, _>("void_reason")?,
    ) {
        (None, None, None) => None,
        (Some(at), Some(officer), Some(reason)) => Some(PinLetterVoid {
            at,
            officer,
            reason,
        }),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "PIN letter {letter_id}: voiding recorded in part"
            )))
        }
    };
    Ok(PinLetter {
        letter_id,
        pin_procedure: row.try_get("pin_procedure")?,
        batch: row.try_get("batch")?,
        kek_id: row.try_get("kek_id")?,
        sealed: row.try_get("sealed")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        used,
        check_printed: row.try_get::<i64, _>("check_printed")? != 0,
        voided,
    })
}

/// The lowest of `ids` stored already, if any: one range query (paged) over
/// `ids.first()..=ids.last()`.
async fn lowest_existing(
    conn: &mut AnyConnection,
    ids: &BTreeSet<i64>,
) -> Result<Option<i64>, StoreError> {
    let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
        return Ok(None);
    };
    let mut from = first;
    loop {
        let rows = sqlx::query(
            "SELECT letter_id FROM pin_letters WHERE letter_id >= $1 AND letter_id <= $2 \
             ORDER BY letter_id LIMIT $3",
        )
        .bind(from)
        .bind(last)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        let mut highest = None;
        for row in &rows {
            let id: i64 = row.try_get("letter_id")?;
            if ids.contains(&id) {
                return Ok(Some(id));
            }
            highest = Some(id);
        }
        match highest.and_then(|id| id.checked_add(1)) {
            Some(next) if i64::try_from(rows.len()) == Ok(PAGE) => from = next,
            _ => return Ok(None),
        }
    }
}

/// The multi-row INSERT for `rows` letters: `$1`…`$4` are the shared PIN procedure, batch,
/// creation time and officer; then letter ID, KEK ID and envelope of each letter. Every letter
/// created now is printed with its check digits (`check_printed` 1).
fn insert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(140 + rows * 36);
    sql.push_str(
        "INSERT INTO pin_letters (letter_id, pin_procedure, batch, kek_id, sealed, created_at, \
         created_by, check_printed) VALUES ",
    );
    for i in 0..rows {
        let n = 5 + 3 * i;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${n}, $1, $2, ${}, ${}, $3, $4, 1)",
            n + 1,
            n + 2
        ));
    }
    sql
}

/// Marks letter `letter_id` of `pin_procedure` used on `conn` (inside the issuance
/// transaction) and returns the `use-pin-letter` audit record. A letter that does not exist,
/// belongs to another PIN procedure, is used already or voided is [`StoreError::Used`].
pub(crate) async fn use_letter(
    conn: &mut AnyConnection,
    letter_id: i64,
    pin_procedure: &str,
    used: &PinLetterUse,
) -> Result<NewAudit, StoreError> {
    let done = sqlx::query(
        "UPDATE pin_letters SET used_at = $1, used_by = $2, used_request = $3, \
         used_certificates = $4 \
         WHERE letter_id = $5 AND pin_procedure = $6 AND used_at IS NULL AND voided_at IS NULL",
    )
    .bind(used.at)
    .bind(used.officer.as_str())
    .bind(used.request_id.as_str())
    .bind(used.certificate_ids.as_str())
    .bind(letter_id)
    .bind(pin_procedure)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Used(UsedItem::PinLetter(letter_id)));
    }
    Ok(NewAudit {
        category: AuditCategory::PinDistribution,
        action: "use-pin-letter".into(),
        officer: Some(used.officer.clone()),
        outcome: Outcome::Success,
        object: Some(letter_id.to_string()),
        detail: json!({
            "request_id": used.request_id,
            "certificate_ids": used.certificate_ids,
        }),
    })
}

impl Store {
    /// Stores a batch of PIN/PUK letters for `pin_procedure`, created by `officer`, and appends
    /// `audit` (as given), in one transaction: all or nothing.
    ///
    /// Refused as [`StoreError::Invalid`]: no letters, an empty PIN procedure, batch or
    /// officer, a letter ID that is not positive or given twice, an empty KEK ID or envelope.
    /// A letter ID stored already is a [`StoreError::Conflict`] naming the lowest such ID
    /// (`PIN letter ID 17`). Letters go in multi-row statements: 10,000 take well under a
    /// second.
    pub async fn create_pin_letters(
        &self,
        pin_procedure: &str,
        batch: &str,
        officer: &str,
        letters: &[NewPinLetter],
        audit: &NewAudit,
    ) -> Result<(), StoreError> {
        self.create_pin_letters_answered(pin_procedure, batch, officer, letters, audit, None)
            .await
    }

    /// [`Store::create_pin_letters`] for an idempotent request: `answered` is the request's key
    /// and its answer, claimed and recorded in the same transaction (see
    /// [`Store::record_token_answered`]). A request ID the officer used before is a
    /// [`StoreError::Conflict`] naming `request ID`, and nothing is written.
    pub async fn create_pin_letters_answered(
        &self,
        pin_procedure: &str,
        batch: &str,
        officer: &str,
        letters: &[NewPinLetter],
        audit: &NewAudit,
        answered: Option<(&RequestKey, &RequestAnswer)>,
    ) -> Result<(), StoreError> {
        if let Some((key, _)) = answered {
            request_results::check(key)?;
        }
        if letters.is_empty() {
            return Err(StoreError::Invalid("PIN letters: none to create".into()));
        }
        for (field, value) in [
            ("PIN procedure", pin_procedure),
            ("PIN letter batch", batch),
            ("officer", officer),
        ] {
            if value.trim().is_empty() {
                return Err(StoreError::Invalid(format!("{field}: empty")));
            }
        }
        let mut ids = BTreeSet::new();
        for l in letters {
            check_id(l.letter_id)?;
            if !ids.insert(l.letter_id) {
                return Err(StoreError::Invalid(format!(
                    "{FIELD} {}: given twice",
                    l.letter_id
                )));
            }
            if l.kek_id.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "PIN letter {}: empty KEK ID",
                    l.letter_id
                )));
            }
            if l.sealed.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "PIN letter {}: empty sealed envelope",
                    l.letter_id
                )));
            }
        }
        let created_at = now();
        let mut tx = self.write_tx().await?;
        if let Some((key, _)) = answered {
            request_results::claim(&mut tx, key, created_at).await?;
        }
        if let Some(id) = lowest_existing(&mut tx, &ids).await? {
            return Err(StoreError::Conflict(ConflictOn::PinLetterId(Some(id))));
        }
        for chunk in letters.chunks(CHUNK) {
            let sql = insert_sql(chunk.len());
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(pin_procedure)
                .bind(batch)
                .bind(created_at)
                .bind(officer);
            for l in chunk {
                query = query
                    .bind(l.letter_id)
                    .bind(l.kek_id.as_str())
                    .bind(l.sealed.as_slice());
            }
            if let Err(e) = query.execute(&mut *tx).await {
                if !StoreError::is_unique_violation(&e) {
                    return Err(e.into());
                }
                // Created concurrently since the check: name it, from outside the transaction.
                drop(tx);
                let mut conn = self.pool.acquire().await?;
                return Err(StoreError::Conflict(ConflictOn::PinLetterId(
                    lowest_existing(&mut conn, &ids).await?,
                )));
            }
        }
        audit::insert(&mut tx, audit).await?;
        if let Some((key, answer)) = answered {
            request_results::answer(&mut tx, key, answer).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Voids PIN letter `letter_id` (damaged or lost: it is never used for a token after
    /// this), as `officer` for `reason`, and appends `audit` (as given) in the same
    /// transaction; returns the letter as voided.
    ///
    /// A letter that does not exist, is used or is voided already is left as it is:
    /// [`StoreError::NotVoided`] says which. An empty officer or reason is
    /// [`StoreError::Invalid`].
    pub async fn void_pin_letter(
        &self,
        letter_id: i64,
        officer: &str,
        reason: &str,
        audit: &NewAudit,
    ) -> Result<PinLetter, StoreError> {
        check_id(letter_id)?;
        for (field, value) in [("officer", officer), ("void reason", reason)] {
            if value.trim().is_empty() {
                return Err(StoreError::Invalid(format!("{field}: empty")));
            }
        }
        let select = format!("SELECT {COLUMNS} FROM pin_letters WHERE letter_id = $1");
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE pin_letters SET voided_at = $1, voided_by = $2, void_reason = $3 \
             WHERE letter_id = $4 AND used_at IS NULL AND voided_at IS NULL",
        )
        .bind(now())
        .bind(officer)
        .bind(reason)
        .bind(letter_id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(select))
            .bind(letter_id)
            .fetch_optional(&mut *tx)
            .await?;
        let found = row.as_ref().map(letter).transpose()?;
        if done.rows_affected() == 0 {
            let why = match found {
                None => VoidRefused::Unknown,
                Some(PinLetter { used: Some(u), .. }) => VoidRefused::Used(u),
                Some(PinLetter {
                    voided: Some(v), ..
                }) => VoidRefused::Voided(v),
                Some(_) => {
                    return Err(StoreError::Corrupt(format!(
                        "PIN letter {letter_id}: neither voided nor used, but not voidable"
                    )))
                }
            };
            return Err(StoreError::NotVoided(letter_id, why));
        }
        let voided = found.ok_or_else(|| {
            StoreError::Corrupt(format!("PIN letter {letter_id}: gone while voided"))
        })?;
        audit::insert(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(voided)
    }

    /// The PIN letter with this ID, used or not.
    pub async fn pin_letter(&self, letter_id: i64) -> Result<Option<PinLetter>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pin_letters WHERE letter_id = $1"
        )))
        .bind(letter_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(letter).transpose()
    }

    /// PIN letters matching every criterion given, by letter ID ascending: from `first_id` on,
    /// used or unused, voided or not, of a PIN procedure (the next free letter of a PIN
    /// procedure: unused, not voided, limit 1). At most `limit` rows (default 100, at most 1000).
    pub async fn pin_letters(&self, q: &PinLetterQuery) -> Result<Vec<PinLetter>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM pin_letters WHERE 1 = 1");
        let mut n = 0;
        let mut placeholder = || {
            n += 1;
            format!("${n}")
        };
        if q.first_id.is_some() {
            sql += &format!(" AND letter_id >= {}", placeholder());
        }
        match q.used {
            Some(true) => sql += " AND used_at IS NOT NULL",
            Some(false) => sql += " AND used_at IS NULL",
            None => {}
        }
        match q.voided {
            Some(true) => sql += " AND voided_at IS NOT NULL",
            Some(false) => sql += " AND voided_at IS NULL",
            None => {}
        }
        if q.pin_procedure.is_some() {
            sql += &format!(" AND pin_procedure = {}", placeholder());
        }
        sql += &format!(" ORDER BY letter_id LIMIT {}", placeholder());

        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(first_id) = q.first_id {
            query = query.bind(first_id);
        }
        if let Some(pin_procedure) = &q.pin_procedure {
            query = query.bind(pin_procedure.as_str());
        }
        query = query.bind(row_limit(q.limit));
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(letter).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_statements() {
        assert_eq!(
            insert_sql(2),
            "INSERT INTO pin_letters (letter_id, pin_procedure, batch, kek_id, sealed, \
             created_at, created_by, check_printed) VALUES ($5, $1, $2, $6, $7, $3, $4, 1), \
             ($8, $1, $2, $9, $10, $3, $4, 1)"
        );
        let last = 4 + 3 * CHUNK;
        assert!(insert_sql(CHUNK).ends_with(&format!("${last}, $3, $4, 1)")));
        assert!(last < 32766);
    }

    #[test]
    fn ids() {
        assert!(check_id(1).is_ok());
        assert!(matches!(check_id(0), Err(StoreError::Invalid(_))));
        assert!(matches!(check_id(-3), Err(StoreError::Invalid(_))));
    }
}
