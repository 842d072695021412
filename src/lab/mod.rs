//! The sync-vs-async lab: the same work (wait `ms`, then read product 1) done three ways, so
//! a load test shows what each costs.
//!
//! - `sync` blocks the async worker thread itself (`std::thread::sleep`, diesel on the
//!   worker): the WSGI shape, and exactly what an actix handler must never do. While it
//!   sleeps, that worker serves nobody else, so throughput tops out near
//!   workers × 1000 / ms requests per second.
//! - `blocking` moves the same blocking work to actix's blocking pool (`web::block`): a WSGI
//!   app in a thread pool, or a FastAPI `def` handler. It scales with the pool size.
//! - `async` awaits a timer (no thread is held while waiting) and then reads as every REST
//!   handler does (`Db::read`: a few µs on the worker itself on SQLite, the database threads
//!   on PostgreSQL): the ASGI shape. It scales with concurrency until the CPU is the limit.
//!
//! `cpu` does CPU-bound work (SHA-256 rounds) on each model, to show where async does not
//! help: computing holds a thread whichever way it is scheduled.

pub mod charts;
pub mod runs;

use std::time::{Duration, Instant};

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{Db, DbConnection};
use crate::error::{AppError, FieldError};
use crate::http::problems::ProblemSchema;
use crate::http::request_context::RequestStart;
use crate::http::routing::Endpoint;
use crate::services::products;

pub const MAX_MS: u64 = 1000;
pub const MAX_ROUNDS: u64 = 2_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    Sync,
    Blocking,
    Async,
}

/// `?ms=`: how long the simulated I/O takes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitParams {
    /// Milliseconds of simulated I/O, 0 to 1000 (default 10).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1000)]
    pub ms: Option<String>,
}

/// `?n=&model=`: CPU-bound work.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CpuParams {
    /// SHA-256 rounds, 1 to 2000000 (default 100000, a few tens of milliseconds).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 2000000)]
    pub n: Option<String>,
    /// Where to compute: `sync` (on the worker), `blocking` (on the pool) or `async` (on the
    /// worker, inside an async fn: no better than `sync`). Default `sync`.
    #[param(value_type = Option<Model>)]
    pub model: Option<String>,
}

fn bounded(
    field: &str,
    raw: Option<&str>,
    default: u64,
    range: (u64, u64),
) -> Result<u64, AppError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|v| (range.0..=range.1).contains(v))
            .ok_or_else(|| {
                AppError::Validation(vec![FieldError::new(
                    field,
                    format!("must be an integer from {} to {}", range.0, range.1),
                )])
            }),
    }
}

/// Where the time went, in milliseconds.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Timings {
    /// From the request reaching a worker to the handler starting (time spent queued in
    /// the kernel before a busy worker accepts the connection is invisible to the server:
    /// compare with the latency the client measures).
    pub before_handler: f64,
    /// Waiting for a thread: one of actix's blocking pool (`blocking`), or a database
    /// thread with its connection (`async`'s read, as in every REST handler).
    pub waiting_for_pool: f64,
    /// The simulated I/O (sleeping or awaiting), or the CPU work.
    pub working: f64,
    /// Reading product 1.
    pub database: f64,
    /// Handler start to response.
    pub total: f64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LabProduct {
    pub id: i32,
    pub name: String,
}

/// What a lab endpoint did, so a single curl teaches something.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LabReport {
    pub model: Model,
    /// What the work was: `sleep 10 ms + read product 1`, `100000 SHA-256 rounds`.
    pub work: String,
    /// The thread that did the work (an actix worker, or a blocking-pool thread).
    pub thread: String,
    /// The thread the handler ran on.
    pub handler_thread: String,
    pub timings_ms: Timings,
    /// Product 1, or null when the database has none.
    pub product: Option<LabProduct>,
    /// The SHA-256 after `n` rounds (cpu only), so the work cannot be optimised away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The name and id: blocking-pool threads all share one name, and the id tells them apart.
fn thread_name() -> String {
    let current = std::thread::current();
    let id = format!("{:?}", current.id());
    let id = id.trim_start_matches("ThreadId(").trim_end_matches(')');
    match current.name() {
        Some(name) => format!("{name} #{id}"),
        None => format!("thread #{id}"),
    }
}

