//! The fault test of exactly-once delivery: two instances on PostgreSQL + Redis, 50 chat
//! connections spread over both in one room, senders on both. Mid-stream the Redis server
//! is restarted under the open sockets, then instance A is killed (SIGKILL: no goodbye) and
//! its clients reconnect to B with `since`, re-sending what was never acknowledged with the
//! same `client_id`. Every client must end with every stored message exactly once, in seq
//! order. Needs TEST_POSTGRES_URL and TEST_REDIS_URL (and `redis-server` for its own Redis).

use std::cell::{Cell, RefCell};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_with, Backend, TestApp, JWT_SECRET};
use crate::scaleout::{free_port, note, ready, redis_url, OwnRedis};
use crate::ws_client::{Received, WsClient};

const ROOM: &str = "failover";
const CLIENTS: usize = 50;
const USERS: usize = 10;
/// Clients that also send, half on each instance.
const SENDERS: usize = 4;
const PER_SENDER: usize = 40;
/// The body of the last message, posted once every send is acknowledged.
const END: &str = "end of test";
/// How long a phase of the test may take. A reader may hear nothing for as long: while
/// Redis is down, or its instance is being killed, nothing new may reach it.
const PHASE: Duration = Duration::from_secs(60);

/// Instance A, a separate process so that it can really crash.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_instance(port: u16, database_url: &str, redis: &str, prefix: &str) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--port", &port.to_string()])
        .args(["--database-url", database_url])
        .args(["--redis-url", redis, "--redis-prefix", prefix])
        .args(["--redis-presence-ttl", "3", "--log-level", "warn"])
        .args(["--ws-rate", "10000", "--ws-burst", "10000"])
        .args(["--rate-limit", "0", "--auth-rate-limit", "0"])
        .env("SWITCHBOARD_JWT_SECRET", JWT_SECRET)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    Process(child)
}

