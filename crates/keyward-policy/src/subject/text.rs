//! The characters of one subject attribute value: what a certificate may name someone with,
//! and how a name is shown so that what an officer reads is what the certificate says.
//!
//! Refused everywhere: characters that are invisible or change how the text around them is
//! shown (Unicode general categories Cc, Cf — bidi controls, zero-width characters, tag
//! characters —, Zl, Zp), private-use characters (Co), unassigned code points and
//! noncharacters (Cn), blank values, and stacks of combining marks (UTS #39 §5.4: more than
//! four nonspacing marks in a row, or the same one twice). Refused unless the certificate
//! procedure allows it: letters of more than one script in one value (`аdmіn` with Cyrillic
//! а and і looks like `admin`).

use std::borrow::Cow;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_script::{Script, UnicodeScript};

/// Most combining marks in a row on one base character (UTS #39 §5.4).
pub const MAX_COMBINING_MARKS: usize = 4;

/// Why a category of characters is refused, or `None` when it may appear in a name.
fn hidden(category: GeneralCategory) -> Option<&'static str> {
    match category {
        GeneralCategory::Control => Some("a control character"),
        GeneralCategory::Format => {
            Some("an invisible format character (bidi control, zero-width or tag character)")
        }
        GeneralCategory::LineSeparator => Some("a line separator"),
        GeneralCategory::ParagraphSeparator => Some("a paragraph separator"),
        GeneralCategory::PrivateUse => Some("a private-use character"),
        GeneralCategory::Surrogate => Some("a surrogate"),
        GeneralCategory::Unassigned => Some("an unassigned code point or a noncharacter"),
        _ => None,
    }
}

/// Checks the characters of one value, whatever the procedure: nothing invisible, private or
/// unassigned, not blank, no stacked combining marks. The reason names the character by code
/// point (never the raw character, which may be the very thing that hides text).
pub(crate) fn check_characters(value: &str) -> Result<(), String> {
    if value.chars().all(char::is_whitespace) {
        return Err("is blank".into());
    }
    let mut marks = 0;
    let mut previous_mark = None;
    for c in value.chars() {
        let category = c.general_category();
        if let Some(what) = hidden(category) {
            return Err(format!("contains {what}, U+{:04X}", u32::from(c)));
        }
        let nonspacing = matches!(
            category,
            GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
        );
        if !nonspacing {
            marks = 0;
            previous_mark = None;
            continue;
        }
        if previous_mark == Some(c) {
            return Err(format!(
                "repeats the combining mark U+{:04X} on one character",
                u32::from(c)
            ));
        }
        marks += 1;
        previous_mark = Some(c);
        if marks > MAX_COMBINING_MARKS {
            return Err(format!(
                "stacks more than {MAX_COMBINING_MARKS} combining marks on one character"
            ));
        }
    }
    Ok(())
}

/// The script named in a procedure's `subject_scripts` (`Latin`, `Cyrillic`, `Greek`, or an
/// ISO 15924 code such as `Latn`).
pub fn script_named(name: &str) -> Option<Script> {
    Script::from_full_name(name).or_else(|| Script::from_short_name(name))
}

/// Checks the scripts of one value's letters (characters common to all scripts, such as digits,
/// spaces and punctuation, and combining marks count for none). With `allowed` empty, every
/// letter must be of one script — Han may go with Hiragana and Katakana (Japanese), Hangul
/// (Korean) or Bopomofo, as UTS #39 allows; with `allowed` given, every letter must be of one
/// of those scripts, mixed as they may.
pub(crate) fn check_scripts(value: &str, allowed: &[Script]) -> Result<(), String> {
    let mut found: Vec<Script> = Vec::new();
    for c in value.chars() {
        let script = c.script();
        if matches!(script, Script::Common | Script::Inherited | Script::Unknown) {
            continue;
        }
        if !allowed.is_empty() && !allowed.contains(&script) {
            let names: Vec<&str> = allowed.iter().map(|s| s.full_name()).collect();
            return Err(format!(
                "has {} letters (U+{:04X}); the certificate procedure allows {}",
                script.full_name(),
                u32::from(c),
                names.join(", ")
            ));
        }
        if !found.contains(&script) {
            found.push(script);
        }
    }
    if allowed.is_empty() && found.len() > 1 && !is_one_writing_system(&found) {
        let names: Vec<&str> = found.iter().map(|s| s.full_name()).collect();
        return Err(format!(
            "mixes {} letters (a look-alike of another name?)",
            names.join(" and ")
        ));
    }
    Ok(())
}

/// Scripts written together as one writing system (UTS #39's Jpan, Kore and Hanb).
fn is_one_writing_system(scripts: &[Script]) -> bool {
    let systems: [&[Script]; 3] = [
        &[Script::Han, Script::Hiragana, Script::Katakana],
        &[Script::Han, Script::Hangul],
        &[Script::Han, Script::Bopomofo],
    ];
    systems
        .iter()
        .any(|system| scripts.iter().all(|s| system.contains(s)))
}

/// Whether `c` is invisible, reorders text or is not assigned: a character no name may hold
/// and no output may print raw (Unicode categories Cc, Cf, Zl, Zp, Co, Cs, Cn).
pub fn is_hidden(c: char) -> bool {
    hidden(c.general_category()).is_some()
}

