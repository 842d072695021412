//! Caching and conditional requests (RFC 9110 section 13, RFC 9111).
//!
//! The ETag is a hash of the exact JSON bytes sent, so it is strong by construction and
//! changes whenever the representation does, including when it differs per viewer. A
//! compressed copy carries the same tag with its coding appended (`http::compression`),
//! and both compare equal here.
//! `If-Match` is checked by the service inside its write transaction (see
//! `services::Precondition`), so nothing can slip in between the check and the write.

use std::future::Future;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::compression::comparable_tag;
use crate::error::AppError;

/// Seconds a shared cache may reuse a public representation before revalidating.
pub const PUBLIC_MAX_AGE: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    /// The same for everyone: shared caches may keep it briefly.
    Public,
    /// Per user: only the user's own cache, and revalidated on every use.
    Private,
}

impl CachePolicy {
    fn header_value(self) -> String {
        match self {
            CachePolicy::Public => format!("public, max-age={PUBLIC_MAX_AGE}"),
            CachePolicy::Private => "private, no-cache".to_owned(),
        }
    }
}

/// A quoted strong tag: the first 128 bits of the bytes' SHA-256, in hex.
pub fn etag_of_bytes(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for b in &digest[..16] {
        tag.push(char::from(HEX[usize::from(b >> 4)]));
        tag.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    tag.push('"');
    tag
}

pub fn etag_of<T: Serialize>(value: &T) -> Result<String, AppError> {
    let bytes = serde_json::to_vec(value).map_err(|e| AppError::Internal(e.into()))?;
    Ok(etag_of_bytes(&bytes))
}

/// What a precondition header said: nothing, a list of tags (perhaps empty), or
/// something that is not an RFC 9110 list of entity tags.
enum TagList {
    Absent,
    Tags(Vec<String>),
    Malformed(String),
}

/// `*` / `#entity-tag` (RFC 9110 13.1.1): tags are read whole, commas inside the quotes
/// included, over every field line of `name`.
fn tag_list(req: &HttpRequest, name: header::HeaderName) -> TagList {
    let mut found = false;
    let mut tags = Vec::new();
    for value in req.headers().get_all(name) {
        found = true;
        let Ok(text) = value.to_str() else {
            return TagList::Malformed(String::from_utf8_lossy(value.as_bytes()).into_owned());
        };
        match parse_tags(text) {
            Some(mut more) => tags.append(&mut more),
            None => return TagList::Malformed(text.to_owned()),
        }
    }
    if found {
        TagList::Tags(tags)
    } else {
        TagList::Absent
    }
}

/// Exactly the grammar the OpenAPI document states: empty, `*`, or entity tags separated
/// by commas with optional spaces or tabs around them.
pub(super) fn parse_tags(text: &str) -> Option<Vec<String>> {
    match text {
        "" => return Some(Vec::new()),
        "*" => return Some(vec!["*".to_owned()]),
        _ => {}
    }
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        let weak = usize::from(rest.starts_with("W/")) * 2;
        let close = rest[weak..].strip_prefix('"')?.find('"')?;
        let end = weak + 1 + close + 1;
        let tag = &rest[..end];
        if !is_entity_tag(tag) {
            return None;
        }
        tags.push(tag.to_owned());
        let after = rest[end..].trim_start_matches([' ', '\t']);
        if after.is_empty() {
            return Some(tags);
        }
        rest = after.strip_prefix(',')?.trim_start_matches([' ', '\t']);
    }
}

fn header_list(req: &HttpRequest, name: header::HeaderName) -> Option<Vec<String>> {
    match tag_list(req, name) {
        TagList::Tags(tags) => Some(tags),
        // A malformed If-None-Match validates nothing: answer in full.
        TagList::Absent | TagList::Malformed(_) => None,
    }
}

/// Weak comparison (RFC 9110 8.8.3.2), of tags as [`comparable_tag`] gives them: a tag
/// for a compressed copy validates the resource.
fn weak_match(candidates: &[String], etag: &str) -> bool {
    let strip = |t: &str| {
        let t = comparable_tag(t);
        t.strip_prefix("W/").unwrap_or(&t).to_owned()
    };
    candidates
        .iter()
        .any(|c| c == "*" || strip(c) == strip(etag))
}

/// A fixed body (a page, the OpenAPI document) with its precomputed ETag; 304 when the
/// client has it already.
pub fn fixed_body(
    req: &HttpRequest,
    etag: &str,
    content_type: &str,
    cache_control: &str,
    body: impl Into<actix_web::web::Bytes>,
) -> HttpResponse {
    let fresh = header_list(req, header::IF_NONE_MATCH).is_some_and(|tags| weak_match(&tags, etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag.to_owned()))
        .insert_header((header::CACHE_CONTROL, cache_control.to_owned()));
    if fresh {
        response.finish()
    } else {
        response
            .content_type(content_type.to_owned())
            .body(body.into())
    }
}

/// A JSON response carrying an ETag and Cache-Control; answers 304 with no body when the
/// client's `If-None-Match` already names this representation.
pub fn cached_json<T: Serialize>(
    req: &HttpRequest,
    value: &T,
    policy: CachePolicy,
) -> Result<HttpResponse, AppError> {
    let body = serde_json::to_vec(value).map_err(|e| AppError::Internal(e.into()))?;
    let etag = etag_of_bytes(&body);
    let mut response = match header_list(req, header::IF_NONE_MATCH) {
        Some(tags)
            if (req.method() == Method::GET || req.method() == Method::HEAD)
                && weak_match(&tags, &etag) =>
        {
            HttpResponse::NotModified().finish()
        }
        _ => HttpResponse::build(StatusCode::OK)
            .content_type(mime::APPLICATION_JSON)
            .body(body),
    };
    let headers = response.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = header::HeaderValue::from_str(&policy.header_value()) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if policy == CachePolicy::Private {
        headers.insert(
            header::VARY,
            header::HeaderValue::from_static("Authorization"),
        );
    }
    Ok(response)
}

