//! Printable PIN/PUK letters: one A4 page per letter, built-in PDF fonts only.
//!
//! The officer's client prints these for sealed mailers, often thousands at a time, so the
//! layout is fixed and simple: no font files, no text shaping, one content stream per page.
//! The recipient block sits where a DIN 5008 window envelope shows it.
//!
//! Secrets are wiped from our own strings and from the page operations after rendering, and
//! the PDF is returned in [`Zeroizing`]. printpdf/lopdf's intermediate serialisation buffers
//! (uncompressed content streams) are freed without wiping; that is beyond this crate's reach.

use std::fmt;

use printpdf::{
    BuiltinFont, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, PdfWarnMsg, Point,
    Pt, TextItem,
};
use zeroize::{Zeroize, Zeroizing};

use crate::MailerError;

/// One PIN/PUK letter, printed on one A4 page.
#[derive(Clone)]
pub struct Letter {
    /// Heading at the top of the page, e.g. "PIN/PUK letter".
    pub title: String,
    /// Identifies the letter for the officer and the recipient, e.g. "Letter ID 100001".
    pub reference: String,
    /// Address block lines shown in the envelope window; may be empty.
    pub recipient: Vec<String>,
    /// Explanatory paragraphs; long ones are wrapped at about 90 characters.
    pub text: Vec<String>,
    /// Labelled secrets, e.g. `[("PIN", …), ("PUK", …)]`, printed large in Courier.
    pub secrets: Vec<(String, Zeroizing<String>)>,
}

impl fmt::Debug for Letter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the labels: a letter is logged when rendering fails, its secrets never are.
        let labels: Vec<&str> = self.secrets.iter().map(|(l, _)| l.as_str()).collect();
        f.debug_struct("Letter")
            .field("title", &self.title)
            .field("reference", &self.reference)
            .field("recipient", &self.recipient)
            .field("text", &self.text)
            .field("secrets", &format_args!("{labels:?} <hidden>"))
            .finish()
    }
}

/// Width at which paragraphs are wrapped; Helvetica 10 pt averages ~1.9 mm per character, so
/// 90 characters stay inside the 170 mm between the margins.
const WRAP: usize = 90;
/// Courier Bold 20 pt is 4.23 mm per character: this many fit right of the label column.
const SECRET_WRAP: usize = 32;
const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const LEFT: f32 = 20.0;
const BOTTOM: f32 = 20.0;
/// Labels up to this length fit left of the secret column; longer ones get a line of their own.
const LABEL_COLUMN_CHARS: usize = 14;
const SECRET_X: f32 = 60.0;

/// Renders `letters` into one PDF, one page per letter, in order.
///
/// Fails with [`MailerError::Invalid`] for an empty slice or a letter whose content does not
/// fit on one page, and with [`MailerError::Pdf`] if printpdf reports an error. Characters the
/// built-in fonts cannot show are printed as `?`, so odd input never makes rendering fail.
pub fn render(letters: &[Letter]) -> Result<Zeroizing<Vec<u8>>, MailerError> {
    if letters.is_empty() {
        return Err(MailerError::Invalid(
            "PDF letters: nothing to render (no letters given)".into(),
        ));
    }
    let mut pages = Vec::with_capacity(letters.len());
    for (index, letter) in letters.iter().enumerate() {
        pages.push(PdfPage::new(
            Mm(PAGE_W),
            Mm(PAGE_H),
            page_ops(index, letter)?,
        ));
    }
    let mut doc = PdfDocument::new("PIN letters");
    doc.with_pages(pages);

    // Built-in Type1 fonts are referenced once in a document-wide font dictionary, never
    // embedded, so there is nothing to subset. Compression stays on: measured with
    // examples/render_bench.rs, 10,000 letters take ~1.2 s and 8 MB with it, ~0.6 s and 13 MB
    // without; the smaller file matters more to the print spooler than half a second.
    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: false,
        secure: true,
        image_optimization: None,
    };
    let mut warnings: Vec<PdfWarnMsg> = Vec::new();
    let bytes = Zeroizing::new(doc.save(&opts, &mut warnings));
    scrub(&mut doc);

    // Report only counts and page numbers: printpdf's messages may quote page content.
    let errors = warnings
        .iter()
        .filter(|w| w.severity == printpdf::PdfParseErrorSeverity::Error)
        .count();
    if errors > 0 {
        return Err(MailerError::Pdf(format!(
            "{errors} rendering error(s) reported by printpdf"
        )));
    }
    Ok(bytes)
}

/// Overwrites the secret-bearing strings in the page operations before they are freed.
/// (printpdf's own serialisation buffers are beyond our reach; see the module docs.)
fn scrub(doc: &mut PdfDocument) {
    for page in &mut doc.pages {
        for op in &mut page.ops {
            if let Op::ShowText { items } = op {
                for item in items {
                    if let TextItem::Text(s) = item {
                        s.zeroize();
                    }
                }
            }
        }
    }
}

/// Accumulates the operations of one page, top to bottom.
struct PageWriter {
    ops: Vec<Op>,
    /// Baseline of the next line, in mm from the bottom edge.
    y: f32,
}

