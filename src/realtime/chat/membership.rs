//! Who is in a room: joins (with their resume) and how they end (leave, removal,
//! disconnection, a client too slow to read), and the presence frames they cause.

use std::sync::Arc;

use actix::prelude::*;
use actix_web_actors::ws::CloseCode;
use bytestring::ByteString;

use super::room::*;
use super::*;
use crate::db::models::Room;
use crate::domain::RoomName;
use crate::error::AppError;
use crate::realtime::protocol::{encode, FrameError, ServerFrame};
use crate::realtime::{Outbound, SessionId};
use crate::services::chat::{ChatMessage, JoinRequest, Resume};
use crate::services::events::UserRef;

impl ChatServer {
    /// Unregisters sessions (gone, or too slow to keep), updating presence in their rooms.
    /// Presence frames can find more slow sessions; they are dropped in the same loop.
    pub(super) fn drop_sessions(&mut self, mut pending: Vec<SessionId>, slow: bool) {
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
    pub(super) fn remove_from_room(
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

    pub(super) fn drop_room_if_idle(&mut self, room: &RoomName) {
        if self.rooms.get(room).is_some_and(RoomState::is_idle) {
            self.rooms.remove(room);
        }
    }

    /// The history a joiner gets: the resume read from the database, completed with what
    /// this instance delivered after that read (a peer's message can arrive while a join
    /// reads). Returns the seq the history ends at.
    pub(super) fn complete_resume(state: &RoomState, resume: &mut Resume) -> i64 {
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

    pub(super) fn finish_joins(
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
    pub(super) fn enter(&mut self, name: &RoomName, id: SessionId) -> Option<ByteString> {
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

    pub(super) fn refuse_join(
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
}
