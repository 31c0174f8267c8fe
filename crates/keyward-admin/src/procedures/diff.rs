//! What a new version of the procedures changes: procedures added, removed and changed (with
//! the fields that differ), compared through their JSON form so that every kind of procedure,
//! and every field added to one later, is covered without naming it here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use keyward_policy::ProcedureSet;

/// One procedure whose definition changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// `kind name`, e.g. `certificate-procedure signing`.
    pub procedure: String,
    /// The fields that differ (added, removed or changed).
    pub fields: Vec<String>,
}

/// The difference between two sets of procedures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// New procedures, as `kind name`.
    pub added: Vec<String>,
    /// Procedures no longer there, as `kind name`.
    pub removed: Vec<String>,
    /// Procedures whose definition changed.
    pub changed: Vec<Changed>,
}

impl Diff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Each procedure of `set` as `kind name` → its fields (the kind is the table's name in
/// procedures.toml).
fn by_name(set: &ProcedureSet) -> BTreeMap<String, serde_json::Map<String, Value>> {
    let mut out = BTreeMap::new();
    let Ok(Value::Object(kinds)) = serde_json::to_value(set) else {
        return out;
    };
    for (kind, list) in kinds {
        let Value::Array(list) = list else { continue };
        for item in list {
            if let Value::Object(fields) = item {
                let name = fields.get("name").and_then(Value::as_str).unwrap_or("");
                out.insert(format!("{kind} {name}"), fields);
            }
        }
    }
    out
}

/// What going from `old` to `new` adds, removes and changes.
pub fn diff(old: &ProcedureSet, new: &ProcedureSet) -> Diff {
    let old = by_name(old);
    let new = by_name(new);
    let mut out = Diff::default();
    for (key, fields) in &new {
        match old.get(key) {
            None => out.added.push(key.clone()),
            Some(before) if before != fields => {
                let mut names: Vec<String> = before
                    .keys()
                    .chain(fields.keys())
                    .filter(|f| before.get(*f) != fields.get(*f))
                    .cloned()
                    .collect();
                names.sort();
                names.dedup();
                out.changed.push(Changed {
                    procedure: key.clone(),
                    fields: names,
                });
            }
            Some(_) => {}
        }
    }
    out.removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[certificate-procedure]]
name = "signing"
validity_days = 730
key_usage = ["digitalSignature"]
subject = [{ attribute = "CN", required = true }]

[[pin-procedure]]
name = "show"
method = "show"

[[token-procedure]]
name = "soft"
certificate_procedures = ["signing"]
pin_procedure = "show"
"#;

    #[test]
    fn added_removed_and_changed_fields_are_named() {
        let old: ProcedureSet = toml::from_str(BASE).unwrap();
        assert!(diff(&old, &old).is_empty());
        let changed = BASE
            .replace("validity_days = 730", "validity_days = 365")
            .replace("name = \"soft\"", "name = \"soft-2\"");
        let new: ProcedureSet = toml::from_str(&changed).unwrap();
        let d = diff(&old, &new);
        assert_eq!(d.added, ["token-procedure soft-2"]);
        assert_eq!(d.removed, ["token-procedure soft"]);
        assert_eq!(
            d.changed,
            [Changed {
                procedure: "certificate-procedure signing".into(),
                fields: vec!["validity_days".into()],
            }]
        );
    }
}
