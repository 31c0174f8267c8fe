//! The data under test: an installation's database filled by the size loader, a share of it
//! revoked with rows as `Store::revoke` writes them, and OpenSSL's `index.txt` written from
//! the same database.

use std::io::Write as _;
use std::path::Path;

use futures_util::StreamExt as _;
use sqlx::{AnyPool, Row as _};

use crate::certs::load_certificates;

/// Revocation rows per INSERT statement.
const ROWS_PER_INSERT: usize = 500;

/// What was loaded, in load order.
pub(crate) struct Loaded {
    /// Every serial written, in the store's form (the main set, then the spare rows).
    pub serials: Vec<String>,
}

/// Loads `rows` certificates of `issuer` into the database of `pool`.
pub(crate) async fn load(pool: &AnyPool, rows: usize, issuer: &str, der: &[u8]) -> Loaded {
    let mut serials = Vec::with_capacity(rows);
    load_certificates(pool, rows, issuer, der, |row| {
        serials.push(row.serial.to_string());
    })
    .await;
    Loaded { serials }
}

/// The reason code a bulk-revoked row `k` gets: keyCompromise, superseded, affiliationChanged,
/// cessationOfOperation, unspecified in turn (no holds: they are revoked too, but released ones
/// would be good again).
fn reason(k: usize) -> i64 {
    [1, 4, 3, 5, 0][(k / 10) % 5]
}

/// Revokes the rows `indices` of `loaded` as `Store::revoke` records a revocation (one row of
/// `revocations` each, its change number from the `revocation-change` counter, which is left
/// at the last number handed out), but in batches and without audit records: this prepares the
/// database, it is not what is measured.
pub(crate) async fn revoke_bulk(pool: &AnyPool, loaded: &Loaded, indices: &[usize]) {
    let mut tx = pool.begin().await.expect("tx");
    let mut seq: i64 =
        sqlx::query_scalar("SELECT value FROM counters WHERE name = 'revocation-change'")
            .fetch_one(&mut *tx)
            .await
            .expect("revocation-change counter");
    for chunk in indices.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO revocations (certificate_id, issuer, serial_norm, reason, revoked_at, \
             invalidity_date, released_at, change_seq, officer) \
             SELECT c.id, c.issuer, c.serial_norm, v.column2, v.column3, NULL, NULL, v.column4, \
             'bench' FROM (VALUES ",
        );
        for r in 0..chunk.len() {
            let b = 1 + r * 4;
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3));
        }
        sql.push_str(") AS v JOIN certificates c ON c.serial_norm = v.column1");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &k in chunk {
            seq += 1;
            q = q
                .bind(loaded.serials[k].clone())
                .bind(reason(k))
                .bind(1_780_000_000i64 + k as i64)
                .bind(seq);
        }
        let done = q.execute(&mut *tx).await.expect("insert revocations");
        assert_eq!(done.rows_affected(), chunk.len() as u64, "revocation rows");
    }
    sqlx::query("UPDATE counters SET value = $1 WHERE name = 'revocation-change'")
        .bind(seq)
        .execute(&mut *tx)
        .await
        .expect("counter");
    tx.commit().await.expect("commit");
}

/// `YYMMDDHHMMSSZ` (the UTCTime form `index.txt` uses) of Unix time `t`.
fn utc_time(t: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(t).expect("time in range");
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        d.year() % 100,
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// OpenSSL's name of a CRLReason code in `index.txt`.
fn reason_name(code: i64) -> &'static str {
    match code {
        1 => "keyCompromise",
        2 => "CACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        _ => "unspecified",
    }
}

/// Writes `dir/index.txt` (with `index.txt.attr`: subjects need not be unique) for every
/// certificate of `issuer` in the database, streamed: `V` for good ones, `R` with revocation
/// time and reason for revoked ones (holds in force included, released ones as `V`). Returns
/// the number of lines.
pub(crate) async fn write_index(pool: &AnyPool, issuer: &str, dir: &Path) -> usize {
    let file = std::fs::File::create(dir.join("index.txt")).expect("index.txt");
    let mut out = std::io::BufWriter::new(file);
    let mut rows = sqlx::query(
        "SELECT c.id, c.serial_hex, c.not_after, r.reason, r.revoked_at, r.released_at \
         FROM certificates c LEFT JOIN revocations r ON r.certificate_id = c.id \
         WHERE c.issuer = $1 ORDER BY c.id",
    )
    .bind(issuer)
    .fetch(pool);
    let mut lines = 0;
    while let Some(row) = rows.next().await {
        let row = row.expect("certificate row");
        let id: i64 = row.get("id");
        let serial: String = row.get("serial_hex");
        let mut serial = serial.to_ascii_uppercase();
        if serial.len() % 2 == 1 {
            // OpenSSL looks serials up as BN_bn2hex writes them: whole octets.
            serial.insert(0, '0');
        }
        let not_after: i64 = row.get("not_after");
        let reason: Option<i64> = row.get("reason");
        let released: Option<i64> = row.get("released_at");
        let revoked = match (reason, released) {
            (Some(code), None) => {
                let at: i64 = row.get("revoked_at");
                Some(format!("{},{}", utc_time(at), reason_name(code)))
            }
            _ => None,
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{serial}\tunknown\t/CN=certificate {id}",
            if revoked.is_some() { "R" } else { "V" },
            utc_time(not_after),
            revoked.unwrap_or_default()
        )
        .expect("write index.txt");
        lines += 1;
    }
    out.flush().expect("flush index.txt");
    std::fs::write(dir.join("index.txt.attr"), "unique_subject = no\n").expect("index.txt.attr");
    lines
}
