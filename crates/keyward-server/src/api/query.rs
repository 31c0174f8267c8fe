//! Query strings of GETs, read like JSON bodies: a parameter of the wrong type or a missing one
//! is refused as an `ApiError` naming it (axum's own `Query` answers such a request with plain
//! text that names nothing, outside the API's contract).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiFailure;
use crate::service::Refusal;

/// The query parameters of a request, as `T`.
pub(super) struct Params<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse(parts.uri.query().unwrap_or_default())
            .map(Params)
            .map_err(ApiFailure::from)
    }
}

/// Parses a query string as `T`; a refusal names the parameter at fault.
fn parse<T: DeserializeOwned>(query: &str) -> Result<T, Refusal> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let field = super::body::field_of(&e.path().to_string(), &message);
        // A query has no body: a refusal about none of its parameters is about the query.
        let field = if field == "body" {
            "query".into()
        } else {
            field
        };
        Refusal::invalid(&field, format!("query parameter: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Letters {
        holder: String,
        used: Option<bool>,
        limit: Option<i64>,
    }

    #[test]
    fn wrong_or_missing_parameters_are_refused_naming_them() {
        let ok: Letters = parse("holder=7&used=true&limit=3&other=x").unwrap();
        assert_eq!((ok.used, ok.limit), (Some(true), Some(3)));
        for (query, field) in [
            ("holder=7&used=maybe", "used"),
            ("holder=7&limit=ten", "limit"),
            ("used=true", "holder"),
            ("", "holder"),
        ] {
            let refusal = parse::<Letters>(query).unwrap_err();
            assert_eq!(
                refusal.field.as_deref(),
                Some(field),
                "{query}: {refusal:?}"
            );
            assert!(
                refusal.message.starts_with("query parameter"),
                "{refusal:?}"
            );
        }
    }
}
