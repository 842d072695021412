//! `/ws/echo`, `/ws/chat` and the rooms API, through real WebSocket connections.

use awc::ws::CloseCode;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{spawn_app, spawn_with, Backend, TestApp};
use crate::ws_client::{Connect, Received, WsClient};

fn bodies(frames: &[Value]) -> Vec<&str> {
    frames.iter().map(|m| m["body"].as_str().unwrap()).collect()
}

async fn chat_user(app: &TestApp, email: &str, name: &str) -> (i64, WsClient) {
    let id = app.register(email, name).await;
    let token = app.token(email).await;
    (id, app.chat(&token).await)
}

/// `/ws/echo` answers text with `You said: …`; `/ws/echo/raw` (Autobahn's peer, in e2e.rs)
/// sends it back exactly. Both return binary as it came.
#[actix_web::test]
async fn echo_answers_text_with_you_said_and_raw_echo_exactly_and_binary_with_the_same_bytes() {
    let app = spawn_app().await;
    for (path, answer) in [
        ("/ws/echo", "You said: hello, κόσμε"),
        ("/ws/echo/raw", "hello, κόσμε"),
    ] {
        let Connect::Open(mut ws, _) = app.ws_connect(path, &[]).await else {
            panic!("{path} refused")
        };
        ws.send_text("hello, κόσμε").await;
        match ws.next().await {
            Received::Text(text) => assert_eq!(text, answer),
            other => panic!("unexpected {other:?}"),
        }
        ws.send_binary(&[0, 1, 2, 255]).await;
        match ws.next().await {
            Received::Binary(bytes) => assert_eq!(bytes, vec![0, 1, 2, 255]),
            other => panic!("unexpected {other:?}"),
        }
        ws.close().await;
    }
}

#[actix_web::test]
async fn chat_refuses_a_missing_or_invalid_token_with_401_before_the_upgrade() {
    let app = spawn_app().await;
    for path in ["/ws/chat", "/ws/events"] {
        assert!(matches!(
            app.ws_connect(path, &[]).await,
            Connect::Refused(401)
        ));
        assert!(matches!(
            app.ws_connect(path, &["bearer", "not.a.jwt"]).await,
            Connect::Refused(401)
        ));
        assert!(matches!(
            app.ws_connect(&format!("{path}?token=forged"), &[]).await,
            Connect::Refused(401)
        ));
        // A plain GET gets the same refusal as a problem document.
        let body = app.get(path).send().await.problem(401);
        assert!(body["detail"].as_str().unwrap().contains("token"));
    }
    // With a valid token but no upgrade: a clear 400, not a hang or a 500.
    let (_, token) = app.user("plain@example.com").await;
    app.get("/ws/chat").bearer(&token).send().await.problem(400);
}

#[actix_web::test]
async fn the_token_may_come_as_a_subprotocol_or_in_the_query_and_is_never_echoed() {
    let app = spawn_app().await;
    let (_, token) = app.user("proto@example.com").await;
    let Connect::Open(mut ws, protocol) = app.ws_connect("/ws/chat", &["bearer", &token]).await
    else {
        panic!("refused")
    };
    assert_eq!(protocol.as_deref(), Some("bearer"));
    let ready = ws.expect("ready").await;
    assert_eq!(ready["user"]["name"], "Test User");
    let Connect::Open(mut ws, _) = app
        .ws_connect(&format!("/ws/chat?token={token}"), &[])
        .await
    else {
        panic!("refused")
    };
    ws.expect("ready").await;
}

