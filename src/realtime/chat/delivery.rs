//! What reaches a room's members, and when: broadcasting, the room's [`Sequencer`](super::sequencer::Sequencer) (seq
//! order, each message once, held back until the ones before it are here), filling gaps from
//! the database, and telling the other instances and the members who are away.

use std::sync::Arc;

use actix::prelude::*;
use bytestring::ByteString;

use super::room::*;
use super::*;
use crate::domain::RoomName;
use crate::realtime::bridge::peers::Flip;
use crate::realtime::bridge::Payload;
use crate::realtime::hub::NotifyUsers;
use crate::realtime::protocol::{encode, FrameError, ServerFrame};
use crate::realtime::{Outbound, SessionId};
use crate::services::chat::{self, ChatMessage};
use crate::services::events::UserRef;

impl ChatServer {
    /// Tells this instance's sessions about users arriving in or leaving a room on other
    /// instances, unless those users are present here too (then nothing changed for them).
    pub(super) fn announce(&mut self, flips: Vec<Flip>) {
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
    pub(super) fn send(&self, id: SessionId, frame: ByteString, slow: &mut Vec<SessionId>) {
        if let Some(member) = self.sessions.get(&id) {
            if member.out.try_send(Outbound::Frame(frame)).is_err() {
                slow.push(id);
            }
        }
    }

    pub(super) fn send_error(&mut self, id: SessionId, err: FrameError) {
        let mut slow = Vec::new();
        self.send(id, err.to_frame(), &mut slow);
        self.drop_sessions(slow, true);
    }

    /// Sends `frame` to every joined session of `room` but those `skip` says no to.
    pub(super) fn broadcast(
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
    pub(super) fn deliver(
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

    pub(super) fn release(
        &mut self,
        name: &RoomName,
        ready: Vec<Arc<ChatMessage>>,
        ctx: &mut Context<Self>,
    ) {
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
    pub(super) fn fill_gap_later(&mut self, name: &RoomName, ctx: &mut Context<Self>) {
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
    pub(super) fn fill(&mut self, name: &RoomName, from: i64, to: i64, ctx: &mut Context<Self>) {
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

    /// Tells the other instances about newly stored messages, and notifies the room's
    /// members who have no chat connection anywhere.
    pub(super) fn publish_and_notify(
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
    pub(super) fn resync(&mut self, ctx: &mut Context<Self>) {
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
