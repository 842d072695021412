//! `POST /api/v1/lab/chart`: the /lab page's charts, drawn by the same code as the bench's
//! SVG file (`bench::chart`), from the runs the page shows (the last bench results, or a live
//! run), at the width the page has for them. A pure function of its input: nothing is read
//! or stored, and every input within the documented bounds gives a (bounded) drawing.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::bench::chart::{self, Metric, Sample, MAX_WIDTH, MIN_WIDTH};
use crate::domain::{integer, objects};
use crate::error::{AppError, FieldError};
use crate::http::json::ApiJson;
use crate::http::problems::ProblemSchema;

/// The most runs one chart draws: 3 models at 64 levels.
const MAX_RUNS: usize = 192;
const MAX_CONCURRENCY: u32 = 1_000_000;
const MAX_COUNT: u64 = 1_000_000_000_000;

fn default_width() -> u32 {
    640
}

/// Body of `POST /lab/chart`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChartRequest {
    /// What to plot against concurrency: `rps` (with the ideal line) or `p99` (log scale).
    #[serde(default)]
    pub metric: Metric,
    /// The chart's width in px, 280 to 2000 (its height follows).
    #[serde(default = "default_width", deserialize_with = "integer")]
    #[schema(minimum = 280, maximum = 2000, default = 640)]
    pub width: u32,
    /// 1 to 192 runs as `GET /lab/results` and `POST /lab/runs` answer them; the cases
    /// `sync`, `blocking` and `async` are drawn, others left out.
    #[schema(min_items = 1, max_items = 192)]
    #[serde(deserialize_with = "objects")]
    pub runs: Vec<Sample>,
}

fn validate(req: &ChartRequest) -> Result<(), AppError> {
    let mut errors = Vec::new();
    if !(MIN_WIDTH..=MAX_WIDTH).contains(&req.width) {
        errors.push(FieldError::new("width", "must be from 280 to 2000"));
    }
    if req.runs.is_empty() || req.runs.len() > MAX_RUNS {
        errors.push(FieldError::new("runs", "must hold 1 to 192 runs"));
    }
    for (i, run) in req.runs.iter().enumerate() {
        if !(1..=MAX_CONCURRENCY).contains(&run.concurrency) {
            errors.push(FieldError::new(
                format!("runs[{i}].concurrency"),
                "must be from 1 to 1000000",
            ));
        }
        if run.summary.count > MAX_COUNT || run.summary.errors > MAX_COUNT {
            errors.push(FieldError::new(
                format!("runs[{i}].summary"),
                "count and errors must be at most 1000000000000",
            ));
        }
    }
    AppError::unless_invalid(errors)
}

/// Draw the lab chart of these runs (SVG, the bench's chart code).
#[utoipa::path(post, path = "/api/v1/lab/chart", tag = "lab", request_body = ChartRequest,
    responses((status = 200, description = "The chart: an SVG document", body = String, content_type = "image/svg+xml"),
        (status = 400, description = "Out of bounds", body = ProblemSchema, content_type = "application/problem+json")))]
pub async fn draw(ApiJson(req): ApiJson<ChartRequest>) -> Result<HttpResponse, AppError> {
    validate(&req)?;
    // Up to 192 runs of geometry and text: off the async workers, like any CPU work here.
    let svg = web::block(move || chart::lab(&req.runs, req.metric, req.width, false))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("cache-control", "no-store"))
        .body(svg))
}