#[actix_web::test]
async fn two_users_join_talk_and_leave_with_presence_and_acks() {
    let app = spawn_app().await;
    let (ada_id, mut ada) = chat_user(&app, "ada@example.com", "Ada").await;
    let (bob_id, mut bob) = chat_user(&app, "bob@example.com", "Bob").await;

    let joined = ada.join(" General ").await;
    assert_eq!(joined["room"], "general");
    assert_eq!(joined["members"], json!([{"id": ada_id, "name": "Ada"}]));
    assert_eq!(joined["history"], json!([]));

    let joined = bob.join("general").await;
    assert_eq!(joined["members"].as_array().unwrap().len(), 2);
    let presence = ada.expect("presence").await;
    assert_eq!(presence["joined"], json!({"id": bob_id, "name": "Bob"}));

    bob.say("general", "hi <b>Ada</b>", "c-1").await;
    let ack = bob.expect("message").await;
    assert_eq!(ack["client_id"], "c-1");
    assert_eq!(ack["user"], json!({"id": bob_id, "name": "Bob"}));
    let seen = ada.expect("message").await;
    assert_eq!(seen["body"], "hi <b>Ada</b>");
    assert_eq!(seen["id"], ack["id"]);
    assert!(
        seen.get("client_id").is_none(),
        "only the sender gets the client_id"
    );
    assert!(seen["sent_at"].as_str().unwrap().ends_with('Z'));

    // Typing goes to the others only.
    ada.send_json(json!({"type": "typing", "room": "general"}))
        .await;
    let typing = bob.expect("typing").await;
    assert_eq!(typing["user"]["id"], ada_id);

    bob.send_json(json!({"type": "leave", "room": "general"}))
        .await;
    assert_eq!(bob.expect("left").await["room"], "general");
    let presence = ada.expect("presence").await;
    assert_eq!(presence["left"], json!({"id": bob_id, "name": "Bob"}));
    // Having left, Bob may not talk there.
    bob.say("general", "still here?", "c-2").await;
    let err = bob.expect("error").await;
    assert_eq!(err["code"], "NOT_A_MEMBER");
    assert_eq!(err["client_id"], "c-2");
    // Nothing of it reached Ada: her next frame is her own later message.
    ada.say("general", "marker", "m-1").await;
    ada.next_is("message", |m| m["body"] == "marker").await;
}

#[actix_web::test]
async fn every_member_receives_every_message_once_and_in_id_order() {
    let app = spawn_app().await;
    let mut clients = Vec::new();
    for i in 0..8 {
        let (_, mut ws) = chat_user(&app, &format!("m{i}@example.com"), &format!("M{i}")).await;
        ws.join("crowd").await;
        clients.push(ws);
    }
    // Everyone has seen everyone arrive: drain presence frames.
    for (i, ws) in clients.iter_mut().enumerate() {
        for _ in i + 1..8 {
            ws.expect("presence").await;
        }
    }
    // Two senders interleave without waiting for acks.
    for n in 0..5 {
        clients[0]
            .say("crowd", &format!("a{n}"), &format!("a{n}"))
            .await;
        clients[1]
            .say("crowd", &format!("b{n}"), &format!("b{n}"))
            .await;
    }
    let mut orders = Vec::new();
    for ws in &mut clients {
        let mut got = Vec::new();
        for _ in 0..10 {
            got.push(ws.expect("message").await);
        }
        let ids: Vec<i64> = got.iter().map(|m| m["id"].as_i64().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted, "ids arrive increasing, no duplicates");
        orders.push(bodies(&got).join(","));
    }
    // And nothing twice: once everyone has all ten, the next message anyone sees is a new one.
    clients[1].say("crowd", "end", "end").await;
    for ws in &mut clients {
        ws.next_is("message", |m| m["body"] == "end").await;
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "all members see one order"
    );
}

#[actix_web::test]
async fn presence_counts_users_not_connections() {
    let app = spawn_app().await;
    let (_, mut bob) = chat_user(&app, "bob@example.com", "Bob").await;
    bob.join("tabs").await;
    let ada_id = app.register("ada@example.com", "Ada").await;
    let token = app.token("ada@example.com").await;
    let mut tab1 = app.chat(&token).await;
    let mut tab2 = app.chat(&token).await;
    tab1.join("tabs").await;
    assert_eq!(bob.expect("presence").await["joined"]["id"], ada_id);
    let joined = tab2.join("tabs").await;
    assert_eq!(joined["members"].as_array().unwrap().len(), 2, "{joined}");
    tab1.close().await;
    // Ada is still there through her second tab: no presence change before her next word.
    tab2.say("tabs", "still here", "t-1").await;
    bob.next_is("message", |m| m["body"] == "still here").await;
    tab2.close().await;
    assert_eq!(bob.expect("presence").await["left"]["id"], ada_id);
}

