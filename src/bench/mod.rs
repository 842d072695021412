//! `switchboard bench`: a load generator with named scenarios. Against `--url`, or, with no
//! URL, against a server it starts itself (a child process, so the server's memory can be
//! read on its own) on a temporary database filled by `seed --bench`.

pub mod chart;
pub mod deploy;
mod failover;
mod http_client;
mod progress;
mod report;
pub mod scenarios;
mod stats;
mod ws_client;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::json;

use deploy::{Process, ScratchDatabase};
use http_client::HttpConn;
use report::{Machine, Results};
use scenarios::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Every lab model (sync, blocking, async) at every concurrency.
    Lab,
    /// A product by random id, a list page, and /healthz as the in-run ceiling.
    Rest,
    /// The seed's query and `users(first: 50) { name posts { title } }`.
    Graphql,
    /// Echo round trips over many connections.
    WsEcho,
    /// One sender, many room members: delivery latency, lost and duplicated messages.
    WsFanout,
    /// Many idle chat connections: server memory per connection, and a broadcast to all.
    WsHold,
    /// Two instances on PostgreSQL + Redis, one Redis restart and one SIGKILL under load:
    /// lost, duplicated and out-of-order messages, time to recover. Only when named (it
    /// needs `--database-url postgres://...` and `redis-server`).
    WsFailover,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Scenarios to run (default: all, in this order).
    #[arg(value_enum)]
    pub scenarios: Vec<Scenario>,

    /// The server to measure, e.g. http://127.0.0.1:8080 (plain HTTP). Without it a server
    /// is started on a temporary database filled by `seed --bench`.
    #[arg(long)]
    pub url: Option<String>,

    /// Seconds each measured case runs.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,

    /// Concurrency levels of the lab scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64,256")]
    pub concurrency: Vec<usize>,

    /// Connections of the rest and graphql scenarios.
    #[arg(long, default_value_t = 64)]
    pub http_concurrency: usize,

    /// The lab's simulated I/O, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub ms: u64,

    /// Connections of ws-echo.
    #[arg(long, default_value_t = 100)]
    pub connections: usize,

    /// Room members of ws-fanout.
    #[arg(long, default_value_t = 1000)]
    pub members: usize,

    /// Messages per second the ws-fanout sender sends.
    #[arg(long, default_value_t = 100)]
    pub rate: u32,

    /// Seconds the ws-fanout sender sends.
    #[arg(long, default_value_t = 10.0)]
    pub fanout_duration: f64,

    /// Idle connections of ws-hold.
    #[arg(long, default_value_t = 10_000)]
    pub hold: usize,

    /// A PostgreSQL server URL: the server the bench starts (and ws-failover's two) runs
    /// on a fresh database the bench makes there and drops afterwards. Without it, a
    /// temporary SQLite file.
    #[arg(long, env = "SWITCHBOARD_BENCH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Servers the bench starts, bridged through a redis-server of its own (two or more
    /// need --database-url). ws-hold spreads its connections over all of them and sends
    /// its broadcast on the first; the other scenarios use the first only.
    #[arg(long, default_value_t = 1)]
    pub instances: usize,

    /// Chat clients of ws-failover, spread over both instances (plus two senders).
    #[arg(long, default_value_t = 1000)]
    pub failover_clients: usize,

    /// Messages per second the ws-failover senders send, together.
    #[arg(long, default_value_t = 100)]
    pub failover_rate: u32,

    /// Seconds ws-failover runs: Redis restarts at a third, instance A dies at two thirds.
    #[arg(long, default_value_t = 30.0)]
    pub failover_duration: f64,

    /// Where the JSON results and the SVG chart go (also as latest.json / latest.svg).
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,

    /// Admin account used for the GraphQL user list (the started server's is made for it).
    #[arg(long, default_value = "admin@example.com")]
    pub admin_email: String,

    #[arg(long, env = "SWITCHBOARD_BENCH_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Password of the seeded users `user1@example.com`... (chat connections sign in as them).
    #[arg(long, default_value = "switchboard")]
    pub user_password: String,

    /// Distinct users behind the chat connections (presence is per user, so many
    /// connections of few users keep join traffic linear).
    #[arg(long, default_value_t = 20)]
    pub chat_users: usize,

    /// HTTP workers of the server the bench starts (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,

    /// Blocking-pool threads per worker of the server the bench starts.
    #[arg(long)]
    pub blocking_threads: Option<usize>,

    /// Client runtime threads (default: half the cores, at least one). The load generator
    /// shares the machine with the server it measures; on two cores, a second client thread
    /// mostly takes CPU from the server (and wrk -t1 measured the same server faster).
    #[arg(long)]
    pub client_threads: Option<usize>,
}

/// The servers a run started, all on one scratch database (several are bridged through a
/// redis-server of the run's own), taken down when dropped: the servers first (fields drop
/// in order).
struct Deployment {
    servers: Vec<(Process, String)>,
    _redis: Option<Process>,
    _database: ScratchDatabase,
    _logs: tempfile::TempDir,
    label: String,
}

