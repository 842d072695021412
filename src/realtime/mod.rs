//! The real-time core that the WebSocket sessions and GraphQL subscriptions share: the
//! [`chat::ChatServer`] actor (rooms, members, presence, per-room message order), the
//! [`hub::EventHub`] actor (per-user notifications, the dashboard feed), and the Redis
//! [`bridge`] to other instances. Transports register their connections here and receive
//! ready-made frames through [`Outbound`]; nothing here knows about sockets.

pub mod bridge;
pub mod chat;
pub mod dispatch;
pub mod hub;
pub mod protocol;
pub mod sockets;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::{Addr, Message};
use actix_web_actors::ws::CloseCode;
use bytestring::ByteString;

use crate::metrics::Metrics;
use crate::services::chat::ChatSettings;
use chat::ChatServer;
use hub::EventHub;

/// Identifies one connection to the chat server and the hub.
pub type SessionId = u64;

pub fn next_session_id() -> SessionId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What the shared actors send a session: a frame serialized once for all its recipients,
/// or an order to close.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub enum Outbound {
    Frame(ByteString),
    Close(CloseCode, &'static str),
}

/// Handles on the real-time core, shared by all workers and transports.
#[derive(Clone)]
pub struct Realtime {
    pub chat: Addr<ChatServer>,
    /// The link to other instances (disabled when standing alone).
    pub bridge: bridge::Bridge,
    pub hub: Addr<EventHub>,
    pub metrics: Arc<Metrics>,
    /// Every open socket of a signed-in user, to close when their session ends.
    pub sockets: Arc<sockets::Sockets>,
    pub chat_settings: ChatSettings,
}
