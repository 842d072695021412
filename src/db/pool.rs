//! One binary, two databases. The URL picks the backend: `postgres://` or `postgresql://`
//! selects PostgreSQL, anything else is a SQLite file path (an optional `sqlite://` prefix is
//! stripped). A hand-written r2d2 manager instead of diesel's, so that a failed connect
//! reports the real cause rather than the generic error of the derived `establish`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
}

impl DbUrl {
    pub fn parse(url: &str) -> Self {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self {
                backend: Backend::Postgres,
                target: url.to_owned(),
            }
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Self {
                backend: Backend::Sqlite,
                target: path.to_owned(),
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
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
            // idle timeout), so it is checked before use; a SQLite file handle cannot, and
            // the check would cost a parsed `SELECT 1` on every request.
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
                conn.set_instrumentation(self.queries.clone());
                Ok(DbConnection::Pg(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1").map_err(ConnectError::Setup)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::connection::TransactionManager;
        type Manager = <DbConnection as Connection>::TransactionManager;
        Manager::is_broken_transaction_manager(conn)
    }
}