/// The server's resident memory in bytes, from /proc (Linux).
pub(crate) fn rss_of(pid: u32) -> Option<u64> {
    crate::metrics::resident_memory_of(pid)
}

fn deploy(args: &BenchArgs, admin_password: &str) -> anyhow::Result<Deployment> {
    let instances = args.instances.max(1);
    let database = match &args.database_url {
        Some(url) if deploy::is_postgres(url) => ScratchDatabase::postgres(url)?,
        Some(_) => anyhow::bail!(
            "--database-url is a PostgreSQL server (postgres://...); without it the bench uses a temporary SQLite file"
        ),
        None => ScratchDatabase::sqlite()?,
    };
    anyhow::ensure!(
        instances == 1 || args.database_url.is_some(),
        "{instances} instances share one database: give --database-url postgres://..."
    );
    let exe = std::env::current_exe().context("cannot find the switchboard binary")?;
    eprintln!(
        "seeding a scratch {} database (seed --bench)...",
        database.kind()
    );
    let seeded = Command::new(&exe)
        .args(["seed", "--bench", "--database-url", &database.url])
        .args([
            "--admin-email",
            &args.admin_email,
            "--admin-password",
            admin_password,
        ])
        .args([
            "--user-password",
            &args.user_password,
            "--log-level",
            "warn",
        ])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .status()
        .context("running seed --bench")?;
    anyhow::ensure!(seeded.success(), "seed --bench failed");
    let redis = if instances > 1 {
        let port = deploy::free_port()?;
        Some((
            deploy::start_redis(port)?,
            format!("redis://127.0.0.1:{port}/"),
        ))
    } else {
        None
    };
    let logs = tempfile::tempdir()?;
    // One secret: a token signed in on one instance is good on every other.
    let secret = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let mut servers = Vec::with_capacity(instances);
    for i in 0..instances {
        let log = logs.path().join(format!("server-{i}.log"));
        let mut cmd = deploy::serve_command(&database.url, &secret, 1024, &log)?;
        if let Some((_, redis_url)) = &redis {
            cmd.args(["--redis-url", redis_url, "--redis-prefix", &prefix]);
        }
        if let Some(w) = args.workers {
            cmd.args(["--workers", &w.to_string()]);
        }
        if let Some(b) = args.blocking_threads {
            cmd.args(["--blocking-threads", &b.to_string()]);
        }
        let process = Process(cmd.spawn().context("starting the server")?);
        match listening_address(&log, Duration::from_secs(20)) {
            Some(addr) => servers.push((process, addr)),
            None => anyhow::bail!("the server did not start; see its log"),
        }
    }
    let addrs: Vec<String> = servers
        .iter()
        .map(|(_, addr)| format!("http://{addr}"))
        .collect();
    let workers = args.workers.map_or("= cores".to_owned(), |w| w.to_string());
    let label = if instances == 1 {
        format!(
            "switchboard at {} started by bench (workers {workers}, {}, seed --bench)",
            addrs[0],
            database.kind()
        )
    } else {
        format!(
            "{instances} switchboard instances at {} started by bench (workers {workers} each, {}, bridged through Redis, seed --bench; only ws-hold uses them all)",
            addrs.join(", "),
            database.kind()
        )
    };
    Ok(Deployment {
        servers,
        _redis: redis.map(|(process, _)| process),
        _database: database,
        _logs: logs,
        label,
    })
}

