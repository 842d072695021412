//! Builds the server the same way for `serve`, the tests and `bench`: bind first (port 0
//! works and the real port is known), open the pool, migrate, then start the workers.

use std::net::TcpListener;
use std::time::Duration;

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
use crate::http::conditional::{etag_of_bytes, PUBLIC_MAX_AGE};
use crate::http::json::BodyLimit;
use crate::http::openapi::ApiDoc;
use crate::http::request_context::request_context;
use crate::http::routing::{not_found, path_error, query_error, Endpoint};
use crate::rest::{health, v1};
use crate::services::auth::{Tokens, MIN_SECRET_BYTES};

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
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
        let pool = ConnectionManager::pool(url, pool_size, Duration::from_secs(5))?;
        let mut conn = pool.get()?;
        let applied = db::run_migrations(&mut conn)?;
        drop(conn);
        anyhow::Ok((pool, applied))
    })
    .await
    .context("database set-up task failed")?
    .with_context(|| format!("cannot open the database {redacted}"));
    let (pool, applied) = pool?;
    if !applied.is_empty() {
        tracing::info!(backend = %backend, migrations = ?applied, "applied database migrations");
    }
    Ok(Db::new(pool, backend))
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

async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../static/index.html"))
}

async fn openapi_json(req: HttpRequest, doc: web::Data<OpenApiJson>) -> HttpResponse {
    let cached = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == doc.etag || t.trim() == "*")
        });
    let mut response = if cached {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, doc.etag.clone()))
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={PUBLIC_MAX_AGE}"),
        ));
    if cached {
        response.finish()
    } else {
        response
            .content_type(mime::APPLICATION_JSON)
            .body(doc.body.clone())
    }
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

        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::from_fn(request_context))
                .app_data(db_data.clone())
                .app_data(tokens.clone())
                .app_data(openapi.clone())
                .app_data(BodyLimit(max_body))
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .service(Endpoint::new("/").get(index).build())
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
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Runs until SIGINT/SIGTERM; in-flight requests get the shutdown timeout to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
