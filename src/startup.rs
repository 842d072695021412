//! Builds the server the same way for `serve`, the tests and `bench`: bind first (port 0
//! works and the real port is known), open the pool, migrate, then start the workers.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{middleware, web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::config::ServeArgs;
use crate::db::{self, Backend, ConnectionManager, Db, DbUrl};
use crate::domain::Secret;
use crate::http::conditional::{etag_of_bytes, fixed_body, PUBLIC_MAX_AGE};
use crate::http::json::BodyLimit;
use crate::http::rate_limit::{self, RateLimits};
use crate::http::request_context::request_context;
use crate::http::routing::{not_found, path_error, query_error, Endpoint};
use crate::http::{assets, compression, listener, security};
use crate::lab::runs::LabRuns;
use crate::metrics::Metrics;
use crate::realtime::bridge::{self, Bridge, Relay};
use crate::realtime::{
    chat::{ChatServer, Shutdown},
    dispatch::{Dispatch, EventsOut},
    hub::{EventHub, ShutdownHub},
    sockets::Sockets,
    Realtime,
};
use crate::rest::{health, openapi, v1};
use crate::services::auth::{Tokens, MIN_SECRET_BYTES};
use crate::services::events::Events;
use crate::ws::{self, conn::WsLimits};
use crate::{graphql, tls};

pub struct Application {
    port: u16,
    server: Server,
    /// The plain-HTTP listener that sends everyone to HTTPS, when asked for.
    redirect: Option<Server>,
    db: Db,
    realtime: Realtime,
}

/// The OpenAPI document, rendered once.
struct OpenApiJson {
    body: String,
    etag: String,
}

/// Connections (and database threads) when `--db-pool-size` is not given. SQLite's queries
/// run on this process's CPU, where threads beyond the cores only switch. PostgreSQL's mostly
/// wait on the server, so more pay off; but a server on this machine runs each connection's
/// queries in a backend process on the same cores, and there `2 × cores + 1` (HikariCP's rule)
/// beat 10 by a tenth on 2 cores (docs/PERFORMANCE.md, change 15). It never goes above 10,
/// which is what was measured elsewhere.
pub fn default_pool_size(url: &DbUrl) -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
    match url.backend() {
        Backend::Postgres if url.on_this_machine() => (2 * cores + 1).min(10),
        Backend::Postgres => 10,
        Backend::Sqlite => cores.max(2),
    }
}

