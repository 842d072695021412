//! `/ws/echo` and `/ws/echo/raw`: the smallest WebSocket there is, to see "starts as HTTP,
//! upgrades" work. `/ws/echo` answers text with `You said: …`; `/ws/echo/raw` sends every
//! message back exactly, which is what protocol test suites (Autobahn) expect of a peer.
//! No auth; the same heartbeat and size limit as every session, but no frame budget: every
//! answer goes back to the sender, so a flood throttles itself through TCP back-pressure
//! (and the `ws-echo` benchmark measures the transport, not a limiter).

use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws::{self, WebsocketContext};

use super::conn::{Connection, HasConnection, Incoming, WsLimits};
use crate::metrics::{Metrics, SessionKind};

/// How text comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `You said: …`, the friendly demo.
    Friendly,
    /// Byte for byte what was sent.
    Exact,
}

pub struct EchoSession {
    conn: Connection,
    metrics: Arc<Metrics>,
    reply: Reply,
}

impl EchoSession {
    pub fn new(metrics: Arc<Metrics>, limits: WsLimits, reply: Reply) -> Self {
        Self {
            conn: Connection::new(limits),
            metrics,
            reply,
        }
    }
}

impl HasConnection for EchoSession {
    fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Actor for EchoSession {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.conn.start_heartbeat(ctx);
        self.metrics.session_opened(SessionKind::Echo);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.metrics.session_closed(SessionKind::Echo);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for EchoSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let Some(incoming) = self.conn.receive(msg, ctx) else {
            return;
        };
        match incoming {
            Incoming::Text(text) if self.reply == Reply::Exact => ctx.text(text),
            Incoming::Text(text) => ctx.text(format!("You said: {text}")),
            Incoming::Binary(bytes) => ctx.binary(bytes),
        }
    }
}