api_test!(
    history_survives_reconnects_and_pages_over_ws_and_rest,
    |app| {
        let (_, token) = app.user("hist@example.com").await;
        let mut ws = app.chat(&token).await;
        ws.join("archive").await;
        for n in 1..=7 {
            ws.say("archive", &format!("m{n}"), &format!("c{n}")).await;
            ws.expect("message").await;
        }
        ws.close().await;

        let mut ws = app.chat(&token).await;
        let joined = ws.join("archive").await;
        let history = joined["history"].as_array().unwrap();
        assert_eq!(bodies(history), ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);

        let oldest_shown = history[4]["id"].as_i64().unwrap();
        ws.send_json(
            json!({"type": "history", "room": "archive", "before": oldest_shown, "limit": 2}),
        )
        .await;
        let page = ws.expect("history").await;
        assert_eq!(bodies(page["messages"].as_array().unwrap()), ["m3", "m4"]);
        assert_eq!(page["has_more"], true);

        let r = app
            .get("/api/v1/rooms/archive/messages?limit=3")
            .bearer(&token)
            .send()
            .await;
        assert_eq!(r.status, 200);
        let body = r.json();
        assert_eq!(bodies(body["data"].as_array().unwrap()), ["m5", "m6", "m7"]);
        assert_eq!(body["has_more"], true);
        let next = r.header("link").expect("a Link to older messages");
        assert!(next.contains("rel=\"next\""), "{next}");
        let before = body["next_before"].as_i64().unwrap();
        let older = app
            .get(&format!(
                "/api/v1/rooms/archive/messages?before={before}&limit=10"
            ))
            .bearer(&token)
            .send()
            .await
            .json();
        assert_eq!(
            bodies(older["data"].as_array().unwrap()),
            ["m1", "m2", "m3", "m4"]
        );
        assert_eq!(older["has_more"], false);
        assert!(older["next_before"].is_null());
    }
);

