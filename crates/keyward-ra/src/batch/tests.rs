use std::collections::HashSet;

use super::check::{request_id, Planned};
use super::input::{Row, RowReader};
use super::names::{derived_base, file_base, Names};
use super::Progress;

fn row(number: usize, subject: &str) -> Row {
    Row {
        number,
        line: number as u64 + 1,
        subject: subject.into(),
        email: None,
        key_spec: None,
        pin_email: None,
        pin_postal_address: None,
        pin_letter: None,
        file: None,
    }
}

#[test]
fn derived_names_are_safe() {
    assert_eq!(
        derived_base(&row(1, "CN=Alice Example,O=Example,C=SE")),
        "Alice_Example"
    );
    assert_eq!(derived_base(&row(2, "CN=../../etc/passwd")), "etc_passwd");
    assert_eq!(derived_base(&row(3, "CN=Åsa Öberg")), "Åsa_Öberg");
    assert_eq!(derived_base(&row(4, "CN=***")), "row-4");
    assert_eq!(derived_base(&row(5, "O=Example")), "O_Example");
}

#[test]
fn file_column_is_a_base_name() {
    assert_eq!(file_base("alice.p12").unwrap(), "alice");
    assert_eq!(file_base("bob-2").unwrap(), "bob-2");
    assert!(file_base("../x").is_err());
    assert!(file_base("a/b").is_err());
    assert!(file_base(".hidden").is_err());
    assert!(file_base("with space").is_err());
}

#[test]
fn request_ids_follow_the_row() {
    let a = row(1, "CN=A");
    let id = request_id("b1", "p", None, &a);
    assert_eq!(id.len(), 32);
    assert_eq!(id, request_id("b1", "p", None, &a));
    assert_ne!(id, request_id("b2", "p", None, &a));
    assert_ne!(id, request_id("b1", "p", Some("RSA:2048"), &a));
    assert_ne!(id, request_id("b1", "p", None, &row(2, "CN=A")));
    assert_ne!(id, request_id("b1", "p", None, &row(1, "CN=B")));
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let planned = Planned::new(1, "a".into(), &id);
    assert_eq!(
        planned.request_id(),
        id,
        "kept as 16 bytes, given back as hex"
    );
}

/// The quadratic resolution the batch had before: kept as the reference the linear one must
/// agree with, name for name.
fn derive_as_before(taken: &mut HashSet<String>, base: &str) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while taken.contains(&name.to_lowercase()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(name.to_lowercase());
    name
}

#[test]
fn derived_names_resolve_as_before() {
    // Given names taken first (file column), then bases derived in row order: repeats, names
    // that look like suffixed ones, case differences, a suffix already given.
    let given = ["Same-3", "x-2", "ALICE-2", "Ω-2"];
    let bases = [
        "Same", "Same", "Same", "Same", "x", "x-2", "x", "Alice", "alice", "ALICE", "Same-2",
        "Same", "Ω", "ω", "Ω", "x", "x-2-2", "x-2",
    ];
    let mut names = Names::default();
    let mut reference = HashSet::new();
    for g in given {
        assert!(names.take(g));
        assert!(reference.insert(g.to_lowercase()));
    }
    assert!(!names.take("same-3"), "names are taken whatever the case");
    for base in bases {
        assert_eq!(
            names.derive(base.to_string()),
            derive_as_before(&mut reference, base),
            "{base}"
        );
    }
}

#[test]
fn many_rows_with_one_name_derive_in_linear_time() {
    let mut names = Names::default();
    let mut reference = HashSet::new();
    for _ in 0..300 {
        assert_eq!(
            names.derive("Same".into()),
            derive_as_before(&mut reference, "Same")
        );
    }
    // 200,000 more rows with the same CN: the quadratic resolution needed 2·10¹⁰ look-ups; the
    // linear one tries one name per row (and one more for the bare base).
    let before = names.probes;
    for _ in 0..200_000 {
        names.derive("Same".into());
    }
    assert_eq!(names.derive("Same".into()), "Same-200301");
    assert_eq!(names.probes - before, 2 * 200_001);
}

struct Quiet;

impl Progress for Quiet {
    fn row_started(&self, _: &Row) {}
    fn row_finished(&self, _: &Row, _: &super::ResultRecord) {}
}

#[test]
fn rows_are_read_one_at_a_time_and_again_after_a_rewind() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "subject,File\n\"CN=A,O=X\",a\n\"CN=B\nC\",\nCN=C,c.p12\n",
    )
    .unwrap();
    let mut reader = RowReader::open(&csv).unwrap();
    assert_eq!(reader.count(&Quiet).unwrap(), 3);
    for _ in 0..2 {
        let a = reader.next_row().unwrap().unwrap();
        assert_eq!((a.number, a.line, a.subject.as_str()), (1, 2, "CN=A,O=X"));
        assert_eq!(a.file.as_deref(), Some("a"));
        let b = reader.next_row().unwrap().unwrap();
        assert_eq!((b.number, b.line, b.file), (2, 3, None));
        let c = reader.next_row().unwrap().unwrap();
        assert_eq!((c.number, c.line), (3, 5));
        assert!(reader.next_row().unwrap().is_none());
        reader.rewind().unwrap();
    }

    std::fs::write(&csv, "subject,email\nCN=A,\n,a@example.com\n").unwrap();
    let err = RowReader::open(&csv).unwrap().count(&Quiet).unwrap_err();
    assert!(
        err.to_string()
            .contains("row 2 (line 3), column subject: empty"),
        "{err}"
    );
    std::fs::write(&csv, "subject\n").unwrap();
    let err = RowReader::open(&csv).unwrap().count(&Quiet).unwrap_err();
    assert!(
        err.to_string().contains("no rows after the header"),
        "{err}"
    );
    std::fs::write(&csv, "subject,colour\nCN=A,red\n").unwrap();
    let err = RowReader::open(&csv).err().unwrap();
    assert!(
        err.to_string().contains("unknown column \"colour\""),
        "{err}"
    );
}
