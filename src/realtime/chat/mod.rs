//! `ChatServer`: the one actor that owns rooms, who is in them, and the order of what is
//! said there. Sessions send it parsed client frames; it answers through each session's
//! bounded mailbox.
//!
//! Each room has a queue of operations (joins and messages) run one at a time, off the
//! actor's own loop: the database work goes to the database threads and the actor keeps
//! routing other rooms' traffic meanwhile. Consecutive messages waiting in a room's queue
//! are stored in one transaction. What reaches members goes through the room's
//! [`Sequencer`]: in `seq` order, each message once, whichever instance stored it, with
//! gaps (a message lost on the Redis bridge) filled from the database.

mod sequencer;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web_actors::ws::CloseCode;
use bytestring::ByteString;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::bridge::peers::{Flip, Peers};
use super::bridge::{Bridge, FromPeer, Payload, PeerSnapshot};
use super::hub::NotifyUsers;
use super::protocol::{encode, ClientFrame, FrameError, ServerFrame};
use super::{Outbound, SessionId};
use crate::db::models::Room;
use crate::db::Db;
use crate::domain::RoomName;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::services::chat::{
    self, ChatMessage, ChatSettings, JoinRequest, Outgoing, Resume, Stored,
};
use crate::services::events::UserRef;
use crate::services::Actor as Caller;
use sequencer::Sequencer;

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

struct Member {
    caller: Caller,
    user: UserRef,
    out: Recipient<Outbound>,
    /// Rooms joined or being joined.
    rooms: HashSet<RoomName>,
}

struct Say {
    session: SessionId,
    user: UserRef,
    body: String,
    client_id: Option<String>,
}

/// Who a join is for: a chat session, or a GraphQL subscription.
enum Joiner {
    Session(SessionId),
    Watcher(
        mpsc::Sender<Arc<ChatMessage>>,
        oneshot::Sender<Result<Resume, AppError>>,
    ),
}

enum Op {
    Join(Joiner, JoinRequest),
    Say(Say),
}

#[derive(Default)]
struct RoomState {
    /// Known once the first join has been stored.
    room: Option<Room>,
    joined: HashSet<SessionId>,
    joining: HashSet<SessionId>,
    /// Users present, with how many of their connections are in the room.
    present: HashMap<i32, (UserRef, usize)>,
    queue: VecDeque<Op>,
    busy: bool,
    sequencer: Sequencer,
    /// Sessions whose `joined` history already went up to this seq: live copies of those
    /// messages are not sent to them again.
    floor: HashMap<SessionId, i64>,
    /// The sender and `client_id` of this instance's sends not yet delivered, by seq: the
    /// sender gets the message as the acknowledgement of its send.
    acks: HashMap<i64, (SessionId, String, Arc<ChatMessage>)>,
    watchers: Vec<mpsc::Sender<Arc<ChatMessage>>>,
    /// A read of missing messages is scheduled or running.
    filling: bool,
}

impl RoomState {
    fn is_idle(&self) -> bool {
        self.joined.is_empty()
            && self.joining.is_empty()
            && self.queue.is_empty()
            && !self.busy
            && !self.filling
            && self.watchers.iter().all(|w| w.is_closed())
    }

    /// Everyone present, here or (through the bridge) on another instance, each once.
    fn members<'a>(&'a self, room: &RoomName, peers: &'a Peers) -> Vec<&'a UserRef> {
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
struct AwayNotice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    room: &'a str,
    message: &'a ChatMessage,
}

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

    /// Tells this instance's sessions about users arriving in or leaving a room on other
    /// instances, unless those users are present here too (then nothing changed for them).
    fn announce(&mut self, flips: Vec<Flip>) {
        let mut slow = Vec::new();
        for (room, user, present) in flips {
            let Some(state) = self.rooms.get(&room) else {
                continue;
            };
            if state.present.contains_key(&user.id) {
                continue;
            }
            let frame = encode(&ServerFrame::Presence {
                room: room.as_str(),
                joined: present.then_some(&user),
                left: (!present).then_some(&user),
            });
            self.broadcast(&room, &frame, |_, _| false, &mut slow);
        }
        self.drop_sessions(slow, true);
    }

