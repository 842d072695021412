//! `ChatSession`: one actor per `/ws/chat` connection. It owns the socket's side of things
//! (heartbeat, frame budget, parsing) and forwards valid frames to the [`ChatServer`], which
//! answers through this actor's mailbox. The mailbox is bounded: the server drops a session
//! whose mailbox is full rather than queue without end for a client that does not read.

use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws::{self, CloseCode, WebsocketContext};

use super::conn::{apply, close, Connection, HasConnection, Incoming, Refusal, WsLimits};
use super::lease::Lease;
use crate::metrics::{Metrics, SessionKind};
use crate::realtime::chat::{ChatServer, Command, Connect, Disconnect};
use crate::realtime::protocol::{client_id_of, encode, ClientFrame, FrameError, ServerFrame};
use crate::realtime::{next_session_id, Outbound, SessionId};
use crate::services::events::UserRef;
use crate::services::Actor as Caller;

pub struct ChatSession {
    id: SessionId,
    caller: Caller,
    user: UserRef,
    lease: Lease,
    server: Addr<ChatServer>,
    metrics: Arc<Metrics>,
    conn: Connection,
}

impl ChatSession {
    pub fn new(
        caller: Caller,
        user: UserRef,
        lease: Lease,
        server: Addr<ChatServer>,
        metrics: Arc<Metrics>,
        limits: WsLimits,
    ) -> Self {
        Self {
            id: next_session_id(),
            caller,
            user,
            lease,
            server,
            metrics,
            conn: Connection::new(limits),
        }
    }

    fn error(&self, ctx: &mut WebsocketContext<Self>, err: FrameError) {
        ctx.text(err.to_frame());
    }
}

impl HasConnection for ChatSession {
    fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Actor for ChatSession {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.conn.limits().queue);
        self.conn.start_heartbeat(ctx);
        self.metrics.session_opened(SessionKind::Chat);
        self.lease.start(self.id, ctx);
        self.server.do_send(Connect {
            id: self.id,
            caller: self.caller,
            user: self.user.clone(),
            out: ctx.address().recipient(),
        });
        ctx.text(encode(&ServerFrame::Ready {
            user: &self.user,
            dashboard: None,
        }));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.lease.stop(self.id);
        self.server.do_send(Disconnect { id: self.id });
        self.metrics.session_closed(SessionKind::Chat);
    }
}

impl Handler<Outbound> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        apply(msg, ctx);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for ChatSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let Some(incoming) = self.conn.receive(msg, ctx) else {
            return;
        };
        match self.conn.admit(ctx) {
            Ok(()) => {}
            Err(Refusal::Warn) => {
                let client_id = match &incoming {
                    Incoming::Text(text) => client_id_of(text),
                    Incoming::Binary(_) => None,
                };
                let err = FrameError::new("RATE_LIMITED", "too many frames; slow down");
                return self.error(ctx, err.with_client_id(client_id));
            }
            Err(Refusal::Closed) => return,
        }
        let text = match incoming {
            Incoming::Text(text) => text,
            Incoming::Binary(_) => {
                return close(ctx, CloseCode::Unsupported, "chat frames are JSON text");
            }
        };
        match ClientFrame::parse(&text) {
            Ok(ClientFrame::Auth { token }) => match self.lease.renew(self.id, &token, ctx) {
                Ok(expires_at) => ctx.text(encode(&ServerFrame::Authenticated { expires_at })),
                Err(err) => self.error(ctx, err),
            },
            Ok(frame) => self.server.do_send(Command { id: self.id, frame }),
            Err(err) => self.error(ctx, err),
        }
    }
}
