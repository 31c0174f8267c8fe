//! What a signed POST body must be before any of it is used: sent as JSON, a JSON request of
//! the endpoint's type (no field unknown, each of the right type), signed recently.
//!
//! Pure functions: `verify` in the parent module runs them in order and audits refusals.

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;

use keyward_proto::MAX_CLOCK_SKEW_SECS;

use crate::service::Refusal;

/// The header refused with 415 (named as HTTP names it, like the API's other fields).
pub(super) const CONTENT_TYPE_FIELD: &str = "Content-Type";

/// Checks that the body is declared `application/json` (parameters allowed, except a charset
/// other than UTF-8): a body sent as a form or as text is refused rather than guessed at.
pub(super) fn check_content_type(headers: &HeaderMap) -> Result<(), String> {
    let expected = "requests are sent as application/json";
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Err(format!("missing: {expected}"));
    };
    let text = value
        .to_str()
        .map_err(|_| format!("not readable: {expected}"))?;
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(format!("{:?}: {expected}", shorten(essence)));
    }
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
            return Err(format!(
                "charset {:?}: JSON requests are UTF-8",
                shorten(value)
            ));
        }
    }
    Ok(())
}

/// Parses the body as `T`, refusing trailing data; a refusal names the field at fault (its path,
/// such as `subject` or `csrs[0].csr`), or `body` when the JSON itself is broken.
pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de);
    let request = match parsed {
        Ok(request) => request,
        Err(e) => {
            // Only a data error (a wrong type or value, a missing or unknown field) is about a
            // field; broken JSON is about the body.
            let field = match e.inner().classify() {
                serde_json::error::Category::Data => {
                    field_of(&e.path().to_string(), &e.inner().to_string())
                }
                _ => "body".to_string(),
            };
            let reason = e.inner().to_string();
            return Err(Refusal::invalid(
                &field,
                format!("not a valid request: {reason}"),
            ));
        }
    };
    de.end()
        .map_err(|e| Refusal::invalid("body", format!("not a valid request: {e}")))?;
    Ok(request)
}

/// The field a JSON error is about: its path, completed by the field a missing-field error
/// names (serde reports it at the enclosing object; an unknown field's path already ends with it).
pub(super) fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    let path = if path == "." { "" } else { path };
    match (path, missing) {
        ("", Some(name)) => name.to_string(),
        ("", None) => "body".to_string(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_string(),
    }
}

/// Whether a request signed at `timestamp` is within [`MAX_CLOCK_SKEW_SECS`] of `now`, by a
/// difference that cannot overflow: a subtraction of two `i64`s wraps (or panics) for a
/// timestamp near `i64::MIN` or `i64::MAX`, which let such a request through as fresh.
pub(super) fn is_fresh(timestamp: i64, now: i64) -> bool {
    timestamp.abs_diff(now) <= MAX_CLOCK_SKEW_SECS.unsigned_abs()
}

fn shorten(text: &str) -> String {
    text.chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn freshness_never_overflows() {
        let now = 1_764_000_000;
        let skew = MAX_CLOCK_SKEW_SECS;
        let cases = [
            (now, true),
            (now + skew, true),
            (now - skew, true),
            (now + skew + 1, false),
            (now - skew - 1, false),
            (i64::MIN + now, false),
            (i64::MIN, false),
            (i64::MAX, false),
            (i64::MAX - now, false),
            (0, false),
        ];
        for (timestamp, fresh) in cases {
            assert_eq!(is_fresh(timestamp, now), fresh, "timestamp {timestamp}");
        }
        assert!(is_fresh(i64::MIN, i64::MIN));
        assert!(!is_fresh(i64::MIN, i64::MAX));
        assert!(!is_fresh(i64::MAX, i64::MIN));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        csr: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        subject: String,
        count: u32,
        csrs: Vec<Inner>,
    }

    #[test]
    fn json_refusals_name_the_field() {
        let cases = [
            (r#"{"subject":123,"count":1,"csrs":[]}"#, "subject"),
            (r#"{"subject":"a","count":-1,"csrs":[]}"#, "count"),
            (
                r#"{"subject":"a","count":1,"csrs":[{"csr":5}]}"#,
                "csrs[0].csr",
            ),
            (r#"{"subject":"a","count":1,"csrs":{}}"#, "csrs"),
            (r#"{"subject":"a","count":1}"#, "csrs"),
            (r#"{"subject":"a","count":1,"csrs":[],"x":1}"#, "x"),
            (
                r#"{"subject":"a","count":1,"csrs":[{"csr":"c","y":1}]}"#,
                "csrs[0].y",
            ),
            (r#"{"subject":"a","count":1,"csrs":[{}]}"#, "csrs[0].csr"),
            (r#"{"subject":"a","#, "body"),
            (r#"{"subject":"a","count":1,"csrs":[]} {}"#, "body"),
            (r#"[]"#, "body"),
        ];
        for (json, field) in cases {
            let refusal = parse::<Outer>(json.as_bytes()).unwrap_err();
            assert_eq!(refusal.field.as_deref(), Some(field), "{json}: {refusal}");
        }
        let good: Outer = parse(br#"{"subject":"a","count":1,"csrs":[{"csr":"c"}]}"#).unwrap();
        assert_eq!((good.subject.as_str(), good.count), ("a", 1));
        assert_eq!(good.csrs[0].csr, "c");
    }

    #[test]
    fn only_json_is_read() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            check_content_type(&headers)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("application/json;charset=\"UTF-8\"").is_ok());
        assert!(with("text/plain").is_err());
        assert!(with("application/x-www-form-urlencoded").is_err());
        assert!(with("application/jsonx").is_err());
        assert!(with("application/json; charset=latin1").is_err());
        assert!(with("").is_err());
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