    /// Queues a frame for one session. A full mailbox means the client does not read what
    /// it is sent: it is reported in `slow` and dropped by the caller.
    fn send(&self, id: SessionId, frame: ByteString, slow: &mut Vec<SessionId>) {
        if let Some(member) = self.sessions.get(&id) {
            if member.out.try_send(Outbound::Frame(frame)).is_err() {
                slow.push(id);
            }
        }
    }

    fn send_error(&mut self, id: SessionId, err: FrameError) {
        let mut slow = Vec::new();
        self.send(id, err.to_frame(), &mut slow);
        self.drop_sessions(slow, true);
    }

    /// Sends `frame` to every joined session of `room` but those `skip` says no to.
    fn broadcast(
        &self,
        room: &RoomName,
        frame: &ByteString,
        skip: impl Fn(SessionId, &UserRef) -> bool,
        slow: &mut Vec<SessionId>,
    ) {
        let Some(state) = self.rooms.get(room) else {
            return;
        };
        for &id in &state.joined {
            if let Some(member) = self.sessions.get(&id) {
                if !skip(id, &member.user)
                    && member.out.try_send(Outbound::Frame(frame.clone())).is_err()
                {
                    slow.push(id);
                }
            }
        }
    }

    /// Hands messages (from anywhere, in any order) to the room's sequencer and delivers
    /// what it releases: to the joined sessions (the sender of a send gets it with its
    /// `client_id`, as the acknowledgement) and to the subscription watchers.
    fn deliver(
        &mut self,
        name: &RoomName,
        messages: Vec<Arc<ChatMessage>>,
        ctx: &mut Context<Self>,
    ) {
        let Some(state) = self.rooms.get_mut(name) else {
            return;
        };
        let ready = state.sequencer.offer(messages);
        self.release(name, ready, ctx);
    }

    fn release(&mut self, name: &RoomName, ready: Vec<Arc<ChatMessage>>, ctx: &mut Context<Self>) {
        let mut slow = Vec::new();
        if let Some(state) = self.rooms.get_mut(name) {
            for message in &ready {
                state
                    .watchers
                    .retain(|tx| tx.try_send(message.clone()).is_ok());
            }
        }
        if let Some(state) = self.rooms.get(name) {
            for message in &ready {
                let ack = state.acks.get(&message.seq);
                let frame = encode(&ServerFrame::Message {
                    message,
                    client_id: None,
                });
                for &id in &state.joined {
                    if state.floor.get(&id).is_some_and(|f| message.seq <= *f) {
                        continue;
                    }
                    let frame = match ack {
                        Some((sender, client_id, _)) if *sender == id => {
                            encode(&ServerFrame::Message {
                                message,
                                client_id: Some(client_id),
                            })
                        }
                        _ => frame.clone(),
                    };
                    if let Some(member) = self.sessions.get(&id) {
                        if member.out.try_send(Outbound::Frame(frame)).is_err() {
                            slow.push(id);
                        }
                    }
                }
            }
        }
        let mut late = Vec::new();
        if let Some(state) = self.rooms.get_mut(name) {
            for message in &ready {
                state.acks.remove(&message.seq);
            }
            // Only now: the messages just sent were checked against the floors.
            if let Some(delivered) = state.sequencer.delivered() {
                state.floor.retain(|_, floor| *floor > delivered);
            }
            // A send that reached members another way first (a gap filled from the database
            // can read it before its own store is reported back): acknowledge it directly.
            if let Some(delivered) = state.sequencer.delivered() {
                let done: Vec<i64> = state
                    .acks
                    .keys()
                    .copied()
                    .filter(|seq| *seq <= delivered)
                    .collect();
                late.extend(done.into_iter().filter_map(|seq| state.acks.remove(&seq)));
            }
        }
        for (sender, client_id, message) in late {
            let ack = encode(&ServerFrame::Message {
                message: &message,
                client_id: Some(&client_id),
            });
            self.send(sender, ack, &mut slow);
        }
        self.drop_sessions(slow, true);
        self.fill_gap_later(name, ctx);
    }

