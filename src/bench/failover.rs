//! `bench ws-failover`: exactly-once delivery under faults, at size. The bench starts its
//! own deployment: a fresh PostgreSQL database (on the server of `--database-url`), a
//! `redis-server` of its own, and two instances bridged through it. Chat clients are spread
//! over both instances in one room while two senders (one per instance) send at a steady
//! rate. A third of the way in, Redis is killed and restarted under the open sockets; two
//! thirds in, instance A is killed (SIGKILL) and its clients reconnect to B with `since`,
//! the senders re-sending what was never acknowledged with the same `client_id`. Reported:
//! messages lost, duplicated and out of order over every client, and the time from the
//! kill to each resumed client's first message (p50/p99).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::deploy::{free_port, serve_command, start_redis, Process, ScratchDatabase};
use super::http_client::HttpConn;
use super::scenarios::{run, Run};
use super::stats::Samples;
use super::ws_client::{WsConn, WsFrame};

const ROOM: &str = "failover";
const END: &str = "end-of-run";
/// How long a client waits for the next frame before it gives up on the run.
const QUIET: Duration = Duration::from_secs(30);

/// What `ws-failover` is run with.
pub struct Config {
    /// A PostgreSQL server URL; the bench creates (and drops) a database of its own there.
    pub database_url: String,
    pub clients: usize,
    /// Messages per second, both senders together.
    pub rate: u32,
    pub duration: Duration,
    pub users: usize,
}

