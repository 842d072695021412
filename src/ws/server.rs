//! `ChatServer`: the one actor that owns rooms, who is in them, and the order of what is
//! said there. Sessions send it parsed client frames; it answers through each session's
//! bounded mailbox.
//!
//! Each room has a queue of operations (joins and messages) run one at a time, off the
//! actor's own loop: the database work goes to the database threads and the actor keeps
//! routing other rooms' traffic meanwhile. One room at a time gives two guarantees: a
//! message is stored before it is broadcast and broadcasts come in id order, and a `joined`
//! frame's history ends exactly where the live messages begin. Consecutive messages
//! waiting in a room's queue are stored in one transaction.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws::CloseCode;
use bytestring::ByteString;
use serde::Serialize;
use tokio::sync::mpsc;

use super::events::NotifyUsers;
use super::protocol::{encode, ClientFrame, FrameError, ServerFrame};
use super::{Outbound, SessionId};
use crate::bridge::peers::{Flip, Peers};
use crate::bridge::{Bridge, FromPeer, Payload, PeerSnapshot};
use crate::db::models::Room;
use crate::db::Db;
use crate::domain::RoomName;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::services::chat::{self, ChatMessage, HistoryPage, Outgoing, Stored};
use crate::services::events::UserRef;

/// Rooms one connection may be in at once.
pub const MAX_ROOMS_PER_SESSION: usize = 100;
/// Most messages stored in one transaction.
const STORE_BATCH: usize = 256;

#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub id: SessionId,
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

/// A GraphQL `messageAdded` subscription: every message stored in `room` is sent to `tx`.
/// A watcher that falls `WATCH_QUEUE` messages behind is dropped (its stream ends).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchRoom {
    pub room: RoomName,
    pub tx: mpsc::Sender<Arc<ChatMessage>>,
}

/// How far a room watcher may fall behind.
pub const WATCH_QUEUE: usize = 256;

/// Tell every session the server is going away (close 1001).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