    /// When messages wait for an earlier one, reads the missing ones from the database
    /// after [`GAP_WAIT`] (they are committed: a seq is only handed out once the ones before
    /// it are), unless the bridge brings them first.
    fn fill_gap_later(&mut self, name: &RoomName, ctx: &mut Context<Self>) {
        let Some(state) = self.rooms.get_mut(name) else {
            return;
        };
        if state.filling || state.sequencer.gap().is_none() {
            return;
        }
        state.filling = true;
        let name = name.clone();
        ctx.run_later(GAP_WAIT, move |act, ctx| {
            let gap = act.rooms.get(&name).and_then(|s| s.sequencer.gap());
            match gap {
                Some((from, to)) => act.fill(&name, from, to, ctx),
                None => {
                    if let Some(state) = act.rooms.get_mut(&name) {
                        state.filling = false;
                    }
                    act.drop_room_if_idle(&name);
                }
            }
        });
    }

    /// Reads seq `from..=to` of a room from the database and delivers it; seqs the database
    /// does not have (deleted messages) are skipped.
    fn fill(&mut self, name: &RoomName, from: i64, to: i64, ctx: &mut Context<Self>) {
        if let Some(state) = self.rooms.get_mut(name) {
            state.filling = true;
        }
        let db = self.db.clone();
        let room = name.clone();
        let work = async move { db.run(move |c| chat::range(c, &room, from, to)).await };
        let name = name.clone();
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            if let Some(state) = act.rooms.get_mut(&name) {
                state.filling = false;
            }
            match result {
                Ok(found) => {
                    let found: Vec<_> = found.into_iter().map(Arc::new).collect();
                    let upto = if to == i64::MAX {
                        found.last().map(|m| m.seq)
                    } else {
                        Some(to)
                    };
                    act.deliver(&name, found, ctx);
                    if let Some(upto) = upto {
                        if let Some(state) = act.rooms.get_mut(&name) {
                            let ready = state.sequencer.skip_to(upto);
                            act.release(&name, ready, ctx);
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, room = %name, "reading missed chat messages failed; retrying");
                    act.fill_gap_later(&name, ctx);
                }
            }
            act.drop_room_if_idle(&name);
        }));
    }

    /// Unregisters sessions (gone, or too slow to keep), updating presence in their rooms.
    /// Presence frames can find more slow sessions; they are dropped in the same loop.
    fn drop_sessions(&mut self, mut pending: Vec<SessionId>, slow: bool) {
        while let Some(id) = pending.pop() {
            let Some(member) = self.sessions.remove(&id) else {
                continue;
            };
            if slow {
                tracing::info!(
                    session = id,
                    user = member.user.id,
                    "dropping a chat client that does not read"
                );
                member
                    .out
                    .do_send(Outbound::Close(CloseCode::Policy, "too slow to read"));
            }
            if let Some(count) = self.online.get_mut(&member.user.id) {
                *count -= 1;
                if *count == 0 {
                    self.online.remove(&member.user.id);
                    self.bridge.online(member.user.id, false);
                }
            }
            for room in &member.rooms {
                if let Some(left) = self.remove_from_room(room, id, &member.user) {
                    self.broadcast(room, &left, |_, _| false, &mut pending);
                }
                self.drop_room_if_idle(room);
            }
        }
        self.metrics.set_rooms(self.rooms.len());
    }

    /// Takes a session out of a room; returns the `presence left` frame when it was the
    /// user's last connection there.
    fn remove_from_room(
        &mut self,
        room: &RoomName,
        id: SessionId,
        user: &UserRef,
    ) -> Option<ByteString> {
        let state = self.rooms.get_mut(room)?;
        state.joining.remove(&id);
        state.floor.remove(&id);
        if !state.joined.remove(&id) {
            return None;
        }
        let (_, count) = state.present.get_mut(&user.id)?;
        *count -= 1;
        if *count > 0 {
            return None;
        }
        state.present.remove(&user.id);
        self.bridge.presence(room, user, false);
        if self.peers.is_present(room, user.id) {
            return None;
        }
        Some(encode(&ServerFrame::Presence {
            room: room.as_str(),
            joined: None,
            left: Some(user),
        }))
    }

    fn drop_room_if_idle(&mut self, room: &RoomName) {
        if self.rooms.get(room).is_some_and(RoomState::is_idle) {
            self.rooms.remove(room);
        }
    }

    fn command(&mut self, id: SessionId, frame: ClientFrame, ctx: &mut Context<Self>) {
        let Some(member) = self.sessions.get_mut(&id) else {
            return;
        };
        let user = member.user.clone();
        let caller = member.caller;
        match frame {
            ClientFrame::Join { room, since } => {
                if !member.rooms.contains(&room) && member.rooms.len() >= MAX_ROOMS_PER_SESSION {
                    return self.send_error(
                        id,
                        FrameError::new(
                            "BAD_USER_INPUT",
                            format!("a connection may be in at most {MAX_ROOMS_PER_SESSION} rooms"),
                        ),
                    );
                }
                member.rooms.insert(room.clone());
                let state = self.rooms.entry(room.clone()).or_default();
                if !state.joined.contains(&id) {
                    state.joining.insert(id);
                }
                state.queue.push_back(Op::Join(
                    Joiner::Session(id),
                    JoinRequest {
                        actor: caller,
                        since,
                    },
                ));
                self.metrics.set_rooms(self.rooms.len());
                self.pump(&room, ctx);
            }
            ClientFrame::Message {
                room,
                body,
                client_id,
            } => {
                if !member.rooms.contains(&room) {
                    return self.send_error(
                        id,
                        FrameError::not_a_member(&room).with_client_id(client_id),
                    );
                }
                if let Some(state) = self.rooms.get_mut(&room) {
                    state.queue.push_back(Op::Say(Say {
                        session: id,
                        user,
                        body: body.as_str().to_owned(),
                        client_id,
                    }));
                    self.pump(&room, ctx);
                }
            }
            ClientFrame::Typing { room } => {
                if !member.rooms.contains(&room) {
                    return self.send_error(id, FrameError::not_a_member(&room));
                }
                let frame = encode(&ServerFrame::Typing {
                    room: room.as_str(),
                    user: &user,
                });
                self.bridge.publish(Payload::Typing {
                    room: room.as_str().to_owned(),
                    user: user.clone(),
                });
                let mut slow = Vec::new();
                self.broadcast(&room, &frame, |_, u| u.id == user.id, &mut slow);
                self.drop_sessions(slow, true);
            }
            ClientFrame::Leave { room } => {
                if !member.rooms.remove(&room) {
                    return self.send_error(id, FrameError::not_a_member(&room));
                }
                let mut slow = Vec::new();
                if let Some(left) = self.remove_from_room(&room, id, &user) {
                    self.broadcast(&room, &left, |_, _| false, &mut slow);
                }
                let still_there = self
                    .rooms
                    .get(&room)
                    .is_some_and(|s| s.present.contains_key(&user.id));
                let stored = self.rooms.get(&room).and_then(|s| s.room.clone());
                if let (false, Some(stored)) = (still_there, stored) {
                    let db = self.db.clone();
                    let user_id = user.id;
                    ctx.spawn(
                        async move {
                            let room_id = stored.id;
                            if let Err(err) = db.run(move |c| chat::leave(c, &stored, user_id)).await {
                                tracing::warn!(error = %err, room_id, user_id, "could not end a room membership");
                            }
                        }
                        .into_actor(self),
                    );
                }
                self.send(
                    id,
                    encode(&ServerFrame::Left {
                        room: room.as_str(),
                        reason: None,
                    }),
                    &mut slow,
                );
                self.drop_room_if_idle(&room);
                self.drop_sessions(slow, true);
            }
            // Sessions renew their own token.
            ClientFrame::Auth { .. } => {}
            ClientFrame::History {
                room,
                before,
                limit,
            } => {
                if !member.rooms.contains(&room) {
                    return self.send_error(id, FrameError::not_a_member(&room));
                }
                let db = self.db.clone();
                let name = room.clone();
                let page = async move {
                    db.run(move |c| {
                        let room = crate::services::rooms::visible(c, &caller, &name)?;
                        chat::history(c, &room, before, limit)
                    })
                    .await
                };
                ctx.spawn(page.into_actor(self).map(move |page, act, _| match page {
                    Ok(page) => {
                        let frame = encode(&ServerFrame::History {
                            room: room.as_str(),
                            messages: &page.messages,
                            has_more: page.has_more,
                        });
                        let mut slow = Vec::new();
                        act.send(id, frame, &mut slow);
                        act.drop_sessions(slow, true);
                    }
                    Err(err) => act.send_error(id, FrameError::from(&err)),
                }));
            }
        }
    }

    /// Starts the room's next operation unless one is running.
    fn pump(&mut self, name: &RoomName, ctx: &mut Context<Self>) {
        let Some(state) = self.rooms.get_mut(name) else {
            return;
        };
        if state.busy {
            return;
        }
        match state.queue.front() {
            None => self.drop_room_if_idle(name),
            Some(Op::Join(..)) => {
                let mut joins = Vec::new();
                while let Some(Op::Join(..)) = state.queue.front() {
                    if let Some(Op::Join(joiner, request)) = state.queue.pop_front() {
                        joins.push((joiner, request));
                    }
                }
                state.busy = true;
                let requests: Vec<JoinRequest> = joins.iter().map(|(_, r)| *r).collect();
                let db = self.db.clone();
                let room = name.clone();
                let settings = self.settings;
                let work = async move {
                    db.run(move |c| chat::join(c, &room, &requests, &settings))
                        .await
                };
                let name = name.clone();
                ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
                    act.finish_joins(&name, joins, result, ctx);
                    act.pump(&name, ctx);
                }));
            }
            Some(Op::Say(_)) => {
                let mut says = Vec::new();
                while says.len() < STORE_BATCH {
                    match state.queue.front() {
                        Some(Op::Say(_)) => {
                            if let Some(Op::Say(say)) = state.queue.pop_front() {
                                says.push(say);
                            }
                        }
                        _ => break,
                    }
                }
                let Some(room) = state.room.clone() else {
                    // The join these messages followed failed.
                    for say in says {
                        self.send_error(
                            say.session,
                            FrameError::not_a_member(name).with_client_id(say.client_id),
                        );
                    }
                    return self.pump(name, ctx);
                };
                state.busy = true;
                let batch: Vec<Outgoing> = says
                    .iter()
                    .map(|s| Outgoing {
                        user: s.user.clone(),
                        body: s.body.clone(),
                        client_id: s.client_id.clone(),
                    })
                    .collect();
                let db = self.db.clone();
                let settings = self.settings;
                let work = async move {
                    db.run(move |c| chat::store(c, &room, &batch, &settings))
                        .await
                };
                let name = name.clone();
                ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
                    act.finish_says(&name, says, result, ctx);
                    act.pump(&name, ctx);
                }));
            }
        }
    }

    /// The history a joiner gets: the resume read from the database, completed with what
    /// this instance delivered after that read (a peer's message can arrive while a join
    /// reads). Returns the seq the history ends at.
    fn complete_resume(state: &RoomState, resume: &mut Resume) -> i64 {
        let delivered = state.sequencer.delivered().unwrap_or(resume.last_seq);
        if delivered > resume.last_seq {
            match state.sequencer.delivered_after(resume.last_seq) {
                Some(tail) => resume
                    .messages
                    .extend(tail.iter().map(|m| ChatMessage::clone(m))),
                None => resume.recovered = false,
            }
        }
        delivered.max(resume.last_seq)
    }

    fn finish_joins(
        &mut self,
        name: &RoomName,
        joins: Vec<(Joiner, JoinRequest)>,
        result: Result<(Room, Vec<Result<Resume, AppError>>), AppError>,
        ctx: &mut Context<Self>,
    ) {
        let mut slow = Vec::new();
        match result {
            Ok((room, answers)) => {
                for ((joiner, _), answer) in joins.into_iter().zip(answers) {
                    let Some(state) = self.rooms.get_mut(name) else {
                        break;
                    };
                    state.room = Some(room.clone());
                    let mut resume = match answer {
                        Ok(resume) => resume,
                        Err(err) => {
                            self.refuse_join(name, joiner, &err, &mut slow);
                            continue;
                        }
                    };
                    // Where the room stands: the first join sets it; a later one that read
                    // messages not delivered here yet (stored by a peer) delivers them.
                    let ready = state.sequencer.start(resume.last_seq);
                    let early: Vec<_> = resume
                        .messages
                        .iter()
                        .filter(|m| state.sequencer.delivered().is_some_and(|d| m.seq > d))
                        .cloned()
                        .map(Arc::new)
                        .collect();
                    let mut ready = ready;
                    ready.extend(state.sequencer.offer(early));
                    self.release(name, ready, ctx);
                    let Some(state) = self.rooms.get_mut(name) else {
                        break;
                    };
                    let ends_at = Self::complete_resume(state, &mut resume);
                    match joiner {
                        Joiner::Watcher(tx, ready) => {
                            if ready.send(Ok(resume)).is_ok() {
                                state.watchers.push(tx);
                            }
                        }
                        Joiner::Session(id) => {
                            if !state.joining.remove(&id) && !state.joined.contains(&id) {
                                // Left or disconnected while the join was stored.
                                continue;
                            }
                            if state.sequencer.delivered().is_some_and(|d| d < ends_at) {
                                state.floor.insert(id, ends_at);
                            }
                            let arrived = self.enter(name, id);
                            let Some(state) = self.rooms.get(name) else {
                                break;
                            };
                            let joined = encode(&ServerFrame::Joined {
                                room: name.as_str(),
                                members: state.members(name, &self.peers),
                                history: &resume.messages,
                                recovered: resume.recovered,
                                last_seq: ends_at,
                            });
                            if let Some(arrived) = arrived {
                                self.broadcast(name, &arrived, |other, _| other == id, &mut slow);
                            }
                            self.send(id, joined, &mut slow);
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, room = %name, "a chat join failed");
                for (joiner, _) in joins {
                    self.refuse_join(name, joiner, &err, &mut slow);
                }
            }
        }
        if let Some(state) = self.rooms.get_mut(name) {
            state.busy = false;
        }
        self.drop_sessions(slow, true);
    }

    /// Marks a session as in the room; returns the `presence joined` frame for the others
    /// when it is the user's first connection there.
    fn enter(&mut self, name: &RoomName, id: SessionId) -> Option<ByteString> {
        let user = self.sessions.get(&id)?.user.clone();
        let state = self.rooms.get_mut(name)?;
        if !state.joined.insert(id) {
            return None;
        }
        let entry = state.present.entry(user.id).or_insert((user.clone(), 0));
        entry.1 += 1;
        if entry.1 != 1 {
            return None;
        }
        self.bridge.presence(name, &user, true);
        (!self.peers.is_present(name, user.id)).then(|| {
            encode(&ServerFrame::Presence {
                room: name.as_str(),
                joined: Some(&user),
                left: None,
            })
        })
    }

    fn refuse_join(
        &mut self,
        name: &RoomName,
        joiner: Joiner,
        err: &AppError,
        slow: &mut Vec<SessionId>,
    ) {
        match joiner {
            Joiner::Watcher(_, ready) => {
                let _ = ready.send(Err(err.for_client()));
            }
            Joiner::Session(id) => {
                if let Some(state) = self.rooms.get_mut(name) {
                    state.joining.remove(&id);
                    if state.joined.contains(&id) {
                        return;
                    }
                }
                if let Some(member) = self.sessions.get_mut(&id) {
                    member.rooms.remove(name);
                }
                self.send(id, FrameError::from(err).with_room(name).to_frame(), slow);
            }
        }
    }

    fn finish_says(
        &mut self,
        name: &RoomName,
        says: Vec<Say>,
        result: Result<Stored, AppError>,
        ctx: &mut Context<Self>,
    ) {
        match result {
            Ok(stored) => {
                let mut fresh = Vec::new();
                let mut slow = Vec::new();
                for (sent, say) in stored.sent.into_iter().zip(&says) {
                    let message = Arc::new(sent.message);
                    if !sent.fresh {
                        // A repeated send: acknowledge the original, store and tell nothing.
                        if let Some(client_id) = &say.client_id {
                            let ack = encode(&ServerFrame::Message {
                                message: &message,
                                client_id: Some(client_id),
                            });
                            self.send(say.session, ack, &mut slow);
                        }
                        continue;
                    }
                    if let (Some(client_id), Some(state)) =
                        (&say.client_id, self.rooms.get_mut(name))
                    {
                        state.acks.insert(
                            message.seq,
                            (say.session, client_id.clone(), message.clone()),
                        );
                    }
                    fresh.push(message);
                }
                self.drop_sessions(slow, true);
                self.publish_and_notify(name, &fresh, &stored.members);
                self.deliver(name, fresh, ctx);
            }
            Err(err) => {
                tracing::warn!(error = %err, room = %name, "storing chat messages failed");
                let frame = FrameError::from(&err);
                let mut slow = Vec::new();
                for say in says {
                    let err = frame.clone().with_client_id(say.client_id);
                    self.send(say.session, err.to_frame(), &mut slow);
                }
                self.drop_sessions(slow, true);
            }
        }
        if let Some(state) = self.rooms.get_mut(name) {
            state.busy = false;
        }
    }

    /// Tells the other instances about newly stored messages, and notifies the room's
    /// members who have no chat connection anywhere.
    fn publish_and_notify(
        &mut self,
        name: &RoomName,
        messages: &[Arc<ChatMessage>],
        members: &[i32],
    ) {
        self.metrics.messages_sent(messages.len());
        let away: Vec<i32> = members
            .iter()
            .copied()
            .filter(|u| !self.online.contains_key(u) && !self.peers.is_online(*u))
            .collect();
        for message in messages {
            self.bridge.publish(Payload::Message {
                message: ChatMessage::clone(message),
            });
            if !away.is_empty() {
                let frame = encode(&AwayNotice {
                    kind: "chat_message",
                    room: name.as_str(),
                    message,
                });
                self.bridge.publish(Payload::Notify {
                    users: away.clone(),
                    frame: frame.to_string(),
                });
                self.notify.do_send(NotifyUsers {
                    users: away.clone(),
                    frame,
                });
            }
        }
    }

    /// Every room with members here reads what was stored after what it delivered.
    fn resync(&mut self, ctx: &mut Context<Self>) {
        let rooms: Vec<(RoomName, i64)> = self
            .rooms
            .iter()
            .filter_map(|(name, state)| Some((name.clone(), state.sequencer.delivered()?)))
            .collect();
        for (name, delivered) in rooms {
            self.fill(&name, delivered + 1, i64::MAX, ctx);
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
