//! Starts the real server on a random port with a fresh database and talks HTTP to it.

use std::sync::Once;

use awc::http::{header::HeaderMap, Method};
use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};
use switchboard::config::{
    ChatArgs, DatabaseArgs, GraphqlArgs, RateLimitArgs, RedisArgs, ServeArgs, TlsArgs, WsArgs,
};
use switchboard::domain::{Email, Role, Secret};
use switchboard::startup::Application;

pub const PASSWORD: &str = "correct horse battery";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The claims of `token` (issued by a test server), changed by `edit` and signed again with
/// the test servers' secret: a token as the server would have issued it at another time, so
/// tests about expiry need not wait for the clock.
pub fn resign(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let key = jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.set_issuer(&["switchboard"]);
    let mut claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("a token of a test server")
        .claims;
    edit(&mut claims);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub db: switchboard::db::Db,
    pub client: awc::Client,
    _dir: Option<tempfile::TempDir>,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is text").to_owned())
    }

    /// Asserts the status and media type of an error answer and returns its JSON body.
    fn error_body(&self, status: u16, media_type: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type").as_deref(), Some(media_type));
        self.json()
    }

    /// Asserts an RFC 6749 section 5.2 error (the token and revoke endpoints): JSON, as
    /// OAuth clients expect, with `error` and `error_description`; returns its body.
    pub fn oauth_error(&self, status: u16) -> Value {
        let body = self.error_body(status, "application/json");
        assert!(
            body["error"].is_string() && body["error_description"].is_string(),
            "{body}"
        );
        body
    }

    /// Asserts a problem+json error with the given status and returns its body.
    pub fn problem(&self, status: u16) -> Value {
        let body = self.error_body(status, "application/problem+json");
        assert_eq!(body["status"], status);
        assert!(
            body["type"].is_string() && body["title"].is_string() && body["detail"].is_string()
        );
        body
    }
}

pub struct Req<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req<'_> {
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(self, value: &Value) -> Self {
        self.body_with("application/json", serde_json::to_vec(value).unwrap())
    }

    pub fn merge_patch(self, value: &Value) -> Self {
        self.body_with(
            "application/merge-patch+json",
            serde_json::to_vec(value).unwrap(),
        )
    }

    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.body_with("application/x-www-form-urlencoded", body.into_bytes())
    }

    pub fn body_with(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers
            .push(("content-type".to_owned(), content_type.to_owned()));
        self.body = Some(body);
        self
    }

    pub fn raw_body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    pub async fn send(self) -> Resp {
        let mut request = self
            .app
            .client
            .request(self.method, format!("{}{}", self.app.address, self.path));
        for (name, value) in &self.headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }
        let mut response = match self.body {
            Some(body) => request.send_body(body).await,
            None => request.send().await,
        }
        .expect("request failed");
        let body = response
            .body()
            .limit(16 * 1024 * 1024)
            .await
            .expect("body failed")
            .to_vec();
        Resp {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body,
        }
    }
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            switchboard::telemetry::init(&switchboard::config::LogArgs {
                log_level: "debug".into(),
                log_format: switchboard::config::LogFormat::Text,
            });
        }
    });
}

/// A fresh uuid-named database on the server in `TEST_POSTGRES_URL`, or `None` (with a
/// note) when the variable is not set.
fn fresh_postgres_url() -> Option<String> {
    let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
        // CI sets TEST_POSTGRES_REQUIRED: there a missing PostgreSQL fails instead of skipping.
        assert!(
            std::env::var_os("TEST_POSTGRES_REQUIRED").is_none(),
            "TEST_POSTGRES_REQUIRED is set but TEST_POSTGRES_URL is not"
        );
        static NOTE: Once = Once::new();
        NOTE.call_once(|| {
            eprintln!(
                "note: TEST_POSTGRES_URL is not set; PostgreSQL variants of the tests are skipped"
            )
        });
        return None;
    };
    let name = format!("switchboard_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn =
        diesel::PgConnection::establish(&admin_url).expect("connect to TEST_POSTGRES_URL");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .expect("create test database");
    let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

pub fn serve_args(database_url: &str) -> ServeArgs {
    ServeArgs {
        host: "127.0.0.1".parse().unwrap(),
        port: 0,
        jwt_secret: Some(Secret::new(JWT_SECRET)),
        workers: Some(2),
        blocking_threads: None,
        access_token_ttl: 900,
        refresh_token_ttl: 3600,
        refresh_reuse_grace: 30,
        max_body_bytes: 256 * 1024,
        compress_min_bytes: 1024,
        shutdown_timeout: 1,
        lab_results: "bench-results".into(),
        database: DatabaseArgs {
            database_url: database_url.to_owned(),
            db_pool_size: Some(5),
        },
        ws: WsArgs {
            ws_heartbeat_ms: 5_000,
            ws_client_timeout_ms: 15_000,
            ws_max_frame_bytes: 64 * 1024,
            ws_rate: 10.0,
            ws_burst: 20.0,
            ws_strikes: 20,
            ws_queue: 256,
        },
        tls: TlsArgs {
            tls_cert: None,
            tls_key: None,
            dev_tls: false,
            dev_tls_dir: "switchboard-dev-tls".into(),
            http_redirect_port: None,
        },
        // Generous: tests that exercise the limits set their own.
        limits: RateLimitArgs {
            rate_limit: 10_000,
            rate_limit_burst: 10_000,
            auth_rate_limit: 10_000,
            auth_rate_limit_burst: 10_000,
            trusted_proxies: Vec::new(),
        },
        cors_origins: Vec::new(),
        graphql: GraphqlArgs {
            graphql_max_depth: 12,
            graphql_max_complexity: 5_000,
            graphql_introspection: true,
            graphql_init_timeout_ms: 3_000,
        },
        redis: RedisArgs {
            redis_url: None,
            redis_prefix: "switchboard".into(),
            redis_presence_ttl: 15,
        },
        chat: ChatArgs {
            chat_dedup_window: 86_400,
            chat_resume_max: 1000,
        },
    }
}

pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut ServeArgs)) -> Option<TestApp> {
    init_logging();
    let (url, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            (
                dir.path().join("test.db").to_string_lossy().into_owned(),
                Some(dir),
            )
        }
        Backend::Postgres => (
            actix_web::rt::task::spawn_blocking(fresh_postgres_url)
                .await
                .unwrap()?,
            None,
        ),
    };
    Some(spawn_at(&url, dir, tweak).await)
}