/// The `If-Match` header of a change or deletion, as the OpenAPI document lists it (the
/// value is read by [`if_match`]; `openapi_constraints` adds its grammar).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// The ETag of the version this request is based on; without it the request applies to
    /// whatever version is current.
    #[param(rename = "If-Match")]
    pub if_match: Option<String>,
}

/// The `If-Match` test for a write, as a precondition the service runs against the current
/// row. `view` must build the same representation a GET returns to this client.
pub fn if_match<E, V, F>(
    req: &HttpRequest,
    view: F,
) -> impl FnOnce(&E) -> Result<(), AppError> + Send + 'static
where
    V: Serialize,
    F: Fn(&E) -> V + Send + 'static,
{
    let expected = tag_list(req, header::IF_MATCH);
    move |current: &E| {
        let candidates = match expected {
            TagList::Absent => return Ok(()),
            TagList::Tags(tags) => tags,
            TagList::Malformed(text) => {
                return Err(AppError::invalid(
                    "If-Match",
                    format!("{text:?} is not * nor a list of entity tags (\"…\" or W/\"…\", RFC 9110 8.8.3)"),
                ))
            }
        };
        if candidates.iter().any(|c| c == "*") {
            return Ok(());
        }
        let etag = etag_of(&view(current))?;
        // Strong comparison: a weak validator never matches If-Match.
        if candidates
            .iter()
            .any(|c| !c.starts_with("W/") && comparable_tag(c) == etag)
        {
            Ok(())
        } else {
            Err(AppError::PreconditionFailed)
        }
    }
}

/// [`if_match`] as the service call a handler makes takes it (`services::Precondition`):
/// boxed, so that [`update`] and [`delete`] can hand it over.
pub type IfMatch<E> = Box<dyn FnOnce(&E) -> Result<(), AppError> + Send>;

/// A conditional `PUT` or `PATCH`: `write` runs the change with the `If-Match` test of the
/// representation `view` builds (the one a GET shows this client), and the answer is the
/// changed representation with its new ETag.
pub async fn update<E, V, F>(
    req: &HttpRequest,
    policy: CachePolicy,
    view: impl Fn(&E) -> V + Clone + Send + 'static,
    write: impl FnOnce(IfMatch<E>) -> F,
) -> Result<HttpResponse, AppError>
where
    E: 'static,
    V: Serialize,
    F: Future<Output = Result<E, AppError>>,
{
    let changed = write(Box::new(if_match(req, view.clone()))).await?;
    cached_json(req, &view(&changed), policy)
}

/// A conditional `DELETE`: `remove` runs with the `If-Match` test of `view`'s
/// representation; `204 No Content` once it has.
pub async fn delete<E, V, F>(
    req: &HttpRequest,
    view: impl Fn(&E) -> V + Send + 'static,
    remove: impl FnOnce(IfMatch<E>) -> F,
) -> Result<HttpResponse, AppError>
where
    E: 'static,
    V: Serialize,
    F: Future<Output = Result<(), AppError>>,
{
    remove(Box::new(if_match(req, view))).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `"…"` or `W/"…"` with the visible ASCII RFC 9110 allows between the quotes (its
/// obs-text, bytes over 0x7F, is refused like the document says).
fn is_entity_tag(tag: &str) -> bool {
    let opaque = tag.strip_prefix("W/").unwrap_or(tag);
    opaque.len() >= 2
        && opaque.starts_with('"')
        && opaque.ends_with('"')
        && opaque[1..opaque.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
}

/// `201 Created` with `Location`, the new representation and its ETag.
pub fn created<T: Serialize>(location: String, value: &T) -> Result<HttpResponse, AppError> {
    let body = serde_json::to_vec(value).map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag_of_bytes(&body)))
        .content_type(mime::APPLICATION_JSON)
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_quoted_and_change_with_content() {
        let a = etag_of_bytes(b"{\"a\":1}");
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert_ne!(a, etag_of_bytes(b"{\"a\":2}"));
        // SHA-256("abc") begins ba7816bf 8f01cfea 414140de 5dae2223.
        assert_eq!(
            etag_of_bytes(b"abc"),
            "\"ba7816bf8f01cfea414140de5dae2223\""
        );
    }

    #[test]
    fn tag_lists_are_read_whole_with_commas_inside_tags() {
        assert_eq!(
            parse_tags(r#"W/"a,b" ,	"c""#).unwrap(),
            vec![r#"W/"a,b""#, r#""c""#]
        );
        assert_eq!(parse_tags("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_tags("*").unwrap(), vec!["*"]);
        for bad in [
            "null",
            r#""open"#,
            r#""a" "b""#,
            r#"W/x"#,
            "{}",
            r#","a""#,
            r#""a","#,
            r#"*, "a""#,
        ] {
            assert!(parse_tags(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let tag = "\"abc\"".to_owned();
        assert!(weak_match(&["W/\"abc\"".to_owned()], &tag));
        assert!(weak_match(&["*".to_owned()], &tag));
        assert!(!weak_match(&["\"abd\"".to_owned()], &tag));
    }
}