/// `text` as it may be printed: every character that is invisible, reorders text or is not
/// assigned (those [`check_characters`] refuses, and any other control) shown as `\u{XXXX}`, so
/// that a name issued before those checks, or read from elsewhere, cannot hide or reorder
/// what is printed around it. Text without such characters is returned as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hidden(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_private_and_unassigned_characters_are_refused() {
        let refused = [
            ("Eve\u{202E}gnp.exe", "U+202E"),
            ("Eve\u{202D}x", "U+202D"),
            ("a\u{2066}b", "U+2066"),
            ("a\u{2067}b", "U+2067"),
            ("a\u{2068}b", "U+2068"),
            ("a\u{2069}b", "U+2069"),
            ("a\u{200E}b", "U+200E"),
            ("a\u{200F}b", "U+200F"),
            ("ad\u{200B}min", "U+200B"),
            ("ad\u{200C}min", "U+200C"),
            ("ad\u{200D}min", "U+200D"),
            ("ad\u{2060}min", "U+2060"),
            ("\u{FEFF}admin", "U+FEFF"),
            ("a\u{2028}b", "U+2028"),
            ("a\u{2029}b", "U+2029"),
            ("a\u{E000}b", "U+E000"),
            ("a\u{F0000}b", "U+F0000"),
            ("a\u{FDD0}b", "U+FDD0"),
            ("a\u{FFFE}b", "U+FFFE"),
            ("a\u{10FFFF}b", "U+10FFFF"),
            ("a\u{E0041}\u{E0042}", "U+E0041"),
            ("a\u{E0001}", "U+E0001"),
            ("a\u{00AD}b", "U+00AD"),
            ("a\u{0085}b", "U+0085"),
            ("a\u{0378}b", "U+0378"),
        ];
        for (value, code) in refused {
            let reason = check_characters(value).unwrap_err();
            assert!(reason.contains(code), "{value:?}: {reason}");
            assert!(!reason.contains(value), "the reason shows no raw character");
        }
    }

    #[test]
    fn blank_values_and_stacked_marks_are_refused() {
        for blank in ["   ", " ", "\u{3000}", "\u{00A0}\u{2003}"] {
            assert_eq!(
                check_characters(blank).unwrap_err(),
                "is blank",
                "{blank:?}"
            );
        }
        let zalgo = "Z\u{0301}\u{0302}\u{0303}\u{0304}\u{0305}algo";
        assert!(check_characters(zalgo).unwrap_err().contains("more than 4"));
        assert!(check_characters("e\u{0301}\u{0301}")
            .unwrap_err()
            .contains("repeats"));
        // Up to four different marks are real text (Vietnamese takes two).
        for fine in [
            "Nguy\u{1EC5}n",
            "Nguye\u{0323}\u{0302}n",
            "a\u{0301}\u{0302}\u{0303}\u{0304}",
            "Jörg",
            "Ærøskøbing",
            "Smith, John",
            "名前",
            "\u{0928}\u{092E}\u{0938}\u{094D}\u{0924}\u{0947}",
            "a b",
        ] {
            assert_eq!(check_characters(fine), Ok(()), "{fine:?}");
        }
    }

    #[test]
    fn mixed_scripts_are_refused_unless_allowed() {
        let latin = [Script::Latin];
        let latin_greek = [Script::Latin, Script::Greek];
        let cases: [(&str, &[Script], bool); 14] = [
            ("admin", &[], true),
            ("\u{0430}dm\u{0456}n", &[], false),
            ("\u{0430}\u{0434}\u{043C}\u{0438}\u{043D}", &[], true),
            ("Παύλος", &[], true),
            ("Pa\u{03C5}los", &[], false),
            ("山田 たろう", &[], true),
            ("ヤマダ 太郎", &[], true),
            ("김 民準", &[], true),
            ("Example AB 2024-01 (test)", &[], true),
            ("Jörg", &latin, true),
            ("\u{0430}\u{0434}\u{043C}\u{0438}\u{043D}", &latin, false),
            ("Pa\u{03C5}los", &latin_greek, true),
            ("12 345", &latin, true),
            ("山田", &latin, false),
        ];
        for (value, allowed, ok) in cases {
            let result = check_scripts(value, allowed);
            assert_eq!(result.is_ok(), ok, "{value:?} with {allowed:?}: {result:?}");
        }
        let reason = check_scripts("\u{0430}dm\u{0456}n", &[]).unwrap_err();
        assert!(
            reason.contains("Cyrillic") && reason.contains("Latin"),
            "{reason}"
        );
    }

    #[test]
    fn script_names_are_unicode_names_or_iso_codes() {
        assert_eq!(script_named("Latin"), Some(Script::Latin));
        assert_eq!(script_named("Cyrl"), Some(Script::Cyrillic));
        assert_eq!(script_named("Klingon"), None);
    }

    #[test]
    fn printed_names_show_hidden_characters_escaped() {
        assert_eq!(printable("CN=Eve\u{202E}gnp.exe"), "CN=Eve\\u{202E}gnp.exe");
        assert_eq!(printable("a\u{200B}b\u{0007}"), "a\\u{200B}b\\u{0007}");
        assert_eq!(printable("a\u{E0041}"), "a\\u{E0041}");
        assert!(matches!(printable("CN=Jörg,O=Åb"), Cow::Borrowed(_)));
    }
}
