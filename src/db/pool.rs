//! One binary, two databases. The URL picks the backend: `postgres://` or `postgresql://`
//! selects PostgreSQL, anything else is a SQLite file path (an optional `sqlite://` prefix is
//! stripped). A hand-written r2d2 manager instead of diesel's, so that a failed connect
//! reports the real cause rather than the generic error of the derived `establish`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

pub type DbPool = r2d2::Pool<ConnectionManager>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A database URL with its backend decided once.
#[derive(Clone)]
pub struct DbUrl {
    backend: Backend,
    target: String,
    on_this_machine: bool,
}

impl DbUrl {
    pub fn parse(url: &str) -> Self {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self {
                backend: Backend::Postgres,
                target: plain_on_loopback(url),
                on_this_machine: url::Url::parse(url).is_ok_and(|u| postgres_on_this_machine(&u)),
            }
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Self {
                backend: Backend::Sqlite,
                target: path.to_owned(),
                on_this_machine: true,
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database shares this machine's cores: a SQLite file, or a PostgreSQL
    /// server reached over a Unix socket or a loopback address.
    pub fn on_this_machine(&self) -> bool {
        self.on_this_machine
    }

    /// The URL with any password masked, for log lines.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.target.clone(),
            Backend::Postgres => match url::Url::parse(&self.target) {
                Ok(mut u) if u.password().is_some() => {
                    let _ = u.set_password(Some("****"));
                    u.to_string()
                }
                Ok(u) => u.to_string(),
                Err(_) => "postgres://(unparsable url)".to_owned(),
            },
        }
    }
}

/// A PostgreSQL URL to this machine's loopback interface that does not choose an `sslmode`
/// gets `sslmode=allow`: plain TCP first, TLS only if the server refuses it. libpq's own
/// default, `prefer`, negotiates TLS whenever the server offers it (Debian's does), and on
/// a connection that never leaves the kernel that protects nothing while costing a quarter
/// of a product read's throughput (docs/PERFORMANCE.md, change 12). A server that requires
/// TLS (`hostssl`) still gets it; an `sslmode` in the URL, or any other host, is untouched.
fn plain_on_loopback(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        // Not a special scheme: the url crate keeps an IPv4 host as text.
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    };
    // libpq lets `?host=` override the URL's host; then the URL's host says nothing.
    let chosen = parsed
        .query_pairs()
        .any(|(k, _)| k == "sslmode" || k == "host" || k == "hostaddr");
    if !loopback || chosen {
        return url.to_owned();
    }
    parsed.query_pairs_mut().append_pair("sslmode", "allow");
    parsed.to_string()
}

/// libpq's rules for where a URL points: `host`/`hostaddr` parameters win over the URL's
/// host; no host, or one that is a directory (`%2Fvar%2Frun%2Fpostgresql`), is a Unix socket.
fn postgres_on_this_machine(parsed: &url::Url) -> bool {
    let param = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let host = match param("hostaddr").or_else(|| param("host")) {
        Some(host) => host,
        None => match parsed.host() {
            None => return true,
            Some(url::Host::Ipv4(ip)) => return ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => return ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.to_owned(),
        },
    };
    let lower = host.to_ascii_lowercase();
    lower.is_empty()
        || lower.starts_with('/')
        || lower.starts_with("%2f")
        || lower == "localhost"
        || lower
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// SQLite is set up for many readers and one writer at a time: the busy timeout first (so
/// the following statements already wait for locks), then WAL so readers never block the
/// writer, `synchronous=NORMAL` (durable across application crashes under WAL), and
/// foreign keys, which SQLite leaves off unless asked per connection.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;";

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot open SQLite database {path}: {source}")]
    Sqlite {
        path: String,
        source: diesel::ConnectionError,
    },
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Postgres {
        url: String,
        source: diesel::ConnectionError,
    },
    #[error("cannot configure the connection: {0}")]
    Setup(#[from] diesel::result::Error),
}

/// Counts the statements a pool's connections send (PostgreSQL pool health checks included), for
/// `/metrics` and for tests that prove a query count does not grow with the data (N+1).
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// How long after its last answered statement a pooled PostgreSQL connection is handed out
/// without a `SELECT 1` first. A connection in use answers many statements a second, and a
/// round trip to prove it still works cost more than the product read itself (a profile
/// put the check's send, wait and receive at about a third of the server's CPU per
/// request); one that sat idle longer may have been closed by the server (a restart, an
/// idle timeout) and is checked as before.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// A PostgreSQL connection's own instrumentation: counts its statements on the pool's
/// counter, and remembers when it last got an answer and whether it has lost its server.
struct PgHealth {
    queries: QueryCounter,
    answered_at: Option<Instant>,
    closed: bool,
}

impl PgHealth {
    fn of(conn: &mut PgConnection) -> Option<&mut PgHealth> {
        conn.instrumentation().downcast_mut::<PgHealth>()
    }

    fn trusted(&self) -> bool {
        !self.closed
            && self
                .answered_at
                .is_some_and(|at| at.elapsed() < TRUSTED_FOR)
    }
}

impl Instrumentation for PgHealth {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.queries.0.fetch_add(1, Ordering::Relaxed);
            }
            InstrumentationEvent::FinishQuery {
                error:
                    Some(Error::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, _)),
                ..
            } => self.closed = true,
            // An error the server sent (a constraint, a syntax error) is an answer too.
            InstrumentationEvent::FinishQuery { .. } => self.answered_at = Some(Instant::now()),
            _ => {}
        }
    }
}

