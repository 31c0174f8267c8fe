//! Where in procedures.toml a fault is: line and column of a byte offset, and the table or key
//! a validation error is about (validation works on the parsed set, which keeps no positions).

/// A position in the file, both 1-based; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// The position of byte `offset` of `text` (clamped to the text).
pub(crate) fn position(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line,
        column: text[line_start..offset].chars().count() + 1,
    }
}

/// One `[[kind]]` table of the file as written: its kind, the value of its `name` key, and the
/// position of each of its top-level keys.
#[derive(Debug)]
struct Table {
    kind: String,
    header: Position,
    name: Option<(String, Position)>,
    keys: Vec<(String, Position)>,
}

/// The `[[kind]]` tables of `text`, found line by line (procedures.toml's own layout: one key
/// per line, arrays of inline tables continue on indented lines, which are skipped).
fn tables(text: &str) -> Vec<Table> {
    let mut out: Vec<Table> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim_start();
        let indent = raw.chars().count() - trimmed.chars().count();
        if let Some(kind) = trimmed
            .strip_prefix("[[")
            .and_then(|rest| rest.split_once("]]"))
            .map(|(kind, _)| kind.trim())
        {
            out.push(Table {
                kind: kind.to_string(),
                header: Position {
                    line,
                    column: indent + 1,
                },
                name: None,
                keys: Vec::new(),
            });
            continue;
        }
        if indent > 0 {
            continue;
        }
        let Some(table) = out.last_mut() else {
            continue;
        };
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        {
            continue;
        }
        let at = Position { line, column: 1 };
        if key == "name" {
            let value = value.trim();
            let name = value.trim_matches(|c| c == '"' || c == '\'').to_string();
            let column = raw.chars().count() - value.chars().count() + 1;
            table.name = Some((name, Position { line, column }));
        }
        table.keys.push((key.to_string(), at));
    }
    out
}

/// Where the validation error `reason` about procedure `procedure` of table `kind` (when known:
/// `certificate-procedure`, …) points: the key of its table that `reason` names (the longest
/// such key), else its `name`; with a duplicate name (`two … procedures have this name`) the
/// second table of that name. Also returns `[[kind]] name` and the key, for the message.
/// `None` if no table has that name.
pub(crate) fn semantic(
    text: &str,
    kind: Option<&str>,
    procedure: &str,
    reason: &str,
) -> Option<(Position, String, Option<String>)> {
    let all = tables(text);
    let named: Vec<&Table> = all
        .iter()
        .filter(|t| t.name.as_ref().is_some_and(|(n, _)| n == procedure))
        .filter(|t| kind.is_none_or(|k| t.kind == k))
        .collect();
    let duplicate = reason.starts_with("two ");
    let table = if duplicate {
        named.get(1).or(named.first())
    } else {
        named.first()
    }?;
    let label = format!("[[{}]] {procedure}", table.kind);
    let key = table
        .keys
        .iter()
        .filter(|(key, _)| key != "name" && names_key(reason, key))
        .max_by_key(|(key, _)| key.len());
    if let (Some((key, at)), false) = (key, duplicate) {
        return Some((*at, label, Some(key.clone())));
    }
    let at = table.name.as_ref().map_or(table.header, |(_, at)| *at);
    Some((at, label, Some("name".into())))
}

/// The key and table at `line`, for a parse error (`[[kind]] name`, the key on that line or on
/// the nearest key line above it within the table).
pub(crate) fn key_at(text: &str, line: usize) -> Option<(String, Option<String>)> {
    let all = tables(text);
    let table = all.iter().rev().find(|t| t.header.line <= line)?;
    let label = match &table.name {
        Some((name, _)) => format!("[[{}]] {name}", table.kind),
        None => format!("[[{}]]", table.kind),
    };
    let key = table
        .keys
        .iter()
        .rev()
        .find(|(_, at)| at.line <= line)
        .map(|(key, _)| key.clone());
    Some((label, key))
}

/// Whether `text` names key `key`: as written (`validity_days`), or in words, singular or
/// plural and in any case (`pin_procedure` in "PIN procedure x does not exist",
/// `certificate_procedures` in "certificate procedure x …").
fn names_key(text: &str, key: &str) -> bool {
    let lower = text.to_lowercase();
    let words = key.replace(['_', '-'], " ");
    let singular = words.strip_suffix('s').unwrap_or(&words).to_string();
    [key.to_string(), words, singular]
        .iter()
        .any(|form| names_word(&lower, &form.to_lowercase()))
}

/// Whether `text` holds `word` delimited by anything but a name character.
fn names_word(text: &str, word: &str) -> bool {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    !word.is_empty()
        && text.match_indices(word).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + word.len()..].chars().next();
            !before.is_some_and(is_name) && !after.is_some_and(is_name)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# c\n[[certificate-procedure]]\nname = \"signing\"\nvalidity_days = 0\nsubject = [\n  { attribute = \"CN\" },\n]\n\n[[token-procedure]]\nname = \"signing\"\npin_procedure = \"x\"\n";

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(position("ab\ncd", 0), Position { line: 1, column: 1 });
        assert_eq!(position("ab\ncd", 4), Position { line: 2, column: 2 });
        assert_eq!(position("é\nx", 2), Position { line: 1, column: 2 });
        assert_eq!(position("ab", 99), Position { line: 1, column: 3 });
    }

    #[test]
    fn a_reason_naming_a_key_points_at_that_key() {
        let (at, table, key) =
            semantic(TEXT, None, "signing", "validity_days must be 1 to 3650").unwrap();
        assert_eq!(at, Position { line: 4, column: 1 });
        assert_eq!(table, "[[certificate-procedure]] signing");
        assert_eq!(key.as_deref(), Some("validity_days"));
    }

    #[test]
    fn other_reasons_point_at_the_name_and_duplicates_at_the_second() {
        let token = Some("token-procedure");
        let (at, table, key) = semantic(TEXT, token, "signing", "names nothing").unwrap();
        assert_eq!(
            (at, key.as_deref()),
            (
                Position {
                    line: 10,
                    column: 8
                },
                Some("name")
            )
        );
        assert_eq!(table, "[[token-procedure]] signing");
        let (at, _, key) =
            semantic(TEXT, token, "signing", "PIN procedure x does not exist").unwrap();
        assert_eq!(
            (at, key.as_deref()),
            (
                Position {
                    line: 11,
                    column: 1
                },
                Some("pin_procedure")
            )
        );
        let (at, _, _) =
            semantic(TEXT, None, "signing", "two key procedures have this name").unwrap();
        assert_eq!(
            at,
            Position {
                line: 10,
                column: 8
            },
            "the second of the name"
        );
        let (at, _, _) = semantic(TEXT, None, "signing", "subject: bad").unwrap();
        assert_eq!(at, Position { line: 5, column: 1 });
        assert!(semantic(TEXT, None, "nobody", "x").is_none());
    }

    #[test]
    fn a_line_is_placed_in_its_table_and_key() {
        let (table, key) = key_at(TEXT, 6).unwrap();
        assert_eq!(table, "[[certificate-procedure]] signing");
        assert_eq!(key.as_deref(), Some("subject"));
        assert!(key_at(TEXT, 1).is_none());
    }
}
