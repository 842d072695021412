//! Response compression: actix-web's `Compress` negotiates gzip, brotli or zstd from
//! `Accept-Encoding`; the two layers here decide what it may touch and keep the validators
//! right.
//!
//! - [`select`] (inside `Compress`) lets only text formats (JSON, HTML, JS, CSS, SVG, plain
//!   text) of a known size at or over the threshold through. Tiny bodies grow when
//!   compressed; streams (server-sent events, WebSocket upgrades) must reach the client
//!   as they are written.
//! - [`finish`] (outside it) gives an encoded response an ETag of its own (`"…-gzip"`,
//!   `"…-br"`, `"…-zstd"`): a strong validator names exact bytes, and the encoded bytes
//!   differ. `http::conditional` compares tags without the suffix, so a tag a client got
//!   with either encoding validates against the resource. It also adds
//!   `Vary: Accept-Encoding` wherever the answer depends on that header.

use std::borrow::Cow;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::Error;

/// The content codings `Compress` may apply, as they appear in `Content-Encoding` and in
/// our ETag suffixes.
const CODINGS: [&str; 4] = ["gzip", "br", "zstd", "deflate"];

/// Bodies smaller than this many bytes are sent as they are (`--compress-min-bytes`).
#[derive(Debug, Clone, Copy)]
pub struct MinSize(pub usize);

/// Marks a response whose encoding depends on `Accept-Encoding`.
#[derive(Debug, Clone, Copy)]
struct Negotiable;

/// Tells `Compress` to leave a response alone; [`finish`] removes it again.
const LEAVE_ALONE: HeaderValue = HeaderValue::from_static("identity");

fn compressible_type(headers: &HeaderMap) -> bool {
    let Some(mime) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
    else {
        return false;
    };
    let subtype = mime.subtype().as_str();
    match mime.type_().as_str() {
        "text" => subtype != "event-stream",
        "application" => {
            matches!(subtype, "json" | "javascript" | "xml") || mime.suffix() == Some(mime::JSON)
        }
        "image" => subtype == "svg",
        _ => false,
    }
}

/// Inside `Compress`: lets through what is worth compressing (see the module docs).
pub async fn select(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let min = req.app_data::<MinSize>().map_or(1024, |m| m.0);
    let mut res = next.call(req).await?;
    let sized = match res.response().body().size() {
        BodySize::Sized(n) => usize::try_from(n).is_ok_and(|n| n >= min),
        BodySize::None | BodySize::Stream => false,
    };
    let headers = res.headers();
    let worth_it = sized
        && res.status() != StatusCode::SWITCHING_PROTOCOLS
        && !headers.contains_key(header::CONTENT_ENCODING)
        && compressible_type(headers);
    if worth_it {
        res.response_mut().extensions_mut().insert(Negotiable);
    } else if !res.headers().contains_key(header::CONTENT_ENCODING) {
        res.headers_mut()
            .insert(header::CONTENT_ENCODING, LEAVE_ALONE);
    }
    Ok(res)
}

/// Outside `Compress`: per-encoding ETags and `Vary` (see the module docs).
pub async fn finish(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let if_none_match: Vec<String> = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .filter_map(super::conditional::parse_tags)
        .flatten()
        .collect();
    let mut res = next.call(req).await?;
    let negotiable = res.response().extensions().get::<Negotiable>().is_some();
    let status = res.status();
    let headers = res.headers_mut();
    let coding = match headers.get(header::CONTENT_ENCODING) {
        Some(v) if v == LEAVE_ALONE => {
            headers.remove(header::CONTENT_ENCODING);
            None
        }
        Some(v) => v.to_str().ok().map(str::to_owned),
        None => None,
    };
    let etag = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let new_tag = match (&coding, &etag) {
        (Some(coding), Some(tag)) if CODINGS.contains(&coding.as_str()) => {
            Some(encoded_tag(tag, coding))
        }
        // A 304 names the representation the client holds, which may be an encoded one.
        (None, Some(tag)) if status == StatusCode::NOT_MODIFIED => if_none_match
            .iter()
            .find(|c| *c != tag && comparable_tag(c) == comparable_tag(tag))
            .cloned(),
        _ => None,
    };
    let varies = negotiable || coding.is_some() || new_tag.is_some();
    if let Some(tag) = new_tag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert(header::ETAG, tag);
    }
    let already = headers
        .get_all(header::VARY)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"));
    if varies && !already {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    Ok(res)
}

/// `"abc"` sent gzip-encoded is `"abc-gzip"`; weak tags keep their `W/`.
fn encoded_tag(tag: &str, coding: &str) -> String {
    match tag.strip_suffix('"') {
        Some(open) => format!("{open}-{coding}\""),
        None => tag.to_owned(),
    }
}

/// The tag as it compares: that of the unencoded representation (`"abc-br"` is `"abc"`).
pub fn comparable_tag(tag: &str) -> Cow<'_, str> {
    if let Some(open) = tag.strip_suffix('"') {
        for coding in CODINGS {
            if let Some(base) = open.strip_suffix(coding).and_then(|b| b.strip_suffix('-')) {
                return Cow::Owned(format!("{base}\""));
            }
        }
    }
    Cow::Borrowed(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_tags_compare_as_the_resource_they_encode() {
        assert_eq!(encoded_tag("\"abc\"", "gzip"), "\"abc-gzip\"");
        assert_eq!(encoded_tag("W/\"abc\"", "br"), "W/\"abc-br\"");
        assert_eq!(comparable_tag("\"abc-gzip\""), "\"abc\"");
        assert_eq!(comparable_tag("W/\"abc-zstd\""), "W/\"abc\"");
        assert_eq!(comparable_tag("\"abc\""), "\"abc\"");
        assert_eq!(comparable_tag("\"abc-json\""), "\"abc-json\"");
        assert_eq!(comparable_tag("*"), "*");
    }

    #[test]
    fn only_text_formats_are_compressible() {
        let with = |ct: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            compressible_type(&h)
        };
        assert!(with("application/json"));
        assert!(with("application/problem+json"));
        assert!(with("text/html; charset=utf-8"));
        assert!(with("text/javascript"));
        assert!(with("text/css"));
        assert!(with("image/svg+xml"));
        assert!(!with("text/event-stream"));
        assert!(!with("image/png"));
        assert!(!with("application/octet-stream"));
    }
}