/// Opens the pool (failing fast with the real cause) and applies pending migrations.
pub async fn open_database(url: &str, pool_size: Option<u32>) -> anyhow::Result<Db> {
    let url = DbUrl::parse(url);
    let backend = url.backend();
    let pool_size = pool_size.unwrap_or_else(|| default_pool_size(&url));
    let redacted = url.redacted();
    let pool_url = url.clone();
    let pool = actix_web::rt::task::spawn_blocking(move || {
        let (pool, queries) =
            ConnectionManager::pool(pool_url, pool_size, db::WAIT_FOR_CONNECTION)?;
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
    Db::new(pool, &url, queries).context("cannot start the database threads")
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
        .content_type(crate::metrics::CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(metrics.exposition(&db))
}

/// A plain-HTTP server on `http_port` that answers everything with a 308 to the same path
/// on the HTTPS port (308 keeps the method and body, unlike 301).
fn redirect_server(
    host: std::net::IpAddr,
    http_port: u16,
    https_port: u16,
) -> anyhow::Result<Server> {
    let server = HttpServer::new(move || {
        App::new().default_service(web::to(move |req: HttpRequest| async move {
            let host = req.connection_info().host().rsplit_once(':').map_or_else(
                || req.connection_info().host().to_owned(),
                |(h, _)| h.to_owned(),
            );
            let target = format!("https://{host}:{https_port}{}", req.uri());
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, target))
                .finish()
        }))
    })
    .bind((host, http_port))
    .with_context(|| format!("cannot listen on {host}:{http_port} for the HTTPS redirect"))?
    .workers(1)
    .disable_signals()
    .run();
    tracing::info!("redirecting http://{host}:{http_port} to HTTPS");
    Ok(server)
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
        let listener = listener::bind(args.host, args.port)
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let port = listener.local_addr()?.port();

        let db_data = web::Data::new(db.clone());
        let tokens = web::Data::new(Tokens::new(
            &secret,
            args.access_ttl(),
            args.refresh_ttl(),
            args.refresh_reuse_grace(),
        ));
        let revocations = tokens.clone().into_inner();
        let remembered = db
            .run(move |c| revocations.revoked().load(c))
            .await
            .context("reading the sessions that ended early")?;
        if remembered > 0 {
            tracing::info!(
                sessions = remembered,
                "loaded sessions that ended before their tokens expire"
            );
        }
        let chat_settings = args.chat.settings();
        let body = openapi::document().context("rendering the OpenAPI document")?;
        let openapi = web::Data::new(OpenApiJson {
            etag: etag_of_bytes(body.as_bytes()),
            body,
        });
        let max_body = args.max_body_bytes;
        let compress_min = compression::MinSize(args.compress_min_bytes);
        let init_timeout = graphql::subscriptions::InitTimeout(std::time::Duration::from_millis(
            args.graphql.graphql_init_timeout_ms,
        ));

        let metrics = Arc::new(Metrics::new());
        let (bridge, link) = match args.redis.bridge() {
            Some(config) => {
                if db.backend() == db::Backend::Sqlite {
                    tracing::warn!(
                        "bridging through Redis on SQLite: instances share chat traffic but not \
                         data; use PostgreSQL for several instances"
                    );
                }
                let (bridge, link) = bridge::start(&config)?;
                (bridge, Some(link))
            }
            None => (Bridge::disabled(), None),
        };
        let hub = EventHub::new(db.clone(), metrics.clone()).start();
        let chat = ChatServer::new(
            db.clone(),
            hub.clone().recipient(),
            metrics.clone(),
            bridge.clone(),
            chat_settings,
        )
        .start();
        let sockets = Arc::new(Sockets::default());
        let dispatch = Dispatch {
            chat: chat.clone(),
            hub: hub.clone(),
            tokens: tokens.clone().into_inner(),
            sockets: sockets.clone(),
            db: db.clone(),
        };
        if let Some(link) = link {
            link.spawn(Relay {
                chat: chat.clone().recipient(),
                snapshots: chat.clone().recipient(),
                events: hub.clone().recipient(),
                dispatch: dispatch.clone(),
            });
        }
        let realtime = Realtime {
            chat,
            bridge: bridge.clone(),
            hub: hub.clone(),
            metrics: metrics.clone(),
            sockets,
            chat_settings,
        };
        let ws_limits = web::Data::new(WsLimits::from(&args.ws));
        let events = Events::new(Arc::new(EventsOut {
            dispatch,
            bridge: bridge.clone(),
        }));
        let bridge_data = web::Data::new(bridge);
        let schema = web::Data::new(graphql::schema(
            db.clone(),
            events.clone(),
            realtime.clone(),
            &args.graphql,
        ));
        let known_valid = web::Data::new(graphql::known_valid_schema(
            db.clone(),
            events.clone(),
            realtime.clone(),
            &args.graphql,
        ));
        let documents = web::Data::new(graphql::Documents::default());
        let events = web::Data::new(events);
        let realtime_data = web::Data::new(realtime.clone());
        let metrics_data = web::Data::from(metrics);
        // A per-process secret: only this server's own live lab runs know it.
        let lab_key: Arc<str> = Alphanumeric.sample_string(&mut rand::rng(), 32).into();
        let lab_runs_exempt = rate_limit::Exemption {
            path_prefix: "/api/v1/lab/",
            header: crate::lab::runs::LAB_RUN_HEADER,
            secret: lab_key.clone(),
        };
        let limits = RateLimits::new(&args.limits, tokens.clone().into_inner(), lab_runs_exempt)?;
        let limits_data = web::Data::new(limits.clone());
        let purge = limits.clone();
        let prune = tokens.clone();
        let tls = tls::server_config(&args.tls)?;
        let tls_on = tls.is_some();
        let cors_origins = args.cors_origins.clone();
        let lab_runs = web::Data::new(LabRuns::new(
            args.lab_results.clone(),
            (!tls_on).then(|| match args.host {
                std::net::IpAddr::V4(ip) if ip.is_unspecified() => format!("127.0.0.1:{port}"),
                std::net::IpAddr::V6(ip) if ip.is_unspecified() => format!("[::1]:{port}"),
                std::net::IpAddr::V4(ip) => format!("{ip}:{port}"),
                std::net::IpAddr::V6(ip) => format!("[{ip}]:{port}"),
            }),
            lab_key,
        ));

        let server = HttpServer::new(move || {
            App::new()
                // Innermost first: the reset header sees the limiter's headers; CORS wraps
                // the limiter (preflights are not counted, 429s are readable); everything is
                // logged and counted.
                .wrap(middleware::from_fn(rate_limit::reset_header))
                .wrap(security::cors(&cors_origins))
                .wrap(security::headers(tls_on))
                .wrap(middleware::from_fn(compression::select))
                .wrap(middleware::Compress::default())
                .wrap(middleware::from_fn(compression::finish))
                .wrap(middleware::from_fn(request_context))
                .app_data(limits_data.clone())
                .app_data(lab_runs.clone())
                .app_data(db_data.clone())
                .app_data(tokens.clone())
                .app_data(openapi.clone())
                .app_data(events.clone())
                .app_data(realtime_data.clone())
                .app_data(ws_limits.clone())
                .app_data(bridge_data.clone())
                .app_data(metrics_data.clone())
                .app_data(schema.clone())
                .app_data(known_valid.clone())
                .app_data(documents.clone())
                .app_data(BodyLimit(max_body))
                .app_data(compress_min)
                .app_data(init_timeout)
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .configure(assets::configure)
                .configure(ws::configure)
                .service(graphql::resource().wrap(limits.api_middleware()))
                .service(Endpoint::new("/metrics").get(serve_metrics).build())
                .service(Endpoint::new("/healthz").get(health::healthz).build())
                .service(Endpoint::new("/readyz").get(health::readyz).build())
                .service(
                    // The API budget wraps the scope; the sign-in budget, its two routes.
                    web::scope("/api/v1")
                        .wrap(limits.api_middleware())
                        .service(Endpoint::new("/openapi.json").get(openapi_json).build())
                        .configure(|cfg| v1::configure(cfg, &limits))
                        .configure(crate::lab::configure),
                )
                .service(web::redirect("/docs", "/docs/"))
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(SwaggerConfig::from("/api/v1/openapi.json")),
                )
                .default_service(web::to(not_found))
        });
        let mut server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config)?,
            None => server.listen(listener)?,
        }
        // Signals are ours (see run_until_stopped): WebSocket clients get a 1001 first.
        .disable_signals()
        .shutdown_timeout(args.shutdown_timeout);
        if let Some(workers) = args.workers {
            server = server.workers(workers.max(1));
        }
        if let Some(threads) = args.blocking_threads {
            server = server.worker_max_blocking_threads(threads.max(1));
        }
        let redirect = match args.tls.http_redirect_port.filter(|_| tls_on) {
            Some(http_port) => Some(redirect_server(args.host, http_port, port)?),
            None => None,
        };
        actix_web::rt::spawn(async move {
            let mut every = actix_web::rt::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                purge.purge();
                prune.revoked().prune();
            }
        });
        tracing::info!(
            "switchboard listening on {}://{}:{port} (database: {}, {})",
            if tls_on { "https" } else { "http" },
            args.host,
            db.backend(),
            DbUrl::parse(&args.database.database_url).redacted()
        );
        Ok(Self {
            port,
            server: server.run(),
            redirect,
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
        let redirect = self.redirect.as_ref().map(Server::handle);
        if let Some(server) = self.redirect {
            actix_web::rt::spawn(server);
        }
        let realtime = self.realtime;
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: closing WebSocket sessions, finishing requests");
            realtime.chat.do_send(Shutdown);
            realtime.hub.do_send(ShutdownHub);
            // Peers drop this instance's users now instead of at key expiry.
            realtime.bridge.shutdown(Duration::from_secs(1)).await;
            // Give the sessions a moment to flush their close frames.
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
            if let Some(redirect) = redirect {
                redirect.stop(true).await;
            }
            handle.stop(true).await;
        });
        self.server.await
    }
}