/// Starts `serve` and returns it with its `host:port`.
fn start_instance(
    database_url: &str,
    redis_url: &str,
    prefix: &str,
    secret: &str,
    dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<(Process, String)> {
    let log = dir.join(format!("{name}.log"));
    let child = serve_command(database_url, secret, 4096, &log)?
        .args(["--redis-url", redis_url, "--redis-prefix", prefix])
        .spawn()
        .with_context(|| format!("starting instance {name}"))?;
    let process = Process(child);
    match super::listening_address(&log, Duration::from_secs(20)) {
        Some(addr) => Ok((process, addr)),
        None => anyhow::bail!("instance {name} did not start; see {}", log.display()),
    }
}

async fn wait_ready(addr: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut conn) = HttpConn::connect(addr).await {
            if conn
                .get("/readyz", None)
                .await
                .is_ok_and(|r| r.status == 200)
            {
                return Ok(());
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "{addr} never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Registers `count` users on `addr` and signs them in.
async fn users(addr: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let password = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let mut tokens = Vec::with_capacity(count);
    for i in 0..count {
        let email = format!("failover{i}@example.com");
        let mut conn = HttpConn::connect(addr).await?;
        let body = json!({"email": email, "name": format!("Client {i}"), "password": password});
        let reply = conn
            .post_json("/api/v1/users", None, body.to_string())
            .await?;
        anyhow::ensure!(
            reply.status == 201,
            "registering {email} failed ({})",
            reply.status
        );
        tokens.push(super::token(addr, &email, &password).await?);
    }
    Ok(tokens)
}

/// The integer after `"key":` in a frame, found without parsing the whole frame.
fn number(frame: &str, key: &str) -> Option<i64> {
    let start = frame.find(key)? + key.len();
    let digits: String = frame[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The seqs a frame delivers: a message's, or a joined history's.
fn delivered(frame: &str) -> Vec<i64> {
    if frame.starts_with(r#"{"type":"message""#) {
        return number(frame, r#""seq":"#).into_iter().collect();
    }
    if frame.starts_with(r#"{"type":"joined""#) {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(frame) else {
            return Vec::new();
        };
        return value["history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["seq"].as_i64())
            .collect();
    }
    Vec::new()
}

/// What the fault steps tell the clients.
#[derive(Default)]
struct Faults {
    /// When instance A was killed.
    killed_at: Mutex<Option<Instant>>,
    a_dead: AtomicBool,
    /// Every client has joined: senders start.
    go: AtomicBool,
    /// Senders stop sending new messages.
    stop: AtomicBool,
    /// Messages stored and acknowledged to their sender.
    acked: AtomicU64,
    /// Clients past their first `joined`.
    joined: AtomicU64,
}

async fn open(addr: &str, token: &str, since: Option<i64>) -> std::io::Result<(WsConn, String)> {
    let mut ws = WsConn::connect(addr, &format!("/ws/chat?token={token}")).await?;
    ws.next().await?;
    let join = match since {
        Some(since) => json!({"type": "join", "room": ROOM, "since": since}),
        None => json!({"type": "join", "room": ROOM}),
    };
    ws.send_text(&join.to_string()).await?;
    loop {
        match ws.next().await? {
            WsFrame::Text(t) if t.starts_with(r#"{"type":"joined""#) => return Ok((ws, t)),
            WsFrame::Text(t) if t.starts_with(r#"{"type":"error""#) => {
                return Err(std::io::Error::other(t))
            }
            WsFrame::Closed => return Err(std::io::Error::other("closed while joining")),
            _ => {}
        }
    }
}

/// Waits until the run has killed A (a connection to A that broke before that is a failure).
async fn wait_for_a(faults: &Faults) -> bool {
    let deadline = Instant::now() + QUIET;
    while !faults.a_dead.load(Ordering::Relaxed) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// After a connection broke: once the run confirms A is dead, points the client at B with
/// the last seq it has. `false` when the broken connection was B's (only A may die) or A was
/// never killed.
async fn move_to_b(
    here: &mut String,
    b: &str,
    since: &mut Option<i64>,
    seen: &Seen,
    faults: &Faults,
) -> bool {
    if here == b || !wait_for_a(faults).await {
        return false;
    }
    b.clone_into(here);
    *since = Some(seen.seqs.last().copied().unwrap_or(0));
    true
}

/// What one client saw.
struct Seen {
    seqs: Vec<i64>,
    /// From A's death to this client's first message after resuming on B.
    recovery: Option<Duration>,
    failed: bool,
}

impl Seen {
    /// The first message after resuming on B: the time since A's death, once.
    fn recovered(&mut self, faults: &Faults) {
        if self.recovery.is_none() {
            self.recovery = faults
                .killed_at
                .lock()
                .ok()
                .and_then(|k| k.map(|k| k.elapsed()));
        }
    }
}

/// One client: reads to the end marker; on A's death, resumes on B from its last seq. A
/// sender also sends at `interval`, and re-sends its unacknowledged messages after a
/// reconnect.
#[allow(clippy::too_many_arguments)]
async fn client(
    a: String,
    b: String,
    on_a: bool,
    token: String,
    sender: Option<(String, Duration)>,
    faults: Arc<Faults>,
    epoch: Instant,
) -> Seen {
    let mut seen = Seen {
        seqs: Vec::new(),
        recovery: None,
        failed: false,
    };
    let mut here = if on_a { a } else { b.clone() };
    let mut unacked: BTreeMap<String, String> = BTreeMap::new();
    let mut sent = 0u64;
    let mut since = None;
    let mut resumed = false;
    let mut tick = sender
        .as_ref()
        .map(|(_, every)| tokio::time::interval(*every));
    'connection: loop {
        let (mut ws, joined) = match open(&here, &token, since).await {
            Ok(open) => open,
            // A died before this client was in: it goes to B like the others.
            Err(_) => {
                if !move_to_b(&mut here, &b, &mut since, &seen, &faults).await {
                    seen.failed = true;
                    return seen;
                }
                resumed = true;
                continue 'connection;
            }
        };
        if since.is_none() && !resumed {
            faults.joined.fetch_add(1, Ordering::Relaxed);
        }
        let history = delivered(&joined);
        if resumed && !history.is_empty() {
            seen.recovered(&faults);
        }
        seen.seqs.extend(history);
        if joined.contains(&format!(r#""body":"{END}""#)) {
            return seen;
        }
        for (client_id, body) in &unacked {
            let frame =
                json!({"type": "message", "room": ROOM, "body": body, "client_id": client_id});
            if ws.send_text(&frame.to_string()).await.is_err() {
                continue 'connection;
            }
        }
        loop {
            let waiting = sender.is_some() && !faults.go.load(Ordering::Relaxed);
            let sending = sender.is_some() && !waiting && !faults.stop.load(Ordering::Relaxed);
            let frame = tokio::select! {
                _ = async { tick.as_mut().expect("a sender has a tick").tick().await }, if sending => {
                    let (prefix, _) = sender.as_ref().expect("a sender");
                    let client_id = format!("{prefix}-{sent}");
                    let body = format!("{client_id} {}", epoch.elapsed().as_micros());
                    sent += 1;
                    let frame = json!({"type": "message", "room": ROOM, "body": body, "client_id": client_id});
                    unacked.insert(client_id, body);
                    if ws.send_text(&frame.to_string()).await.is_err() {
                        None
                    } else {
                        continue;
                    }
                }
                // A sender waiting for the start looks again soon (the read is cancel-safe).
                frame = tokio::time::timeout(if waiting { Duration::from_millis(20) } else { QUIET }, ws.next()) => match frame {
                    Ok(Ok(WsFrame::Text(t))) => Some(t),
                    Ok(Ok(WsFrame::Binary)) => continue,
                    Err(_) if waiting => continue,
                    _ => None,
                },
            };
            let Some(frame) = frame else {
                // Gone: only A may die. Resume on B from the last seq seen.
                if !move_to_b(&mut here, &b, &mut since, &seen, &faults).await {
                    seen.failed = true;
                    return seen;
                }
                resumed = true;
                continue 'connection;
            };
            let seqs = delivered(&frame);
            if let Some(client_id) = frame
                .find(r#""client_id":""#)
                .map(|i| &frame[i + 13..])
                .and_then(|rest| rest.split('"').next())
            {
                if unacked.remove(client_id).is_some() {
                    faults.acked.fetch_add(1, Ordering::Relaxed);
                }
                // The acknowledgement of a re-sent message already seen is no delivery.
                if seqs.iter().all(|s| seen.seqs.contains(s)) {
                    continue;
                }
            }
            if resumed && !seqs.is_empty() {
                seen.recovered(&faults);
            }
            seen.seqs.extend(seqs);
            if frame.contains(&format!(r#""body":"{END}""#)) {
                return seen;
            }
        }
    }
}

pub async fn ws_failover(config: &Config) -> anyhow::Result<Vec<Run>> {
    let server_url = config.database_url.clone();
    let database =
        tokio::task::spawn_blocking(move || ScratchDatabase::postgres(&server_url)).await??;
    let result = deploy_and_run(config, &database.url).await;
    let _ = tokio::task::spawn_blocking(move || drop(database)).await;
    result
}

async fn deploy_and_run(config: &Config, database_url: &str) -> anyhow::Result<Vec<Run>> {
    let dir = tempfile::tempdir()?;
    let redis_port = free_port()?;
    let mut redis = start_redis(redis_port)?;
    let redis_url = format!("redis://127.0.0.1:{redis_port}/");
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let secret = format!("bench-{}", uuid::Uuid::new_v4().simple());
    // One after the other: the first applies the migrations.
    let (mut a, a_addr) =
        start_instance(database_url, &redis_url, &prefix, &secret, dir.path(), "a")?;
    wait_ready(&a_addr).await?;
    let (_b, b_addr) = start_instance(database_url, &redis_url, &prefix, &secret, dir.path(), "b")?;
    wait_ready(&b_addr).await?;
    eprintln!("  ws-failover: instances at {a_addr} and {b_addr}, Redis at :{redis_port}");
    let tokens = users(&b_addr, config.users.max(1)).await?;

    let faults = Arc::new(Faults::default());
    let epoch = Instant::now();
    let every = Duration::from_secs_f64(2.0 / f64::from(config.rate.max(2)));
    let mut tasks = Vec::new();
    eprintln!("  ws-failover: connecting {} clients...", config.clients);
    for i in 0..config.clients + 2 {
        // The two senders come last, one on each instance.
        let sender = (i >= config.clients).then(|| (format!("s{}", i - config.clients), every));
        let on_a = i % 2 == 0;
        let task = tokio::spawn(client(
            a_addr.clone(),
            b_addr.clone(),
            on_a,
            tokens[i % tokens.len()].clone(),
            sender.clone(),
            faults.clone(),
            epoch,
        ));
        tasks.push((on_a, sender.is_some(), task));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let everyone = (config.clients + 2) as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while faults.joined.load(Ordering::Relaxed) < everyone {
        anyhow::ensure!(Instant::now() < deadline, "not every client could join");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    faults.go.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let third = config.duration / 3;
    tokio::time::sleep(third).await;
    eprintln!(
        "  ws-failover: restarting Redis under {} open sockets",
        config.clients + 2
    );
    drop(redis);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Off the client runtime: it waits (blocking) for the port while clients keep reading.
    redis = tokio::task::spawn_blocking(move || start_redis(redis_port)).await??;
    tokio::time::sleep(third.saturating_sub(Duration::from_secs(1))).await;
    eprintln!("  ws-failover: killing instance A (SIGKILL)");
    let _ = a.0.kill();
    let _ = a.0.wait();
    if let Ok(mut killed) = faults.killed_at.lock() {
        *killed = Some(Instant::now());
    }
    faults.a_dead.store(true, Ordering::Relaxed);
    tokio::time::sleep(config.duration.saturating_sub(started.elapsed())).await;
    faults.stop.store(true, Ordering::Relaxed);
    // Every send stored and acknowledged, then the end marker.
    let deadline = Instant::now() + QUIET;
    let mut last = u64::MAX;
    loop {
        let acked = faults.acked.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        if acked == faults.acked.load(Ordering::Relaxed) && acked == last {
            break;
        }
        last = acked;
        anyhow::ensure!(Instant::now() < deadline, "the senders never finished");
    }
    let mut conn = HttpConn::connect(&b_addr).await?;
    let end = conn
        .post_json(
            &format!("/api/v1/rooms/{ROOM}/messages"),
            Some(&tokens[0]),
            json!({"body": END}).to_string(),
        )
        .await?;
    anyhow::ensure!(
        end.status == 201,
        "posting the end marker failed ({})",
        end.status
    );
    let end_seq = serde_json::from_slice::<serde_json::Value>(&end.body)?["seq"]
        .as_i64()
        .context("the end marker has no seq")?;
    let seconds = started.elapsed().as_secs_f64();

    let (mut lost, mut duplicated, mut out_of_order, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let mut recoveries = Samples::default();
    let mut resumed = 0u64;
    for (on_a, _, task) in tasks {
        let Ok(seen) = task.await else {
            failed += 1;
            continue;
        };
        failed += u64::from(seen.failed);
        let mut unique = seen.seqs.clone();
        unique.sort_unstable();
        unique.dedup();
        duplicated += (seen.seqs.len() - unique.len()) as u64;
        lost += (1..=end_seq)
            .filter(|s| unique.binary_search(s).is_err())
            .count() as u64;
        out_of_order += seen.seqs.windows(2).filter(|w| w[1] <= w[0]).count() as u64;
        if on_a {
            if let Some(took) = seen.recovery {
                recoveries.record(took.as_micros());
                resumed += 1;
            }
        }
    }
    drop(redis);
    let summary = recoveries.summary(seconds);
    let mut r = run(
        "ws-failover",
        "redis-restart+kill",
        config.clients + 2,
        seconds,
        summary.clone(),
    );
    r.summary.errors = failed;
    r.extra.insert("messages_stored".into(), json!(end_seq));
    r.extra.insert("rate_per_second".into(), json!(config.rate));
    r.extra.insert("lost".into(), json!(lost));
    r.extra.insert("duplicated".into(), json!(duplicated));
    r.extra.insert("out_of_order".into(), json!(out_of_order));
    r.extra.insert("resumed_clients".into(), json!(resumed));
    r.extra
        .insert("recover_p50_ms".into(), json!(summary.p50_ms));
    r.extra
        .insert("recover_p99_ms".into(), json!(summary.p99_ms));
    Ok(vec![r])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqs_are_read_from_message_and_joined_frames() {
        assert_eq!(
            delivered(r#"{"type":"message","id":9,"seq":42,"room":"r"}"#),
            vec![42]
        );
        assert_eq!(
            delivered(
                r#"{"type":"joined","room":"r","members":[],"history":[{"seq":1},{"seq":2}],"recovered":true,"last_seq":2}"#
            ),
            vec![1, 2]
        );
        assert!(delivered(r#"{"type":"presence","room":"r"}"#).is_empty());
    }
}
