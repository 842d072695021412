//! Domain events: facts the services announce after their transaction commits (an order was
//! placed, a user registered, sessions ended, a message was posted or deleted). The services
//! only know the [`EventSink`] trait; the real-time core implements it (and carries events to
//! other instances over the Redis bridge).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::Order;
use crate::domain::OrderStatus;

/// A user as others see them in events and chat frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: i32,
    pub name: String,
}

/// A stored message as every transport shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: i32,
    /// Its place in the room: 1, 2, 3, ... in the order the messages were stored.
    pub seq: i64,
    pub room: String,
    pub user: UserRef,
    pub body: String,
    pub sent_at: DateTime<Utc>,
}

/// The part of an order a notification needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: i32,
    pub user_id: i32,
    pub status: OrderStatus,
    pub total_cents: i64,
}

impl From<&Order> for OrderSummary {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id,
            user_id: o.user_id,
            status: o.status,
            total_cents: o.total_cents,
        }
    }
}

/// Serialized as instances tell each other about it (see `bridge`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    OrderCreated {
        order: OrderSummary,
    },
    OrderStatusChanged {
        order: OrderSummary,
        from: OrderStatus,
    },
    UserRegistered {
        user: UserRef,
    },
    /// Sessions ended early: their tokens are refused and their sockets closed (4003).
    SessionsRevoked {
        user_id: i32,
        sessions: Vec<String>,
    },
    /// A message stored outside the chat server (`POST /rooms/{name}/messages`, GraphQL
    /// `sendMessage`), for it to broadcast; `members` are the room's members then.
    MessagePosted {
        message: ChatMessage,
        members: Vec<i32>,
    },
    /// A moderator deleted a message.
    MessageDeleted {
        room: String,
        id: i32,
    },
    /// A user's membership of a room ended (removed by its owner or an admin, or left).
    MemberRemoved {
        room: String,
        user_id: i32,
    },
}

/// Where events go. Implementations must not block: services call it on the database threads
/// inside a request.
pub trait EventSink: Send + Sync {
    fn publish(&self, event: DomainEvent);
}

/// The handle services receive; publishing into a server without subscribers is a no-op.
#[derive(Clone, Default)]
pub struct Events(Option<Arc<dyn EventSink>>);

impl Events {
    pub fn new(sink: Arc<dyn EventSink>) -> Self {
        Self(Some(sink))
    }

    /// For callers with nobody to tell (the CLI's seed command, unit tests).
    pub fn none() -> Self {
        Self(None)
    }

    pub fn publish(&self, event: DomainEvent) {
        if let Some(sink) = &self.0 {
            sink.publish(event);
        }
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Events(sink)"
        } else {
            "Events(none)"
        })
    }
}
