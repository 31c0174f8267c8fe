//! The text checks of QC statement values: URLs, NCA names and NCA IDs (the statements'
//! structure is checked in `qc.rs`).

use super::MAX_QC_TEXT;

/// An http(s) URL of a PDS location: ASCII, no spaces or controls.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    check_text(url)?;
    if !url.is_ascii()
        || url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("{url:?}: an URL is ASCII without spaces"));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 10 {
        return Err(format!("{url:?} is not an http(s) URL"));
    }
    Ok(())
}

/// A value of a QC statement: not blank, at most [`MAX_QC_TEXT`] characters, no controls.
pub(super) fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("empty".into());
    }
    if text.chars().count() > MAX_QC_TEXT {
        return Err(format!("longer than {MAX_QC_TEXT} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    Ok(())
}

/// A PSD2 NCA ID: `CC-XXXX` (country code, `-`, 2 to 8 capital letters or digits).
pub(super) fn check_nca_id(id: &str) -> Result<(), String> {
    let ok = match id.split_once('-') {
        Some((cc, nca)) => {
            cc.len() == 2
                && cc.bytes().all(|b| b.is_ascii_uppercase())
                && (2..=8).contains(&nca.len())
                && nca
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not CC-XXXX (country code, '-', 2 to 8 capital letters or digits)"
        ))
    }
}
