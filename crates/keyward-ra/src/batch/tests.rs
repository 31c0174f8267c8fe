use super::check::{derived_base, file_base, request_id};
use super::input::Row;

fn row(number: usize, subject: &str) -> Row {
    Row {
        number,
        line: number as u64 + 1,
        subject: subject.into(),
        email: None,
        key_spec: None,
        pin_email: None,
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
}
