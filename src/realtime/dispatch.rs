//! Where domain events go. The services publish through [`EventsOut`] (their
//! [`EventSink`]); events from other instances arrive through the bridge. Either way
//! [`Dispatch::local`] routes each to the part of the real-time core it concerns: order and
//! registration events to the event hub, chat events to the chat server, ended sessions to
//! the token check (synchronously, so the very next request is judged by them) and to the
//! sockets opened with them.

use std::sync::Arc;

use actix::Addr;

use super::bridge::{Bridge, Payload};
use super::chat::{ChatServer, Deleted, Posted, Removed, Resync};
use super::hub::{EventHub, Publish};
use super::sockets::Sockets;
use crate::db::{self, Db};
use crate::services::auth::Tokens;
use crate::services::events::{DomainEvent, EventSink};

#[derive(Clone)]
pub struct Dispatch {
    pub chat: Addr<ChatServer>,
    pub hub: Addr<EventHub>,
    pub tokens: Arc<Tokens>,
    pub sockets: Arc<Sockets>,
    pub db: Db,
}

impl Dispatch {
    /// Acts on an event on this instance only.
    pub fn local(&self, event: DomainEvent) {
        match event {
            DomainEvent::SessionsRevoked { user_id, sessions } => {
                self.tokens
                    .revoked()
                    .insert(sessions.iter().map(String::as_str), db::now());
                self.sockets.end_sessions(user_id, &sessions);
            }
            DomainEvent::MessagePosted { message, members } => {
                self.chat.do_send(Posted { message, members })
            }
            DomainEvent::MessageDeleted { room, id } => self.chat.do_send(Deleted { room, id }),
            DomainEvent::MemberRemoved { room, user_id } => {
                self.chat.do_send(Removed { room, user_id })
            }
            event @ (DomainEvent::OrderCreated { .. }
            | DomainEvent::OrderStatusChanged { .. }
            | DomainEvent::UserRegistered { .. }) => self.hub.do_send(Publish(event)),
        }
    }

    /// The bridge was down: what other instances did meanwhile was not heard. Ended
    /// sessions are read again from the database, and every active room catches up.
    pub fn resync(&self) {
        self.chat.do_send(Resync);
        let db = self.db.clone();
        let tokens = self.tokens.clone();
        actix_web::rt::spawn(async move {
            let loaded = db.run(move |c| tokens.revoked().load(c)).await;
            if let Err(err) = loaded {
                tracing::warn!(error = %err, "re-reading ended sessions after a bridge outage failed");
            }
        });
    }
}

/// The services' sink: acts locally, then tells the other instances. A posted chat
/// message is not bridged here: the chat server publishes the messages it delivers itself.
pub struct EventsOut {
    pub dispatch: Dispatch,
    pub bridge: Bridge,
}

impl EventSink for EventsOut {
    fn publish(&self, event: DomainEvent) {
        let bridged = !matches!(event, DomainEvent::MessagePosted { .. });
        if bridged && self.bridge.is_enabled() {
            self.bridge.publish(Payload::Event {
                event: event.clone(),
            });
        }
        self.dispatch.local(event);
    }
}
