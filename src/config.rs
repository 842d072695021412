//! Every setting is a flag and an environment variable (12-factor); `--help` lists both.
//! The clap structs are the configuration: tests and `bench` build them the same way.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::domain::Secret;

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// SQLite file path (default) or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "switchboard.db")]
    pub database_url: String,

    /// Database connections held open, each with a thread that runs the queries [default:
    /// 10 on PostgreSQL, or 2 × cores + 1 up to 10 when it is on this machine (a Unix socket
    /// or a loopback address), since its backends then share these cores; on SQLite one per
    /// core, at least 2, since its queries are CPU work in this process and more threads than
    /// cores only add thread switches].
    #[arg(long, env = "SWITCHBOARD_DB_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log filter, e.g. `info` or `info,switchboard=debug` (RUST_LOG overrides it).
    #[arg(long, env = "SWITCHBOARD_LOG", default_value = "info", global = true)]
    pub log_level: String,

    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "SWITCHBOARD_PORT", default_value_t = 8080)]
    pub port: u16,

    /// HS256 signing secret for access tokens, at least 32 bytes. Without it a random
    /// secret is generated at start-up, so tokens do not survive a restart.
    #[arg(long, env = "SWITCHBOARD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "SWITCHBOARD_WORKERS")]
    pub workers: Option<usize>,

    /// Blocking-pool threads per worker, for password hashing, the lab's `blocking` model and
    /// the readiness probe; database calls have threads of their own (--db-pool-size)
    /// (default: actix's 512 divided by the number of CPU cores).
    #[arg(long, env = "SWITCHBOARD_BLOCKING_THREADS")]
    pub blocking_threads: Option<usize>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "SWITCHBOARD_ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: u64,

    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "SWITCHBOARD_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u64,

    /// Seconds after its rotation during which a refresh token whose answer was lost may be
    /// presented again, as long as its unseen successor has not been used (0: never).
    #[arg(long, env = "SWITCHBOARD_REFRESH_REUSE_GRACE", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub refresh_reuse_grace: u64,

    /// Largest request body accepted, in bytes (larger is 413).
    #[arg(long, env = "SWITCHBOARD_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// Responses smaller than this many bytes are never compressed; larger JSON, HTML,
    /// JavaScript, CSS, SVG, XML and plain text are sent gzip, brotli or zstd encoded when
    /// the client accepts it.
    #[arg(long, env = "SWITCHBOARD_COMPRESS_MIN_BYTES", default_value_t = 1024)]
    pub compress_min_bytes: usize,

    /// Where `switchboard bench` wrote its results; the /lab page shows `latest.json`.
    #[arg(long, env = "SWITCHBOARD_LAB_RESULTS", default_value = "bench-results")]
    pub lab_results: std::path::PathBuf,

    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "SWITCHBOARD_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub ws: WsArgs,

    #[command(flatten)]
    pub graphql: GraphqlArgs,

    #[command(flatten)]
    pub tls: TlsArgs,

    #[command(flatten)]
    pub limits: RateLimitArgs,

    #[command(flatten)]
    pub redis: RedisArgs,

    #[command(flatten)]
    pub chat: ChatArgs,

    /// Origins allowed to call the API from a browser (CORS), e.g.
    /// `https://app.example.com`; repeat or comma-separate. `*` allows any origin (never
    /// with credentials). None by default: only same-origin pages.
    #[arg(
        long = "cors-origin",
        env = "SWITCHBOARD_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
}

/// HTTPS. Without these the server speaks plain HTTP (put a TLS proxy in front).
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// PEM certificate chain; with `--tls-key`, serve HTTPS (TLS 1.2+, HTTP/2 by ALPN).
    #[arg(long, env = "SWITCHBOARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for `--tls-cert`.
    #[arg(long, env = "SWITCHBOARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate for localhost, made at start-up and
    /// written (with its key) to `--dev-tls-dir`. For development only.
    #[arg(long, env = "SWITCHBOARD_DEV_TLS", conflicts_with = "tls_cert")]
    pub dev_tls: bool,

    /// Where `--dev-tls` writes `cert.pem` and `key.pem`.
    #[arg(
        long,
        env = "SWITCHBOARD_DEV_TLS_DIR",
        default_value = "switchboard-dev-tls"
    )]
    pub dev_tls_dir: PathBuf,

    /// With TLS on, also listen on this plain-HTTP port and redirect everything to HTTPS
    /// (308).
    #[arg(long, env = "SWITCHBOARD_HTTP_REDIRECT_PORT")]
    pub http_redirect_port: Option<u16>,
}

impl TlsArgs {
    pub fn enabled(&self) -> bool {
        self.dev_tls || self.tls_cert.is_some()
    }
}

/// Per-client request budgets (token buckets). A client is the user of a valid bearer
/// token, else the peer address.
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// Requests per second each client may make to /api/v1 and /graphql, on average
    /// (0 turns the limit off).
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,

    /// Requests a client may make in a burst above the average.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,

    /// Sign-in (`POST /api/v1/auth/token`) and registration attempts per minute per
    /// client address: the brute-force guard (0 turns it off).
    #[arg(long, env = "SWITCHBOARD_AUTH_RATE_LIMIT", default_value_t = 10)]
    pub auth_rate_limit: u32,

    /// Attempts allowed in a burst above that.
    #[arg(long, env = "SWITCHBOARD_AUTH_RATE_LIMIT_BURST", default_value_t = 5)]
    pub auth_rate_limit_burst: u32,

    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed; repeat or
    /// comma-separate. Requests from other peers are keyed by the peer address.
    #[arg(
        long = "trusted-proxy",
        env = "SWITCHBOARD_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,
}

