//! The per-room and per-session state the chat server keeps.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::sequencer::Sequencer;
use crate::db::models::Room;
use crate::domain::RoomName;
use crate::error::AppError;
use crate::realtime::bridge::peers::Peers;
use crate::realtime::{Outbound, SessionId};
use crate::services::chat::{ChatMessage, JoinRequest, Resume};
use crate::services::events::UserRef;
use crate::services::Actor as Caller;

pub(super) struct Member {
    pub(super) caller: Caller,
    pub(super) user: UserRef,
    pub(super) out: Recipient<Outbound>,
    /// Rooms joined or being joined.
    pub(super) rooms: HashSet<RoomName>,
}

pub(super) struct Say {
    pub(super) session: SessionId,
    pub(super) user: UserRef,
    pub(super) body: String,
    pub(super) client_id: Option<String>,
}

/// Who a join is for: a chat session, or a GraphQL subscription.
pub(super) enum Joiner {
    Session(SessionId),
    Watcher(
        mpsc::Sender<Arc<ChatMessage>>,
        oneshot::Sender<Result<Resume, AppError>>,
    ),
}

pub(super) enum Op {
    Join(Joiner, JoinRequest),
    Say(Say),
}

#[derive(Default)]
pub(super) struct RoomState {
    /// Known once the first join has been stored.
    pub(super) room: Option<Room>,
    pub(super) joined: HashSet<SessionId>,
    pub(super) joining: HashSet<SessionId>,
    /// Users present, with how many of their connections are in the room.
    pub(super) present: HashMap<i32, (UserRef, usize)>,
    pub(super) queue: VecDeque<Op>,
    pub(super) busy: bool,
    pub(super) sequencer: Sequencer,
    /// Sessions whose `joined` history already went up to this seq: live copies of those
    /// messages are not sent to them again.
    pub(super) floor: HashMap<SessionId, i64>,
    /// The sender and `client_id` of this instance's sends not yet delivered, by seq: the
    /// sender gets the message as the acknowledgement of its send.
    pub(super) acks: HashMap<i64, (SessionId, String, Arc<ChatMessage>)>,
    pub(super) watchers: Vec<mpsc::Sender<Arc<ChatMessage>>>,
    /// A read of missing messages is scheduled or running.
    pub(super) filling: bool,
}

impl RoomState {
    pub(super) fn is_idle(&self) -> bool {
        self.joined.is_empty()
            && self.joining.is_empty()
            && self.queue.is_empty()
            && !self.busy
            && !self.filling
            && self.watchers.iter().all(|w| w.is_closed())
    }

    /// Everyone present, here or (through the bridge) on another instance, each once.
    pub(super) fn members<'a>(&'a self, room: &RoomName, peers: &'a Peers) -> Vec<&'a UserRef> {
        let mut users: Vec<&UserRef> = self.present.values().map(|(u, _)| u).collect();
        users.extend(
            peers
                .present(room)
                .filter(|u| !self.present.contains_key(&u.id)),
        );
        users.sort_by_key(|u| u.id);
        users
    }
}

/// The `chat_message` notification for members who are away.
#[derive(Serialize)]
pub(super) struct AwayNotice<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) room: &'a str,
    pub(super) message: &'a ChatMessage,
}
