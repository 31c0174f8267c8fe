//! Postal addresses of PIN letters that are printed and posted (PIN procedure `email` with
//! `delivery = "print"`): several lines, as they go in the window of the envelope.
//!
//! The RA (flag, file, prompt, batch column) and the server read them with the same function,
//! so an address the RA accepts is one the server stores as is.

/// Most lines: the address zone of a DIN 5008 letter has six.
pub const MAX_LINES: usize = 6;
/// Most characters on one line (a line wider than the envelope window is refused rather than
/// cut).
pub const MAX_LINE_CHARS: usize = 60;
/// Most bytes of the whole address, lines joined by `\n` (the PIN mail queue's limit).
pub const MAX_BYTES: usize = 254;

/// Why a postal address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostalAddressError {
    /// Nothing but blanks.
    #[error("the postal address is empty")]
    Empty,
    /// More than [`MAX_LINES`] lines.
    #[error("the postal address has {0} lines; at most {MAX_LINES} fit the envelope window")]
    TooManyLines(usize),
    /// A line longer than [`MAX_LINE_CHARS`].
    #[error("line {0} of the postal address is longer than {MAX_LINE_CHARS} characters")]
    LineTooLong(usize),
    /// More than [`MAX_BYTES`] bytes in all.
    #[error("the postal address is longer than {MAX_BYTES} bytes")]
    TooLong,
    /// A tab or another control character inside a line.
    #[error("line {0} of the postal address holds a control character")]
    Control(usize),
}

/// Reads a postal address: lines separated by a line break or by the two characters `\n` (so
/// that one shell argument or CSV cell can carry several lines), each line trimmed, empty lines
/// left out. Returns the lines joined by `\n`, the form stored and printed.
pub fn postal_address(text: &str) -> Result<String, PostalAddressError> {
    let text = text.replace("\\n", "\n");
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| line.trim_matches(|c: char| c == ' ' || c == '\r'))
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(PostalAddressError::Empty);
    }
    if lines.len() > MAX_LINES {
        return Err(PostalAddressError::TooManyLines(lines.len()));
    }
    for (i, line) in lines.iter().enumerate() {
        if line.chars().any(char::is_control) {
            return Err(PostalAddressError::Control(i + 1));
        }
        if line.chars().count() > MAX_LINE_CHARS {
            return Err(PostalAddressError::LineTooLong(i + 1));
        }
    }
    let joined = lines.join("\n");
    if joined.len() > MAX_BYTES {
        return Err(PostalAddressError::TooLong);
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_from_breaks_and_escapes() {
        let expected = "Alice Example\nStorgatan 1\n111 22 Stockholm";
        for typed in [
            "Alice Example\nStorgatan 1\n111 22 Stockholm",
            "Alice Example\\nStorgatan 1\\n111 22 Stockholm",
            "  Alice Example \r\n Storgatan 1\r\n\r\n111 22 Stockholm\n\n",
            "\nAlice Example\\n\\nStorgatan 1\n111 22 Stockholm",
        ] {
            assert_eq!(postal_address(typed).as_deref(), Ok(expected), "{typed:?}");
        }
        // The stored form reads back unchanged.
        assert_eq!(postal_address(expected).as_deref(), Ok(expected));
        assert_eq!(postal_address("Bob").as_deref(), Ok("Bob"));
    }

    #[test]
    fn refusals_name_the_line() {
        assert_eq!(postal_address(" \n \\n "), Err(PostalAddressError::Empty));
        assert_eq!(
            postal_address("a\nb\nc\nd\ne\nf\ng"),
            Err(PostalAddressError::TooManyLines(7))
        );
        assert_eq!(
            postal_address(&format!("a\n{}", "x".repeat(61))),
            Err(PostalAddressError::LineTooLong(2))
        );
        assert!(
            postal_address(&"ö".repeat(60)).is_ok(),
            "characters, not bytes"
        );
        assert_eq!(
            postal_address(&vec!["ö".repeat(30); 6].join("\n")),
            Err(PostalAddressError::TooLong)
        );
        assert_eq!(
            postal_address("Alice\nStor\tgatan 1"),
            Err(PostalAddressError::Control(2))
        );
        assert_eq!(
            postal_address("Alice\u{7}"),
            Err(PostalAddressError::Control(1))
        );
    }
}
