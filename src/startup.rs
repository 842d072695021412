//! Builds the server the same way for `serve`, the tests and `bench`: bind first (port 0
//! works and the real port is known), open the pool, migrate, then start the workers.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{middleware, web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::config::ServeArgs;
use crate::db::{self, ConnectionManager, Db, DbUrl};
use crate::domain::Secret;
use crate::graphql;
use crate::http::assets;
use crate::http::conditional::{etag_of_bytes, fixed_body, PUBLIC_MAX_AGE};
use crate::http::json::BodyLimit;
use crate::http::openapi::ApiDoc;
use crate::http::request_context::request_context;
use crate::http::routing::{not_found, path_error, query_error, Endpoint};
use crate::metrics::Metrics;
use crate::rest::{health, v1};
use crate::services::auth::{Tokens, MIN_SECRET_BYTES};
use crate::services::events::Events;
use crate::ws::{
    self,
    conn::WsLimits,
    events::{EventHub, HubSink, ShutdownHub},
    server::{ChatServer, Shutdown},
    Realtime,
};

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    realtime: Realtime,
}

/// The OpenAPI document, rendered once.
struct OpenApiJson {
    body: String,
    etag: String,
}

/// Opens the pool (failing fast with the real cause) and applies pending migrations.
pub async fn open_database(url: &str, pool_size: u32) -> anyhow::Result<Db> {
    let url = DbUrl::parse(url);
    let backend = url.backend();
    let redacted = url.redacted();
    let pool = actix_web::rt::task::spawn_blocking(move || {
        let (pool, queries) = ConnectionManager::pool(url, pool_size, Duration::from_secs(5))?;
        let mut conn = pool.get()?;
        let applied = db::run_migrations(&mut conn)?;
        drop(conn);
        anyhow::Ok((pool, queries, applied))
    })
    .await
    .context("database set-up task failed")?
    .with_context(|| format!("cannot open the database {redacted}"));
    let (pool, queries, applied) = pool?;
    if !applied.is_empty() {
        tracing::info!(backend = %backend, migrations = ?applied, "applied database migrations");
    }
    Ok(Db::new(pool, backend, queries))
}

fn jwt_secret(given: Option<Secret>) -> anyhow::Result<Secret> {
    match given {
        Some(secret) if secret.expose().len() < MIN_SECRET_BYTES => anyhow::bail!(
            "the JWT secret is {} bytes; it must be at least {MIN_SECRET_BYTES}",
            secret.expose().len()
        ),
        Some(secret) => Ok(secret),
        None => {
            tracing::warn!(
                "no JWT secret configured: generated a random one for this run \
                 (tokens will not survive a restart; set SWITCHBOARD_JWT_SECRET)"
            );
            Ok(Secret::new(
                Alphanumeric.sample_string(&mut rand::rng(), 64),
            ))
        }
    }
}

async fn openapi_json(req: HttpRequest, doc: web::Data<OpenApiJson>) -> HttpResponse {
    fixed_body(
        &req,
        &doc.etag,
        "application/json",
        &format!("public, max-age={PUBLIC_MAX_AGE}"),
        doc.body.clone(),
    )
}

/// `GET /metrics`: the Prometheus text format.
async fn serve_metrics(metrics: web::Data<Metrics>, db: web::Data<Db>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(metrics.reading(&db).prometheus())
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use actix_web::rt::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio_select(actix_web::rt::signal::ctrl_c(), term.recv()).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = actix_web::rt::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = actix_web::rt::signal::ctrl_c().await;
    }
}

/// Resolves when either future does.
async fn tokio_select<A: std::future::Future, B: std::future::Future>(a: A, b: B) {
    futures_util::future::select(Box::pin(a), Box::pin(b)).await;
}

impl Application {
    pub async fn build(args: ServeArgs) -> anyhow::Result<Self> {
        let secret = jwt_secret(args.jwt_secret.clone())?;
        let db = open_database(&args.database.database_url, args.database.db_pool_size).await?;
        let listener = TcpListener::bind((args.host, args.port))
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let port = listener.local_addr()?.port();

        let db_data = web::Data::new(db.clone());
        let tokens = web::Data::new(Tokens::new(&secret, args.access_ttl(), args.refresh_ttl()));
        let body = ApiDoc::openapi()
            .to_json()
            .context("rendering the OpenAPI document")?;
        let openapi = web::Data::new(OpenApiJson {
            etag: etag_of_bytes(body.as_bytes()),
            body,
        });
        let max_body = args.max_body_bytes;

        let metrics = Arc::new(Metrics::new());
        let hub = EventHub::new(db.clone(), metrics.clone()).start();
        let chat = ChatServer::new(db.clone(), hub.clone().recipient(), metrics.clone()).start();
        let realtime = Realtime {
            chat,
            hub: hub.clone(),
            metrics: metrics.clone(),
            limits: WsLimits::from(&args.ws),
        };
        let events = Events::new(Arc::new(HubSink(hub)));
        let schema = web::Data::new(graphql::schema(
            db.clone(),
            events.clone(),
            realtime.clone(),
            &args.graphql,
        ));
        let events = web::Data::new(events);
        let realtime_data = web::Data::new(realtime.clone());
        let metrics_data = web::Data::from(metrics);

        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::from_fn(request_context))
                .app_data(db_data.clone())
                .app_data(tokens.clone())
                .app_data(openapi.clone())
                .app_data(events.clone())
                .app_data(realtime_data.clone())
                .app_data(metrics_data.clone())
                .app_data(schema.clone())
                .app_data(BodyLimit(max_body))
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .configure(assets::configure)
                .configure(ws::configure)
                .configure(graphql::configure)
                .service(Endpoint::new("/metrics").get(serve_metrics).build())
                .service(Endpoint::new("/healthz").get(health::healthz).build())
                .service(Endpoint::new("/readyz").get(health::readyz).build())
                .service(
                    web::scope("/api/v1")
                        .service(Endpoint::new("/openapi.json").get(openapi_json).build())
                        .configure(v1::configure),
                )
                .service(web::redirect("/docs", "/docs/"))
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(SwaggerConfig::from("/api/v1/openapi.json")),
                )
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        // Signals are ours (see run_until_stopped): WebSocket clients get a 1001 first.
        .disable_signals()
        .shutdown_timeout(args.shutdown_timeout);
        if let Some(workers) = args.workers {
            server = server.workers(workers.max(1));
        }
        if let Some(threads) = args.blocking_threads {
            server = server.worker_max_blocking_threads(threads.max(1));
        }
        tracing::info!(
            "switchboard listening on http://{}:{port} (database: {}, {})",
            args.host,
            db.backend(),
            DbUrl::parse(&args.database.database_url).redacted()
        );
        Ok(Self {
            port,
            server: server.run(),
            db,
            realtime,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Runs until SIGINT/SIGTERM. Then WebSocket clients are told the server is going away
    /// (close 1001), and in-flight requests get the shutdown timeout to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let realtime = self.realtime;
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: closing WebSocket sessions, finishing requests");
            realtime.chat.do_send(Shutdown);
            realtime.hub.do_send(ShutdownHub);
            // Give the sessions a moment to flush their close frames.
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
            handle.stop(true).await;
        });
        self.server.await
    }
}
