//! What Keyward's printed letters say: a pre-generated PIN/PUK letter, and a PIN mail that is
//! printed rather than sent. [`crate::pdf::render`] lays them out.

use zeroize::Zeroizing;

use keyward_proto::{PinLetterSecret, PinMailInfo, PinMailSecret};

use crate::pdf::Letter;

/// A pre-generated PIN/PUK letter of PIN procedure `pin_procedure`, for a sealed mailer.
///
/// The letter ID is printed with its check digits (`Letter ID 100002-16`): the officer types it
/// so, and a typo is refused instead of using up another letter.
pub fn pin_letter(secret: &PinLetterSecret, pin_procedure: &str) -> Letter {
    let id = printed_id(&secret.letter_id);
    Letter {
        title: "PIN/PUK letter".into(),
        reference: format!("Letter ID {id}"),
        recipient: Vec::new(),
        text: vec![
            format!(
                "This letter holds the PIN and PUK of the soft token (PKCS#12 file) your registration officer issues to you with letter ID {id}.",
            ),
            "The PIN opens the token. Keep the PIN and PUK secret, and keep this letter apart from the token file.".into(),
            format!("PIN procedure: {pin_procedure}"),
        ],
        secrets: vec![
            ("PIN".into(), Zeroizing::new(secret.pin.clone())),
            ("PUK".into(), Zeroizing::new(secret.puk.clone())),
        ],
    }
}

/// The printed form of a PIN mail (delivery `print`): the recipient's address, the token
/// it opens, its PIN.
pub fn pin_mail_letter(m: &PinMailInfo, pin: &str) -> Letter {
    Letter {
        title: "PIN letter".into(),
        reference: format!("PIN mail {}", m.id),
        recipient: address_lines(&m.recipient),
        text: vec![
            format!(
                "A soft token (PKCS#12 file) has been issued for {} (Certificate ID {}).",
                m.subject, m.certificate_ids
            ),
            "The PIN below opens it. Keep the PIN secret and apart from the token file; destroy this letter once you have opened your token.".into(),
        ],
        secrets: vec![("PIN".into(), Zeroizing::new(pin.to_string()))],
    }
}

/// The ID as printed: the number with its check digits; `text` as it is if it is no number.
fn printed_id(text: &str) -> String {
    match text.parse::<i64>() {
        Ok(n) if n > 0 => keyward_policy::letter_id::printed(n),
        _ => text.to_string(),
    }
}

/// The lines of a postal address: stored one per line (`\n`); an address queued before
/// multi-line addresses were taken separates them with `;`.
fn address_lines(recipient: &str) -> Vec<String> {
    let separator = if recipient.contains('\n') { '\n' } else { ';' };
    recipient
        .split(separator)
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

/// The letters of the PIN mails `to_print`, each with its PIN from `secrets`; the error names a
/// PIN mail the server sent no PIN for.
pub fn pin_mail_letters(
    to_print: &[PinMailInfo],
    secrets: &[PinMailSecret],
) -> Result<Vec<Letter>, String> {
    to_print
        .iter()
        .map(|m| match secrets.iter().find(|s| s.id == m.id) {
            Some(secret) => Ok(pin_mail_letter(m, &secret.pin)),
            None => Err(format!("the server sent no PIN for PIN mail {}", m.id)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letter_ids_are_printed_with_check_digits() {
        assert_eq!(printed_id("100002"), "100002-16");
        assert_eq!(printed_id("x"), "x");
        let secret = PinLetterSecret {
            letter_id: "100001".into(),
            pin: "pin".into(),
            puk: "puk".into(),
        };
        assert_eq!(
            pin_letter(&secret, "letter").reference,
            "Letter ID 100001-19"
        );
    }

    #[test]
    fn postal_addresses_keep_their_lines() {
        assert_eq!(
            address_lines("Alice Example\nStorgatan 1; 3 tr\n111 22 Stockholm"),
            ["Alice Example", "Storgatan 1; 3 tr", "111 22 Stockholm"]
        );
        assert_eq!(
            address_lines("Alice Example; Storgatan 1;; 111 22 Stockholm"),
            ["Alice Example", "Storgatan 1", "111 22 Stockholm"]
        );
    }
}
