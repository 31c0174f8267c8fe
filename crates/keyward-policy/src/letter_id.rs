//! PIN/PUK letter IDs as officers read and type them: the number, a dash, and two check digits
//! (`100002-47`), so that a mistyped ID is refused instead of sealing a token with the PIN of
//! another letter and using that letter up.
//!
//! The check is ISO 7064 MOD 97-10 (the check digits of IBANs), not Luhn: Luhn misses the
//! adjacent transposition `09` ↔ `90`, MOD 97-10 catches every single-digit substitution and
//! every adjacent transposition, at any length (see the tests, which prove it for every ID this
//! module accepts), and most other errors (all but about 1 in 97). Two printed characters more
//! is a small price for a letter that cannot be replaced once it is used.
//!
//! The check digits are derived from the number: they are no secret and protect against typing
//! errors only. Letters printed before check digits existed carry the bare number; callers
//! decide whether a bare number ([`LetterId::checked`] false) may stand for such a letter.

use std::fmt;

/// The separator between the number and its check digits, as printed.
pub const SEPARATOR: char = '-';

/// Most digits of a letter ID's number (the store's limit: below 10^18).
pub const MAX_DIGITS: usize = 18;

/// A letter ID as typed: its number, and whether the check digits were typed (and right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LetterId {
    /// The letter's number (positive).
    pub number: i64,
    /// True when typed with its check digits (which were right); false for a bare number.
    pub checked: bool,
}

/// Why a typed letter ID is refused. The text never gives the right check digits: an officer
/// who copied them from an error message would defeat the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterIdError {
    /// Not `NUMBER-CC` nor a bare number of 1 to 18 digits, or zero.
    #[error(
        "{0:?} is not a PIN letter ID: type it as printed on the letter, the number, a dash and two check digits (such as 100001-19)"
    )]
    Malformed(String),
    /// A bare number where the check digits are required.
    #[error(
        "{0}: the two check digits after the dash are missing: type the ID exactly as printed on the letter (NUMBER-CC)"
    )]
    MissingCheck(String),
    /// The check digits do not match the number: a digit is mistyped or two are swapped.
    #[error(
        "{0}: the check digits do not match the number, so a digit is mistyped or two are swapped: type the ID exactly as printed on the letter"
    )]
    WrongCheck(String),
}

/// The ISO 7064 MOD 97-10 check digits of `number`: `98 - (number · 100 mod 97)`, a value in
/// 2..=98, so that `number · 100 + check ≡ 1 (mod 97)`.
pub fn check_digits(number: u64) -> u8 {
    // (number mod 97) · 100 stays below 9,700: no overflow for any u64.
    let rest = (number % 97) * 100 % 97;
    // rest < 97, so the result lies in 2..=98 and fits a u8.
    (98 - rest) as u8
}

/// Whether the digits `digits` (number and check digits, most significant first) form a valid
/// MOD 97-10 string: their value is ≡ 1 (mod 97). Digits above 9 make it invalid.
pub fn is_valid(digits: &[u8]) -> bool {
    let mut rest = 0u32;
    for &d in digits {
        if d > 9 {
            return false;
        }
        rest = (rest * 10 + u32::from(d)) % 97;
    }
    rest == 1
}

/// The ID as printed on a letter made with check digits: `100002-47`.
pub fn printed(number: i64) -> String {
    format!(
        "{number}{SEPARATOR}{:02}",
        check_digits(number.unsigned_abs())
    )
}

/// Reads a typed letter ID: `NUMBER-CC` (checked, surrounding spaces ignored) or a bare
/// `NUMBER` (`checked` false: the caller decides whether it may stand for a letter printed
/// without check digits). Every letter ID typed or read (`ra issue --pin-letter`, the batch
/// column `pin_letter`, `pin-letters void`, the server) goes through this one function.
pub fn parse(text: &str) -> Result<LetterId, LetterIdError> {
    let text = text.trim();
    let malformed = || LetterIdError::Malformed(shorten(text));
    let (number_text, check_text) = match text.split_once(SEPARATOR) {
        Some((n, c)) => (n, Some(c)),
        None => (text, None),
    };
    let number = parse_number(number_text).ok_or_else(malformed)?;
    let Some(check_text) = check_text else {
        return Ok(LetterId {
            number,
            checked: false,
        });
    };
    if check_text.len() != 2 || !check_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let digits: Vec<u8> = number_text
        .bytes()
        .chain(check_text.bytes())
        .map(|b| b - b'0')
        .collect();
    if !is_valid(&digits) {
        return Err(LetterIdError::WrongCheck(text.to_string()));
    }
    Ok(LetterId {
        number,
        checked: true,
    })
}

/// [`parse`], refusing a bare number unless `bare_allowed` (the officer said the letter was
/// printed without check digits).
pub fn parse_required(text: &str, bare_allowed: bool) -> Result<LetterId, LetterIdError> {
    let id = parse(text)?;
    if !id.checked && !bare_allowed {
        return Err(LetterIdError::MissingCheck(text.trim().to_string()));
    }
    Ok(id)
}

/// A positive decimal number of 1 to [`MAX_DIGITS`] digits (leading zeros allowed, as the
/// check digits are computed over the digits typed, and `0…` changes nothing modulo 97).
fn parse_number(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > MAX_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|n| *n > 0)
}

/// At most 40 characters of what was typed, for an error message.
fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

impl fmt::Display for LetterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.checked {
            f.write_str(&printed(self.number))
        } else {
            write!(f, "{}", self.number)
        }
    }
}

#[cfg(test)]
mod tests;
