//! Probes for orchestrators: `/healthz` says the process serves requests, `/readyz` that it
//! can also reach its database and, when bridged, Redis (503 when not, so a balancer stops
//! sending traffic to an instance whose users would miss other instances' messages).

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::db::Db;
use crate::error::AppError;
use crate::http::problems::ProblemSchema;
use crate::realtime::bridge::Bridge;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The database backend, on `/readyz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// `up` when bridged to other instances through Redis, on `/readyz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process serves requests", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(Health {
            status: "ok",
            database: None,
            redis: None,
        })
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Ready: the database (and, when bridged, Redis) answers", body = Health),
    (status = 503, description = "The database (or, when bridged, Redis) is unreachable", body = ProblemSchema, content_type = "application/problem+json"),
))]
pub async fn readyz(
    db: web::Data<Db>,
    bridge: web::Data<Bridge>,
) -> Result<HttpResponse, AppError> {
    db.ping(Duration::from_secs(2)).await?;
    let redis = match bridge.is_up() {
        None => None,
        Some(true) => Some("up"),
        Some(false) => {
            return Err(AppError::Unavailable(
                "the Redis bridge to the other instances is down; local chat still works and \
                 it reconnects by itself"
                    .into(),
            ))
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(Health {
            status: "ready",
            database: Some(db.backend().to_string()),
            redis,
        }))
}
