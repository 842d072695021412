//! The named scenarios. HTTP ones are closed loops: `c` connections, each sending its next
//! request when the last answer arrives, for a fixed time. WebSocket ones measure round
//! trips (echo), delivery from one sender to many members (fanout), and the cost of idle
//! connections (hold).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use serde_json::json;

use super::http_client::HttpConn;
use super::progress::Progress;
use super::stats::{Samples, Summary};
use super::ws_client::{WsConn, WsFrame};

/// One measured case of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub scenario: String,
    pub case: String,
    pub concurrency: usize,
    pub seconds: f64,
    pub summary: Summary,
    /// Scenario-specific figures (lost messages, memory per connection...).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// What every scenario needs to reach the server.
#[derive(Clone)]
pub struct Target {
    /// `host:port`
    pub addr: String,
    pub admin_token: String,
    /// Tokens of ordinary users, for chat connections.
    pub user_tokens: Vec<String>,
    pub products: u32,
    /// No progress bar (runs started from the server's /lab page).
    pub quiet: bool,
    /// A header every load request carries (the /lab page's live runs prove with it that
    /// they come from the server itself, so the API budget does not throttle them).
    pub header: Option<(String, String)>,
}

/// Makes a request path for each request (a random product id, say).
pub type PathFn = Arc<dyn Fn(u64) -> String + Send + Sync>;

