//! Per-room sequence numbers, resuming after a disconnect with `since`, and idempotent
//! sends: what a reconnecting client needs to end with every message exactly once.

use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{spawn_with, Backend, TestApp};
use crate::ws_client::{Connect, WsClient};

fn seqs(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

/// Sends `n` messages as `ws` in `room` and waits for each acknowledgement.
async fn send_many(ws: &mut WsClient, room: &str, prefix: &str, n: usize) -> Vec<Value> {
    let mut acks = Vec::new();
    for i in 0..n {
        let client_id = format!("{prefix}-{i}");
        ws.say(room, &format!("{prefix} {i}"), &client_id).await;
        loop {
            let frame = ws.until("message").await;
            if frame["client_id"] == client_id.as_str() {
                acks.push(frame);
                break;
            }
        }
    }
    acks
}

async fn join_since(ws: &mut WsClient, room: &str, since: i64) -> Value {
    ws.send_json(json!({"type": "join", "room": room, "since": since}))
        .await;
    ws.until("joined").await
}

api_test!(
    seqs_count_each_room_from_one_and_a_join_with_since_returns_exactly_what_was_missed,
    |app| {
        let (_, ada) = app.user("ada@example.com").await;
        let (_, bob) = app.user("bob@example.com").await;
        let mut ada_ws = app.chat(&ada).await;
        let joined = ada_ws.join("alpha").await;
        assert_eq!(joined["last_seq"], 0);
        assert_eq!(joined["recovered"], false);
        let acks = send_many(&mut ada_ws, "alpha", "a", 5).await;
        assert_eq!(
            acks.iter()
                .map(|m| m["seq"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        ada_ws.join("beta").await;
        let beta = send_many(&mut ada_ws, "beta", "b", 2).await;
        assert_eq!(beta[0]["seq"], 1, "every room counts on its own");

        // Bob had seen up to seq 2: he gets 3, 4, 5 and nothing else, oldest first.
        let mut bob_ws = app.chat(&bob).await;
        let resumed = join_since(&mut bob_ws, "alpha", 2).await;
        assert_eq!(resumed["recovered"], true, "{resumed}");
        assert_eq!(seqs(&resumed["history"]), vec![3, 4, 5]);
        assert_eq!(resumed["last_seq"], 5);
        assert_eq!(resumed["history"][0]["body"], "a 2");
        // Up to date: nothing to replay, still recovered.
        let mut carol_ws = app.chat(&bob).await;
        let current = join_since(&mut carol_ws, "alpha", 5).await;
        assert_eq!(current["recovered"], true);
        assert_eq!(seqs(&current["history"]), Vec::<i64>::new());
        // Live messages continue right after last_seq.
        send_many(&mut ada_ws, "alpha", "c", 1).await;
        assert_eq!(bob_ws.until("message").await["seq"], 6);
        assert_eq!(carol_ws.until("message").await["seq"], 6);

        // REST catches up the same way.
        let page = app
            .get("/api/v1/rooms/alpha/messages?since=4&limit=10")
            .bearer(&bob)
            .send()
            .await
            .json();
        assert_eq!(seqs(&page["data"]), vec![5, 6]);
        assert_eq!(page["has_more"], false);
        let page = app
            .get("/api/v1/rooms/alpha/messages?since=0&limit=2")
            .bearer(&bob)
            .send()
            .await
            .json();
        assert_eq!(seqs(&page["data"]), vec![1, 2]);
        assert_eq!(page["has_more"], true);
        app.get("/api/v1/rooms/alpha/messages?since=-1")
            .bearer(&bob)
            .send()
            .await
            .problem(400);
        app.get("/api/v1/rooms/alpha/messages?since=1&before=3")
            .bearer(&bob)
            .send()
            .await
            .problem(400);
    }
);

#[actix_web::test]
async fn a_client_too_far_behind_gets_the_newest_page_and_recovered_false() {
    let app = spawn_with(Backend::Sqlite, |a| a.chat.chat_resume_max = 5)
        .await
        .unwrap();
    let (_, ada) = app.user("ada@example.com").await;
    let mut ws = app.chat(&ada).await;
    ws.join("busy").await;
    send_many(&mut ws, "busy", "m", 8).await;
    let mut late = app.chat(&ada).await;
    let behind = join_since(&mut late, "busy", 1).await;
    assert_eq!(behind["recovered"], false, "{behind}");
    assert_eq!(seqs(&behind["history"]), (1..=8).collect::<Vec<_>>());
    let within = join_since(&mut late, "busy", 3).await;
    assert_eq!(within["recovered"], true);
    assert_eq!(seqs(&within["history"]), vec![4, 5, 6, 7, 8]);
    // A since from the future (a client that saw another database) cannot be resumed.
    let future = join_since(&mut late, "busy", 99).await;
    assert_eq!(future["recovered"], false);
    late.send_json(json!({"type": "join", "room": "busy", "since": -3}))
        .await;
    assert_eq!(late.expect("error").await["code"], "BAD_USER_INPUT");
}

api_test!(
    a_repeated_client_id_stores_nothing_and_acknowledges_the_original_even_after_a_reconnect,
    |app| {
        let (_, ada) = app.user("ada@example.com").await;
        let (_, bob) = app.user("bob@example.com").await;
        let mut bob_ws = app.chat(&bob).await;
        bob_ws.join("dedup").await;
        let mut ada_ws = app.chat(&ada).await;
        ada_ws.join("dedup").await;
        bob_ws.until("presence").await;

        ada_ws.say("dedup", "once", "k-1").await;
        let original = ada_ws.until("message").await;
        assert_eq!(original["client_id"], "k-1");
        // The same send again (a client that did not see its ack): the original comes back.
        ada_ws.say("dedup", "once", "k-1").await;
        let again = ada_ws.until("message").await;
        assert_eq!(again["id"], original["id"]);
        assert_eq!(again["seq"], original["seq"]);
        assert_eq!(again["client_id"], "k-1");
        // After a reconnect, too.
        ada_ws.close().await;
        let mut ada_ws = app.chat(&ada).await;
        join_since(&mut ada_ws, "dedup", 1).await;
        ada_ws.say("dedup", "once", "k-1").await;
        assert_eq!(ada_ws.until("message").await["id"], original["id"]);
        // The same key in one burst stores one message.
        ada_ws.say("dedup", "burst", "k-2").await;
        ada_ws.say("dedup", "burst", "k-2").await;
        ada_ws.say("dedup", "marker", "k-3").await;

        // Bob saw each message once: seq 1, 2 (burst), 3 (marker).
        let mut seen = Vec::new();
        while seen.last() != Some(&3) {
            seen.push(bob_ws.until("message").await["seq"].as_i64().unwrap());
        }
        assert_eq!(seen, vec![1, 2, 3]);
        let history = app
            .get("/api/v1/rooms/dedup/messages")
            .bearer(&bob)
            .send()
            .await
            .json();
        assert_eq!(seqs(&history["data"]), vec![1, 2, 3]);
        // Another user's identical key is their own message.
        bob_ws.say("dedup", "mine", "k-1").await;
        let mine = bob_ws.until("message").await;
        assert_eq!(mine["seq"], 4);
    }
);

/// Posts `n` messages to `room` at once, from parallel requests.
async fn post_concurrently(app: &TestApp, token: &str, room: &str, n: usize) -> Vec<i64> {
    let posts = (0..n).map(|i| {
        app.post(&format!("/api/v1/rooms/{room}/messages"))
            .bearer(token)
            .json(&json!({"body": format!("parallel {i}")}))
            .send()
    });
    let answers = futures_util::future::join_all(posts).await;
    let mut seqs: Vec<i64> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            r.json()["seq"].as_i64().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    seqs
}

api_test!(
    concurrent_senders_get_consecutive_seqs_without_gaps_or_repeats,
    |app| {
        let (_, ada) = app.user("ada@example.com").await;
        let r = app
            .post("/api/v1/rooms")
            .bearer(&ada)
            .json(&json!({"name": "race"}))
            .send()
            .await;
        assert_eq!(r.status, 201);
        let mut ws = app.chat(&ada).await;
        ws.join("race").await;
        let (rest, live) = futures_util::join!(
            post_concurrently(&app, &ada, "race", 24),
            send_many(&mut ws, "race", "w", 6)
        );
        let mut all: Vec<i64> = rest;
        all.extend(live.iter().map(|m| m["seq"].as_i64().unwrap()));
        all.sort_unstable();
        assert_eq!(all, (1..=30).collect::<Vec<_>>());
    }
);

#[actix_web::test]
async fn a_graphql_subscription_with_since_replays_what_was_missed_then_goes_live() {
    let app = crate::helpers::spawn_app().await;
    let (_, ada) = app.user("ada@example.com").await;
    let mut ws = app.chat(&ada).await;
    ws.join("gqlresume").await;
    send_many(&mut ws, "gqlresume", "m", 4).await;

    let Connect::Open(mut sub, _) = app.ws_connect("/graphql", &["graphql-transport-ws"]).await
    else {
        panic!("subscription upgrade refused")
    };
    sub.send_json(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {ada}")}}),
    )
    .await;
    sub.expect("connection_ack").await;
    sub.send_json(json!({"id": "r", "type": "subscribe", "payload": {
        "query": "subscription { messageAdded(room: \"gqlresume\", since: 2) { seq body } }"}}))
        .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let next = sub.expect("next").await;
        got.push(
            next["payload"]["data"]["messageAdded"]["seq"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(got, vec![3, 4]);
    send_many(&mut ws, "gqlresume", "n", 1).await;
    let next = sub.expect("next").await;
    assert_eq!(
        next["payload"]["data"]["messageAdded"],
        json!({"seq": 5, "body": "n 0"})
    );
}
