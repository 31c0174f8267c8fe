//! The `key = value` configuration format of cm.conf and client.conf.
//!
//! It is the format of the product we model: one setting a line, `#` or `!` comments, and a
//! trailing `\` continuing a value on the next line (so the seed's `client.ra-key-generation`
//! example can be pasted as it is).

use std::collections::BTreeMap;

/// A parse error, with the 1-based line where it happened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct ConfigError {
    /// Line number (1-based) of the offending line.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// Parsed settings: keys in file order do not matter, a repeated key is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    values: BTreeMap<String, String>,
}

impl Settings {
    /// Parses the text of a configuration file.
    pub fn parse(text: &str) -> Result<Settings, ConfigError> {
        let mut values = BTreeMap::new();
        let mut pending: Option<(usize, String, String)> = None;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if let Some((start, key, mut value)) = pending.take() {
                let (part, more) = split_continuation(line);
                if !value.is_empty() && !part.is_empty() {
                    value.push(' ');
                }
                value.push_str(part);
                if more {
                    pending = Some((start, key, value));
                } else {
                    insert(&mut values, start, key, value)?;
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(ConfigError {
                    line: line_no,
                    reason: "expected `key = value`".into(),
                });
            };
            let key = key.trim();
            if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ConfigError {
                    line: line_no,
                    reason: format!("invalid key {key:?}"),
                });
            }
            let (part, more) = split_continuation(value.trim());
            if more {
                pending = Some((line_no, key.to_string(), part.to_string()));
            } else {
                insert(&mut values, line_no, key.to_string(), part.to_string())?;
            }
        }
        if let Some((start, key, value)) = pending {
            insert(&mut values, start, key, value)?;
        }
        Ok(Settings { values })
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// All keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

fn split_continuation(line: &str) -> (&str, bool) {
    match line.strip_suffix('\\') {
        Some(rest) => (rest.trim_end(), true),
        None => (line, false),
    }
}

fn insert(
    values: &mut BTreeMap<String, String>,
    line: usize,
    key: String,
    value: String,
) -> Result<(), ConfigError> {
    if values.contains_key(&key) {
        return Err(ConfigError {
            line,
            reason: format!("{key} is set twice"),
        });
    }
    values.insert(key, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example_with_continuations() {
        let text = "# comment\nclient.ra-key-generation = RSA:2048*, RSA:3072, RSA:4096, RSA:8192, \\\n\tEC:brainpoolP256r1, EC:brainpoolP320r1, \\\n\tDSA:1024\nserver.listen = 127.0.0.1:8443\n";
        let s = Settings::parse(text).unwrap();
        assert_eq!(
            s.get("client.ra-key-generation"),
            Some("RSA:2048*, RSA:3072, RSA:4096, RSA:8192, EC:brainpoolP256r1, EC:brainpoolP320r1, DSA:1024")
        );
        assert_eq!(s.get("server.listen"), Some("127.0.0.1:8443"));
    }

    #[test]
    fn refuses_garbage_and_duplicates() {
        assert_eq!(Settings::parse("a = 1\nnonsense\n").unwrap_err().line, 2);
        assert!(Settings::parse("a = 1\na = 2\n")
            .unwrap_err()
            .reason
            .contains("twice"));
        assert!(Settings::parse("bad key = 1\n").is_err());
    }

    #[test]
    fn continuation_at_end_of_file() {
        let s = Settings::parse("a = x, \\").unwrap();
        assert_eq!(s.get("a"), Some("x,"));
    }
}
