use super::*;

/// The digits of `printed(number)` without the dash: the string the check is computed over.
fn digits_of(number: u64) -> Vec<u8> {
    let mut digits: Vec<u8> = number.to_string().bytes().map(|b| b - b'0').collect();
    let check = check_digits(number);
    digits.extend([check / 10, check % 10]);
    digits
}

#[test]
fn check_digits_table() {
    // ISO 7064's own example (794 → 44), then the letter IDs of the README and the tests.
    for (number, printed_id) in [
        (794, "794-44"),
        (1, "1-95"),
        (3, "3-89"),
        (10, "10-68"),
        (42, "42-69"),
        (100001, "100001-19"),
        (100002, "100002-16"),
        (100003, "100003-13"),
        (500001, "500001-06"),
        (500003, "500003-97"),
        (123456789012345678, "123456789012345678-88"),
    ] {
        assert_eq!(printed(number), printed_id, "{number}");
        let id = parse(printed_id).unwrap();
        assert_eq!(
            id,
            LetterId {
                number,
                checked: true
            }
        );
        assert_eq!(id.to_string(), printed_id);
    }
    // An IBAN checks the same way (GB82 WEST 1234 5698 7654 32, letters as numbers, the
    // country and its check digits moved to the end).
    let iban: Vec<u8> = "3214282912345698765432161182"
        .bytes()
        .map(|b| b - b'0')
        .collect();
    assert!(is_valid(&iban));
}

#[test]
fn typed_forms() {
    assert_eq!(
        parse(" 100002-16 \n"),
        Ok(LetterId {
            number: 100002,
            checked: true
        })
    );
    // Leading zeros change nothing modulo 97.
    assert_eq!(parse("0100002-16").map(|id| id.number), Ok(100002));
    assert_eq!(
        parse("100002"),
        Ok(LetterId {
            number: 100002,
            checked: false
        })
    );
    assert_eq!(
        parse_required("100002", true).map(|id| id.checked),
        Ok(false)
    );
    assert_eq!(
        parse_required("100002", false),
        Err(LetterIdError::MissingCheck("100002".into()))
    );
    assert_eq!(
        parse_required("100002-61", true),
        Err(LetterIdError::WrongCheck("100002-61".into()))
    );
    for bad in [
        "",
        "-",
        "0",
        "0-98",
        "-16",
        "100002-",
        "100002-6",
        "100002-016",
        "100002 16",
        "100002--16",
        "100002-1a",
        "12ab",
        "+100002-16",
        "1000000000000000000-00",
        "１００００２-16",
    ] {
        assert!(
            matches!(parse(bad), Err(LetterIdError::Malformed(_))),
            "{bad:?}: {:?}",
            parse(bad)
        );
    }
}

#[test]
fn errors_never_give_the_right_check_digits() {
    let wrong = parse("100003-16").unwrap_err().to_string();
    assert!(wrong.contains("100003-16"), "{wrong}");
    assert!(!wrong.contains("13"), "{wrong}");
    let missing = parse_required("100003", false).unwrap_err().to_string();
    assert!(!missing.contains("-13"), "{missing}");
    let long = parse(&"9".repeat(500)).unwrap_err().to_string();
    assert!(long.len() < 300, "{long}");
}

/// Proof for every ID this module accepts (1 to 18 digits, so 3 to 20 digits with the check):
/// a string is valid iff its value is ≡ 1 (mod 97). Changing the digit at position p (from the
/// right) from a to b changes the value by (b − a)·10^p; swapping the digits a, b at positions
/// p+1 and p changes it by (b − a)·(10^(p+1) − 10^p). Neither change depends on the other
/// digits, so the error is caught for every ID iff that change is not ≡ 0 (mod 97): checked
/// here for every position, every digit and every replacement.
#[test]
fn every_single_digit_error_and_adjacent_transposition_is_caught_at_every_length() {
    let mut power = 1i64; // 10^p mod 97
    for p in 0..MAX_DIGITS + 2 {
        let next = power * 10 % 97;
        for a in 0..=9i64 {
            for b in (0..=9i64).filter(|b| *b != a) {
                assert_ne!(
                    ((b - a) * power).rem_euclid(97),
                    0,
                    "substitution {a}→{b} at {p}"
                );
                assert_ne!(
                    ((b - a) * (next - power)).rem_euclid(97),
                    0,
                    "transposition {a}{b} at {p}"
                );
            }
        }
        power = next;
    }
}

/// The same by brute force for every ID from 1 to `last`: the printed ID is valid; each of its
/// digits replaced by each other digit, and each pair of adjacent different digits swapped, is
/// not. Returns how many errors were caught.
fn brute_force(last: u64) -> u64 {
    let mut caught = 0u64;
    for number in 1..=last {
        let good = digits_of(number);
        assert!(is_valid(&good), "{number}");
        let mut typo = good.clone();
        for i in 0..good.len() {
            for d in (0..=9).filter(|d| *d != good[i]) {
                typo[i] = d;
                assert!(!is_valid(&typo), "{number}: digit {i} → {d}");
                caught += 1;
            }
            typo[i] = good[i];
            if i + 1 < good.len() && good[i] != good[i + 1] {
                typo.swap(i, i + 1);
                assert!(
                    !is_valid(&typo),
                    "{number}: digits {i} and {} swapped",
                    i + 1
                );
                typo.swap(i, i + 1);
                caught += 1;
            }
        }
    }
    caught
}

/// Every ID of 1 to 5 digits, by brute force (about a second unoptimised).
#[test]
fn every_single_digit_error_and_adjacent_transposition_is_caught_for_ids_up_to_five_digits() {
    assert!(brute_force(99_999) > 6_000_000);
}

/// Every ID of 1 to 6 digits (the README's letters have 6), by brute force: 80 million typos,
/// 12 s unoptimised, so run on demand: `cargo test -p keyward-policy --release --lib -- --ignored
/// letter_id`.
#[test]
#[ignore = "slow unoptimised: run with --release -- --ignored"]
fn every_single_digit_error_and_adjacent_transposition_is_caught_for_ids_up_to_six_digits() {
    assert!(brute_force(999_999) > 70_000_000);
}

/// And through the parser, as an officer types them: every ID of 1 to 4 digits, each typed
/// with one digit wrong or two adjacent digits swapped (across the dash too), is refused.
#[test]
fn the_parser_refuses_every_typo_of_short_ids() {
    for number in 1..=9_999u64 {
        let printed_id = printed(i64::try_from(number).unwrap());
        assert!(parse(&printed_id).is_ok(), "{printed_id}");
        let chars: Vec<char> = printed_id.chars().filter(|c| *c != SEPARATOR).collect();
        let split = chars.len() - 2;
        let typed = |c: &[char]| -> String {
            let (n, k) = c.split_at(split);
            format!(
                "{}{SEPARATOR}{}",
                n.iter().collect::<String>(),
                k.iter().collect::<String>()
            )
        };
        for i in 0..chars.len() {
            for d in ('0'..='9').filter(|d| *d != chars[i]) {
                let mut typo = chars.clone();
                typo[i] = d;
                let text = typed(&typo);
                // A leading zero of a one-digit number reads as 0: malformed, also refused.
                assert!(parse(&text).is_err(), "{printed_id} typed as {text}");
            }
            if i + 1 < chars.len() && chars[i] != chars[i + 1] {
                let mut typo = chars.clone();
                typo.swap(i, i + 1);
                let text = typed(&typo);
                assert!(parse(&text).is_err(), "{printed_id} typed as {text}");
            }
        }
    }
}
