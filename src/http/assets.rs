//! The browser pages and their scripts and styles, compiled into the binary so a fresh
//! clone (or a copied binary) serves them offline with nothing else on disk.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::conditional::{etag_of_bytes, fixed_body};
use super::routing::Endpoint;
use super::security::{GRAPHIQL_CSP, PAGE_CSP};
use crate::error::AppError;

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: HTML,
        body: include_str!("../../static/index.html"),
    },
    Asset {
        path: "/chat",
        content_type: HTML,
        body: include_str!("../../static/chat.html"),
    },
    Asset {
        path: "/dashboard",
        content_type: HTML,
        body: include_str!("../../static/dashboard.html"),
    },
    // An SVG at the conventional path, so browsers stop logging a 404 on every page.
    Asset {
        path: "/favicon.ico",
        content_type: "image/svg+xml",
        body: include_str!("../../static/favicon.svg"),
    },
    Asset {
        path: "/graphiql",
        content_type: HTML,
        body: include_str!("../../static/graphiql.html"),
    },
    Asset {
        path: "/static/graphiql-page.js",
        content_type: JS,
        body: include_str!("../../static/graphiql-page.js"),
    },
    Asset {
        path: "/static/graphiql-page.css",
        content_type: CSS,
        body: include_str!("../../static/graphiql-page.css"),
    },
    // GraphiQL's standalone build and what it runs on, vendored (static/vendor/graphiql/
    // README.md says how they are updated).
    Asset {
        path: "/static/vendor/graphiql/graphiql.min.js",
        content_type: JS,
        body: include_str!("../../static/vendor/graphiql/graphiql.min.js"),
    },
    Asset {
        path: "/static/vendor/graphiql/graphiql.min.css",
        content_type: CSS,
        body: include_str!("../../static/vendor/graphiql/graphiql.min.css"),
    },
    Asset {
        path: "/static/vendor/graphiql/react.production.min.js",
        content_type: JS,
        body: include_str!("../../static/vendor/graphiql/react.production.min.js"),
    },
    Asset {
        path: "/static/vendor/graphiql/react-dom.production.min.js",
        content_type: JS,
        body: include_str!("../../static/vendor/graphiql/react-dom.production.min.js"),
    },
    Asset {
        path: "/static/vendor/graphiql/graphql-ws.min.js",
        content_type: JS,
        body: include_str!("../../static/vendor/graphiql/graphql-ws.min.js"),
    },
    Asset {
        path: "/lab",
        content_type: HTML,
        body: include_str!("../../static/lab.html"),
    },
    Asset {
        path: "/static/lab.js",
        content_type: JS,
        body: include_str!("../../static/lab.js"),
    },
    Asset {
        path: "/static/lab.css",
        content_type: CSS,
        body: include_str!("../../static/lab.css"),
    },
    // The lab charts' SVG (drawn by bench::chart) is styled by this; the bench embeds it.
    Asset {
        path: "/static/chart.css",
        content_type: CSS,
        body: include_str!("../../static/chart.css"),
    },
    Asset {
        path: "/static/app.css",
        content_type: CSS,
        body: include_str!("../../static/app.css"),
    },
    Asset {
        path: "/static/chat.js",
        content_type: JS,
        body: include_str!("../../static/chat.js"),
    },
    Asset {
        path: "/static/dashboard.js",
        content_type: JS,
        body: include_str!("../../static/dashboard.js"),
    },
    // What the pages share: session.js, and the modules it re-exports.
    Asset {
        path: "/static/session.js",
        content_type: JS,
        body: include_str!("../../static/session.js"),
    },
    Asset {
        path: "/static/dom.js",
        content_type: JS,
        body: include_str!("../../static/dom.js"),
    },
    Asset {
        path: "/static/format.js",
        content_type: JS,
        body: include_str!("../../static/format.js"),
    },
    Asset {
        path: "/static/http.js",
        content_type: JS,
        body: include_str!("../../static/http.js"),
    },
    Asset {
        path: "/static/auth-form.js",
        content_type: JS,
        body: include_str!("../../static/auth-form.js"),
    },
];

/// Serves one asset with an ETag; browsers revalidate (`no-cache`), so a new binary's
/// pages show up at once while unchanged ones cost a 304.
async fn serve(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let pattern = req.match_pattern();
    let asset = ASSETS
        .iter()
        .find(|a| Some(a.path) == pattern.as_deref())
        .ok_or_else(|| AppError::NotFound(format!("no page at {}", req.path())))?;
    let etag = etag_of_bytes(asset.body.as_bytes());
    let mut response = fixed_body(&req, &etag, asset.content_type, "no-cache", asset.body);
    if asset.content_type == HTML {
        // GraphiQL needs a little more than the other pages (security.rs says what and why).
        let csp = if asset.path == "/graphiql" {
            GRAPHIQL_CSP
        } else {
            PAGE_CSP
        };
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(csp),
        );
    }
    Ok(response)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for asset in ASSETS {
        cfg.service(Endpoint::new(asset.path).get(serve).build());
    }
}
