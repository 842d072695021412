//! JSON request bodies with precise errors: 415 for a wrong media type, 413 over the size
//! limit, 400 for malformed JSON, and a field path for wrong types or unknown fields.
//! serde_json's recursion limit (128 levels) bounds nesting depth.

use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

/// The largest request body accepted, in bytes (the `--max-body-bytes` setting).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body (`application/json` or any `+json` type).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// A `PATCH` body: a JSON merge patch (`application/merge-patch+json`, or plain JSON).
#[derive(Debug)]
pub struct MergePatch(pub serde_json::Value);

#[derive(Clone, Copy)]
enum Accepts {
    Json,
    MergePatch,
}

fn check_media_type(req: &HttpRequest, accepts: Accepts) -> Result<(), AppError> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok());
    let ok = match (&mime, accepts) {
        (Some(m), Accepts::Json) => {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        }
        (Some(m), Accepts::MergePatch) => {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.subtype().as_str() == "merge-patch")
        }
        (None, _) => false,
    };
    if ok {
        return Ok(());
    }
    let expected = match accepts {
        Accepts::Json => "application/json",
        Accepts::MergePatch => "application/merge-patch+json or application/json",
    };
    Err(AppError::UnsupportedMediaType(match mime {
        Some(m) => format!("Content-Type {m} is not supported here; send {expected}"),
        None => format!("a Content-Type header is required; send {expected}"),
    }))
}

fn body_error(err: actix_web::Error, limit: usize) -> AppError {
    match err.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => AppError::PayloadTooLarge(limit),
        _ => AppError::BadRequest("the request body could not be read".to_owned()),
    }
}

/// Deepest nesting of arrays and objects a body may have. Our documents need three or
/// four levels; deep nesting only costs stack and time.
pub const MAX_JSON_DEPTH: usize = 32;

/// The nesting depth of a JSON text, found without parsing it (strings are skipped, so
/// brackets inside them do not count). Malformed input gets a number too; the parser
/// then reports what is wrong with it.
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if json_depth(bytes) > MAX_JSON_DEPTH {
        return Err(AppError::BadRequest(format!(
            "the body is nested deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    let syntax =
        |e: serde_json::Error| AppError::BadRequest(format!("the body is not valid JSON: {e}"));
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                AppError::Validation(vec![FieldError::new(
                    field,
                    strip_position(&inner.to_string()),
                )])
            }
            _ => syntax(inner),
        }
    })?;
    de.end().map_err(syntax)?;
    Ok(value)
}

/// serde's "… at line 1 column 17" helps with syntax errors, not with a named field.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn extract<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    accepts: Accepts,
) -> LocalBoxFuture<'static, Result<T, AppError>> {
    let media = check_media_type(req, accepts);
    let limit = req.app_data::<BodyLimit>().map_or(64 * 1024, |l| l.0);
    let bytes = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        media?;
        let bytes = bytes.await.map_err(|e| body_error(e, limit))?;
        parse_json(&bytes)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = extract::<T>(req, payload, Accepts::Json);
        Box::pin(async move { fut.await.map(ApiJson) })
    }
}

impl FromRequest for MergePatch {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = extract::<serde_json::Value>(req, payload, Accepts::MergePatch);
        Box::pin(async move {
            // Every resource here is an object, so only an object patches it. Refused before
            // any precondition is looked at: a malformed body is a 400 whatever If-Match says.
            match fut.await? {
                patch @ serde_json::Value::Object(_) => Ok(MergePatch(patch)),
                _ => Err(AppError::invalid(
                    "body",
                    "a merge patch must be a JSON object",
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        items: Vec<Line>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Line {
        quantity: i32,
    }

    fn field_of(err: AppError) -> String {
        match err {
            AppError::Validation(errors) => errors[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn type_errors_name_the_field_path() {
        let err = parse_json::<Input>(br#"{"name":"a","items":[{"quantity":"two"}]}"#).unwrap_err();
        assert_eq!(field_of(err), "items[0].quantity");
    }

    #[test]
    fn unknown_and_missing_fields_are_validation_errors() {
        assert!(matches!(
            parse_json::<Input>(br#"{"name":"a","items":[],"x":1}"#),
            Err(AppError::Validation(_))
        ));
        assert!(matches!(
            parse_json::<Input>(br#"{"items":[]}"#),
            Err(AppError::Validation(_))
        ));
    }

    #[test]
    fn syntax_errors_and_trailing_garbage_are_bad_requests() {
        for body in [&b"{"[..], b"", b"{\"name\":\"a\",\"items\":[]} x", b"nul"] {
            assert!(
                matches!(parse_json::<Input>(body), Err(AppError::BadRequest(_))),
                "{body:?}"
            );
        }
    }
}
