//! SQLite reads on the thread that asks for them, each thread with a read-only connection of
//! its own.
//!
//! Handing a point read to a database thread (wake it, let it run, wake the worker again)
//! cost more than the read: in a profile of `GET /api/v1/products/{id}` a quarter of the
//! server's CPU went to the scheduler and futexes of that hop. A SQLite read in WAL mode
//! never waits for a lock (readers see the last committed snapshot while a writer writes),
//! so a keyed one finishes in microseconds and may run on the async worker itself, well
//! under the "10 to 100 µs between awaits" rule of thumb for not blocking an executor. Writes
//! still go to the database threads (`Db::run`): they can wait seconds for the write lock.
//! So do reads whose cost grows with the data (list pages with their `COUNT(*)`), and every
//! PostgreSQL query: each statement there is a network round trip.

use std::cell::RefCell;

use diesel::connection::{Connection, TransactionManager};
use thread_local::ThreadLocal;

use super::pool::{ConnectionManager, DbConnection};
use crate::error::AppError;

/// Why a read that could not open its connection is refused (the cause is logged).
const UNAVAILABLE: &str = "the database is unavailable right now; retry later";

/// One lazily opened connection per thread that reads, for one database.
pub struct Readers {
    manager: ConnectionManager,
    connections: ThreadLocal<RefCell<Option<DbConnection>>>,
}

impl Readers {
    pub fn new(manager: ConnectionManager) -> Self {
        Self {
            manager,
            connections: ThreadLocal::new(),
        }
    }

    /// Runs `f` on this thread's connection, opening it first if need be. The connection
    /// refuses writes (`PRAGMA query_only`, see [`ConnectionManager::readers`]), so work that
    /// would write fails instead of stalling the worker behind the write lock.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let slot = self.connections.get_or(|| RefCell::new(None));
        // `f` is synchronous and gets no `Db`, so it cannot read again while this runs; if
        // it ever did, it must fail rather than panic.
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "a database read started inside another one"
            )));
        };
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(self.open()?),
        };
        let result = f(conn);
        type Manager = <DbConnection as Connection>::TransactionManager;
        if Manager::is_broken_transaction_manager(conn) {
            *slot = None;
        }
        result
    }

    fn open(&self) -> Result<DbConnection, AppError> {
        r2d2::ManageConnection::connect(&self.manager).map_err(|e| {
            tracing::error!(error = %e, "cannot open a read connection");
            AppError::Unavailable(UNAVAILABLE.to_owned())
        })
    }
}
