//! The data layer: one connection type over SQLite and PostgreSQL, the pool, migrations,
//! and the table models. Services receive a `&mut DbConnection` from [`Db::run`], on threads
//! of its own (`DbThreads`) so that diesel waiting for a lock or the network never stalls an
//! async worker, or from [`Db::read`], which runs short SQLite reads (they never wait) on the
//! asking thread instead.

pub(crate) mod columns;
mod migrations;
pub mod models;
mod pool;
mod readers;
pub mod schema;

pub use migrations::run_pending as run_migrations;
pub use pool::{Backend, ConnectionManager, DbConnection, DbPool, DbUrl, QueryCounter};

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::{QueryResult, RunQueryDsl};

use crate::error::AppError;
use readers::Readers;

/// The SQL backend type of [`DbConnection`], for boxed queries.
pub type Sql = <DbConnection as Connection>::Backend;

/// Cheap to clone; wraps the r2d2 pool and knows how to run work off the async threads.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    queries: QueryCounter,
    threads: Arc<DbThreads>,
    /// SQLite only: reads run on the asking thread (see [`readers`]).
    readers: Option<Arc<Readers>>,
}

/// How long database work may wait for a database thread, or for a connection.
pub const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(5);

/// Why work that waited too long for the database is refused.
const BUSY: &str = "the database is busy right now; retry later";

/// The threads that run database work: as many as the pool has connections.
///
/// With actix's blocking pool (hundreds of threads per worker) every query woke a sleeping
/// thread, which then often slept again waiting for one of the few connections: two
/// context switches or more per request, the largest cost of a point read in a profile.
/// With one thread per connection no thread ever waits for a connection, and under load a
/// thread that finishes a job takes the next from the queue without sleeping in between
/// (`GET /api/v1/products/{id}`: 38 to 32 µs of server CPU per request, docs/PERFORMANCE.md).
/// It is the blocking pool of a tokio runtime of its own, which nothing else uses.
struct DbThreads(Option<tokio::runtime::Runtime>);

impl DbThreads {
    fn new(threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(threads.max(1))
            .thread_name("db")
            .thread_keep_alive(Duration::from_secs(60))
            .build()?;
        Ok(Self(Some(runtime)))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.0
            .as_ref()
            .expect("the runtime lives until drop")
            .handle()
    }
}

impl Drop for DbThreads {
    /// The last `Db` may be dropped on an async worker, where dropping a runtime the usual
    /// way (waiting for its threads) would panic.
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Db {
    pub fn new(pool: DbPool, url: &DbUrl, queries: QueryCounter) -> std::io::Result<Self> {
        let threads = Arc::new(DbThreads::new(pool.max_size() as usize)?);
        let backend = url.backend();
        let readers = (backend == Backend::Sqlite).then(|| {
            Arc::new(Readers::new(ConnectionManager::readers(
                url.clone(),
                queries.clone(),
            )))
        });
        Ok(Self {
            pool,
            backend,
            queries,
            threads,
            readers,
        })
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

    /// Runs `f` with a pooled connection on the database threads and awaits it.
    ///
    /// Work that has waited [`WAIT_FOR_CONNECTION`] for a thread without starting is given
    /// up (`503`, nothing done), as a request that cannot get a connection is: an overloaded
    /// or stalled database sheds load instead of queueing without end. Work that has
    /// started is always awaited, so a write never commits behind an error answer.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        const QUEUED: u8 = 0;
        const STARTED: u8 = 1;
        const ABANDONED: u8 = 2;
        let state = Arc::new(AtomicU8::new(QUEUED));
        let job_state = state.clone();
        let pool = self.pool.clone();
        let mut job = self.threads.handle().spawn_blocking(move || {
            if job_state
                .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return Err(AppError::Unavailable(BUSY.to_owned()));
            }
            let mut conn = pool.get().map_err(AppError::Pool)?;
            f(&mut conn)
        });
        let joined = match actix_web::rt::time::timeout(WAIT_FOR_CONNECTION, &mut job).await {
            Ok(joined) => joined,
            Err(_) => {
                if state
                    .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Err(AppError::Unavailable(BUSY.to_owned()));
                }
                job.await
            }
        };
        joined.map_err(|e| AppError::Internal(anyhow::anyhow!("database task failed: {e}")))?
    }

    /// Runs `f`, which only reads, where it is cheapest: on SQLite right here on the calling
    /// thread with its own read-only connection (no hand-off, no waiting for a lock), on
    /// PostgreSQL on the database threads like [`Db::run`]. On SQLite `f` holds the async
    /// worker while it runs, so it must stay short whatever the data: rows found through an
    /// index, at most a page of them. List pages count their rows and may filter by scanning
    /// (a search of 10,000 products takes about 2 ms), so they use [`Db::run`].
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.readers {
            Some(readers) => readers.read(f),
            None => self.run(f).await,
        }
    }

    /// Checks that a connection can be had and answers a trivial query within `timeout`.
    /// On actix's blocking pool, not the database threads: a probe must not queue behind
    /// the work whose health it reports.
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

