//! `ChatServer`: the one actor that owns rooms, who is in them, and the order of what is
//! said there. Sessions send it parsed client frames; it answers through each session's
//! bounded mailbox.
//!
//! Each room has a queue of operations (joins and messages) run one at a time, off the
//! actor's own loop: the database work goes to the database threads and the actor keeps
//! routing other rooms' traffic meanwhile. Consecutive messages waiting in a room's queue
//! are stored in one transaction. What reaches members goes through the room's
//! [`Sequencer`](sequencer::Sequencer): in `seq` order, each message once, whichever instance stored it, with
//! gaps (a message lost on the Redis bridge) filled from the database.

mod commands;
mod delivery;
mod membership;
mod room;
mod sequencer;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web_actors::ws::CloseCode;
use tokio::sync::{mpsc, oneshot};

use super::bridge::peers::Peers;
use super::bridge::{Bridge, FromPeer, Payload, PeerSnapshot};
use super::hub::NotifyUsers;
use super::protocol::{encode, ClientFrame, ServerFrame};
use super::{Outbound, SessionId};
use crate::db::Db;
use crate::domain::RoomName;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::services::chat::{ChatMessage, ChatSettings, JoinRequest, Resume};
use crate::services::events::UserRef;
use crate::services::Actor as Caller;
use room::{Joiner, Member, Op, RoomState};

/// Rooms one connection may be in at once.
pub const MAX_ROOMS_PER_SESSION: usize = 100;
/// Most messages stored in one transaction.
const STORE_BATCH: usize = 256;
/// How long a room waits for a missing message to arrive over the bridge before reading
/// it from the database.
const GAP_WAIT: Duration = Duration::from_millis(200);

#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub id: SessionId,
    pub caller: Caller,
    pub user: UserRef,
    pub out: Recipient<Outbound>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub id: SessionId,
}

/// A valid client frame from a session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Command {
    pub id: SessionId,
    pub frame: ClientFrame,
}

/// A GraphQL `messageAdded` subscription: `ready` gets the resume after `since` (or the
/// room's refusal), then every later message of the room is sent to `tx`, in seq order. A
/// watcher that falls `WATCH_QUEUE` messages behind is dropped (its stream ends).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchRoom {
    pub caller: Caller,
    pub room: RoomName,
    pub since: Option<i64>,
    pub tx: mpsc::Sender<Arc<ChatMessage>>,
    pub ready: oneshot::Sender<Result<Resume, AppError>>,
}

/// How far a room watcher may fall behind.
pub const WATCH_QUEUE: usize = 256;

/// A message stored outside the chat server (REST, GraphQL) to broadcast here and to the
/// other instances.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Posted {
    pub message: ChatMessage,
    pub members: Vec<i32>,
}

/// A moderator deleted a message (here or on another instance).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deleted {
    pub room: String,
    pub id: i32,
}

/// A user's membership of a room ended (here or on another instance).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Removed {
    pub room: String,
    pub user_id: i32,
}

/// The Redis link is back after an outage: whatever other instances stored meanwhile was
/// not heard, so every active room reads it from the database.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Resync;

/// Tell every session the server is going away (close 1001).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

pub struct ChatServer {
    db: Db,
    notify: Recipient<NotifyUsers>,
    metrics: Arc<Metrics>,
    settings: ChatSettings,
    sessions: HashMap<SessionId, Member>,
    /// Chat connections per user: who counts as "connected to chat".
    online: HashMap<i32, usize>,
    rooms: HashMap<RoomName, RoomState>,
    /// Other instances, when bridged through Redis.
    bridge: Bridge,
    peers: Peers,
}

impl ChatServer {
    pub fn new(
        db: Db,
        notify: Recipient<NotifyUsers>,
        metrics: Arc<Metrics>,
        bridge: Bridge,
        settings: ChatSettings,
    ) -> Self {
        Self {
            db,
            notify,
            metrics,
            settings,
            sessions: HashMap::new(),
            online: HashMap::new(),
            rooms: HashMap::new(),
            bridge,
            peers: Peers::default(),
        }
    }
}

impl Actor for ChatServer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Sessions use do_send (never refused); this bounds only request/response callers.
        ctx.set_mailbox_capacity(1024);
    }
}

impl Handler<Connect> for ChatServer {
    type Result = ();

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        let count = self.online.entry(msg.user.id).or_default();
        *count += 1;
        if *count == 1 {
            self.bridge.online(msg.user.id, true);
        }
        self.sessions.insert(
            msg.id,
            Member {
                caller: msg.caller,
                user: msg.user,
                out: msg.out,
                rooms: HashSet::new(),
            },
        );
    }
}

impl Handler<Disconnect> for ChatServer {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        self.drop_sessions(vec![msg.id], false);
    }
}

impl Handler<Command> for ChatServer {
    type Result = ();

    fn handle(&mut self, msg: Command, ctx: &mut Context<Self>) {
        self.command(msg.id, msg.frame, ctx);
    }
}

