//! The data layer: one connection type over SQLite and PostgreSQL, the pool, migrations,
//! and the table models. Services receive a `&mut DbConnection`; only [`Db::run`] hands one
//! out, and it does so on actix's blocking pool so diesel never stalls an async worker.

mod migrations;
pub mod models;
mod pool;
pub mod schema;

pub use migrations::run_pending as run_migrations;
pub use pool::{Backend, ConnectionManager, DbConnection, DbPool, DbUrl, QueryCounter};

use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::{QueryResult, RunQueryDsl};

use crate::error::AppError;

/// The SQL backend type of [`DbConnection`], for boxed queries.
pub type Sql = <DbConnection as Connection>::Backend;

/// Cheap to clone; wraps the r2d2 pool and knows how to run work off the async threads.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    queries: QueryCounter,
}

impl Db {
    pub fn new(pool: DbPool, backend: Backend, queries: QueryCounter) -> Self {
        Self {
            pool,
            backend,
            queries,
        }
    }

    /// How many statements this pool's connections have sent.
    pub fn queries(&self) -> &QueryCounter {
        &self.queries
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Runs `f` with a pooled connection on the blocking thread pool and awaits it.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(AppError::Pool)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
    }

    /// Checks that a connection can be had and answers a trivial query within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), AppError> {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get_timeout(timeout).map_err(AppError::Pool)?;
            diesel::connection::SimpleConnection::batch_execute(&mut *conn, "SELECT 1")?;
            Ok(())
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
    }
}

/// The current time as stored: UTC, truncated to microseconds so that a value read back
/// from either backend is identical to the one written (ETags depend on it).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A transaction that takes the write lock up front.
///
/// SQLite upgrades a deferred transaction's read lock to a write lock lazily, and when
/// another writer got there first the upgrade fails at once with `database is locked`
/// (the busy timeout does not help). `BEGIN IMMEDIATE` waits for the lock instead.
/// PostgreSQL uses an ordinary transaction; writes that check the current row first (an
/// `If-Match`, a status transition) take its row lock with [`lock_row`].
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Manager = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?
        }
        DbConnection::Pg(_) => Manager::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            // The caller's error is the interesting one; a failed rollback leaves the
            // connection marked broken, and r2d2 discards it.
            let _ = Manager::rollback_transaction(conn);
            Err(err)
        }
    }
}

/// Locks one row until the transaction ends, so a read-check-write (an `If-Match` ETag, an
/// order's status transition) cannot interleave with another writer's: under PostgreSQL's
/// default READ COMMITTED two writers would both pass the check. SQLite needs nothing here:
/// `BEGIN IMMEDIATE` already lets one writer in at a time.
pub fn lock_row(conn: &mut DbConnection, table: LockTable, id: i32) -> QueryResult<()> {
    if let DbConnection::Pg(pg) = conn {
        let sql = format!("SELECT 1 FROM {} WHERE id = $1 FOR UPDATE", table.name());
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Integer, _>(id)
            .execute(pg)?;
    }
    Ok(())
}

/// The tables [`lock_row`] may lock (a closed set: the name goes into SQL text).
#[derive(Debug, Clone, Copy)]
pub enum LockTable {
    Users,
    Products,
    Posts,
    Orders,
}

impl LockTable {
    fn name(self) -> &'static str {
        match self {
            LockTable::Users => "users",
            LockTable::Products => "products",
            LockTable::Posts => "posts",
            LockTable::Orders => "orders",
        }
    }
}
