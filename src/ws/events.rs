//! `EventsSession`: one actor per `/ws/events` connection. It subscribes to the
//! [`EventHub`](crate::realtime::hub::EventHub) and writes what the hub sends; the only
//! frames it reads are control frames and token renewals.

use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws::{self, WebsocketContext};

use super::conn::{apply, Connection, HasConnection, Incoming, Refusal, WsLimits};
use super::lease::Lease;
use crate::metrics::{Metrics, SessionKind};
use crate::realtime::hub::{EventHub, Subscribe, Unsubscribe};
use crate::realtime::protocol::{encode, ClientFrame, FrameError, ServerFrame};
use crate::realtime::{next_session_id, Outbound, SessionId};
use crate::services::events::UserRef;
use crate::services::Actor as Caller;

/// One `/ws/events` connection: receives; the only frame it reads is `auth`.
pub struct EventsSession {
    id: SessionId,
    caller: Caller,
    user: UserRef,
    lease: Lease,
    hub: Addr<EventHub>,
    metrics: Arc<Metrics>,
    conn: Connection,
}

impl EventsSession {
    pub fn new(
        caller: Caller,
        user: UserRef,
        lease: Lease,
        hub: Addr<EventHub>,
        metrics: Arc<Metrics>,
        limits: WsLimits,
    ) -> Self {
        Self {
            id: next_session_id(),
            caller,
            user,
            lease,
            hub,
            metrics,
            conn: Connection::new(limits),
        }
    }
}

impl HasConnection for EventsSession {
    fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Actor for EventsSession {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.conn.limits().queue);
        self.conn.start_heartbeat(ctx);
        self.metrics.session_opened(SessionKind::Events);
        self.lease.start(self.id, ctx);
        self.hub.do_send(Subscribe {
            id: self.id,
            caller: self.caller,
            out: ctx.address().recipient(),
        });
        ctx.text(encode(&ServerFrame::Ready {
            user: &self.user,
            dashboard: Some(self.caller.is_admin()),
        }));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.lease.stop(self.id);
        self.hub.do_send(Unsubscribe { id: self.id });
        self.metrics.session_closed(SessionKind::Events);
    }
}

impl Handler<Outbound> for EventsSession {
    type Result = ();

    fn handle(&mut self, msg: Outbound, ctx: &mut Self::Context) {
        apply(msg, ctx);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for EventsSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let Some(incoming) = self.conn.receive(msg, ctx) else {
            return;
        };
        let err = match self.conn.admit(ctx) {
            Ok(()) => match incoming {
                Incoming::Text(text) => match ClientFrame::parse(&text) {
                    Ok(ClientFrame::Auth { token }) => {
                        match self.lease.renew(self.id, &token, ctx) {
                            Ok(expires_at) => {
                                return ctx.text(encode(&ServerFrame::Authenticated { expires_at }))
                            }
                            Err(err) => err,
                        }
                    }
                    Ok(_) | Err(_) => FrameError::new(
                        "UNKNOWN_TYPE",
                        "this endpoint only sends (and takes `auth`); use /ws/chat to talk",
                    ),
                },
                Incoming::Binary(_) => FrameError::new(
                    "UNKNOWN_TYPE",
                    "this endpoint only sends (and takes `auth`); use /ws/chat to talk",
                ),
            },
            Err(Refusal::Warn) => FrameError::new("RATE_LIMITED", "too many frames; slow down"),
            Err(Refusal::Closed) => return,
        };
        ctx.text(err.to_frame());
    }
}