/// The `host:port` a server started by the bench logs once it listens, waiting up to `wait`
/// (a blocking wait: call it before the load starts, or off the client runtime).
pub(crate) fn listening_address(log: &std::path::Path, wait: Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text.split("listening on http://").nth(1) {
            return Some(rest.chars().take_while(|c| !c.is_whitespace()).collect());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

async fn token(addr: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let mut conn = HttpConn::connect(addr).await?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .finish();
    let reply = conn.post_form("/api/v1/auth/token", &body).await?;
    anyhow::ensure!(
        reply.status == 200,
        "signing in as {email} failed ({})",
        reply.status
    );
    let value: serde_json::Value = serde_json::from_slice(&reply.body)?;
    value["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token in the token response")
}

async fn count_products(addr: &str) -> u32 {
    let Ok(mut conn) = HttpConn::connect(addr).await else {
        return 1;
    };
    match conn.get("/api/v1/products?limit=1", None).await {
        Ok(reply) => serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| v["total"].as_u64())
            .map_or(1, |n| n as u32),
        Err(_) => 1,
    }
}

/// Runs the chosen scenarios and writes the report.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let threads = args
        .client_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: BenchArgs) -> anyhow::Result<()> {
    let admin_password = args
        .admin_password
        .clone()
        .unwrap_or_else(|| format!("bench-{}", uuid::Uuid::new_v4().simple()));
    let scenarios = if args.scenarios.is_empty() {
        Scenario::value_variants()
            .iter()
            .copied()
            .filter(|s| *s != Scenario::WsFailover)
            .collect()
    } else {
        args.scenarios.clone()
    };
    // ws-failover starts a deployment of its own; nothing else is needed for it alone.
    let only_failover = scenarios.iter().all(|s| *s == Scenario::WsFailover);
    let (deployment, addr, target_label) = match &args.url {
        Some(url) => {
            let url = url::Url::parse(url).context("--url is not a URL")?;
            anyhow::ensure!(
                url.scheme() == "http",
                "the bench speaks plain HTTP; use an http:// URL"
            );
            let host = url.host_str().context("--url has no host")?;
            let addr = format!("{host}:{}", url.port_or_known_default().unwrap_or(80));
            (None, addr.clone(), format!("http://{addr}"))
        }
        None if only_failover => (
            None,
            String::new(),
            "two switchboard instances on PostgreSQL + Redis started by bench (ws-failover)"
                .to_owned(),
        ),
        None => {
            // Seeding and migrating block: off the client runtime's threads.
            let (args, password) = (args.clone(), admin_password.clone());
            let deployment =
                tokio::task::spawn_blocking(move || deploy(&args, &password)).await??;
            let addr = deployment.servers[0].1.clone();
            let label = deployment.label.clone();
            (Some(deployment), addr, label)
        }
    };
    let needs_admin = scenarios.contains(&Scenario::Graphql);
    let needs_users = scenarios
        .iter()
        .any(|s| matches!(s, Scenario::WsFanout | Scenario::WsHold));
    let admin_token = if needs_admin {
        token(&addr, &args.admin_email, &admin_password).await?
    } else {
        String::new()
    };
    let mut user_tokens = Vec::new();
    if needs_users {
        for i in 1..=args.chat_users.max(1) {
            user_tokens
                .push(token(&addr, &format!("user{i}@example.com"), &args.user_password).await?);
        }
    }
    let target = Target {
        products: if only_failover {
            1
        } else {
            count_products(&addr).await
        },
        addr: addr.clone(),
        admin_token,
        user_tokens,
        quiet: false,
        header: None,
    };
    let duration = Duration::from_secs_f64(args.duration.max(0.1));
    let started_at = chrono::Utc::now();
    eprintln!("benchmarking {target_label}");
    let mut runs = Vec::new();
    for scenario in &scenarios {
        match scenario {
            Scenario::Lab => {
                runs.extend(scenarios::lab(&target, &args.concurrency, args.ms, duration).await)
            }
            Scenario::Rest => {
                runs.extend(scenarios::rest(&target, args.http_concurrency, duration).await)
            }
            Scenario::Graphql => {
                runs.extend(scenarios::graphql(&target, args.http_concurrency, duration).await)
            }
            Scenario::WsEcho => {
                runs.extend(scenarios::ws_echo(&target, args.connections, duration).await)
            }
            Scenario::WsFanout => runs.extend(
                scenarios::ws_fanout(
                    &target,
                    args.members,
                    args.rate,
                    Duration::from_secs_f64(args.fanout_duration.max(0.1)),
                )
                .await,
            ),
            Scenario::WsHold => {
                let instances: Vec<(Target, Option<u32>)> = match &deployment {
                    Some(d) => d
                        .servers
                        .iter()
                        .map(|(process, addr)| {
                            let mut t = target.clone();
                            t.addr = addr.clone();
                            (t, Some(process.pid()))
                        })
                        .collect(),
                    None => vec![(target.clone(), None)],
                };
                runs.extend(scenarios::ws_hold(&instances, args.hold).await)
            }
            Scenario::WsFailover => {
                let database_url = args.database_url.clone().context(
                    "ws-failover needs --database-url postgres://... (a server it may create a database on)",
                )?;
                let config = failover::Config {
                    database_url,
                    clients: args.failover_clients.max(2),
                    rate: args.failover_rate.max(2),
                    duration: Duration::from_secs_f64(args.failover_duration.max(3.0)),
                    users: args.chat_users,
                };
                eprintln!(
                    "  ws-failover: {} clients, {} msg/s, {:?}",
                    config.clients, config.rate, config.duration
                );
                runs.extend(failover::ws_failover(&config).await?)
            }
        }
    }
    let results = Results {
        started_at: started_at.to_rfc3339(),
        target: target_label,
        machine: Machine::here(),
        settings: json!({
            "duration_s": args.duration,
            "lab_concurrency": args.concurrency,
            "lab_ms": args.ms,
            "http_concurrency": args.http_concurrency,
            "ws_echo_connections": args.connections,
            "fanout_members": args.members,
            "fanout_rate": args.rate,
            "fanout_duration_s": args.fanout_duration,
            "hold_connections": args.hold,
            "instances": args.instances,
            "failover_clients": args.failover_clients,
            "failover_rate": args.failover_rate,
            "failover_duration_s": args.failover_duration,
            "workers": args.workers,
            "blocking_threads": args.blocking_threads,
        }),
        runs,
    };
    println!("\n{}", report::table(&results.runs));
    let stem = started_at.format("%Y%m%dT%H%M%SZ").to_string();
    let (json_path, svg_path) = report::write(&args.out, &stem, &results)?;
    println!(
        "results: {}\nchart:   {}",
        json_path.display(),
        svg_path.display()
    );
    if let Some(deployment) = deployment {
        // Dropping a PostgreSQL scratch database blocks.
        tokio::task::spawn_blocking(move || drop(deployment)).await?;
    }
    Ok(())
}