/// Another instance on an existing database (several instances share PostgreSQL).
pub async fn spawn_at(
    url: &str,
    dir: Option<tempfile::TempDir>,
    tweak: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    init_logging();
    let mut args = serve_args(url);
    tweak(&mut args);
    let database_url = args.database.database_url.clone();
    let app = Application::build(args).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db().clone();
    actix_web::rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder()
        .disable_redirects()
        .timeout(std::time::Duration::from_secs(60))
        .finish();
    TestApp {
        address,
        database_url,
        db,
        client,
        _dir: dir,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Backend::Sqlite, |_| {})
        .await
        .expect("sqlite always works")
}

impl TestApp {
    pub fn request(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            app: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }
    pub fn get(&self, path: &str) -> Req<'_> {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        self.request(Method::POST, path)
    }
    pub fn put(&self, path: &str) -> Req<'_> {
        self.request(Method::PUT, path)
    }
    pub fn patch(&self, path: &str) -> Req<'_> {
        self.request(Method::PATCH, path)
    }
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.request(Method::DELETE, path)
    }

    /// Registers through the API and returns the new user's id.
    pub async fn register(&self, email: &str, name: &str) -> i64 {
        let r = self
            .post("/api/v1/users")
            .json(&json!({"email": email, "name": name, "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()["id"].as_i64().unwrap()
    }

    /// The full token response for a password login.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.post("/api/v1/auth/token")
            .form(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", password),
            ])
            .send()
            .await
    }

    /// `grant_type=refresh_token` with `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Resp {
        self.post("/api/v1/auth/token")
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
    }

    pub async fn token(&self, email: &str) -> String {
        let r = self.login(email, PASSWORD).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// A registered user and their access token.
    pub async fn user(&self, email: &str) -> (i64, String) {
        let id = self.register(email, "Test User").await;
        (id, self.token(email).await)
    }

    /// An admin, created the way `seed` does (there is no API to become admin).
    pub async fn admin(&self) -> (i64, String) {
        let email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
        let for_db = email.clone();
        let id = self
            .db
            .run(move |conn| {
                let hash = switchboard::services::passwords::hash(PASSWORD)?;
                let email = Email::parse("email", &for_db)?;
                switchboard::services::users::insert(conn, &email, "Admin", &hash, Role::Admin)
            })
            .await
            .expect("insert admin")
            .id;
        (i64::from(id), self.token(&email).await)
    }

    /// Orders `quantity` of `product` as `token` and returns the order's id.
    pub async fn order(&self, token: &str, product: i64, quantity: i64) -> Value {
        let r = self
            .post("/api/v1/orders")
            .bearer(token)
            .json(&json!({"items": [{"product_id": product, "quantity": quantity}]}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()["id"].clone()
    }

    /// Creates a product as `admin_token` and returns its id.
    pub async fn product(&self, admin_token: &str, sku: &str, price_cents: i64, stock: i64) -> i64 {
        let r = self
            .post("/api/v1/products")
            .bearer(admin_token)
            .json(&json!({"sku": sku, "name": format!("Product {sku}"), "description": "", "price_cents": price_cents, "stock": stock}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()["id"].as_i64().unwrap()
    }
}

/// Declares one test that runs against SQLite and, when `TEST_POSTGRES_URL` is set, again
/// against a fresh PostgreSQL database: `api_test!(name, |app| { ... });`
#[macro_export]
macro_rules! api_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_with($crate::helpers::Backend::Sqlite, |_| {})
                    .await
                    .unwrap();
                $body
            }

            #[actix_web::test]
            async fn postgres() {
                let Some($app) =
                    $crate::helpers::spawn_with($crate::helpers::Backend::Postgres, |_| {}).await
                else {
                    return;
                };
                $body
            }
        }
    };
}