pub struct ConnectionManager {
    url: DbUrl,
    queries: QueryCounter,
    /// SQLite connections that refuse to write (`PRAGMA query_only`).
    read_only: bool,
}

impl ConnectionManager {
    pub fn new(url: DbUrl) -> Self {
        Self {
            url,
            queries: QueryCounter::default(),
            read_only: false,
        }
    }

    /// A manager of read-only SQLite connections whose statements count on `queries` (a
    /// pool's counter). Their set-up is not counted: they are opened lazily, by whichever
    /// request first reads on a thread.
    pub(super) fn readers(url: DbUrl, queries: QueryCounter) -> Self {
        Self {
            url,
            queries,
            read_only: true,
        }
    }

    /// r2d2 opens its connections in parallel; on a new SQLite file they would all race to
    /// switch it to WAL (which takes an exclusive lock). One connection does it first.
    /// The pool and the counter of the statements its connections send.
    pub fn pool(
        url: DbUrl,
        size: u32,
        timeout: Duration,
    ) -> anyhow::Result<(DbPool, QueryCounter)> {
        let manager = Self::new(url);
        let queries = manager.queries.clone();
        let sqlite = manager.url.backend == Backend::Sqlite;
        if sqlite {
            r2d2::ManageConnection::connect(&manager)?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .connection_timeout(timeout)
            // A PostgreSQL connection can die while it sits in the pool (server restart,
            // idle timeout), so one idle for longer than `TRUSTED_FOR` is checked before use;
            // a SQLite file handle cannot, and the check would cost a parsed `SELECT 1` on
            // every request.
            .test_on_check_out(!sqlite)
            .build(manager)?;
        Ok((pool, queries))
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        match self.url.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url.target).map_err(|source| {
                    ConnectError::Sqlite {
                        path: self.url.target.clone(),
                        source,
                    }
                })?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                if self.read_only {
                    conn.batch_execute("PRAGMA query_only = ON")?;
                }
                conn.set_instrumentation(self.queries.clone());
                Ok(DbConnection::Sqlite(conn))
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url.target).map_err(|source| {
                    ConnectError::Postgres {
                        url: self.url.redacted(),
                        source,
                    }
                })?;
                conn.set_instrumentation(PgHealth {
                    queries: self.queries.clone(),
                    answered_at: None,
                    closed: false,
                });
                Ok(DbConnection::Pg(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        if let DbConnection::Pg(pg) = conn {
            if PgHealth::of(pg).is_some_and(|health| health.trusted()) {
                return Ok(());
            }
        }
        conn.batch_execute("SELECT 1").map_err(ConnectError::Setup)
    }

    /// Also a PostgreSQL connection whose server went away: dropped when it comes back to
    /// the pool, instead of failing the next request that would get it.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::connection::TransactionManager;
        type Manager = <DbConnection as Connection>::TransactionManager;
        if let DbConnection::Pg(pg) = conn {
            if PgHealth::of(pg).is_some_and(|health| health.closed) {
                return true;
            }
        }
        Manager::is_broken_transaction_manager(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> String {
        DbUrl::parse(url).target
    }

    #[test]
    fn loopback_postgres_urls_try_plain_tcp_first_unless_they_choose() {
        assert_eq!(
            target("postgres://u:p@127.0.0.1:5432/db"),
            "postgres://u:p@127.0.0.1:5432/db?sslmode=allow"
        );
        assert_eq!(
            target("postgresql://localhost/db?application_name=x"),
            "postgresql://localhost/db?application_name=x&sslmode=allow"
        );
        assert_eq!(
            target("postgres://[::1]/db"),
            "postgres://[::1]/db?sslmode=allow"
        );
        for untouched in [
            "postgres://127.0.0.1/db?sslmode=require",
            "postgres://db.internal:5432/db",
            "postgres://10.0.0.5/db",
            "postgres://127.0.0.1/db?host=/var/run/postgresql",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/db",
        ] {
            assert_eq!(target(untouched), untouched);
        }
        assert_eq!(target("/tmp/x.db"), "/tmp/x.db");
    }

    #[test]
    fn a_database_on_a_unix_socket_or_a_loopback_address_is_on_this_machine() {
        for local in [
            "postgres://u:p@127.0.0.1:5432/db",
            "postgres://localhost/db",
            "postgres://[::1]/db",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/db",
            "postgres:///db",
            "postgres://db.internal/db?host=/var/run/postgresql",
            "postgres://db.internal/db?hostaddr=127.0.0.1",
            "/tmp/x.db",
        ] {
            assert!(DbUrl::parse(local).on_this_machine(), "{local}");
        }
        for remote in [
            "postgres://db.internal:5432/db",
            "postgres://10.0.0.5/db",
            "postgres://127.0.0.1/db?host=db.internal",
            "postgres://localhost/db?hostaddr=10.0.0.5",
        ] {
            assert!(!DbUrl::parse(remote).on_this_machine(), "{remote}");
        }
    }
}
