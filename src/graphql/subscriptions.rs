//! The WebSocket side of `/graphql` (`graphql-transport-ws`, and the older `graphql-ws`):
//! async-graphql's protocol engine ([`WebSocket`]) inside a socket actor of our own, so that
//! a subscription socket obeys the same rules as `/ws/chat` and `/ws/events`: heartbeats and
//! frame limits ([`Connection`]), and a token lifetime ([`Lease`]). The socket is closed with
//! 4001 when its token expires unrenewed, and with 4003 when its session ends (a password
//! change, a sign-out, a disabled or deleted account).
//!
//! Browsers cannot set headers on a WebSocket, so the token comes in the `connection_init`
//! payload: `{"Authorization": "Bearer <token>"}` (or `{"token": "<token>"}`). A bad token
//! closes the socket with 4403 Forbidden; none means anonymous. To renew, the client sends
//! a `ping` whose payload carries a fresh token the same way; the `pong` payload answers
//! `{"expires_at": <unix seconds>}`, or `{"error": "..."}` (the old token then still holds).
//!
//! The engine leaves some of graphql-transport-ws's close codes to its host, so this actor
//! keeps them: 4400 for a message that is not one of the protocol's, 4401 for `subscribe`
//! before the connection was acknowledged, 4406 when the client offered neither
//! sub-protocol, 4408 when no `connection_init` came in time, 4409 for an operation id
//! already running (4429, a second `connection_init`, is the engine's).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::{self, CloseCode, WebsocketContext};
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::{Data, ErrorExtensions};
use futures_util::stream;
use tokio::sync::mpsc;

use super::loaders::Loaders;
use super::types::Caller;
use super::AppSchema;
use crate::db::Db;
use crate::error::{AppError, AuthFailure};
use crate::http::bearer::Credentials;
use crate::realtime::{next_session_id, Outbound, Realtime, SessionId};
use crate::services::auth::{AccessToken, Tokens};
use crate::ws::conn::{apply, close, Connection, HasConnection, Incoming, WsLimits};
use crate::ws::lease::{check_renewal, Lease};

/// Client messages waiting for the protocol engine; a client this far ahead is flooding.
const INBOX: usize = 64;
/// graphql-transport-ws's close codes (the protocol's "Invalid message" and so on).
const BAD_REQUEST: u16 = 4400;
const UNAUTHORIZED: u16 = 4401;
const FORBIDDEN: u16 = 4403;
const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
const INIT_TIMEOUT: u16 = 4408;
const SUBSCRIBER_EXISTS: u16 = 4409;

/// How long a graphql-transport-ws client may take to send `connection_init`
/// (`--graphql-init-timeout-ms`).
#[derive(Debug, Clone, Copy)]
pub struct InitTimeout(pub Duration);

/// What this actor reads of each protocol message: its type and operation id.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

fn envelope(bytes: &[u8]) -> Option<Envelope> {
    serde_json::from_slice(bytes).ok()
}

fn token_of(payload: &serde_json::Value) -> Option<String> {
    let header = ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(*k)?.as_str());
    if let Some(value) = header {
        return Credentials::parse(value).bearer().map(str::to_owned);
    }
    payload.get("token")?.as_str().map(str::to_owned)
}

/// The engine accepted `connection_init` with this token.
#[derive(Message)]
#[rtype(result = "()")]
struct Authenticated(AccessToken);

/// A `ping` carried a fresh token for the same user.
#[derive(Message)]
#[rtype(result = "()")]
struct Renewed(AccessToken);

pub struct SubscriptionSocket {
    id: SessionId,
    schema: AppSchema,
    /// `None` when the client offered neither sub-protocol: closed with 4406 at once.
    protocol: Option<WebSocketProtocols>,
    init_timeout: Duration,
    /// `connection_init` arrived (graphql-transport-ws).
    init_seen: bool,
    /// Ids of the operations running, so a repeated id is refused (4409).
    operations: HashSet<String>,
    db: Db,
    tokens: Arc<Tokens>,
    realtime: Realtime,
    conn: Connection,
    lease: Option<Lease>,
    inbox: Option<mpsc::Sender<Vec<u8>>>,
    /// Set by `connection_init` when it refused the token, so the engine's close becomes
    /// 4403.
    refused: Arc<AtomicBool>,
}