impl Handler<WatchRoom> for ChatServer {
    type Result = ();

    fn handle(&mut self, msg: WatchRoom, ctx: &mut Context<Self>) {
        let state = self.rooms.entry(msg.room.clone()).or_default();
        state.queue.push_back(Op::Join(
            Joiner::Watcher(msg.tx, msg.ready),
            JoinRequest {
                actor: msg.caller,
                since: msg.since,
            },
        ));
        self.pump(&msg.room, ctx);
    }
}

impl Handler<Posted> for ChatServer {
    type Result = ();

    fn handle(&mut self, msg: Posted, ctx: &mut Context<Self>) {
        let Ok(room) = RoomName::parse("room", &msg.message.room) else {
            return;
        };
        let message = Arc::new(msg.message);
        self.publish_and_notify(&room, std::slice::from_ref(&message), &msg.members);
        self.deliver(&room, vec![message], ctx);
    }
}

impl Handler<Deleted> for ChatServer {
    type Result = ();

    fn handle(&mut self, msg: Deleted, _: &mut Context<Self>) {
        let Ok(room) = RoomName::parse("room", &msg.room) else {
            return;
        };
        let Some(state) = self.rooms.get_mut(&room) else {
            return;
        };
        state.sequencer.forget(msg.id);
        let frame = encode(&ServerFrame::Deleted {
            room: room.as_str(),
            id: msg.id,
        });
        let mut slow = Vec::new();
        self.broadcast(&room, &frame, |_, _| false, &mut slow);
        self.drop_sessions(slow, true);
    }
}

impl Handler<Removed> for ChatServer {
    type Result = ();

    fn handle(&mut self, msg: Removed, _: &mut Context<Self>) {
        let Ok(room) = RoomName::parse("room", &msg.room) else {
            return;
        };
        let Some(state) = self.rooms.get(&room) else {
            return;
        };
        let theirs: Vec<SessionId> = state
            .joined
            .iter()
            .chain(&state.joining)
            .copied()
            .filter(|id| {
                self.sessions
                    .get(id)
                    .is_some_and(|m| m.user.id == msg.user_id)
            })
            .collect();
        let mut slow = Vec::new();
        let left = encode(&ServerFrame::Left {
            room: room.as_str(),
            reason: Some("removed"),
        });
        for id in theirs {
            let Some(member) = self.sessions.get_mut(&id) else {
                continue;
            };
            member.rooms.remove(&room);
            let user = member.user.clone();
            if let Some(presence) = self.remove_from_room(&room, id, &user) {
                self.broadcast(&room, &presence, |_, _| false, &mut slow);
            }
            self.send(id, left.clone(), &mut slow);
        }
        self.drop_room_if_idle(&room);
        self.drop_sessions(slow, true);
    }
}

impl Handler<Resync> for ChatServer {
    type Result = ();

    fn handle(&mut self, _: Resync, ctx: &mut Context<Self>) {
        self.resync(ctx);
    }
}

impl Handler<Shutdown> for ChatServer {
    type Result = ();

    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) {
        for member in self.sessions.values() {
            member
                .out
                .do_send(Outbound::Close(CloseCode::Away, "server shutting down"));
        }
    }
}

impl Handler<FromPeer> for ChatServer {
    type Result = ();

    fn handle(&mut self, FromPeer { origin, payload }: FromPeer, ctx: &mut Context<Self>) {
        let room_of = |name: &str| RoomName::parse("room", name).ok();
        match payload {
            Payload::Message { message } => {
                if let Some(room) = room_of(&message.room) {
                    self.deliver(&room, vec![Arc::new(message)], ctx);
                }
            }
            Payload::Presence { room, user, joined } => {
                if let Some(room) = room_of(&room) {
                    let flip = self.peers.presence_changed(&room, &user, &origin, joined);
                    self.announce(flip.into_iter().collect());
                }
            }
            Payload::Typing { room, user } => {
                if let Some(room) = room_of(&room) {
                    let frame = encode(&ServerFrame::Typing {
                        room: room.as_str(),
                        user: &user,
                    });
                    let mut slow = Vec::new();
                    self.broadcast(&room, &frame, |_, u| u.id == user.id, &mut slow);
                    self.drop_sessions(slow, true);
                }
            }
            Payload::Online { user_id, online } => {
                self.peers.online_changed(user_id, &origin, online)
            }
            Payload::Gone => {
                let flips = self.peers.forget(&origin);
                self.announce(flips);
            }
            // The event hub's and the dispatcher's.
            Payload::Event { .. } | Payload::Notify { .. } => {}
        }
    }
}

impl Handler<PeerSnapshot> for ChatServer {
    type Result = ();

    fn handle(&mut self, snapshot: PeerSnapshot, _: &mut Context<Self>) {
        let flips = self.peers.apply(snapshot);
        self.announce(flips);
    }
}
