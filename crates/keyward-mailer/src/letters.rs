//! What Keyward's printed letters say: a pre-generated PIN/PUK letter, and a PIN mail that is
//! printed rather than sent. [`crate::pdf::render`] lays them out.

use zeroize::Zeroizing;

use keyward_proto::{PinLetterSecret, PinMailInfo, PinMailSecret};

use crate::pdf::Letter;

/// A pre-generated PIN/PUK letter of PIN procedure `pin_procedure`, for a sealed mailer.
pub fn pin_letter(secret: &PinLetterSecret, pin_procedure: &str) -> Letter {
    Letter {
        title: "PIN/PUK letter".into(),
        reference: format!("Letter ID {}", secret.letter_id),
        recipient: Vec::new(),
        text: vec![
            format!(
                "This letter holds the PIN and PUK of the soft token (PKCS#12 file) your registration officer issues to you with letter ID {}.",
                secret.letter_id
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
        recipient: m
            .recipient
            .split(';')
            .map(|line| line.trim().to_string())
            .filter(|line| !line.is_empty())
            .collect(),
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