struct Member {
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

enum Op {
    Join(SessionId, UserRef),
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
}

impl RoomState {
    fn is_idle(&self) -> bool {
        self.joined.is_empty() && self.joining.is_empty() && self.queue.is_empty() && !self.busy
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
    sessions: HashMap<SessionId, Member>,
    /// Chat connections per user: who counts as "connected to chat".
    online: HashMap<i32, usize>,
    rooms: HashMap<RoomName, RoomState>,
    watchers: HashMap<RoomName, Vec<mpsc::Sender<Arc<ChatMessage>>>>,
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
    ) -> Self {
        Self {
            db,
            notify,
            metrics,
            sessions: HashMap::new(),
            online: HashMap::new(),
            rooms: HashMap::new(),
            watchers: HashMap::new(),
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

    /// Hands stored messages to the room's subscription watchers, forgetting gone or
    /// lagging ones.
    fn feed_watchers(&mut self, room: &RoomName, messages: &[ChatMessage]) {
        let Some(watchers) = self.watchers.get_mut(room) else {
            return;
        };
        for message in messages {
            let shared = Arc::new(message.clone());
            watchers.retain(|tx| tx.try_send(shared.clone()).is_ok());
        }
        if watchers.is_empty() {
            self.watchers.remove(room);
        }
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
        match frame {
            ClientFrame::Join { room } => {
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
                state.queue.push_back(Op::Join(id, user));
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
                let room_id = self
                    .rooms
                    .get(&room)
                    .and_then(|s| s.room.as_ref())
                    .map(|r| r.id);
                if let (false, Some(room_id)) = (still_there, room_id) {
                    let db = self.db.clone();
                    let user_id = user.id;
                    ctx.spawn(
                        async move {
                            if let Err(err) = db.run(move |c| chat::leave(c, room_id, user_id)).await {
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
                    }),
                    &mut slow,
                );
                self.drop_room_if_idle(&room);
                self.drop_sessions(slow, true);
            }
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
                        let room = chat::get_room(c, &name)?;
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
                    if let Some(Op::Join(id, user)) = state.queue.pop_front() {
                        joins.push((id, user));
                    }
                }
                state.busy = true;
                let users: Vec<i32> = joins.iter().map(|(_, u)| u.id).collect();
                let db = self.db.clone();
                let room = name.clone();
                let work = async move { db.run(move |c| chat::join(c, &room, &users)).await };
                let name = name.clone();
                ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
                    act.finish_joins(&name, joins, result);
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
                    })
                    .collect();
                let db = self.db.clone();
                let work = async move { db.run(move |c| chat::store(c, &room, &batch)).await };
                let name = name.clone();
                ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
                    act.finish_says(&name, says, result);
                    act.pump(&name, ctx);
                }));
            }
        }
    }

    fn finish_joins(
        &mut self,
        name: &RoomName,
        joins: Vec<(SessionId, UserRef)>,
        result: Result<(Room, HistoryPage), AppError>,
    ) {
        let mut slow = Vec::new();
        match result {
            Ok((room, page)) => {
                for (id, user) in joins {
                    let Some(state) = self.rooms.get_mut(name) else {
                        break;
                    };
                    state.room = Some(room.clone());
                    if !state.joining.remove(&id) && !state.joined.contains(&id) {
                        // Left or disconnected while the join was stored.
                        continue;
                    }
                    let mut arrived = None;
                    if state.joined.insert(id) {
                        let entry = state.present.entry(user.id).or_insert((user.clone(), 0));
                        entry.1 += 1;
                        if entry.1 == 1 {
                            self.bridge.presence(name, &user, true);
                        }
                        if entry.1 == 1 && !self.peers.is_present(name, user.id) {
                            arrived = Some(encode(&ServerFrame::Presence {
                                room: name.as_str(),
                                joined: Some(&user),
                                left: None,
                            }));
                        }
                    }
                    let joined = encode(&ServerFrame::Joined {
                        room: name.as_str(),
                        members: state.members(name, &self.peers),
                        history: &page.messages,
                    });
                    if let Some(arrived) = arrived {
                        self.broadcast(name, &arrived, |other, _| other == id, &mut slow);
                    }
                    self.send(id, joined, &mut slow);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, room = %name, "a chat join failed");
                let frame = FrameError::from(&err);
                for (id, _) in joins {
                    if let Some(state) = self.rooms.get_mut(name) {
                        state.joining.remove(&id);
                        if state.joined.contains(&id) {
                            continue;
                        }
                    }
                    if let Some(member) = self.sessions.get_mut(&id) {
                        member.rooms.remove(name);
                    }
                    self.send(id, frame.to_frame(), &mut slow);
                }
            }
        }
        if let Some(state) = self.rooms.get_mut(name) {
            state.busy = false;
        }
        self.drop_sessions(slow, true);
    }

    fn finish_says(&mut self, name: &RoomName, says: Vec<Say>, result: Result<Stored, AppError>) {
        let mut slow = Vec::new();
        match result {
            Ok(stored) => {
                self.metrics.messages_sent(stored.messages.len());
                self.feed_watchers(name, &stored.messages);
                let away: Vec<i32> = stored
                    .members
                    .iter()
                    .copied()
                    .filter(|u| !self.online.contains_key(u) && !self.peers.is_online(*u))
                    .collect();
                for (message, say) in stored.messages.iter().zip(&says) {
                    self.bridge.publish(Payload::Message {
                        message: message.clone(),
                    });
                    let frame = encode(&ServerFrame::Message {
                        message,
                        client_id: None,
                    });
                    match &say.client_id {
                        Some(client_id) => {
                            self.broadcast(name, &frame, |id, _| id == say.session, &mut slow);
                            let ack = encode(&ServerFrame::Message {
                                message,
                                client_id: Some(client_id),
                            });
                            self.send(say.session, ack, &mut slow);
                        }
                        None => self.broadcast(name, &frame, |_, _| false, &mut slow),
                    }
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
            Err(err) => {
                tracing::warn!(error = %err, room = %name, "storing chat messages failed");
                let frame = FrameError::from(&err);
                for say in says {
                    let err = frame.clone().with_client_id(say.client_id);
                    self.send(say.session, err.to_frame(), &mut slow);
                }
            }
        }
        if let Some(state) = self.rooms.get_mut(name) {
            state.busy = false;
        }
        self.drop_sessions(slow, true);
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

    fn handle(&mut self, msg: WatchRoom, _: &mut Context<Self>) {
        self.watchers.entry(msg.room).or_default().push(msg.tx);
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

    fn handle(&mut self, FromPeer { origin, payload }: FromPeer, _: &mut Context<Self>) {
        let room_of = |name: &str| RoomName::parse("room", name).ok();
        match payload {
            Payload::Message { message } => {
                let Some(room) = room_of(&message.room) else {
                    return;
                };
                self.feed_watchers(&room, std::slice::from_ref(&message));
                let frame = encode(&ServerFrame::Message {
                    message: &message,
                    client_id: None,
                });
                let mut slow = Vec::new();
                self.broadcast(&room, &frame, |_, _| false, &mut slow);
                self.drop_sessions(slow, true);
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
            // The event hub's.
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
