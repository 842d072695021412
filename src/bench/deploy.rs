//! What a bench run starts for itself and takes down after: child processes (servers,
//! `redis-server`), and a scratch database (a temporary SQLite file, or a fresh database on
//! a PostgreSQL server) so that no run sees another's data.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::{Connection, RunQueryDsl};

/// A child process, killed when dropped.
pub struct Process(pub Child);

impl Process {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `serve` as the bench starts it: on `database_url`, on a port the OS picks (it logs the
/// address to `log`), every production middleware on with the budgets out of reach, so that
/// what is measured is the server rather than its limits. `ws_queue`: frames a connection
/// may have queued before it counts as too slow.
pub fn serve_command(
    database_url: &str,
    secret: &str,
    ws_queue: u32,
    log: &std::path::Path,
) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("cannot find the switchboard binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(["serve", "--port", "0", "--database-url", database_url])
        .args(["--rate-limit", "1000000", "--rate-limit-burst", "1000000"])
        .args(["--auth-rate-limit", "1000000"])
        .args(["--auth-rate-limit-burst", "1000000"])
        .args(["--ws-rate", "1000000", "--ws-burst", "1000000"])
        .args(["--ws-queue", &ws_queue.to_string()])
        .args(["--jwt-secret", secret])
        .env_remove("DATABASE_URL")
        .stdout(std::fs::File::create(log)?)
        .stderr(Stdio::null());
    Ok(cmd)
}

/// A `redis-server` of the run's own on `port` (nothing kept on disk), once it accepts.
pub fn start_redis(port: u16) -> anyhow::Result<Process> {
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("the bench starts a redis-server of its own: is redis-server installed?")?;
    let redis = Process(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(redis)
}

/// A database made for one run and removed after it (when dropped).
pub struct ScratchDatabase {
    /// What `serve`/`seed --database-url` are given.
    pub url: String,
    /// PostgreSQL: the server's URL the database was created through, and its name.
    postgres: Option<(String, String)>,
    /// SQLite: the directory of the file.
    _dir: Option<tempfile::TempDir>,
}

impl ScratchDatabase {
    /// A SQLite file in a temporary directory.
    pub fn sqlite() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = dir.path().join("bench.db").to_string_lossy().into_owned();
        Ok(Self {
            url,
            postgres: None,
            _dir: Some(dir),
        })
    }

    /// A fresh, uuid-named database on the PostgreSQL server of `server_url`.
    pub fn postgres(server_url: &str) -> anyhow::Result<Self> {
        let name = format!("switchboard_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = diesel::PgConnection::establish(server_url)
            .context("cannot reach the PostgreSQL server of --database-url")?;
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn)?;
        let mut url = url::Url::parse(server_url).context("--database-url is not a URL")?;
        url.set_path(&name);
        Ok(Self {
            url: url.to_string(),
            postgres: Some((server_url.to_owned(), name)),
            _dir: None,
        })
    }

    /// Which kind, for the report's label.
    pub fn kind(&self) -> &'static str {
        if self.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Some((server_url, name)) = &self.postgres {
            if let Ok(mut conn) = diesel::PgConnection::establish(server_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// `url` names a PostgreSQL server (rather than a SQLite file).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
