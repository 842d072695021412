//! The /lab page's server side: the last `switchboard bench` results, and a small, bounded
//! comparison run live against this very server (the lab scenario at a few concurrency
//! levels for a second or two). One live run at a time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bench::scenarios::{self, Run, Target};
use crate::error::{AppError, FieldError};
use crate::http::json::ApiJson;
use crate::http::problems::ProblemSchema;

/// Where results are read from and how this server is reached.
pub struct LabRuns {
    pub results_dir: PathBuf,
    /// `host:port` of this server over plain HTTP; `None` with TLS (the load client speaks
    /// plain HTTP only).
    pub self_addr: Option<String>,
    /// Sent as [`LAB_RUN_HEADER`] by live runs; the API budget lets such requests through.
    key: Arc<str>,
    busy: AtomicBool,
}

/// The header a live run's requests prove their origin with (see `http::rate_limit`).
pub const LAB_RUN_HEADER: &str = "x-switchboard-lab-run";

impl LabRuns {
    pub fn new(results_dir: PathBuf, self_addr: Option<String>, key: Arc<str>) -> Self {
        Self {
            results_dir,
            self_addr,
            key,
            busy: AtomicBool::new(false),
        }
    }
}

/// Body of `POST /lab/runs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Simulated I/O per request, 0 to 100 ms (default 10).
    #[serde(default)]
    pub ms: Option<u64>,
    /// Up to 4 concurrency levels, each 1 to 64 (default [1, 4, 16]).
    #[serde(default)]
    pub concurrency: Option<Vec<usize>>,
    /// Seconds per case, 0.2 to 2 (default 1).
    #[serde(default)]
    pub seconds: Option<f64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunResults {
    /// One entry per model and concurrency level, as in the bench's JSON.
    #[schema(value_type = Vec<Object>)]
    pub runs: Vec<Run>,
}

/// The last results `switchboard bench` wrote (its `latest.json`); before the first bench,
/// an empty result set (the page shows how to make one).
#[utoipa::path(get, path = "/api/v1/lab/results", tag = "lab",
    responses((status = 200, description = "The bench's latest.json, or `{\"runs\": [], \"detail\": …}` when no bench has run here yet", content_type = "application/json")))]
pub async fn latest(runs: web::Data<LabRuns>) -> Result<HttpResponse, AppError> {
    let path = runs.results_dir.join("latest.json");
    let found = web::block(move || std::fs::read(path))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reading results failed: {e}")))?;
    let body = match found {
        Ok(body) => body,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => serde_json::to_vec(&json!({
            "runs": [],
            "detail": "no bench results yet: run `switchboard bench` in the server's directory",
        }))
        .map_err(|e| AppError::Internal(e.into()))?,
        Err(err) => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "reading the bench results failed: {err}"
            )))
        }
    };
    Ok(HttpResponse::Ok()
        .content_type(mime::APPLICATION_JSON)
        .insert_header(("cache-control", "no-cache"))
        .body(body))
}

fn validate(req: RunRequest) -> Result<(u64, Vec<usize>, f64), AppError> {
    let mut errors = Vec::new();
    let ms = req.ms.unwrap_or(10);
    if ms > 100 {
        errors.push(FieldError::new("ms", "must be from 0 to 100"));
    }
    let levels = req.concurrency.unwrap_or_else(|| vec![1, 4, 16]);
    if levels.is_empty() || levels.len() > 4 || levels.iter().any(|c| !(1..=64).contains(c)) {
        errors.push(FieldError::new(
            "concurrency",
            "must be 1 to 4 levels, each from 1 to 64",
        ));
    }
    let seconds = req.seconds.unwrap_or(1.0);
    if !(0.2..=2.0).contains(&seconds) {
        errors.push(FieldError::new("seconds", "must be from 0.2 to 2"));
    }
    if errors.is_empty() {
        Ok((ms, levels, seconds))
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Run the lab scenario against this server now (small and bounded; one at a time).
#[utoipa::path(post, path = "/api/v1/lab/runs", tag = "lab", request_body = RunRequest,
    responses((status = 200, description = "Throughput and latency per model and level", body = RunResults),
        (status = 400, description = "Out of bounds", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Another run is going on, or the server uses TLS", body = ProblemSchema, content_type = "application/problem+json")))]
pub async fn start(
    runs: web::Data<LabRuns>,
    ApiJson(req): ApiJson<RunRequest>,
) -> Result<HttpResponse, AppError> {
    let (ms, levels, seconds) = validate(req)?;
    let addr = runs.self_addr.clone().ok_or_else(|| {
        AppError::Conflict(
            "live runs need the server on plain HTTP; use `switchboard bench`".into(),
        )
    })?;
    if runs.busy.swap(true, Ordering::AcqRel) {
        return Err(AppError::Conflict(
            "another comparison is running; try again in a few seconds".into(),
        ));
    }
    let header = Some((LAB_RUN_HEADER.to_owned(), runs.key.to_string()));
    let guard = Arc::clone(&runs.into_inner());
    let result = web::block(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let target = Target {
            addr,
            admin_token: String::new(),
            user_tokens: Vec::new(),
            products: 1,
            quiet: true,
            header,
        };
        anyhow::Ok(runtime.block_on(scenarios::lab(
            &target,
            &levels,
            ms,
            Duration::from_secs_f64(seconds),
        )))
    })
    .await;
    guard.busy.store(false, Ordering::Release);
    let runs = result
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the lab run failed: {e}")))?
        .map_err(AppError::Internal)?;
    Ok(HttpResponse::Ok().json(RunResults { runs }))
}
