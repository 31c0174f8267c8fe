//! PINs in memory.

use std::fmt;

use zeroize::Zeroizing;

use crate::{ossl, CryptoError};

/// A PIN or passphrase: wiped when dropped, never printed by `Debug`, no `Display`.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Wraps a PIN.
    pub fn new(pin: String) -> Pin {
        Pin(Zeroizing::new(pin))
    }

    /// The PIN itself, for sealing or showing once.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// A PIN of `length` characters drawn uniformly from `alphabet` with the CSPRNG (rejection
/// sampling, so no character is more likely than another).
pub fn generate_pin(length: usize, alphabet: &[u8]) -> Result<Pin, CryptoError> {
    if alphabet.is_empty() || alphabet.len() > 256 {
        return Err(CryptoError::Entropy(
            "PIN alphabet must have 1..=256 characters".into(),
        ));
    }
    let limit = 256 - (256 % alphabet.len());
    let mut pin = Zeroizing::new(String::with_capacity(length));
    let mut buf = Zeroizing::new([0u8; 64]);
    while pin.len() < length {
        openssl::rand::rand_bytes(buf.as_mut_slice()).map_err(ossl("PIN generation"))?;
        for b in buf.iter() {
            if (*b as usize) < limit && pin.len() < length {
                pin.push(alphabet[*b as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(Pin(pin))
}

/// A PIN the PIN procedure accepts: `generated_length` characters of the PIN alphabet, drawn
/// again in the (rare) case the rules call it trivial.
pub fn generate_for(rules: &keyward_policy::PinProcedure) -> Result<Pin, CryptoError> {
    use keyward_policy::pin::{check_pin, PIN_ALPHABET};
    for _ in 0..100 {
        let pin = generate_pin(rules.generated_length, PIN_ALPHABET)?;
        if check_pin(pin.as_str(), rules).is_ok() {
            return Ok(pin);
        }
    }
    Err(CryptoError::Entropy(
        "could not generate a PIN that satisfies the PIN procedure".into(),
    ))
}

/// A PUK for a PIN/PUK letter: `puk_length` characters of the PIN alphabet.
pub fn generate_puk(rules: &keyward_policy::PinProcedure) -> Result<Pin, CryptoError> {
    generate_pin(rules.puk_length, keyward_policy::pin::PIN_ALPHABET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_use_the_alphabet_and_hide_in_debug() {
        let pin = generate_pin(40, b"abc").unwrap();
        assert_eq!(pin.as_str().len(), 40);
        assert!(pin.as_str().chars().all(|c| "abc".contains(c)));
        assert_eq!(format!("{pin:?}"), "Pin(***)");
        assert_ne!(
            generate_pin(16, b"0123456789").unwrap().as_str(),
            generate_pin(16, b"0123456789").unwrap().as_str()
        );
    }
}