/// Limits on what one GraphQL request may ask for.
#[derive(Debug, Clone, Args)]
pub struct GraphqlArgs {
    /// Deepest selection nesting accepted (introspection included).
    #[arg(long, env = "SWITCHBOARD_GRAPHQL_MAX_DEPTH", default_value_t = 12)]
    pub graphql_max_depth: usize,

    /// Highest query complexity accepted: one per field, list fields times their `first`.
    #[arg(
        long,
        env = "SWITCHBOARD_GRAPHQL_MAX_COMPLEXITY",
        default_value_t = 5_000
    )]
    pub graphql_max_complexity: usize,

    /// Whether the schema can be introspected (GraphiQL's docs need it).
    #[arg(long, env = "SWITCHBOARD_GRAPHQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphql_introspection: bool,

    /// Milliseconds a graphql-transport-ws client has to send `connection_init` before the
    /// socket closes with 4408.
    #[arg(
        long,
        env = "SWITCHBOARD_GRAPHQL_INIT_TIMEOUT_MS",
        default_value_t = 3_000
    )]
    pub graphql_init_timeout_ms: u64,
}

/// WebSocket limits, per connection. The defaults suit people chatting; tests shorten the
/// timers and benchmarks raise the budgets.
#[derive(Debug, Clone, Args)]
pub struct WsArgs {
    /// Milliseconds between the server's pings.
    #[arg(long, env = "SWITCHBOARD_WS_HEARTBEAT_MS", default_value_t = 5_000)]
    pub ws_heartbeat_ms: u64,

    /// Milliseconds of silence (not even a pong) after which a connection is dropped.
    #[arg(
        long,
        env = "SWITCHBOARD_WS_CLIENT_TIMEOUT_MS",
        default_value_t = 15_000
    )]
    pub ws_client_timeout_ms: u64,

    /// Largest frame (or fragmented message) accepted, in bytes; larger closes with 1009.
    #[arg(long, env = "SWITCHBOARD_WS_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub ws_max_frame_bytes: usize,

    /// Client frames per second allowed on a chat or events connection, on average.
    #[arg(long, env = "SWITCHBOARD_WS_RATE", default_value_t = 10.0)]
    pub ws_rate: f64,

    /// Burst of client frames allowed above the average rate.
    #[arg(long, env = "SWITCHBOARD_WS_BURST", default_value_t = 20.0)]
    pub ws_burst: f64,

    /// Refused frames in a row after which the connection is closed (1008).
    #[arg(long, env = "SWITCHBOARD_WS_STRIKES", default_value_t = 20)]
    pub ws_strikes: u32,

    /// Frames queued for a connection before it counts as too slow and is dropped (1008).
    #[arg(long, env = "SWITCHBOARD_WS_QUEUE", default_value_t = 256)]
    pub ws_queue: usize,
}

impl ServeArgs {
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl.max(1))
    }

    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl.max(1))
    }

    pub fn refresh_reuse_grace(&self) -> Duration {
        Duration::from_secs(self.refresh_reuse_grace)
    }
}

/// Scale-out: several instances bridge chat, presence and events through Redis pub/sub
/// (docs/DEPLOY.md). Without a URL the instance stands alone.
#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
    /// Redis to bridge instances through, e.g. redis://127.0.0.1:6379/0.
    #[arg(long, env = "SWITCHBOARD_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of the channel and keys, so deployments (or test runs) can share a Redis.
    #[arg(long, env = "SWITCHBOARD_REDIS_PREFIX", default_value = "switchboard")]
    pub redis_prefix: String,

    /// Seconds an instance's presence outlives its last heartbeat (beats every third).
    #[arg(long, env = "SWITCHBOARD_REDIS_PRESENCE_TTL", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub redis_presence_ttl: u64,
}

impl RedisArgs {
    pub fn bridge(&self) -> Option<crate::realtime::bridge::BridgeConfig> {
        self.redis_url
            .as_ref()
            .map(|url| crate::realtime::bridge::BridgeConfig {
                url: url.clone(),
                prefix: self.redis_prefix.clone(),
                presence_ttl: Duration::from_secs(self.redis_presence_ttl),
            })
    }
}

/// Chat delivery guarantees (docs/PROTOCOL.md).
#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// Seconds a message's `client_id` (REST: `Idempotency-Key`) is remembered: a send
    /// repeating it within this window stores nothing and answers with the original.
    #[arg(long, env = "SWITCHBOARD_CHAT_DEDUP_WINDOW", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub chat_dedup_window: u64,

    /// The most missed messages a `join` with `since` replays; a client further behind
    /// gets the newest page (`"recovered": false`) and pages back with `history`.
    #[arg(long, env = "SWITCHBOARD_CHAT_RESUME_MAX", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub chat_resume_max: i64,
}

impl ChatArgs {
    pub fn settings(&self) -> crate::services::chat::ChatSettings {
        crate::services::chat::ChatSettings {
            dedup_window: Duration::from_secs(self.chat_dedup_window),
            resume_max: self.chat_resume_max,
        }
    }
}
