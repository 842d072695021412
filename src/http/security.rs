//! Response headers every client gets, and the CORS policy for browser apps on other
//! origins. CORS wraps outside the rate limiter, so preflights are never counted and a 429
//! still carries the CORS headers the browser needs to read it.

use actix_cors::Cors;
use actix_web::http::{header, Method};
use actix_web::middleware::DefaultHeaders;

/// For the HTML pages: scripts, styles and connections only from this origin (WebSocket
/// included); no inline code, no framing, no plugins.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// For /graphiql only: PAGE_CSP plus what the vendored GraphiQL build needs, and no
/// `'unsafe-inline'` or `'unsafe-eval'`: `font-src data:` (its stylesheet embeds its fonts as
/// data: URLs) and the hash of the one `<style>` element it adds while a dialog or menu is
/// open (react-remove-scroll-bar's scroll lock; on this page, whose body never scrolls, its
/// text is always the same). tests/e2e/graphiql.mjs opens a dialog and fails on any violation,
/// so an updated GraphiQL whose style differs is caught (the console names the new hash).
pub const GRAPHIQL_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'sha256-nzTgYzXYDNe6BAHiiI7NNlfK8n/auuOAhh2t92YvuXo='; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Two years, as the HSTS preload list asks; only sent over HTTPS.
const HSTS: &str = "max-age=63072000; includeSubDomains";

pub fn headers(tls: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add(("cross-origin-opener-policy", "same-origin"));
    if tls {
        headers.add((header::STRICT_TRANSPORT_SECURITY, HSTS))
    } else {
        headers
    }
}

/// Headers a browser app on another origin may read from our responses.
const EXPOSED: [&str; 12] = [
    "etag",
    "link",
    "location",
    "x-total-count",
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
    "www-authenticate",
];

/// The CORS policy: the configured origins only (none by default); `*` means any origin,
/// and is never combined with credentials (we use bearer tokens, not cookies, so none are
/// needed).
pub fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers(EXPOSED)
        .max_age(3600);
    for origin in origins {
        let origin = origin.trim().trim_end_matches('/');
        if origin == "*" {
            cors = cors.allow_any_origin().send_wildcard();
        } else if !origin.is_empty() {
            cors = cors.allowed_origin(origin);
        }
    }
    cors
}
