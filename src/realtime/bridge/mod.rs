//! Scale-out: several instances share PostgreSQL and bridge their real-time traffic through
//! Redis, the way Django Channels (channels_redis) and Socket.IO's Redis adapter do.
//!
//! Each instance publishes what its own clients cause (stored chat messages, presence and
//! typing, domain events, notices for away users) on one pub/sub channel, and relays what
//! the others publish to its own sessions. Pub/sub is fire-and-forget, so presence also
//! lives in Redis keys each instance owns and refreshes (`<prefix>:presence:<instance>`,
//! `<prefix>:online:<instance>`, with a TTL): every heartbeat each instance reads the
//! others' keys and corrects its view, and a crashed instance's users disappear when its
//! keys expire. Redis keeps nothing durable here: messages are stored in the database
//! before they are published, and after a Redis restart every instance writes its keys
//! again.
//!
//! Without `--redis-url` the [`Bridge`] is disabled and every call is a no-op.

pub mod link;
pub mod peers;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::domain::RoomName;
use crate::services::chat::ChatMessage;
use crate::services::events::{DomainEvent, UserRef};

pub use link::{start, Relay};
pub use peers::{FromPeer, PeerSnapshot};

/// One instance's identity on the bus (random per process start).
pub type InstanceId = Arc<str>;

/// Commands waiting for the Redis link; beyond this, publishes are dropped (and counted)
/// rather than letting a dead Redis grow memory.
const QUEUE: usize = 65_536;

/// What instances tell each other. `origin` lets each instance skip its own.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub origin: String,
    #[serde(flatten)]
    pub payload: Payload,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// A chat message, already stored in the shared database.
    Message {
        message: ChatMessage,
    },
    /// The user's first connection in a room on the origin joined, or its last one left.
    Presence {
        room: String,
        user: UserRef,
        joined: bool,
    },
    Typing {
        room: String,
        user: UserRef,
    },
    /// The user's first chat connection on the origin opened, or its last one closed.
    Online {
        user_id: i32,
        online: bool,
    },
    /// A ready `/ws/events` frame for these users (chat messages while they are away).
    Notify {
        users: Vec<i32>,
        frame: String,
    },
    /// A domain event (orders, registrations) for `/ws/events` and GraphQL subscriptions.
    Event {
        event: DomainEvent,
    },
    /// The origin is shutting down: forget its users now rather than at key expiry.
    Gone,
}

/// Where the bridge connects and how it names things.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    pub url: String,
    /// Namespaces keys and the channel, so deployments (or test runs) can share a Redis.
    pub prefix: String,
    /// How long an instance's presence outlives its last heartbeat (a third of it is the
    /// heartbeat period).
    pub presence_ttl: Duration,
}

pub(crate) enum Command {
    Publish(Vec<u8>),
    /// Mirror of this instance's presence (`member` is `[room, user]` JSON), then publish.
    Presence {
        member: String,
        add: bool,
        envelope: Vec<u8>,
    },
    Online {
        user_id: i32,
        add: bool,
        envelope: Vec<u8>,
    },
    /// Publish `Gone`, remove this instance's keys, then answer.
    Shutdown(oneshot::Sender<()>),
}

pub(crate) struct Shared {
    pub(crate) instance: InstanceId,
    /// Woken by the subscriber when its connection drops: the publisher's connection is
    /// likely dead too, and should be checked now rather than at the next heartbeat.
    pub(crate) suspect: tokio::sync::Notify,
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) publisher_up: AtomicBool,
    pub(crate) subscriber_up: AtomicBool,
    pub(crate) dropped: AtomicU64,
}

/// The handle the chat server and event hub hold; cheap to clone.
#[derive(Clone, Default)]
pub struct Bridge(Option<Arc<Shared>>);

impl Bridge {
    /// A single instance: nothing is published, nothing relayed.
    pub fn disabled() -> Self {
        Self(None)
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    pub fn instance(&self) -> Option<&InstanceId> {
        self.0.as_ref().map(|s| &s.instance)
    }

    /// `None` without Redis; otherwise whether both directions of the link work.
    pub fn is_up(&self) -> Option<bool> {
        self.0.as_ref().map(|s| {
            s.publisher_up.load(Ordering::Relaxed) && s.subscriber_up.load(Ordering::Relaxed)
        })
    }

    /// Publishes dropped because the link was down or its queue full.
    pub fn dropped(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |s| s.dropped.load(Ordering::Relaxed))
    }

    fn envelope(shared: &Shared, payload: Payload) -> Vec<u8> {
        let envelope = Envelope {
            origin: shared.instance.to_string(),
            payload,
        };
        serde_json::to_vec(&envelope).expect("envelopes serialize")
    }

    fn send(shared: &Shared, command: Command) {
        if shared.tx.try_send(command).is_err() {
            let dropped = shared.dropped.fetch_add(1, Ordering::Relaxed);
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = dropped + 1,
                    "the Redis bridge queue is full; dropping what would go to other instances"
                );
            }
        }
    }

    /// Tells the other instances; never waits.
    pub fn publish(&self, payload: Payload) {
        if let Some(shared) = &self.0 {
            let bytes = Self::envelope(shared, payload);
            Self::send(shared, Command::Publish(bytes));
        }
    }

    /// A user's presence in a room on this instance began (`joined`) or ended.
    pub fn presence(&self, room: &RoomName, user: &UserRef, joined: bool) {
        if let Some(shared) = &self.0 {
            let member = peers::presence_member(room.as_str(), user);
            let envelope = Self::envelope(
                shared,
                Payload::Presence {
                    room: room.as_str().to_owned(),
                    user: user.clone(),
                    joined,
                },
            );
            Self::send(
                shared,
                Command::Presence {
                    member,
                    add: joined,
                    envelope,
                },
            );
        }
    }

    /// A user's first chat connection on this instance opened (`online`) or the last closed.
    pub fn online(&self, user_id: i32, online: bool) {
        if let Some(shared) = &self.0 {
            let envelope = Self::envelope(shared, Payload::Online { user_id, online });
            Self::send(
                shared,
                Command::Online {
                    user_id,
                    add: online,
                    envelope,
                },
            );
        }
    }

    /// Says goodbye so peers drop this instance's users at once; bounded by `wait`.
    pub async fn shutdown(&self, wait: Duration) {
        let Some(shared) = &self.0 else { return };
        let (tx, rx) = oneshot::channel();
        if shared.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = tokio::time::timeout(wait, rx).await;
        }
    }
}