impl PageWriter {
    /// One text object per line with an absolute position: `Td` is relative inside a text
    /// object, so separate objects keep every line exactly where the layout says.
    fn line(&mut self, x: f32, y: f32, font: BuiltinFont, size: f32, text: String) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::Builtin(font),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point::new(Mm(x), Mm(y)),
            },
            Op::ShowText {
                items: vec![TextItem::Text(text)],
            },
            Op::EndTextSection,
        ]);
    }

    /// Writes a line at the current position and moves down by `advance` mm.
    fn flow(&mut self, font: BuiltinFont, size: f32, advance: f32, text: String) {
        self.line(LEFT, self.y, font, size, text);
        self.y -= advance;
    }
}

fn page_ops(index: usize, letter: &Letter) -> Result<Vec<Op>, MailerError> {
    let mut w = PageWriter {
        ops: Vec::with_capacity(64),
        y: 277.0,
    };
    w.flow(BuiltinFont::HelveticaBold, 16.0, 7.0, clean(&letter.title));
    w.flow(BuiltinFont::Helvetica, 10.0, 0.0, clean(&letter.reference));

    // DIN 5008 form B: the address field starts 45 mm below the top edge.
    w.y = PAGE_H - 50.0;
    for line in &letter.recipient {
        w.flow(BuiltinFont::Helvetica, 11.0, 5.0, clean(line));
    }
    // The body starts below the window even when the address block is short.
    w.y = w.y.min(200.0);

    for paragraph in &letter.text {
        for line in wrap(paragraph, WRAP) {
            w.flow(BuiltinFont::Helvetica, 10.0, 4.6, clean(&line));
        }
        w.y -= 2.5;
    }

    w.y -= 6.0;
    for (label, secret) in &letter.secrets {
        let label = clean(label);
        if label.chars().count() > LABEL_COLUMN_CHARS {
            w.flow(BuiltinFont::HelveticaBold, 12.0, 9.0, label);
        } else {
            w.line(LEFT, w.y, BuiltinFont::HelveticaBold, 12.0, label);
        }
        let secret = Zeroizing::new(clean(secret));
        let chars: Vec<char> = secret.chars().collect();
        for chunk in chars.chunks(SECRET_WRAP) {
            let text: String = chunk.iter().collect();
            w.line(SECRET_X, w.y, BuiltinFont::CourierBold, 20.0, text);
            w.y -= 9.0;
        }
        w.y -= 3.0;
    }

    // y is the next free baseline; the last line written sits above it.
    if w.y + 9.0 < BOTTOM {
        return Err(MailerError::Invalid(format!(
            "PDF letter {} ({}): content does not fit on one A4 page",
            index + 1,
            clean(&letter.reference)
        )));
    }
    Ok(w.ops)
}

/// Keeps what the built-in fonts' WinAnsi encoding shows for sure (printable ASCII and
/// Latin-1); everything else becomes `?` and tabs become spaces.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' '..='~' | '\u{A0}'..='\u{FF}' => c,
            '\t' => ' ',
            _ => '?',
        })
        .collect()
}

/// Greedy word wrap at `width` characters; words longer than a line are split.
/// Embedded newlines start a new line; an empty paragraph yields one empty line.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let mut line = String::new();
        for word in raw.split_whitespace() {
            let word: Vec<char> = word.chars().collect();
            for piece in word.chunks(width) {
                let len = line.chars().count();
                if len > 0 && len + 1 + piece.len() > width {
                    lines.push(std::mem::take(&mut line));
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                line.extend(piece);
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> Letter {
        Letter {
            title: "PIN/PUK letter".into(),
            reference: "Letter ID 100001".into(),
            recipient: vec!["Jane Doe".into()],
            text: vec!["Keep this letter safe.".into()],
            secrets: vec![
                ("PIN".into(), Zeroizing::new("pinSECRET7x9".into())),
                ("PUK".into(), Zeroizing::new("pukSECRET4k2".into())),
            ],
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!("{:?}", letter());
        assert!(!shown.contains("pinSECRET7x9") && !shown.contains("pukSECRET4k2"));
        assert!(shown.contains("Letter ID 100001") && shown.contains("PIN"));
    }

    #[test]
    fn clean_replaces_what_winansi_cannot_show() {
        assert_eq!(clean("Grüße\tüber €5 \u{1F600}\r\n"), "Grüße über ?5 ???");
    }

    #[test]
    fn wrap_respects_width_and_splits_long_words() {
        let lines = wrap("aaa bbb ccc dddddddddd", 7);
        assert_eq!(lines, ["aaa bbb", "ccc", "ddddddd", "ddd"]);
        assert_eq!(wrap("", 10), [""]);
        assert!(wrap(&"word ".repeat(100), WRAP)
            .iter()
            .all(|l| l.chars().count() <= WRAP));
    }

    #[test]
    fn empty_batch_and_overlong_letter_are_refused() {
        assert!(matches!(render(&[]), Err(MailerError::Invalid(_))));
        let mut long = letter();
        long.text = vec!["x".into(); 60];
        let err = render(&[long]).unwrap_err().to_string();
        assert!(err.contains("does not fit") && err.contains("Letter ID 100001"));
        assert!(!err.contains("pinSECRET7x9"));
    }
}