/// Runs one diesel query on the connection's own backend rather than through the
/// `MultiConnection` wrapper.
///
/// The wrapper hides the backend from the query's type, so diesel cannot key its statement
/// cache by type: on every execution it walks the whole query to check that it may be
/// cached, to find its SQL and to collect its binds: about 11 % of the server's CPU time for
/// `GET /api/v1/products/{id}` in a profile. On the concrete connection the query has a
/// static id and none of that happens. Worth it for the hot reads only; the expression is
/// written once and compiled for each backend.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $query,
            $crate::db::DbConnection::Pg($c) => $query,
        }
    };
}
pub(crate) use on_backend;

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
    /// A chat room: the lock that orders its messages' `seq` across instances.
    Rooms,
}

impl LockTable {
    fn name(self) -> &'static str {
        match self {
            LockTable::Users => "users",
            LockTable::Products => "products",
            LockTable::Posts => "posts",
            LockTable::Orders => "orders",
            LockTable::Rooms => "rooms",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// SQLite reads run on the asking thread, see what was committed just before, and cannot
    /// write.
    #[actix_web::test]
    async fn sqlite_reads_run_here_see_committed_writes_and_cannot_write() {
        use diesel::connection::SimpleConnection;
        use diesel::sql_types::BigInt;

        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let count = |c: &mut DbConnection| -> Result<i64, AppError> {
            Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM t")
                .get_result::<Count>(c)?
                .n)
        };
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse(dir.path().join("read.db").to_str().unwrap());
        let (pool, queries) = ConnectionManager::pool(url.clone(), 2, WAIT_FOR_CONNECTION).unwrap();
        let db = Db::new(pool, &url, queries).unwrap();
        db.run(|c| Ok(c.batch_execute("CREATE TABLE t (x INTEGER)")?))
            .await
            .unwrap();
        assert_eq!(db.read(count).await.unwrap(), 0);
        db.run(|c| Ok(c.batch_execute("INSERT INTO t VALUES (1)")?))
            .await
            .unwrap();
        let here = std::thread::current().id();
        let (n, ran_on) = db
            .read(move |c| Ok((count(c)?, std::thread::current().id())))
            .await
            .unwrap();
        assert_eq!((n, ran_on), (1, here));
        let write = db
            .read(|c| Ok(c.batch_execute("INSERT INTO t VALUES (2)")?))
            .await;
        assert!(write.is_err(), "{write:?}");
        assert_eq!(db.read(count).await.unwrap(), 1);
    }

    /// One database thread, held past the wait limit: the next job is refused with 503 and
    /// never runs later; the job that had started is awaited to its end.
    #[actix_web::test]
    async fn work_that_waits_too_long_for_a_thread_is_refused_and_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::parse(dir.path().join("wait.db").to_str().unwrap());
        let (pool, queries) = ConnectionManager::pool(url.clone(), 1, WAIT_FOR_CONNECTION).unwrap();
        let db = Db::new(pool, &url, queries).unwrap();
        let busy = db.clone();
        let holder = actix_web::rt::spawn(async move {
            busy.run(|_| {
                std::thread::sleep(WAIT_FOR_CONNECTION + Duration::from_millis(500));
                Ok("finished")
            })
            .await
        });
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let refused = db
            .run(move |_| {
                flag.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(
            matches!(refused, Err(AppError::Unavailable(_))),
            "{refused:?}"
        );
        assert_eq!(holder.await.unwrap().unwrap(), "finished");
        // The thread is free again: a new job runs, and the abandoned one did not.
        db.run(|_| Ok(())).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    }
}