/// A tiny xorshift: random ids without a lock or a dependency.
pub fn scramble(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Runs a closed-loop HTTP load and summarises it.
#[allow(clippy::too_many_arguments)]
pub async fn http_load(
    target: &Target,
    label: &str,
    path: PathFn,
    bearer: Option<String>,
    body: Option<Vec<u8>>,
    concurrency: usize,
    duration: Duration,
) -> Summary {
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(label, duration, done.clone(), target.quiet);
    let body = body.map(Bytes::from);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let header = target.header.clone();
        let (addr, path, bearer, body, done) = (
            target.addr.clone(),
            path.clone(),
            bearer.clone(),
            body.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut seed = 0x2545_f491_4f6c_dd1d ^ (worker as u64 + 1);
            let mut conn = None;
            while Instant::now() < deadline {
                if conn.is_none() {
                    let connected = HttpConn::connect(&addr)
                        .await
                        .and_then(|c| c.with_header(header.as_ref()));
                    match connected {
                        Ok(c) => conn = Some(c),
                        Err(_) => {
                            samples.errors += 1;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                seed = scramble(seed);
                let p = path(seed);
                let t = Instant::now();
                let reply = match &body {
                    Some(b) => c.post_json(&p, bearer.as_deref(), b.clone()).await,
                    None => c.get(&p, bearer.as_deref()).await,
                };
                match reply {
                    Ok(r) if r.status < 400 => samples.record(t.elapsed().as_micros()),
                    Ok(_) => samples.errors += 1,
                    Err(_) => {
                        samples.errors += 1;
                        conn = None;
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            samples
        }));
    }
    let mut all = Samples::default();
    for task in tasks {
        if let Ok(samples) = task.await {
            all.merge(samples);
        }
    }
    progress.finish();
    all.summary(started.elapsed().as_secs_f64())
}

pub(crate) fn run(
    scenario: &str,
    case: &str,
    concurrency: usize,
    seconds: f64,
    summary: Summary,
) -> Run {
    Run {
        scenario: scenario.to_owned(),
        case: case.to_owned(),
        concurrency,
        seconds,
        summary,
        extra: serde_json::Map::new(),
    }
}

fn fixed(path: &str) -> PathFn {
    let path = path.to_owned();
    Arc::new(move |_| path.clone())
}

/// Every lab model at every concurrency.
pub async fn lab(target: &Target, levels: &[usize], ms: u64, duration: Duration) -> Vec<Run> {
    let mut runs = Vec::new();
    for model in ["sync", "blocking", "async"] {
        for &c in levels {
            let label = format!("lab {model} ms={ms} c={c}");
            let summary = http_load(
                target,
                &label,
                fixed(&format!("/api/v1/lab/{model}?ms={ms}")),
                None,
                None,
                c,
                duration,
            )
            .await;
            let mut r = run("lab", model, c, duration.as_secs_f64(), summary);
            r.extra.insert("ms".into(), json!(ms));
            r.extra.insert(
                "ideal_per_second".into(),
                json!(if ms == 0 {
                    0.0
                } else {
                    c as f64 * 1000.0 / ms as f64
                }),
            );
            runs.push(r);
        }
    }
    runs
}

/// A product by random id, a list page, and `/healthz` as the ceiling of this run.
pub async fn rest(target: &Target, concurrency: usize, duration: Duration) -> Vec<Run> {
    let products = u64::from(target.products.max(1));
    let cases: [(&str, PathFn); 3] = [
        ("healthz", fixed("/healthz")),
        (
            "product",
            Arc::new(move |r| format!("/api/v1/products/{}", r % products + 1)),
        ),
        ("product-list", fixed("/api/v1/products?page=2&limit=20")),
    ];
    let mut runs = Vec::new();
    for (case, path) in cases {
        let label = format!("rest {case} c={concurrency}");
        let summary = http_load(target, &label, path, None, None, concurrency, duration).await;
        runs.push(run(
            "rest",
            case,
            concurrency,
            duration.as_secs_f64(),
            summary,
        ));
    }
    runs
}

pub const SEED_QUERY: &str = r#"query { user(id: "1") { name posts { title } } }"#;
pub const USERS_QUERY: &str = "{ users(first: 50) { edges { node { name posts { title } } } } }";

/// The seed's query and the 50-users query (admin: the user list is admin-only).
pub async fn graphql(target: &Target, concurrency: usize, duration: Duration) -> Vec<Run> {
    let mut runs = Vec::new();
    for (case, query) in [("seed-query", SEED_QUERY), ("users-50", USERS_QUERY)] {
        let body = serde_json::to_vec(&json!({ "query": query })).unwrap_or_default();
        let label = format!("graphql {case} c={concurrency}");
        let summary = http_load(
            target,
            &label,
            fixed("/graphql"),
            Some(target.admin_token.clone()),
            Some(body),
            concurrency,
            duration,
        )
        .await;
        runs.push(run(
            "graphql",
            case,
            concurrency,
            duration.as_secs_f64(),
            summary,
        ));
    }
    runs
}

/// `connections` echo connections, each sending its next frame when the echo arrives.
pub async fn ws_echo(target: &Target, connections: usize, duration: Duration) -> Vec<Run> {
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(
        &format!("ws-echo c={connections}"),
        duration,
        done.clone(),
        target.quiet,
    );
    let mut conns = Vec::with_capacity(connections);
    let mut failed = 0;
    for _ in 0..connections {
        match WsConn::connect(&target.addr, "/ws/echo").await {
            Ok(c) => conns.push(c),
            Err(_) => failed += 1,
        }
    }
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut ws| {
            let done = done.clone();
            tokio::spawn(async move {
                let mut samples = Samples::default();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok = ws.send_text("ping").await.is_ok()
                        && matches!(ws.next().await, Ok(WsFrame::Text(ref s)) if s == "You said: ping");
                    if ok {
                        samples.record(t.elapsed().as_micros());
                    } else {
                        samples.errors += 1;
                        break;
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                ws.close().await;
                samples
            })
        })
        .collect();
    let mut all = Samples {
        errors: failed,
        ..Samples::default()
    };
    for task in tasks {
        if let Ok(s) = task.await {
            all.merge(s);
        }
    }
    progress.finish();
    vec![run(
        "ws-echo",
        "round-trip",
        connections,
        duration.as_secs_f64(),
        all.summary(started.elapsed().as_secs_f64()),
    )]
}

/// Opens a chat connection with `token`, past its `ready` frame.
async fn chat(target: &Target, token: &str) -> std::io::Result<WsConn> {
    let mut ws = WsConn::connect(&target.addr, &format!("/ws/chat?token={token}")).await?;
    ws.next().await?;
    Ok(ws)
}

/// Reads frames until one contains `needle`.
async fn until(ws: &mut WsConn, needle: &str) -> std::io::Result<()> {
    loop {
        match ws.next().await? {
            WsFrame::Text(t) if t.contains(needle) => return Ok(()),
            WsFrame::Closed => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "closed",
                ))
            }
            _ => {}
        }
    }
}

/// The body of a `message` frame, found without parsing the whole frame.
fn message_body(frame: &str) -> Option<&str> {
    if !frame.starts_with(r#"{"type":"message""#) {
        return None;
    }
    let start = frame.find(r#""body":""#)? + 8;
    let end = start + frame[start..].find('"')?;
    Some(&frame[start..end])
}

/// Connects and joins `count` chat members to `room`, `batch` at a time.
async fn join_members(
    target: &Target,
    room: &str,
    count: usize,
    batch: usize,
) -> (Vec<WsConn>, u64) {
    let mut members = Vec::with_capacity(count);
    let mut failed = 0;
    let mut i = 0;
    while i < count {
        let n = batch.min(count - i);
        let joins: Vec<_> = (i..i + n)
            .map(|k| {
                let target = target.clone();
                let room = room.to_owned();
                tokio::spawn(async move {
                    let token = &target.user_tokens[k % target.user_tokens.len()];
                    let mut ws = chat(&target, token).await?;
                    ws.send_text(&json!({"type": "join", "room": room}).to_string())
                        .await?;
                    until(&mut ws, r#""type":"joined""#).await?;
                    Ok::<_, std::io::Error>(ws)
                })
            })
            .collect();
        for join in joins {
            match join.await {
                Ok(Ok(ws)) => members.push(ws),
                _ => failed += 1,
            }
        }
        i += n;
    }
    (members, failed)
}

/// One sender at `rate` messages per second to a room of `members`: delivery latency from
/// send to each receipt, and every message counted at every member (lost, duplicated).
pub async fn ws_fanout(target: &Target, members: usize, rate: u32, duration: Duration) -> Vec<Run> {
    let room = format!(
        "fanout-{}",
        scramble(Instant::now().elapsed().as_nanos() as u64 | 1) % 1_000_000
    );
    eprintln!("  ws-fanout: joining {members} members to {room}...");
    let (joined, failed) = join_members(target, &room, members, 100).await;
    let epoch = Instant::now();
    let expected = (f64::from(rate) * duration.as_secs_f64()).round() as u64;
    let delivered = Arc::new(AtomicU64::new(0));
    let receivers: Vec<_> = joined
        .into_iter()
        .map(|mut ws| {
            let delivered = delivered.clone();
            tokio::spawn(async move {
                let mut samples = Samples::default();
                let mut seen: HashMap<u64, u32> = HashMap::new();
                // Until the room has been quiet for 5 s: the sender is done and nothing is
                // late (late duplicates would still be counted).
                loop {
                    let frame = match tokio::time::timeout(Duration::from_secs(5), ws.next()).await
                    {
                        Ok(Ok(WsFrame::Text(t))) => t,
                        _ => break,
                    };
                    let Some(body) = message_body(&frame) else {
                        continue;
                    };
                    let mut parts = body.split(' ');
                    let (Some(seq), Some(sent)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    let (Ok(seq), Ok(sent)) = (seq.parse::<u64>(), sent.parse::<u128>()) else {
                        continue;
                    };
                    samples.record(epoch.elapsed().as_micros().saturating_sub(sent));
                    *seen.entry(seq).or_default() += 1;
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
                ws.close().await;
                (samples, seen)
            })
        })
        .collect();

    let sender_token = target.user_tokens[0].clone();
    let sender_target = target.clone();
    let sender_room = room.clone();
    let sender = tokio::spawn(async move {
        let mut ws = chat(&sender_target, &sender_token).await?;
        ws.send_text(&json!({"type": "join", "room": sender_room}).to_string())
            .await?;
        until(&mut ws, r#""type":"joined""#).await?;
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut seq = 0u64;
        while seq < expected {
            tokio::select! {
                _ = tick.tick() => {
                    let body = format!("{seq} {}", epoch.elapsed().as_micros());
                    ws.send_text(&json!({"type": "message", "room": sender_room, "body": body}).to_string()).await?;
                    seq += 1;
                }
                frame = ws.next() => { frame?; }
            }
        }
        // Keep reading our own echoes until the room has seen the last one.
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            while let Ok(WsFrame::Text(t)) = ws.next().await {
                if message_body(&t)
                    .and_then(|b| b.split(' ').next())
                    .and_then(|s| s.parse::<u64>().ok())
                    == Some(expected - 1)
                {
                    break;
                }
            }
        })
        .await;
        ws.close().await;
        Ok::<u64, std::io::Error>(seq)
    });
    let progress = Progress::start(
        &format!("ws-fanout n={members} rate={rate}/s"),
        duration,
        delivered.clone(),
        target.quiet,
    );
    let sent = sender.await.ok().and_then(Result::ok).unwrap_or(0);
    let mut all = Samples {
        errors: failed,
        ..Samples::default()
    };
    let (mut lost, mut duplicated) = (0u64, 0u64);
    for receiver in receivers {
        if let Ok((samples, seen)) = receiver.await {
            all.merge(samples);
            lost += sent.saturating_sub(seen.len() as u64);
            duplicated += seen
                .values()
                .map(|n| u64::from(n.saturating_sub(1)))
                .sum::<u64>();
        }
    }
    progress.finish();
    let summary = all.summary(duration.as_secs_f64());
    let mut r = run(
        "ws-fanout",
        "delivery",
        members,
        duration.as_secs_f64(),
        summary,
    );
    r.extra.insert("messages_sent".into(), json!(sent));
    r.extra.insert("rate_per_second".into(), json!(rate));
    r.extra
        .insert("expected_deliveries".into(), json!(sent * members as u64));
    r.extra.insert("lost".into(), json!(lost + failed * sent));
    r.extra.insert("duplicated".into(), json!(duplicated));
    vec![r]
}

/// The server's resident memory: from /proc for a server the bench started, else from its
/// `/metrics` (`process_resident_memory_bytes`).
async fn server_memory(target: &Target, pid: Option<u32>) -> Option<u64> {
    if let Some(pid) = pid {
        return super::rss_of(pid);
    }
    let mut conn = HttpConn::connect(&target.addr).await.ok()?;
    let reply = conn.get("/metrics", None).await.ok()?;
    String::from_utf8_lossy(&reply.body)
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// `count` idle chat connections in one room, spread over `instances` (a target and, for a
/// server the bench started, its pid): each server's memory before and after, and how long
/// a broadcast sent on the first instance takes to reach each member (the summary's
/// percentiles are over the members; with several instances it crosses the bridge).
pub async fn ws_hold(instances: &[(Target, Option<u32>)], count: usize) -> Vec<Run> {
    let mut before = Vec::with_capacity(instances.len());
    for (target, pid) in instances {
        before.push(server_memory(target, *pid).await);
    }
    let room = format!("hold-{}", scramble(count as u64 + 7) % 1_000_000);
    eprintln!(
        "  ws-hold: opening {count} chat connections on {} instance(s)...",
        instances.len()
    );
    let started = Instant::now();
    // Each member keeps reading from the moment it has joined, as an idle browser tab does
    // (its WebSocket stack answers the server's pings): a member left unread would be
    // dropped by the server's heartbeat while later ones are still connecting.
    let joins = Arc::new(tokio::sync::Semaphore::new(250));
    let (joined_tx, mut joined_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<Option<Instant>>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let members: Vec<_> = (0..count)
        .map(|k| {
            let target = instances[k % instances.len()].0.clone();
            let room = room.clone();
            let joins = joins.clone();
            let joined_tx = joined_tx.clone();
            let got_tx = got_tx.clone();
            let mut stop_rx = stop_rx.clone();
            let mut release_rx = release_rx.clone();
            tokio::spawn(async move {
                let permit = joins.acquire_owned().await;
                let token = &target.user_tokens[k % target.user_tokens.len()];
                let ws = async {
                    let mut ws = chat(&target, token).await?;
                    ws.send_text(&json!({"type": "join", "room": room}).to_string())
                        .await?;
                    until(&mut ws, r#""type":"joined""#).await?;
                    Ok::<_, std::io::Error>(ws)
                }
                .await;
                drop(permit);
                let _ = joined_tx.send(ws.is_ok());
                let Ok(mut ws) = ws else { return };
                // The moment it arrived, taken before anything else is done with it.
                let got = tokio::select! {
                    got = until(&mut ws, "hold-broadcast") => got.ok().map(|_| Instant::now()),
                    _ = stop_rx.wait_for(|stop| *stop) => None,
                };
                let _ = got_tx.send(got);
                // Open until every member has been heard from: closing while the broadcast
                // is still on its way to others would add the closing work to their latency.
                let _ = release_rx.wait_for(|go| *go).await;
                ws.close().await;
            })
        })
        .collect();
    drop((joined_tx, got_tx));
    let mut failed = 0u64;
    let mut settled = 0;
    while settled < count {
        match joined_rx.recv().await {
            Some(ok) => {
                settled += 1;
                failed += u64::from(!ok);
            }
            None => break,
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    // Let the servers settle (allocator, presence frames) before reading their memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut after = Vec::with_capacity(instances.len());
    for (target, pid) in instances {
        after.push(server_memory(target, *pid).await);
    }
    let first = &instances[0].0;
    let mut sender = chat(first, &first.user_tokens[0]).await.ok();
    let mut sent_at = None;
    if let Some(sender) = sender.as_mut() {
        let _ = sender
            .send_text(&json!({"type": "join", "room": room}).to_string())
            .await;
        let _ = until(sender, r#""type":"joined""#).await;
        sent_at = Some(Instant::now());
        let _ = sender
            .send_text(
                &json!({"type": "message", "room": room, "body": "hold-broadcast"}).to_string(),
            )
            .await;
    }
    // Members that have not seen the broadcast 10 s after it was sent count as missed.
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let _ = stop_tx.send(true);
    });
    let mut samples = Samples {
        errors: failed,
        ..Samples::default()
    };
    let mut received = 0u64;
    // Every member that joined answers once: the time it saw the broadcast, or none.
    for _ in 0..count as u64 - failed {
        let Some(got) = got_rx.recv().await else {
            break;
        };
        if let (Some(at), Some(sent)) = (got, sent_at) {
            received += 1;
            samples.record(at.saturating_duration_since(sent).as_micros());
        }
    }
    stopper.abort();
    let _ = release_tx.send(true);
    if let Some(sender) = sender {
        sender.close().await;
    }
    for member in members {
        let _ = member.await;
    }
    let connected = count as u64 - failed;
    let mut r = run(
        "ws-hold",
        "idle-connections",
        count,
        connect_secs,
        samples.summary(connect_secs),
    );
    r.extra.insert("connected".into(), json!(connected));
    r.extra.insert("received_broadcast".into(), json!(received));
    r.extra
        .insert("connect_seconds".into(), json!(connect_secs));
    let servers: Vec<_> = instances
        .iter()
        .zip(before.iter().zip(&after))
        .enumerate()
        .map(|(i, ((target, _), (b, a)))| {
            // Members went round-robin: instance i holds every len-th one from i.
            let held = (count + instances.len() - 1 - i) / instances.len();
            json!({
                "addr": target.addr,
                "connections": held,
                "rss_before_bytes": b,
                "rss_after_bytes": a,
            })
        })
        .collect();
    let measured: Option<Vec<(u64, u64)>> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| Some(((*b)?, (*a)?)))
        .collect();
    if let Some(measured) = measured {
        let b: u64 = measured.iter().map(|(b, _)| b).sum();
        let a: u64 = measured.iter().map(|(_, a)| a).sum();
        r.extra.insert("server_rss_before_bytes".into(), json!(b));
        r.extra.insert("server_rss_after_bytes".into(), json!(a));
        let per = a.saturating_sub(b) as f64 / connected.max(1) as f64;
        r.extra
            .insert("bytes_per_connection".into(), json!(per.round()));
    }
    if instances.len() > 1 {
        r.extra.insert("instances".into(), json!(servers));
    }
    vec![r]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_bodies_are_found_in_message_frames_only() {
        let frame = r#"{"type":"message","id":3,"room":"r","user":{"id":1,"name":"a"},"body":"12 3456","sent_at":"x"}"#;
        assert_eq!(message_body(frame), Some("12 3456"));
        assert_eq!(message_body(r#"{"type":"presence","body":"x"}"#), None);
    }
}