fn since_request(req: &HttpRequest, handler_started: Instant) -> f64 {
    req.extensions().get::<RequestStart>().map_or(0.0, |start| {
        ms(handler_started.saturating_duration_since(start.0))
    })
}

/// Where a lab handler's work ran, how long each part took, and what it produced.
struct Ran {
    thread: String,
    waited_for_pool: Duration,
    worked: Duration,
    database: Duration,
    product: Option<LabProduct>,
    digest: Option<String>,
}

/// The answer of every lab handler: what `ran`, timed from the request and the handler's
/// start.
fn report(
    req: &HttpRequest,
    started: Instant,
    model: Model,
    work: String,
    ran: Ran,
) -> HttpResponse {
    HttpResponse::Ok().json(LabReport {
        model,
        work,
        thread: ran.thread,
        handler_thread: thread_name(),
        timings_ms: Timings {
            before_handler: since_request(req, started),
            waiting_for_pool: ms(ran.waited_for_pool),
            working: ms(ran.worked),
            database: ms(ran.database),
            total: ms(started.elapsed()),
        },
        product: ran.product,
        digest: ran.digest,
    })
}

/// The blocking part of the work: sleep, then read product 1 with diesel.
fn blocking_work(db: &Db, sleep: Duration) -> Result<Ran, AppError> {
    let t = Instant::now();
    std::thread::sleep(sleep);
    let worked = t.elapsed();
    let t = Instant::now();
    let mut conn = db.pool().get().map_err(AppError::Pool)?;
    let product = read_product(&mut conn)?;
    Ok(Ran {
        thread: thread_name(),
        waited_for_pool: Duration::ZERO,
        worked,
        database: t.elapsed(),
        product,
        digest: None,
    })
}

/// The lab's database work: product 1, if the database has one.
fn read_product(conn: &mut DbConnection) -> Result<Option<LabProduct>, AppError> {
    match products::get(conn, 1) {
        Ok(p) => Ok(Some(LabProduct {
            id: p.id,
            name: p.name,
        })),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn work_label(sleep_ms: u64) -> String {
    format!("wait {sleep_ms} ms, then read product 1")
}

/// `GET /api/v1/lab/sync?ms=`: blocks the worker thread on purpose.
#[utoipa::path(get, path = "/api/v1/lab/sync", tag = "lab", params(WaitParams),
    responses((status = 200, description = "What ran where, and how long it took", body = LabReport),
        (status = 400, description = "`ms` out of range", body = ProblemSchema, content_type = "application/problem+json")))]
pub async fn sync(
    req: HttpRequest,
    db: web::Data<Db>,
    q: web::Query<WaitParams>,
) -> Result<HttpResponse, AppError> {
    let started = Instant::now();
    let sleep_ms = bounded("ms", q.ms.as_deref(), 10, (0, MAX_MS))?;
    // DELIBERATELY WRONG: blocking calls on the async worker. This worker serves no other
    // request until they return. The lab exists to show what that costs.
    let ran = blocking_work(&db, Duration::from_millis(sleep_ms))?;
    Ok(report(
        &req,
        started,
        Model::Sync,
        work_label(sleep_ms),
        ran,
    ))
}

/// Runs `f` on the blocking pool and reports how long it waited for a thread.
async fn on_pool<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<(T, Duration), AppError> {
    let submitted = Instant::now();
    web::block(move || {
        let waited = submitted.elapsed();
        f().map(|value| (value, waited))
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

/// `GET /api/v1/lab/blocking?ms=`: the same work on the blocking pool.
#[utoipa::path(get, path = "/api/v1/lab/blocking", tag = "lab", params(WaitParams),
    responses((status = 200, description = "What ran where, and how long it took", body = LabReport),
        (status = 400, description = "`ms` out of range", body = ProblemSchema, content_type = "application/problem+json")))]
pub async fn blocking(
    req: HttpRequest,
    db: web::Data<Db>,
    q: web::Query<WaitParams>,
) -> Result<HttpResponse, AppError> {
    let started = Instant::now();
    let sleep_ms = bounded("ms", q.ms.as_deref(), 10, (0, MAX_MS))?;
    let db = db.get_ref().clone();
    let (ran, waited) =
        on_pool(move || blocking_work(&db, Duration::from_millis(sleep_ms))).await?;
    let ran = Ran {
        waited_for_pool: waited,
        ..ran
    };
    Ok(report(
        &req,
        started,
        Model::Blocking,
        work_label(sleep_ms),
        ran,
    ))
}

/// `GET /api/v1/lab/async?ms=`: awaits a timer, then reads as REST handlers read.
#[utoipa::path(get, path = "/api/v1/lab/async", tag = "lab", params(WaitParams),
    responses((status = 200, description = "What ran where, and how long it took", body = LabReport),
        (status = 400, description = "`ms` out of range", body = ProblemSchema, content_type = "application/problem+json")))]
