//! PDF letters checked with poppler's `pdftotext` and `pdfinfo`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::path::Path;

use keyward_mailer::pdf::{render, Letter};
use zeroize::Zeroizing;

/// Keyward's PIN alphabet (no 0/1/l/o/O/I look-alikes).
const ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// Deterministic PIN-like strings: the test needs variety, not secrecy.
fn secret(seed: u64) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..12)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ALPHABET[((x >> 33) % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

fn letter(n: u64) -> Letter {
    Letter {
        title: "PIN/PUK letter".into(),
        reference: format!("Letter ID {}", 100_000 + n),
        recipient: vec![
            format!("Jane Doe {n}"),
            "Müller-Straße 5".into(),
            "12345 Berlin".into(),
        ],
        text: vec![
            "This letter contains the PIN and PUK for your new smart card. Keep it in a safe \
             place, separate from the card, and never tell anyone your PIN, not even the \
             certificate officer."
                .into(),
            "If the seal was broken when you received this letter, call the help desk.".into(),
        ],
        secrets: vec![
            ("PIN".into(), Zeroizing::new(secret(2 * n))),
            ("PUK".into(), Zeroizing::new(secret(2 * n + 1))),
        ],
    }
}

fn poppler(tool: &str, args: &[&str], file: &Path) -> String {
    let out = keyward_testkit::tool(tool)
        .args(args)
        .arg(file)
        .args(if tool == "pdftotext" {
            &["-"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn three_letters_show_reference_recipient_and_secrets() {
    let letters: Vec<Letter> = (1..=3).map(letter).collect();
    let pdf = render(&letters).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("letters.pdf");
    std::fs::write(&file, &*pdf).unwrap();

    let text = poppler("pdftotext", &["-layout"], &file);
    // pdftotext ends every page with a form feed.
    let pages: Vec<&str> = text
        .split('\x0c')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(pages.len(), 3, "{text}");
    for (page, letter) in pages.iter().zip(&letters) {
        assert!(page.contains("PIN/PUK letter"), "{page}");
        assert!(page.contains(&letter.reference), "{page}");
        for line in &letter.recipient {
            assert!(page.contains(line.as_str()), "{line:?} missing in {page}");
        }
        assert!(page.contains("never tell anyone your PIN"), "{page}");
        for (label, value) in &letter.secrets {
            let shown = page
                .lines()
                .find(|l| l.split_whitespace().next() == Some(label.as_str()))
                .unwrap_or_else(|| panic!("no {label} line in {page}"));
            assert!(shown.contains(value.as_str()), "{label}: {shown}");
        }
    }
    // Secrets of one letter never leak onto another page.
    assert!(!pages[0].contains(letters[1].secrets[0].1.as_str()));
}

#[test]
fn two_hundred_pages() {
    let letters: Vec<Letter> = (0..200).map(letter).collect();
    let pdf = render(&letters).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("batch.pdf");
    std::fs::write(&file, &*pdf).unwrap();
    let info = poppler("pdfinfo", &[], &file);
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no Pages: in {info}"));
    assert_eq!(pages, "200", "{info}");
}

#[test]
fn odd_characters_are_printed_as_question_marks() {
    let mut odd = letter(7);
    odd.title = "PIN letter \u{1F512} for Zoë".into();
    odd.recipient = vec!["Ωmega \u{0}\r\nCorp".into()];
    let pdf = render(&[odd]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("odd.pdf");
    std::fs::write(&file, &*pdf).unwrap();
    let text = poppler("pdftotext", &["-layout"], &file);
    assert!(text.contains("PIN letter ? for Zoë"), "{text}");
    assert!(text.contains("?mega ???Corp"), "{text}");
}
