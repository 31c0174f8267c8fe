//! A batch's file names: from the file column (checked), kept from earlier runs, or derived
//! from the CN, with a suffix (`-2`, `-3` …) when another row has the name already.

use std::collections::{HashMap, HashSet};

use keyward_policy::DistinguishedName;

use super::input::{shorten, Row};

const MAX_FILE_CHARS: usize = 100;

/// The file names taken so far (lower-cased: one name per row whatever the case), and for each
/// derived base that was taken already, the next suffix to try: deriving a name costs the same
/// for the thousandth row with the same CN as for the first (the suffixes below are all taken,
/// since names are only ever added).
#[derive(Default)]
pub(super) struct Names {
    taken: HashSet<String>,
    next_suffix: HashMap<String, usize>,
    /// Names tried by [`Names::derive`] (the tests check it stays linear).
    pub(super) probes: usize,
}

impl Names {
    /// Takes `name`; false when another row has it already.
    pub(super) fn take(&mut self, name: &str) -> bool {
        self.taken.insert(name.to_lowercase())
    }

    /// The first of `base`, `base-2`, `base-3` … that no row has taken, now taken.
    pub(super) fn derive(&mut self, base: String) -> String {
        let key = base.to_lowercase();
        self.probes += 1;
        if self.taken.insert(key.clone()) {
            return base;
        }
        let mut n = self.next_suffix.get(&key).copied().unwrap_or(2);
        loop {
            let name = format!("{base}-{n}");
            n += 1;
            self.probes += 1;
            if self.taken.insert(name.to_lowercase()) {
                self.next_suffix.insert(key, n);
                return name;
            }
        }
    }
}

/// A `file` column value as a base name: no directories, no leading dot, `.p12` dropped.
pub(super) fn file_base(given: &str) -> Result<String, String> {
    let trimmed = given
        .strip_suffix(".p12")
        .or_else(|| given.strip_suffix(".P12"))
        .unwrap_or(given);
    if trimmed.is_empty() || trimmed.chars().count() > MAX_FILE_CHARS {
        return Err(format!("give 1 to {MAX_FILE_CHARS} characters"));
    }
    if trimmed.starts_with('.') || trimmed.starts_with('-') {
        return Err(format!("{:?} starts with '.' or '-'", shorten(given)));
    }
    if !trimmed
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'))
    {
        return Err(format!(
            "{:?}: a file name here is letters, digits and - _ . @ + (no directories, no spaces)",
            shorten(given)
        ));
    }
    Ok(trimmed.to_string())
}

/// A file name from the subject's CN (or the whole subject): letters and digits kept, the rest
/// `_`, at most 80 characters; `row-N` when nothing is left.
pub(super) fn derived_base(row: &Row) -> String {
    let source = DistinguishedName::parse(&row.subject)
        .ok()
        .and_then(|dn| dn.get("CN").map(str::to_string))
        .unwrap_or_else(|| row.subject.clone());
    let mut name = String::new();
    for c in source.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '-' | '.') {
            c
        } else {
            '_'
        };
        if c == '_' && name.ends_with('_') {
            continue;
        }
        name.push(c);
    }
    let name: String = name
        .trim_matches(['_', '.', '-'])
        .chars()
        .take(80)
        .collect();
    let name = name.trim_end_matches(['_', '.', '-']);
    if name.is_empty() {
        format!("row-{}", row.number)
    } else {
        name.to_string()
    }
}
