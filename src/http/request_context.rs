//! Per-request context: a request id (the client's `X-Request-Id` when it is sane, else a
//! new UUID) echoed in the response, a tracing span that every log line of the request
//! inherits, one access-log line with method, path, status and latency, and the same figures
//! counted in [`Metrics`].

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use tracing::Instrument;

use crate::metrics::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// When a worker began on the request (the lab reports time spent before its handler).
#[derive(Debug, Clone, Copy)]
pub struct RequestStart(pub Instant);

/// Ids from clients are kept only if short and printable, so they cannot forge log lines.
fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| value.to_owned())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    req.extensions_mut().insert(RequestStart(started));
    let request_id = client_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);

    // The request must not be cloned before routing (the router needs sole ownership),
    // so an error that escapes every handler is logged here and left to actix to render.
    let mut response = match next.call(req).instrument(span.clone()).await {
        Ok(response) => response,
        Err(err) => {
            let elapsed = started.elapsed();
            if let Some(metrics) = &metrics {
                metrics.record_request(err.as_response_error().status_code().as_u16(), elapsed);
            }
            let latency_ms = elapsed.as_secs_f64() * 1000.0;
            span.in_scope(|| tracing::warn!(error = %err, latency_ms, "{method} {path} failed"));
            return Err(err);
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(metrics) = &metrics {
        metrics.record_request(status, elapsed);
    }
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = format_args!("{latency_ms:.2}"),
            "request finished"
        );
    });
    Ok(response)
}