impl HasConnection for SubscriptionSocket {
    fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl SubscriptionSocket {
    /// Feeds the engine; its answers come back as `WsMessage`s.
    fn start_engine(&mut self, protocol: WebSocketProtocols, ctx: &mut WebsocketContext<Self>) {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(INBOX);
        self.inbox = Some(tx);
        let inbox = stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|bytes| (bytes, rx))
        });
        let addr = ctx.address();
        let (tokens, db, refused) = (self.tokens.clone(), self.db.clone(), self.refused.clone());
        let init_addr = addr.clone();
        let on_init = move |payload: serde_json::Value| async move {
            let caller = match token_of(&payload) {
                None => Caller(None),
                Some(raw) => match tokens.verify(&raw) {
                    Ok(token) => {
                        let actor = token.actor;
                        init_addr.do_send(Authenticated(token));
                        Caller(Some(actor))
                    }
                    Err(why) => {
                        refused.store(true, Ordering::SeqCst);
                        return Err(
                            AppError::Unauthenticated(AuthFailure::InvalidToken(why)).extend()
                        );
                    }
                },
            };
            let mut data = Data::default();
            data.insert(caller);
            // No cache in these loaders, so sharing them for the connection's life is safe.
            data.insert(Loaders::new(&db));
            Ok(data)
        };
        let tokens = self.tokens.clone();
        let on_ping = move |data: Option<&Data>, payload: Option<serde_json::Value>| {
            let user_id = data
                .and_then(|d| d.get(&std::any::TypeId::of::<Caller>()))
                .and_then(|c| c.downcast_ref::<Caller>())
                .and_then(|c| c.0)
                .map(|a| a.user_id);
            let raw = payload.as_ref().and_then(token_of);
            let answer = match (raw, user_id) {
                (None, _) => None,
                (Some(_), None) => Some(serde_json::json!({
                    "error": "this connection was opened without a token; open a new one to sign in"
                })),
                (Some(raw), Some(user_id)) => match check_renewal(&tokens, user_id, &raw) {
                    Ok(token) => {
                        let expires_at = token.expires_at;
                        addr.do_send(Renewed(token));
                        Some(serde_json::json!({ "expires_at": expires_at }))
                    }
                    Err(err) => Some(serde_json::json!({ "error": err.message })),
                },
            };
            async move { Ok(answer) }
        };
        let strict = protocol == WebSocketProtocols::GraphQLWS;
        WebSocket::new(self.schema.clone(), inbox, protocol)
            .on_connection_init(on_init)
            .on_ping(on_ping)
            .into_actor(self)
            .map(move |message, act, ctx| match message {
                WsMessage::Text(text) => {
                    if strict {
                        // An operation ends with `complete` or `error`; its id is free again.
                        if let Some(Envelope { kind, id: Some(id) }) = envelope(text.as_bytes()) {
                            if kind == "complete" || kind == "error" {
                                act.operations.remove(&id);
                            }
                        }
                    }
                    ctx.text(text)
                }
                WsMessage::Close(code, why) => {
                    let code = match code {
                        1002 if act.refused.load(Ordering::SeqCst) => FORBIDDEN,
                        // The engine's words for a message it could not read, and for
                        // `subscribe` before the acknowledgement.
                        1002 if strict => BAD_REQUEST,
                        1011 if strict => UNAUTHORIZED,
                        other => other,
                    };
                    close(ctx, CloseCode::Other(code), &why);
                }
            })
            .finish()
            .spawn(ctx);
    }
}

impl Actor for SubscriptionSocket {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Some(protocol) = self.protocol else {
            return close(
                ctx,
                CloseCode::Other(SUBPROTOCOL_NOT_ACCEPTABLE),
                "Subprotocol not acceptable",
            );
        };
        ctx.set_mailbox_capacity(self.conn.limits().queue);
        self.conn.start_heartbeat(ctx);
        if protocol == WebSocketProtocols::GraphQLWS {
            ctx.run_later(self.init_timeout, |act, ctx| {
                if !act.init_seen {
                    close(
                        ctx,
                        CloseCode::Other(INIT_TIMEOUT),
                        "Connection initialisation timeout",
                    );
                }
            });
        }
        self.start_engine(protocol, ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(lease) = &self.lease {
            lease.stop(self.id);
        }
    }
}

