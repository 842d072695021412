//! A WebSocket test client over awc: connect with a token, send JSON frames, and wait (with
//! a generous hang guard, never a speed assertion) for the next JSON frame or for the close.

use std::time::Duration;

use awc::ws::{self, CloseCode, Frame};
use awc::BoxedSocket;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;

use crate::helpers::TestApp;

/// Long enough to never fire on a healthy run; it only turns a hang into a failure.
pub const HANG_GUARD: Duration = Duration::from_secs(10);

pub struct WsClient {
    framed: actix_codec::Framed<BoxedSocket, ws::Codec>,
    /// Answer server pings (a live client); off to play a silent one.
    pub answer_pings: bool,
}

/// How a connection attempt ended.
pub enum Connect {
    Open(WsClient, Option<String>),
    Refused(u16),
}

impl TestApp {
    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{}", self.address.replacen("http", "ws", 1), path)
    }

    /// Connects with optional sub-protocols; returns the selected protocol too.
    pub async fn ws_connect(&self, path: &str, protocols: &[&str]) -> Connect {
        connect_url(&self.ws_url(path), protocols).await
    }

    /// A connection for `token` to another server at `base` (`http://host:port`), past its
    /// `ready` frame.
    pub async fn ws_connect_to(&self, base: &str, path: &str, token: &str) -> WsClient {
        let url = format!("{}{path}", base.replacen("http", "ws", 1));
        let Connect::Open(mut client, _) = connect_url(&url, &["bearer", token]).await else {
            panic!("{url} connection refused")
        };
        client.expect("ready").await;
        client
    }

    /// A `/ws/chat` connection for `token`, past its `ready` frame.
    pub async fn chat(&self, token: &str) -> WsClient {
        self.ws_with_token("/ws/chat", token).await
    }

    /// A `/ws/events` connection for `token`; returns its `ready` frame too.
    pub async fn events(&self, token: &str) -> (WsClient, Value) {
        let Connect::Open(mut client, _) = self.ws_connect("/ws/events", &["bearer", token]).await
        else {
            panic!("events connection refused")
        };
        let ready = client.expect("ready").await;
        (client, ready)
    }

    async fn ws_with_token(&self, path: &str, token: &str) -> WsClient {
        let Connect::Open(mut client, _) = self.ws_connect(path, &["bearer", token]).await else {
            panic!("{path} connection refused")
        };
        client.expect("ready").await;
        client
    }
}

async fn connect_url(url: &str, protocols: &[&str]) -> Connect {
    let path = url;
    let mut request = awc::Client::new().ws(url).max_frame_size(1 << 20);
    if !protocols.is_empty() {
        request = request.protocols(protocols);
    }
    match request.connect().await {
        Ok((response, framed)) => {
            let protocol = response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_owned());
            Connect::Open(
                WsClient {
                    framed,
                    answer_pings: true,
                },
                protocol,
            )
        }
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            Connect::Refused(status.as_u16())
        }
        Err(err) => panic!("websocket connect to {path} failed: {err}"),
    }
}

/// What the server sent next, control frames aside.
#[derive(Debug)]
pub enum Received {
    Json(Value),
    Text(String),
    Binary(Vec<u8>),
    Closed(Option<CloseCode>),
}

impl WsClient {
    pub async fn send_text(&mut self, text: &str) {
        self.framed
            .send(ws::Message::Text(text.to_owned().into()))
            .await
            .expect("send a frame");
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.framed
            .send(ws::Message::Binary(bytes.to_vec().into()))
            .await
            .expect("send a frame");
    }

    pub async fn close(mut self) {
        let _ = self
            .framed
            .send(ws::Message::Close(Some(CloseCode::Normal.into())))
            .await;
        // Wait for the server's answer so it has seen the close.
        let _ = actix_web::rt::time::timeout(HANG_GUARD, async {
            while let Some(Ok(frame)) = self.framed.next().await {
                if matches!(frame, Frame::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    /// The next data frame or the close; panics after the hang guard.
    pub async fn next(&mut self) -> Received {
        self.next_within(HANG_GUARD)
            .await
            .expect("no frame from the server in time")
    }

    /// The next data frame or the close, or `None` if nothing came within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Received> {
        self.receive(wait, false).await
    }

    /// Like [`Self::next_within`], but a broken connection (its server was killed) reads as a
    /// close; nothing within `wait` fails the test.
    pub async fn next_or_gone(&mut self, wait: Duration) -> Received {
        self.receive(wait, true)
            .await
            .expect("no frame from the server in time")
    }

    async fn receive(&mut self, wait: Duration, broken_is_closed: bool) -> Option<Received> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let frame = actix_web::rt::time::timeout(left, self.framed.next())
                .await
                .ok()?;
            match frame {
                None => return Some(Received::Closed(None)),
                Some(Err(_)) if broken_is_closed => return Some(Received::Closed(None)),
                Some(Err(err)) => panic!("websocket protocol error: {err}"),
                Some(Ok(Frame::Ping(payload))) => {
                    if self.answer_pings {
                        let _ = self.framed.send(ws::Message::Pong(payload)).await;
                    }
                }
                Some(Ok(Frame::Pong(_))) | Some(Ok(Frame::Continuation(_))) => {}
                Some(Ok(Frame::Text(bytes))) => {
                    let text = String::from_utf8(bytes.to_vec()).expect("text frame is UTF-8");
                    return Some(match serde_json::from_str(&text) {
                        Ok(value) => Received::Json(value),
                        Err(_) => Received::Text(text),
                    });
                }
                Some(Ok(Frame::Binary(bytes))) => return Some(Received::Binary(bytes.to_vec())),
                Some(Ok(Frame::Close(reason))) => {
                    return Some(Received::Closed(reason.map(|r| r.code)))
                }
            }
        }
    }

    /// The next JSON frame, which must have this `type`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        match self.next().await {
            Received::Json(value) => {
                assert_eq!(value["type"], kind, "expected a {kind} frame, got {value}");
                value
            }
            other => panic!("expected a {kind} frame, got {other:?}"),
        }
    }

    /// Skips frames until one of type `kind` arrives (typing, presence of others...).
    pub async fn until(&mut self, kind: &str) -> Value {
        loop {
            match self.next().await {
                Received::Json(value) if value["type"] == kind => return value,
                Received::Json(_) => continue,
                other => panic!("expected a {kind} frame, got {other:?}"),
            }
        }
    }

    /// Waits for the server to close the connection and returns its close code.
    pub async fn closed(&mut self) -> Option<CloseCode> {
        loop {
            match self.next().await {
                Received::Closed(code) => return code,
                Received::Json(_) | Received::Text(_) | Received::Binary(_) => continue,
            }
        }
    }

    /// Asserts that the next frame is the marker: a frame of type `kind` that the test
    /// caused after whatever must not arrive. Delivery to one socket is in order, so an
    /// unwanted frame would have come first; no clock decides.
    pub async fn next_is(&mut self, kind: &str, is_marker: impl Fn(&Value) -> bool) -> Value {
        let frame = self.expect(kind).await;
        assert!(
            is_marker(&frame),
            "expected the marker {kind} next, got {frame}"
        );
        frame
    }

    /// Joins `room` and returns the `joined` frame.
    pub async fn join(&mut self, room: &str) -> Value {
        self.send_json(serde_json::json!({"type": "join", "room": room}))
            .await;
        self.until("joined").await
    }

    pub async fn say(&mut self, room: &str, body: &str, client_id: &str) {
        self.send_json(
            serde_json::json!({"type": "message", "room": room, "body": body, "client_id": client_id}),
        )
        .await;
    }
}
