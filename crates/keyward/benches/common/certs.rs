//! The certificate loader of the size benches (shared by `tokens` and `ocsp`): certificates
//! written straight into an installation's database with multi-row INSERTs — random 126-bit
//! serials, person-like subjects with a unique serialNumber attribute, one real certificate's
//! DER for every row — much faster than issuing them (1M rows in about a minute on SQLite).

use sqlx::AnyPool;

const FIRST: [&str; 40] = [
    "Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Sara", "Per", "Emma",
    "Karl", "Lena", "Nils", "Ida", "Olof", "Elin", "Jonas", "Maja", "Gustav", "Aino", "Mikko",
    "Liisa", "Juha", "Sofia", "Lucas", "Chloé", "Jörg", "Zoë", "Øystein", "Ingrid", "Magnus",
    "Frida", "Oskar", "Hanna", "Viktor", "Alice", "Bob", "Carol", "Dave",
];
const LAST: [&str; 40] = [
    "Svensson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Andersson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Lindberg",
    "Lindqvist",
    "Berg",
    "Virtanen",
    "Korhonen",
    "Mäkinen",
    "Nieminen",
    "Müller",
    "Schmidt",
    "Dubois",
    "Martin",
    "Rossi",
    "García",
    "Smith",
    "Jones",
    "Brown",
    "Taylor",
    "Wilson",
    "Hansen",
    "Jensen",
    "Nielsen",
    "Kowalski",
    "Nowak",
    "Novák",
    "Horvat",
    "Example",
    "Åberg",
    "Öberg",
];

/// Rows per INSERT statement and statements per transaction.
const ROWS_PER_INSERT: usize = 500;
const INSERTS_PER_TX: usize = 20;

fn subject(i: usize) -> (String, String) {
    let person = format!("{:012}", 197_001_010_000u64 + i as u64 * 7);
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    (
        format!(
            "CN={first} {last},serialNumber={person},O=Example Org {},C=SE",
            i % 97
        ),
        person,
    )
}

fn serial() -> String {
    let mut s = [0u8; 16];
    openssl::rand::rand_bytes(&mut s).unwrap();
    s[0] = (s[0] & 0x3f) | 0x40;
    hex::encode(s)
}

/// One loaded row, as handed to the caller.
#[allow(dead_code)] // each bench reads the fields it needs
pub(crate) struct Loaded<'a> {
    /// The row's number in the load (0-based).
    pub index: usize,
    /// The serial, lowercase hex without leading zeros (the store's form).
    pub serial: &'a str,
    /// The subject as the store records it.
    pub subject: &'a str,
    /// Its unique serialNumber attribute.
    pub person: &'a str,
}

/// Writes `rows` certificates of `issuer` (the issuing CA's name as the store records it) into
/// the database of `pool` (migrated by `Store::open`), `der` as every row's DER; calls `each`
/// for every row written. Row `k` is issued at 1,700,000,000 + k and valid for two years.
pub(crate) async fn load_certificates(
    pool: &AnyPool,
    rows: usize,
    issuer: &str,
    der: &[u8],
    mut each: impl FnMut(Loaded<'_>),
) {
    let mut i = 0;
    while i < rows {
        let mut tx = pool.begin().await.expect("tx");
        for _ in 0..INSERTS_PER_TX {
            if i >= rows {
                break;
            }
            let n = ROWS_PER_INSERT.min(rows - i);
            let mut sql = String::from(
                "INSERT INTO certificates (serial_hex, serial_norm, subject, subject_lower, issuer, \
                 not_before, not_after, der, certificate_procedure, token_procedure, key_origin, \
                 key_usage, officer, email, issued_at) VALUES ",
            );
            for r in 0..n {
                let b = 3 + r * 5;
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, $2, ${}, ${} + 63072000, $1, 'encryption', \
                     'soft-encryption-archived', 'archived', 'keyEncipherment', 'admin', NULL, ${})",
                    b,
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 4,
                    b + 4
                ));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(der.to_vec())
                .bind(issuer.to_string());
            for r in 0..n {
                let k = i + r;
                let s = serial();
                let (subj, person) = subject(k);
                let issued = 1_700_000_000i64 + k as i64;
                each(Loaded {
                    index: k,
                    serial: &s,
                    subject: &subj,
                    person: &person,
                });
                let lower = subj.to_lowercase();
                q = q
                    .bind(s.clone())
                    .bind(s)
                    .bind(subj)
                    .bind(lower)
                    .bind(issued);
            }
            q.execute(&mut *tx).await.expect("insert certificates");
            i += n;
        }
        tx.commit().await.expect("commit");
    }
}
