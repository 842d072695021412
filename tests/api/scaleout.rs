//! Several instances on one PostgreSQL database, bridged through Redis: chat, presence and
//! events cross instances; a Redis restart and a crashed instance are survived. Needs
//! `TEST_POSTGRES_URL` and `TEST_REDIS_URL` (the fault tests also start their own
//! `redis-server`); without them each test is skipped with a note.

use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_at, spawn_with, Backend, TestApp, JWT_SECRET};
use crate::ws_client::{Received, WsClient};
use switchboard::bench::deploy;

pub fn note(why: &str) {
    static NOTE: Once = Once::new();
    NOTE.call_once(|| eprintln!("note: scale-out tests skipped: {why}"));
}

pub fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL").ok();
    if url.is_none() {
        // CI sets TEST_REDIS_REQUIRED: there a missing Redis fails instead of skipping.
        assert!(
            std::env::var_os("TEST_REDIS_REQUIRED").is_none(),
            "TEST_REDIS_REQUIRED is set but TEST_REDIS_URL is not"
        );
        note("TEST_REDIS_URL is not set");
    }
    url
}

/// Two instances on one fresh PostgreSQL database, bridged through `redis` under a prefix
/// of their own (tests running at once share the Redis server).
async fn pair(redis: &str) -> Option<(TestApp, TestApp)> {
    let prefix = format!("sbtest-{}", uuid::Uuid::new_v4().simple());
    let configure = |args: &mut switchboard::config::ServeArgs| {
        args.redis.redis_url = Some(redis.to_owned());
        args.redis.redis_prefix = prefix.clone();
        args.redis.redis_presence_ttl = 3;
    };
    let Some(a) = spawn_with(Backend::Postgres, configure).await else {
        note("TEST_POSTGRES_URL is not set");
        return None;
    };
    let b = spawn_at(&a.database_url, None, configure).await;
    ready(&a, 200).await;
    ready(&b, 200).await;
    Some((a, b))
}

