//! Certificate serial numbers as officers type or copy them: `5d:e9:36` (as `openssl x509
//! -text` prints them), `5D E9 36`, `0x5de936`, `005DE936`. One reading for every place a
//! serial is taken (the RA's options, the API's `serial_hex` fields, the store's searches), so
//! that they all agree on what names the same certificate.

/// The most hex digits accepted: RFC 5280 caps serials at 20 octets; 64 leaves room for
/// non-conforming certificates of other CAs without letting a search take anything.
pub const MAX_DIGITS: usize = 64;

/// The canonical form of a serial written in hex: lowercase, without leading zeros (`0` for
/// zero). Accepts an optional `0x`/`0X` prefix and `:`, ` ` or `-` between digits. The error
/// says what is wrong, for a message that names the field.
pub fn normalize(text: &str) -> Result<String, String> {
    let text = text.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let mut digits = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ':' | ' ' | '-' => {}
            c if c.is_ascii_hexdigit() => digits.push(c.to_ascii_lowercase()),
            c => {
                return Err(format!(
                    "{c:?} is not a hex digit (a serial is hex, e.g. 5d:e9:36 or 5DE936)"
                ))
            }
        }
    }
    if digits.is_empty() {
        return Err("no hex digits (a serial is hex, e.g. 5d:e9:36 or 5DE936)".into());
    }
    if digits.len() > MAX_DIGITS {
        return Err(format!("more than {MAX_DIGITS} hex digits"));
    }
    let trimmed = digits.trim_start_matches('0');
    Ok(if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spellings_officers_copy_are_one_serial() {
        for text in [
            "5de936",
            "5DE936",
            "5d:e9:36",
            "5D:E9:36",
            "5d e9 36",
            "  0x005de936 ",
            "0X5DE936",
            "00:5d:e9:36",
            "5d-e9-36",
        ] {
            assert_eq!(normalize(text).as_deref(), Ok("5de936"), "{text:?}");
        }
        assert_eq!(normalize("00").as_deref(), Ok("0"));
        assert_eq!(normalize(&"f".repeat(64)).map(|s| s.len()), Ok(64));
    }

    #[test]
    fn what_is_not_a_serial_is_refused_with_a_reason() {
        for (text, says) in [
            ("", "no hex digits"),
            ("0x", "no hex digits"),
            (" : ", "no hex digits"),
            ("5g", "'g' is not a hex digit"),
            ("5d;e9", "';' is not a hex digit"),
            ("ab\u{0}", "is not a hex digit"),
            (&"1".repeat(65), "more than 64 hex digits"),
        ] {
            let err = normalize(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