impl Handler<Authenticated> for SubscriptionSocket {
    type Result = ();

    fn handle(&mut self, Authenticated(token): Authenticated, ctx: &mut Self::Context) {
        let mut lease = Lease::new(self.tokens.clone(), self.realtime.sockets.clone(), token);
        lease.start(self.id, ctx);
        self.lease = Some(lease);
    }
}

impl Handler<Renewed> for SubscriptionSocket {
    type Result = ();

    fn handle(&mut self, Renewed(token): Renewed, ctx: &mut Self::Context) {
        if let Some(lease) = self.lease.as_mut() {
            lease.adopt(self.id, token, ctx);
        }
    }
}

impl Handler<Outbound> for SubscriptionSocket {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        apply(msg, ctx);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for SubscriptionSocket {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let Some(incoming) = self.conn.receive(msg, ctx) else {
            return;
        };
        let bytes = match incoming {
            Incoming::Text(text) => text.as_bytes().to_vec(),
            Incoming::Binary(_) => {
                return close(
                    ctx,
                    CloseCode::Other(BAD_REQUEST),
                    "graphql-transport-ws messages are JSON text",
                )
            }
        };
        if self.protocol == Some(WebSocketProtocols::GraphQLWS) {
            let Some(Envelope { kind, id }) = envelope(&bytes) else {
                return close(
                    ctx,
                    CloseCode::Other(BAD_REQUEST),
                    "Invalid message received",
                );
            };
            match (kind.as_str(), id) {
                ("connection_init", _) => self.init_seen = true,
                ("subscribe", Some(id)) if !self.operations.insert(id.clone()) => {
                    return close(
                        ctx,
                        CloseCode::Other(SUBSCRIBER_EXISTS),
                        &format!("Subscriber for {id} already exists"),
                    );
                }
                ("complete", Some(id)) => {
                    self.operations.remove(&id);
                }
                _ => {}
            }
        }
        let delivered = self
            .inbox
            .as_ref()
            .is_some_and(|inbox| inbox.try_send(bytes).is_ok());
        if !delivered {
            close(ctx, CloseCode::Policy, "too many messages");
        }
    }
}

pub fn start(
    req: &HttpRequest,
    payload: web::Payload,
    schema: &web::Data<AppSchema>,
    db: &web::Data<Db>,
) -> Result<HttpResponse, actix_web::Error> {
    crate::ws::require_version_13(req)?;
    let missing = |what: &str| {
        actix_web::error::ErrorInternalServerError(format!("{what} is not configured"))
    };
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .ok_or_else(|| missing("token keys"))?
        .clone()
        .into_inner();
    let realtime = req
        .app_data::<web::Data<Realtime>>()
        .ok_or_else(|| missing("the real-time core"))?
        .get_ref()
        .clone();
    let limits = req
        .app_data::<web::Data<WsLimits>>()
        .ok_or_else(|| missing("the WebSocket limits"))?
        .get_ref()
        .clone();
    let protocol = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|value| value.to_str().ok())
        .and_then(|protocols| {
            protocols
                .split(',')
                .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
        });
    let init_timeout = req
        .app_data::<InitTimeout>()
        .map_or(Duration::from_secs(3), |t| t.0);
    let socket = SubscriptionSocket {
        id: next_session_id(),
        schema: schema.get_ref().clone(),
        protocol,
        init_timeout,
        init_seen: false,
        operations: HashSet::new(),
        db: db.get_ref().clone(),
        tokens,
        realtime,
        conn: Connection::new(limits.clone()),
        lease: None,
        inbox: None,
        refused: Arc::new(AtomicBool::new(false)),
    };
    let payload = socket.conn.observe(payload);
    ws::WsResponseBuilder::new(socket, req, payload)
        .frame_size(limits.max_frame)
        .protocols(&ALL_WEBSOCKET_PROTOCOLS)
        .start()
}