/// Waits until `/readyz` answers `status`.
pub async fn ready(app: &TestApp, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.get("/readyz").send().await;
        if r.status == status {
            return r.json();
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {} (wanted {status}): {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `ws` is told that `user_id` is present in `room`, from its `joined` member
/// list or a later presence frame (the peer's presence may arrive either way).
async fn sees_present(ws: &mut WsClient, joined: &Value, user_id: i64) {
    if joined["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == user_id)
    {
        return;
    }
    loop {
        let frame = ws.until("presence").await;
        if frame["joined"]["id"] == user_id {
            return;
        }
    }
}

/// Waits until `app` counts `n` open chat sessions (`/metrics`): a closed session has then
/// told the chat server it is gone.
async fn chat_sessions_reach(app: &TestApp, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = String::from_utf8(app.get("/metrics").send().await.body).unwrap();
        let open = text
            .lines()
            .find_map(|l| l.strip_prefix("switchboard_ws_sessions{kind=\"chat\"} "))
            .and_then(|v| v.parse::<i64>().ok());
        if open == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chat sessions stayed {open:?}, wanted {n}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The body of the next chat message; a presence frame before it fails the test.
async fn message_not_departure(ws: &mut WsClient) -> Value {
    loop {
        match ws.next().await {
            Received::Json(frame) if frame["type"] == "message" => return frame["body"].clone(),
            Received::Json(frame) if frame["type"] == "presence" => {
                panic!("a presence change arrived instead: {frame}")
            }
            _ => {}
        }
    }
}

/// The next chat message frame, skipping presence and typing.
async fn next_message(ws: &mut WsClient) -> Value {
    ws.until("message").await
}

#[actix_web::test]
async fn chat_presence_and_events_cross_instances_exactly_once() {
    let Some(redis) = redis_url() else { return };
    let Some((a, b)) = pair(&redis).await else {
        return;
    };
    let (ada_id, ada) = a.user("ada@example.com").await;
    let (bob_id, bob_on_a) = a.user("bob@example.com").await;
    // One secret: a token from A is good on B.
    let bob = bob_on_a.clone();
    let r = b.get("/api/v1/users/me").bearer(&bob).send().await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["id"], bob_id);
    assert_eq!(ready(&a, 200).await["redis"], "up");

    let mut ada_ws = a.chat(&ada).await;
    let ada_joined = ada_ws.join("bridge").await;
    assert_eq!(ada_joined["members"].as_array().unwrap().len(), 1);
    let mut bob_ws = b.chat(&bob).await;
    let bob_joined = bob_ws.join("bridge").await;
    sees_present(&mut bob_ws, &bob_joined, ada_id).await;
    sees_present(&mut ada_ws, &ada_joined, bob_id).await;

    // Messages cross both ways, each exactly once, the sender's copy being its ack.
    for i in 0..15 {
        ada_ws
            .say("bridge", &format!("a{i}"), &format!("ca{i}"))
            .await;
        bob_ws
            .say("bridge", &format!("b{i}"), &format!("cb{i}"))
            .await;
    }
    let mut seen_by_bob = Vec::new();
    let mut seen_by_ada = Vec::new();
    while seen_by_bob.len() < 30 {
        let m = next_message(&mut bob_ws).await;
        seen_by_bob.push(m["body"].as_str().unwrap().to_owned());
    }
    while seen_by_ada.len() < 30 {
        let m = next_message(&mut ada_ws).await;
        seen_by_ada.push(m["body"].as_str().unwrap().to_owned());
    }
    for seen in [&mut seen_by_bob, &mut seen_by_ada] {
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 30, "every message once: {seen:?}");
    }
    // Nothing more arrives: no duplicates trail behind.
    ada_ws.say("bridge", "marker", "cm").await;
    assert_eq!(next_message(&mut bob_ws).await["body"], "marker");
    let stored = a
        .get("/api/v1/rooms/bridge/messages?limit=100")
        .bearer(&ada)
        .send()
        .await;
    assert_eq!(stored.status, 200);
    assert_eq!(
        stored.json()["data"].as_array().unwrap().len(),
        31,
        "each message stored once"
    );

    // Typing crosses too.
    bob_ws
        .send_json(json!({"type": "typing", "room": "bridge"}))
        .await;
    assert_eq!(ada_ws.until("typing").await["user"]["id"], bob_id);

    // A user connected to both instances is one member: Ada opens a second connection on
    // B; Bob hears no second arrival, and no departure until both are gone.
    let mut ada_on_b = b.chat(&ada).await;
    ada_on_b.join("bridge").await;
    ada_ws.close().await;
    // Once A's chat session is gone, its disconnect is queued at A's chat server, ahead of
    // a message posted on A afterwards; the bridge keeps that order, so a wrong departure
    // would reach Bob before the marker.
    chat_sessions_reach(&a, 0).await;
    let marker = a
        .post("/api/v1/rooms/bridge/messages")
        .bearer(&ada)
        .json(&json!({"body": "after the close"}))
        .send()
        .await;
    assert_eq!(marker.status, 201);
    assert_eq!(message_not_departure(&mut bob_ws).await, "after the close");
    ada_on_b.say("bridge", "still here", "c2").await;
    assert_eq!(message_not_departure(&mut bob_ws).await, "still here");
    ada_on_b.close().await;
    let left = bob_ws.until("presence").await;
    assert_eq!(left["left"]["id"], ada_id);

    // REST on A, notification on B.
    let (_, admin) = a.admin().await;
    let product = a.product(&admin, "SKU-X", 300, 5).await;
    let (mut bob_events, _) = b.events(&bob).await;
    let r = a
        .post("/api/v1/orders")
        .bearer(&bob)
        .json(&json!({"items": [{"product_id": product, "quantity": 1}]}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let created = bob_events.until("order_created").await;
    assert_eq!(created["order"]["id"], r.json()["id"]);
    assert_eq!(created["order"]["user_id"], bob_id);
    // And a chat message while Bob is away from chat reaches his events on B. B sends
    // "Bob is offline" to its peers before "Bob left bridge", so once Ada on A sees him
    // leave, A knows he is offline too.
    let mut ada_again = a.chat(&ada).await;
    ada_again.join("bridge").await;
    bob_ws.close().await;
    loop {
        if ada_again.until("presence").await["left"]["id"] == bob_id {
            break;
        }
    }
    ada_again.say("bridge", "are you there?", "c3").await;
    let notice = bob_events.until("chat_message").await;
    assert_eq!(notice["message"]["body"], "are you there?");
}

#[actix_web::test]
async fn ended_sessions_and_memberships_reach_sockets_on_the_other_instance() {
    let Some(redis) = redis_url() else { return };
    let Some((a, b)) = pair(&redis).await else {
        return;
    };
    let (_, ada) = a.user("ada@example.com").await;
    let (bob_id, bob) = a.user("bob@example.com").await;
    let r = a
        .post("/api/v1/rooms")
        .bearer(&ada)
        .json(&json!({"name": "inner", "visibility": "private"}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let r = a
        .put(&format!("/api/v1/rooms/inner/members/{bob_id}"))
        .bearer(&ada)
        .send()
        .await;
    assert_eq!(r.status, 201);
    let mut bob_ws = b.chat(&bob).await;
    bob_ws.join("inner").await;
    let mut bob_lobby = b.chat(&bob).await;
    bob_lobby.join("lobby").await;
    let (mut bob_events, _) = b.events(&bob).await;

    // Removed on A: Bob's socket on B leaves the room at once.
    let r = a
        .delete(&format!("/api/v1/rooms/inner/members/{bob_id}"))
        .bearer(&ada)
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(bob_ws.until("left").await["reason"], "removed");

    // Bob changes his password on A: his sockets on B close, and B refuses the old token.
    let r = a
        .patch(&format!("/api/v1/users/{bob_id}"))
        .bearer(&bob)
        .merge_patch(&json!({"password": "another long password"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    for ws in [&mut bob_ws, &mut bob_lobby, &mut bob_events] {
        assert_eq!(ws.closed().await, Some(awc::ws::CloseCode::Other(4003)));
    }
    b.get("/api/v1/users/me")
        .bearer(&bob)
        .send()
        .await
        .problem(401);
    // An instance started later knows it too (from the database).
    let c = spawn_at(&a.database_url, None, |_| {}).await;
    c.get("/api/v1/users/me")
        .bearer(&bob)
        .send()
        .await
        .problem(401);
}

/// A `redis-server` of the test's own, so it can be killed and restarted (the bench's
/// [`deploy::start_redis`], which waits until it accepts).
pub struct OwnRedis {
    pub port: u16,
    process: Option<deploy::Process>,
}

impl OwnRedis {
    pub fn start(port: u16) -> Option<Self> {
        let process = deploy::start_redis(port).ok()?;
        Some(Self {
            port,
            process: Some(process),
        })
    }

    /// One on a free port, or `None` (with a note) where `redis-server` is not installed;
    /// with TEST_REDIS_REQUIRED set, that is a failure instead.
    pub fn start_or_skip() -> Option<Self> {
        let redis = Self::start(free_port());
        if redis.is_none() {
            assert!(
                std::env::var_os("TEST_REDIS_REQUIRED").is_none(),
                "redis-server is not installed"
            );
            note("redis-server is not installed");
        }
        redis
    }

    /// Kills it and waits for it to exit (dropping the process does both).
    pub fn kill(&mut self) {
        self.process.take();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_web::test]
async fn instances_recover_from_a_redis_restart_without_losing_stored_messages() {
    if redis_url().is_none() {
        return;
    }
    let Some(mut redis) = OwnRedis::start_or_skip() else {
        return;
    };
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let Some((a, b)) = pair(&url).await else {
        return;
    };
    let (_, ada) = a.user("ada@example.com").await;
    let (cy_id, cy) = a.user("cy@example.com").await;
    let (_, bob) = a.user("bob@example.com").await;
    let mut ada_ws = a.chat(&ada).await;
    let joined = ada_ws.join("ops").await;
    let mut cy_ws = a.chat(&cy).await;
    cy_ws.join("ops").await;
    sees_present(&mut ada_ws, &joined, cy_id).await;
    let mut bob_ws = b.chat(&bob).await;
    bob_ws.join("ops").await;
    ada_ws.say("ops", "before", "c1").await;
    assert_eq!(next_message(&mut bob_ws).await["body"], "before");
    assert_eq!(next_message(&mut cy_ws).await["body"], "before");

    redis.kill();
    let problem = ready(&a, 503).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("Redis"),
        "{problem}"
    );
    ready(&b, 503).await;
    // Local delivery goes on, and the message is stored.
    ada_ws.say("ops", "during", "c2").await;
    assert_eq!(next_message(&mut cy_ws).await["body"], "during");

    let redis = OwnRedis::start(redis.port).expect("redis-server restarts");
    ready(&a, 200).await;
    ready(&b, 200).await;
    // B caught up from the database as soon as its link came back: Bob gets the outage's
    // message without rejoining, before anything new is said.
    let caught_up = next_message(&mut bob_ws).await;
    assert_eq!(caught_up["body"], "during");
    assert_eq!(caught_up["seq"], 2);
    // Both directions work again, without restarting anything.
    ada_ws.say("ops", "after", "c3").await;
    let after = next_message(&mut bob_ws).await;
    assert_eq!(
        (after["body"].as_str(), after["seq"].as_i64()),
        (Some("after"), Some(3))
    );
    bob_ws.say("ops", "back", "c4").await;
    assert_eq!(next_message(&mut cy_ws).await["body"], "after");
    assert_eq!(next_message(&mut cy_ws).await["body"], "back");

    // History has everything, the outage included: a client that rejoins fills the gap.
    let mut bob_again = b.chat(&bob).await;
    let history: Vec<Value> = bob_again.join("ops").await["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(history, ["before", "during", "after", "back"]);
    drop(redis);
}

#[actix_web::test]
async fn a_crashed_instance_members_expire_from_presence() {
    let Some(redis) = redis_url() else { return };
    let prefix = format!("sbtest-{}", uuid::Uuid::new_v4().simple());
    let Some(b) = spawn_with(Backend::Postgres, |args| {
        args.redis.redis_url = Some(redis.clone());
        args.redis.redis_prefix = prefix.clone();
        args.redis.redis_presence_ttl = 3;
    })
    .await
    else {
        note("TEST_POSTGRES_URL is not set");
        return;
    };
    // Instance A is a separate process, so it can really crash (SIGKILL: no goodbye).
    let port = free_port();
    let mut a = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--port", &port.to_string()])
        .args(["--database-url", &b.database_url])
        .args(["--redis-url", &redis, "--redis-prefix", &prefix])
        .args(["--redis-presence-ttl", "3", "--log-level", "warn"])
        .env("SWITCHBOARD_JWT_SECRET", JWT_SECRET)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let a_url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while b
        .client
        .get(format!("{a_url}/readyz"))
        .send()
        .await
        .map_or(true, |r| r.status() != 200)
    {
        assert!(Instant::now() < deadline, "instance A never became ready");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let (ada_id, ada) = b.user("ada@example.com").await;
    let (_, bob) = b.user("bob@example.com").await;
    let mut ada_on_a = b.ws_connect_to(&a_url, "/ws/chat", &ada).await;
    ada_on_a.join("crash").await;
    let mut bob_ws = b.chat(&bob).await;
    let joined = bob_ws.join("crash").await;
    sees_present(&mut bob_ws, &joined, ada_id).await;

    a.kill().expect("kill instance A");
    let _ = a.wait();
    let left = bob_ws.until("presence").await;
    assert_eq!(left["left"]["id"], ada_id, "Ada's presence expired");
}