pub async fn asynchronous(
    req: HttpRequest,
    db: web::Data<Db>,
    q: web::Query<WaitParams>,
) -> Result<HttpResponse, AppError> {
    let started = Instant::now();
    let sleep_ms = bounded("ms", q.ms.as_deref(), 10, (0, MAX_MS))?;
    let t = Instant::now();
    actix_web::rt::time::sleep(Duration::from_millis(sleep_ms)).await;
    let slept = t.elapsed();
    // Read as every REST handler reads (`Db::read`): on SQLite right on this worker, with
    // its own connection; on PostgreSQL on the database threads.
    let submitted = Instant::now();
    let ran = db
        .read(move |conn| {
            let waited_for_pool = submitted.elapsed();
            let t = Instant::now();
            let product = read_product(conn)?;
            Ok(Ran {
                thread: thread_name(),
                waited_for_pool,
                worked: slept,
                database: t.elapsed(),
                product,
                digest: None,
            })
        })
        .await?;
    Ok(report(
        &req,
        started,
        Model::Async,
        work_label(sleep_ms),
        ran,
    ))
}

fn sha_rounds(n: u64) -> String {
    let mut digest = [0u8; 32];
    for _ in 0..n {
        digest = Sha256::digest(digest).into();
    }
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /api/v1/lab/cpu?n=&model=`: CPU-bound work on the chosen model.
#[utoipa::path(get, path = "/api/v1/lab/cpu", tag = "lab", params(CpuParams),
    responses((status = 200, description = "What ran where, and how long it took", body = LabReport),
        (status = 400, description = "`n` or `model` invalid", body = ProblemSchema, content_type = "application/problem+json")))]
pub async fn cpu(req: HttpRequest, q: web::Query<CpuParams>) -> Result<HttpResponse, AppError> {
    let started = Instant::now();
    let rounds = bounded("n", q.n.as_deref(), 100_000, (1, MAX_ROUNDS))?;
    let model = match q.model.as_deref() {
        None | Some("sync") => Model::Sync,
        Some("blocking") => Model::Blocking,
        Some("async") => Model::Async,
        Some(_) => {
            return Err(AppError::invalid(
                "model",
                "must be sync, blocking or async",
            ))
        }
    };
    let compute = move || {
        let t = Instant::now();
        let digest = sha_rounds(rounds);
        Ran {
            thread: thread_name(),
            waited_for_pool: Duration::ZERO,
            worked: t.elapsed(),
            database: Duration::ZERO,
            product: None,
            digest: Some(digest),
        }
    };
    let ran = match model {
        // Both compute on the worker: an async fn that never awaits is a sync fn.
        Model::Sync | Model::Async => compute(),
        Model::Blocking => {
            let (ran, waited_for_pool) = on_pool(move || Ok(compute())).await?;
            Ran {
                waited_for_pool,
                ..ran
            }
        }
    };
    Ok(report(
        &req,
        started,
        model,
        format!("{rounds} SHA-256 rounds"),
        ran,
    ))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/lab/sync").get(sync).build())
        .service(Endpoint::new("/lab/blocking").get(blocking).build())
        .service(Endpoint::new("/lab/async").get(asynchronous).build())
        .service(Endpoint::new("/lab/cpu").get(cpu).build())
        .service(Endpoint::new("/lab/results").get(runs::latest).build())
        .service(Endpoint::new("/lab/runs").post(runs::start).build())
        .service(Endpoint::new("/lab/chart").post(charts::draw).build());
}