#[actix_web::test]
async fn bad_frames_get_error_frames_and_the_connection_stays_usable() {
    let app = spawn_app().await;
    let (_, token) = app.user("bad@example.com").await;
    let mut ws = app.chat(&token).await;
    let long = "x".repeat(4097);
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "BAD_FRAME"),
        ("[1, 2]".into(), "BAD_FRAME"),
        (r#"{"room": "a"}"#.into(), "BAD_FRAME"),
        (r#"{"type": "shout", "room": "a"}"#.into(), "UNKNOWN_TYPE"),
        (r#"{"type": "join"}"#.into(), "BAD_USER_INPUT"),
        (
            r#"{"type": "join", "room": "no spaces"}"#.into(),
            "BAD_USER_INPUT",
        ),
        (r#"{"type": "join", "room": 5}"#.into(), "BAD_USER_INPUT"),
        (
            r#"{"type": "message", "room": "lobby", "body": "hi"}"#.into(),
            "NOT_A_MEMBER",
        ),
        (
            r#"{"type": "typing", "room": "lobby"}"#.into(),
            "NOT_A_MEMBER",
        ),
        (
            r#"{"type": "history", "room": "lobby"}"#.into(),
            "NOT_A_MEMBER",
        ),
        (
            r#"{"type": "leave", "room": "lobby"}"#.into(),
            "NOT_A_MEMBER",
        ),
        (
            r#"{"type": "message", "room": "lobby", "body": "   "}"#.into(),
            "BAD_USER_INPUT",
        ),
        (
            format!(r#"{{"type": "message", "room": "lobby", "body": "{long}"}}"#),
            "BAD_USER_INPUT",
        ),
        (
            r#"{"type": "history", "room": "lobby", "limit": 1000}"#.into(),
            "BAD_USER_INPUT",
        ),
    ];
    for (frame, code) in &cases {
        ws.send_text(frame).await;
        let err = ws.expect("error").await;
        assert_eq!(err["code"], *code, "for {frame:.60}: {err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Still open and working.
    ws.join("lobby").await;
    ws.say("lobby", &"é".repeat(2048), "max").await;
    assert_eq!(ws.expect("message").await["client_id"], "max");
    // Binary frames are not chat: the connection closes as unsupported (1003).
    ws.send_binary(b"\x00\x01").await;
    assert_eq!(ws.closed().await, Some(CloseCode::Unsupported));
}

#[actix_web::test]
async fn a_frame_over_the_size_limit_closes_with_1009() {
    let app = spawn_with(Backend::Sqlite, |a| a.ws.ws_max_frame_bytes = 2048)
        .await
        .unwrap();
    let (_, token) = app.user("big@example.com").await;
    let mut ws = app.chat(&token).await;
    ws.send_text(&"x".repeat(4096)).await;
    assert_eq!(ws.closed().await, Some(CloseCode::Size));
}

#[actix_web::test]
async fn flooding_gets_rate_limited_then_closed_with_1008() {
    let app = spawn_with(Backend::Sqlite, |a| {
        a.ws.ws_rate = 0.5;
        a.ws.ws_burst = 3.0;
        a.ws.ws_strikes = 5;
    })
    .await
    .unwrap();
    let (_, token) = app.user("flood@example.com").await;
    let mut ws = app.chat(&token).await;
    // Frames the session itself refuses, so every answer comes back in order.
    for _ in 0..10 {
        ws.send_text("x").await;
    }
    let mut codes = Vec::new();
    let close = loop {
        match ws.next().await {
            Received::Json(v) => codes.push(v["code"].as_str().unwrap().to_owned()),
            Received::Closed(code) => break code,
            other => panic!("unexpected {other:?}"),
        }
    };
    // The burst is served (and the frames judged on their merits), then refused.
    assert_eq!(&codes[..3], ["BAD_FRAME"; 3]);
    assert!(codes[3..].iter().all(|c| c == "RATE_LIMITED"), "{codes:?}");
    assert_eq!(codes.len(), 3 + 4, "four warnings, the fifth strike closes");
    assert_eq!(close, Some(CloseCode::Policy));
}

#[actix_web::test]
async fn a_silent_client_is_dropped_after_the_timeout_and_its_presence_ends() {
    let app = spawn_with(Backend::Sqlite, |a| {
        a.ws.ws_heartbeat_ms = 100;
        a.ws.ws_client_timeout_ms = 600;
    })
    .await
    .unwrap();
    let (_, mut watcher) = chat_user(&app, "watch@example.com", "Watcher").await;
    watcher.join("quiet").await;
    let (silent_id, mut silent) = chat_user(&app, "silent@example.com", "Silent").await;
    silent.join("quiet").await;
    watcher.expect("presence").await;
    silent.answer_pings = false;
    // Both are read at once, so the watcher keeps answering pings meanwhile.
    let (code, presence) =
        futures_util::future::join(silent.closed(), watcher.expect("presence")).await;
    assert_eq!(code, Some(CloseCode::Away));
    assert_eq!(presence["left"]["id"], silent_id);
    // The live client, answering pings, is still there.
    watcher.say("quiet", "still here", "c").await;
    watcher.expect("message").await;
}

#[actix_web::test]
async fn rooms_can_be_created_listed_and_read_over_rest() {
    let app = spawn_app().await;
    let (_, token) = app.user("rooms@example.com").await;
    app.get("/api/v1/rooms").send().await.problem(401);

    let r = app
        .post("/api/v1/rooms")
        .bearer(&token)
        .json(&json!({"name": "Rust-Lang", "topic": "crabs"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("location").as_deref(),
        Some("/api/v1/rooms/rust-lang")
    );
    assert_eq!(r.json()["topic"], "crabs");

    let dup = app
        .post("/api/v1/rooms")
        .bearer(&token)
        .json(&json!({"name": "rust-lang"}))
        .send()
        .await;
    dup.problem(409);
    let bad = app
        .post("/api/v1/rooms")
        .bearer(&token)
        .json(&json!({"name": "no/slashes"}))
        .send()
        .await
        .problem(400);
    assert_eq!(bad["errors"][0]["field"], "name");

    // Joining over WebSocket creates a room too.
    app.chat(&token).await.join("second").await;
    let list = app
        .get("/api/v1/rooms?q=rust")
        .bearer(&token)
        .send()
        .await
        .json();
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["name"], "rust-lang");
    let all = app.get("/api/v1/rooms").bearer(&token).send().await.json();
    assert_eq!(all["total"], 2);

    let one = app
        .get("/api/v1/rooms/rust-lang")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(one.status, 200);
    assert!(one.header("etag").is_some());
    app.get("/api/v1/rooms/missing")
        .bearer(&token)
        .send()
        .await
        .problem(404);
    app.get("/api/v1/rooms/Not%20Valid")
        .bearer(&token)
        .send()
        .await
        .problem(404);
    app.get("/api/v1/rooms/rust-lang/messages?limit=0")
        .bearer(&token)
        .send()
        .await
        .problem(400);
}

/// Opens `/ws/chat` by hand over TCP, sends one masked text frame, and then never reads:
/// the kind of client that would make a naive server buffer without end.
fn raw_client_that_never_reads(port: u16, token: &str, first_frame: &str) -> std::net::TcpStream {
    use std::io::Write;
    let (mut stream, head) = raw_handshake(port, &format!("/ws/chat?token={token}"), "13", None);
    assert!(head.starts_with("http/1.1 101"), "{head}");
    let payload = first_frame.as_bytes();
    assert!(payload.len() < 126);
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).unwrap();
    stream
}

#[actix_web::test]
async fn a_client_that_does_not_read_is_dropped_instead_of_buffered_without_end() {
    let app = spawn_with(Backend::Sqlite, |a| {
        a.ws.ws_queue = 8;
        a.ws.ws_rate = 100_000.0;
        a.ws.ws_burst = 100_000.0;
    })
    .await
    .unwrap();
    let (_, mut talker) = chat_user(&app, "talker@example.com", "Talker").await;
    talker.join("firehose").await;
    let slow_id = app.register("slow@example.com", "Slow").await;
    let token = app.token("slow@example.com").await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let _slow = raw_client_that_never_reads(port, &token, r#"{"type":"join","room":"firehose"}"#);
    assert_eq!(talker.expect("presence").await["joined"]["id"], slow_id);

    let body = "x".repeat(4000);
    let mut sent = 0;
    let left = loop {
        assert!(sent < 20_000, "the silent reader was never dropped");
        talker.say("firehose", &body, &format!("c{sent}")).await;
        sent += 1;
        match talker.next().await {
            Received::Json(v) if v["type"] == "message" => continue,
            Received::Json(v) if v["type"] == "presence" => break v,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(left["left"]["id"], slow_id);
    // The room goes on for the others.
    talker.say("firehose", "after", "c-after").await;
    talker.until("message").await;
}

/// A raw upgrade request with this version; the stream and the answer's head, lower-cased.
fn raw_handshake(
    port: u16,
    path: &str,
    version: &str,
    protocol: Option<&str>,
) -> (std::net::TcpStream, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let protocol = protocol.map_or(String::new(), |p| {
        format!("Sec-WebSocket-Protocol: {p}\r\n")
    });
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n{protocol}\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&head).to_lowercase())
}

fn handshake_answer(port: u16, path: &str, version: &str, protocol: Option<&str>) -> String {
    raw_handshake(port, path, version, protocol).1
}

#[actix_web::test]
async fn a_handshake_of_another_websocket_version_gets_426_naming_version_13() {
    let app = spawn_app().await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    for (path, protocol) in [
        ("/ws/echo", None),
        ("/graphql", Some("graphql-transport-ws")),
    ] {
        for version in ["8", "7", "12"] {
            let head = actix_web::rt::task::spawn_blocking(move || {
                handshake_answer(port, path, version, protocol)
            })
            .await
            .unwrap();
            assert!(
                head.starts_with("http/1.1 426"),
                "{path} v{version}: {head}"
            );
            assert!(head.contains("sec-websocket-version: 13\r\n"), "{head}");
            assert!(head.contains("application/problem+json"), "{head}");
        }
        let head = actix_web::rt::task::spawn_blocking(move || {
            handshake_answer(port, path, "13", protocol)
        })
        .await
        .unwrap();
        assert!(head.starts_with("http/1.1 101"), "{path}: {head}");
    }
}

/// A masked client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [7u8, 1, 9, 3];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads server frames until the close frame and returns its code.
fn close_code(stream: &mut std::net::TcpStream) -> u16 {
    use std::io::Read;
    loop {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).unwrap();
        let len = usize::from(head[1] & 0x7f);
        assert!(len < 126, "a short frame was expected");
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).unwrap();
        if head[0] & 0x0f == 0x8 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

#[actix_web::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    use std::io::Write;
    let app = spawn_app().await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    for payload in [&b"ok \xff\xfe"[..], &b"surrogate \xed\xa0\x80"[..]] {
        let payload = payload.to_vec();
        let code = actix_web::rt::task::spawn_blocking(move || {
            let (mut stream, head) = raw_handshake(port, "/ws/echo", "13", None);
            assert!(head.starts_with("http/1.1 101"), "{head}");
            stream.write_all(&client_frame(0x1, &payload)).unwrap();
            close_code(&mut stream)
        })
        .await
        .unwrap();
        assert_eq!(code, 1007);
    }
}

/// RFC 6455 sections 7.4 and 8.1: a close frame whose reason is not UTF-8 is 1007, one with
/// a code no endpoint may send is 1002; both are told apart although actix's codec reports
/// them alike.
#[actix_web::test]
async fn a_close_frame_is_judged_by_its_reason_and_its_code() {
    use std::io::Write;
    let app = spawn_app().await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    for (payload, expected) in [
        (&b"\x03\xe8bad \xff reason"[..], 1007),
        (
            &b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"[..],
            1007,
        ),
        (&b"\x03\xed"[..], 1002), // 1005 is reserved: never sent on the wire
        (&b"\x03\xe8fine"[..], 1000),
    ] {
        let frame = client_frame(0x8, payload);
        let code = actix_web::rt::task::spawn_blocking(move || {
            let (mut stream, head) = raw_handshake(port, "/ws/echo/raw", "13", None);
            assert!(head.starts_with("http/1.1 101"), "{head}");
            stream.write_all(&frame).unwrap();
            close_code(&mut stream)
        })
        .await
        .unwrap();
        assert_eq!(code, expected, "close payload {payload:?}");
    }
}

/// A header declaring a payload over the limit closes with 1009 at once, before any of
/// that payload is sent (the limit is 64 KiB; this one says 1 TiB).
#[actix_web::test]
async fn a_frame_declared_too_large_closes_with_1009_before_its_payload() {
    use std::io::Write;
    let app = spawn_app().await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let code = actix_web::rt::task::spawn_blocking(move || {
        let (mut stream, head) = raw_handshake(port, "/ws/echo", "13", None);
        assert!(head.starts_with("http/1.1 101"), "{head}");
        let mut frame = vec![0x82, 0x80 | 127];
        frame.extend_from_slice(&(1u64 << 40).to_be_bytes());
        frame.extend_from_slice(&[1, 2, 3, 4, 0, 0, 0, 0]);
        stream.write_all(&frame).unwrap();
        close_code(&mut stream)
    })
    .await
    .unwrap();
    assert_eq!(code, 1009);
}
