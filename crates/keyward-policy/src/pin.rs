//! PIN rules: what an entered PIN must satisfy. Generation (which needs the OS CSPRNG) lives in
//! the RA client; the rules live here so that the server can check the same ones later.

use crate::procedure::PinProcedure;

/// Characters of generated PINs: digits and letters without look-alikes (0/O, 1/l/I).
pub const PIN_ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// Why an entered PIN is refused. Never carries the PIN itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// Too short for the PIN procedure.
    #[error("PIN: at least {0} characters are required")]
    TooShort(usize),
    /// Too long for the PIN procedure.
    #[error("PIN: at most {0} characters are allowed")]
    TooLong(usize),
    /// Contains a control character or non-ASCII character (would not open everywhere).
    #[error("PIN: only printable ASCII characters are allowed")]
    Charset,
    /// One repeated character, or an ascending/descending run such as 12345678.
    #[error("PIN: trivial PINs (one repeated character, or a run such as 12345678) are refused")]
    Trivial,
}

/// Checks an entered PIN against the PIN procedure.
pub fn check_pin(pin: &str, rules: &PinProcedure) -> Result<(), PinError> {
    if !pin.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(PinError::Charset);
    }
    let len = pin.len();
    if len < rules.min_length {
        return Err(PinError::TooShort(rules.min_length));
    }
    if len > rules.max_length {
        return Err(PinError::TooLong(rules.max_length));
    }
    if is_trivial(pin.as_bytes()) {
        return Err(PinError::Trivial);
    }
    Ok(())
}

fn is_trivial(pin: &[u8]) -> bool {
    let steps: Vec<i16> = pin
        .windows(2)
        .map(|w| i16::from(w[1]) - i16::from(w[0]))
        .collect();
    let first = steps.first().copied().unwrap_or(0);
    steps.iter().all(|s| *s == first) && (-1..=1).contains(&first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::PinMethod;

    fn rules() -> PinProcedure {
        PinProcedure {
            method: PinMethod::Enter,
            min_length: 8,
            max_length: 16,
            generated_length: 12,
        }
    }

    #[test]
    fn table() {
        let cases = [
            ("correct-horse", Ok(())),
            ("short", Err(PinError::TooShort(8))),
            ("this-pin-is-far-too-long", Err(PinError::TooLong(16))),
            ("00000000", Err(PinError::Trivial)),
            ("12345678", Err(PinError::Trivial)),
            ("87654321", Err(PinError::Trivial)),
            ("abcdefgh", Err(PinError::Trivial)),
            ("12345679", Ok(())),
            ("pin\nwith-newline", Err(PinError::Charset)),
            ("pinåäö-12345", Err(PinError::Charset)),
        ];
        for (pin, expected) in cases {
            assert_eq!(check_pin(pin, &rules()), expected, "{pin:?}");
        }
    }

    #[test]
    fn errors_never_carry_the_pin() {
        for pin in ["98765432", "kkkkkkkk", "short"] {
            let err = check_pin(pin, &rules()).unwrap_err();
            assert!(!err.to_string().contains(pin), "{err}");
        }
    }
}