async fn wait_ready(client: &awc::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(Instant::now() < deadline, "{base} never became ready");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the test watches, shared by the client tasks (one thread: actix's local set).
#[derive(Default)]
struct Progress {
    /// Acknowledged sends, all senders together.
    acked: Cell<usize>,
    /// Raised by the test once instance A is dead.
    a_killed: Cell<bool>,
}

/// One client's view: the seqs it was shown, in the order shown (duplicates kept).
struct Seen {
    seqs: Vec<i64>,
    reconnects: usize,
    /// The end marker arrived: nothing more will.
    ended: bool,
}

struct Client {
    index: usize,
    token: String,
    on_a: bool,
    sends: bool,
}

async fn connect(b: &TestApp, a_url: &str, client: &Client, on_a: bool) -> WsClient {
    if on_a {
        b.ws_connect_to(a_url, "/ws/chat", &client.token).await
    } else {
        b.chat(&client.token).await
    }
}

/// Records what a frame shows; returns the client_id it acknowledges, if any.
fn record(frame: &Value, seen: &mut Seen) -> Option<String> {
    match frame["type"].as_str() {
        Some("joined") => {
            for m in frame["history"].as_array().unwrap() {
                seen.seqs.push(m["seq"].as_i64().unwrap());
                seen.ended |= m["body"] == END;
            }
            None
        }
        Some("message") => {
            seen.ended |= frame["body"] == END;
            let seq = frame["seq"].as_i64().unwrap();
            let ack = frame["client_id"].as_str().map(str::to_owned);
            // The acknowledgement of a re-sent message the client already has (it was
            // stored before the crash): an answer to the repeat, not a second delivery.
            if !(ack.is_some() && seen.seqs.contains(&seq)) {
                seen.seqs.push(seq);
            }
            ack
        }
        _ => None,
    }
}

/// The `joined` frame (presence and messages of others may come first; an error may not).
async fn joined_frame(ws: &mut WsClient, index: usize) -> Value {
    loop {
        match ws.next().await {
            Received::Json(frame) if frame["type"] == "joined" => return frame,
            Received::Json(frame) if frame["type"] == "error" => {
                panic!("client {index}: the join failed: {frame}")
            }
            Received::Json(_) => continue,
            other => panic!("client {index}: expected joined, got {other:?}"),
        }
    }
}

/// Runs one client to the end: joins (and, after a crash, rejoins on B with `since`),
/// reads everything, and if it is a sender, sends its messages one at a time, re-sending
/// the unacknowledged one after a reconnect.
async fn run_client(
    b: Rc<TestApp>,
    a_url: String,
    client: Client,
    progress: Rc<Progress>,
    joined: Rc<Cell<usize>>,
    go: Rc<Cell<bool>>,
) -> Seen {
    let mut seen = Seen {
        seqs: Vec::new(),
        reconnects: 0,
        ended: false,
    };
    let mut on_a = client.on_a;
    let mut ws = connect(&b, &a_url, &client, on_a).await;
    ws.send_json(json!({"type": "join", "room": ROOM})).await;
    let frame = joined_frame(&mut ws, client.index).await;
    record(&frame, &mut seen);
    joined.set(joined.get() + 1);
    let mut next_send = 0;
    let mut pending: Option<String> = None;
    loop {
        if seen.ended {
            return seen;
        }
        if client.sends && go.get() && pending.is_none() && next_send < PER_SENDER {
            let client_id = format!("c{}-{next_send}", client.index);
            ws.say(ROOM, &format!("m {client_id}"), &client_id).await;
            pending = Some(client_id);
        }
        let frame = match ws.next_or_gone(PHASE).await {
            Received::Json(frame) => frame,
            Received::Closed(_) => {
                assert!(on_a, "client {} lost a connection to B", client.index);
                // A died: wait until the test says so, then resume on B from the last seq.
                let deadline = Instant::now() + Duration::from_secs(30);
                while !progress.a_killed.get() {
                    assert!(Instant::now() < deadline, "A closed but was not killed");
                    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                }
                on_a = false;
                seen.reconnects += 1;
                ws = connect(&b, &a_url, &client, false).await;
                let since = seen.seqs.last().copied().unwrap_or(0);
                ws.send_json(json!({"type": "join", "room": ROOM, "since": since}))
                    .await;
                let frame = joined_frame(&mut ws, client.index).await;
                assert_eq!(frame["recovered"], true, "{frame}");
                record(&frame, &mut seen);
                if let Some(client_id) = &pending {
                    // Never acknowledged: send it again, with the same client_id.
                    ws.say(ROOM, &format!("m {client_id}"), client_id).await;
                }
                continue;
            }
            other => panic!("client {}: unexpected {other:?}", client.index),
        };
        if let Some(client_id) = record(&frame, &mut seen) {
            if pending.as_deref() == Some(client_id.as_str()) {
                pending = None;
                next_send += 1;
                progress.acked.set(progress.acked.get() + 1);
            }
        }
    }
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PHASE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn every_client_gets_every_message_once_in_order_across_a_redis_restart_and_a_crash() {
    let Some(_) = redis_url() else { return };
    let Some(mut redis) = OwnRedis::start_or_skip() else {
        return;
    };
    let redis_url = format!("redis://127.0.0.1:{}/", redis.port);
    let prefix = format!("sbfail-{}", uuid::Uuid::new_v4().simple());
    let Some(b) = spawn_with(Backend::Postgres, |args| {
        args.redis.redis_url = Some(redis_url.clone());
        args.redis.redis_prefix = prefix.clone();
        args.redis.redis_presence_ttl = 3;
        args.ws.ws_rate = 10_000.0;
        args.ws.ws_burst = 10_000.0;
    })
    .await
    else {
        note("TEST_POSTGRES_URL is not set");
        return;
    };
    let a_port = free_port();
    let a_url = format!("http://127.0.0.1:{a_port}");
    let mut a = start_instance(a_port, &b.database_url, &redis_url, &prefix);
    wait_ready(&b.client, &a_url).await;
    ready(&b, 200).await;

    let mut tokens = Vec::new();
    for u in 0..USERS {
        let email = format!("user{u}@example.com");
        b.register(&email, &format!("User {u}")).await;
        tokens.push(b.token(&email).await);
    }
    let b = Rc::new(b);
    let progress = Rc::new(Progress::default());
    let joined = Rc::new(Cell::new(0));
    let go = Rc::new(Cell::new(false));
    let results = Rc::new(RefCell::new(Vec::new()));
    let mut tasks = Vec::new();
    for index in 0..CLIENTS {
        let client = Client {
            index,
            token: tokens[index % USERS].clone(),
            on_a: index % 2 == 0,
            sends: index < SENDERS,
        };
        let on_a = client.on_a;
        let task = actix_web::rt::spawn(run_client(
            b.clone(),
            a_url.clone(),
            client,
            progress.clone(),
            joined.clone(),
            go.clone(),
        ));
        tasks.push((index, on_a, task));
    }
    wait_for("every client to join", || joined.get() == CLIENTS).await;
    go.set(true);

    let total = SENDERS * PER_SENDER;
    wait_for("the first quarter", || progress.acked.get() >= total / 4).await;
    redis.kill();
    ready(&b, 503).await;
    wait_for("sends during the outage", || {
        progress.acked.get() >= total / 2
    })
    .await;
    let redis = OwnRedis::start(redis.port).expect("redis-server restarts");
    ready(&b, 200).await;
    wait_ready(&b.client, &a_url).await;
    wait_for("the third quarter", || {
        progress.acked.get() >= total * 3 / 4
    })
    .await;
    let _ = a.0.kill();
    let _ = a.0.wait();
    progress.a_killed.set(true);
    wait_for("every send acknowledged", || progress.acked.get() >= total).await;

    // The end marker: one more message, posted to B; readers stop once they have it.
    let r = b
        .post(&format!("/api/v1/rooms/{ROOM}/messages"))
        .bearer(&tokens[0])
        .json(&json!({"body": END}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let end = r.json()["seq"].as_i64().unwrap();
    for (index, on_a, task) in tasks {
        let seen = task.await.expect("client task");
        results.borrow_mut().push((index, on_a, seen));
    }

    // Stored: every send exactly once (re-sends after the crash included), plus the marker.
    assert_eq!(end as usize, total + 1, "each send stored once");
    let mut bodies = std::collections::HashSet::new();
    let mut since = 0;
    loop {
        let page = b
            .get(&format!(
                "/api/v1/rooms/{ROOM}/messages?since={since}&limit=100"
            ))
            .bearer(&tokens[0])
            .send()
            .await
            .json();
        for m in page["data"].as_array().unwrap() {
            assert!(bodies.insert(m["body"].as_str().unwrap().to_owned()), "{m}");
            since = m["seq"].as_i64().unwrap();
        }
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(bodies.len(), total + 1);

    // Seen: every client, every message, once, in seq order.
    let expected: Vec<i64> = (1..=end).collect();
    let mut reconnected = 0;
    for (index, on_a, seen) in results.borrow().iter() {
        let lost = expected.iter().filter(|s| !seen.seqs.contains(s)).count();
        let duplicated = seen.seqs.len() - {
            let mut unique = seen.seqs.clone();
            unique.dedup();
            unique.len()
        };
        assert_eq!(
            (lost, duplicated),
            (0, 0),
            "client {index} (on {}) lost {lost}, duplicated {duplicated}: {:?}",
            if *on_a { "A" } else { "B" },
            seen.seqs
        );
        assert_eq!(seen.seqs, expected, "client {index} saw them out of order");
        reconnected += seen.reconnects;
    }
    assert_eq!(reconnected, CLIENTS / 2, "every client of A resumed on B");
    drop(redis);
}
