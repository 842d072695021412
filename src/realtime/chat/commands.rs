//! What sessions ask for (their frames), and the per-room queue that runs joins and sends
//! one at a time off the actor's loop, storing consecutive sends in one transaction.

use std::sync::Arc;

use actix::prelude::*;

use super::room::*;
use super::*;
use crate::domain::RoomName;
use crate::error::AppError;
use crate::realtime::bridge::Payload;
use crate::realtime::protocol::{encode, ClientFrame, FrameError, ServerFrame};
use crate::realtime::SessionId;
use crate::services::chat::{self, JoinRequest, Outgoing, Stored};

impl ChatServer {
    pub(super) fn command(&mut self, id: SessionId, frame: ClientFrame, ctx: &mut Context<Self>) {
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
                let left = encode(&ServerFrame::Left {
                    room: room.as_str(),
                    reason: None,
                });
                match (still_there, stored) {
                    (false, Some(stored)) => {
                        // `left` once the membership has ended, so a client that reads it
                        // finds the change made.
                        let db = self.db.clone();
                        let user_id = user.id;
                        let work = async move {
                            let room_id = stored.id;
                            if let Err(err) =
                                db.run(move |c| chat::leave(c, &stored, user_id)).await
                            {
                                tracing::warn!(error = %err, room_id, user_id, "could not end a room membership");
                            }
                        };
                        ctx.spawn(work.into_actor(self).map(move |(), act, _| {
                            let mut slow = Vec::new();
                            act.send(id, left, &mut slow);
                            act.drop_sessions(slow, true);
                        }));
                    }
                    _ => self.send(id, left, &mut slow),
                }
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
    pub(super) fn pump(&mut self, name: &RoomName, ctx: &mut Context<Self>) {
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

    pub(super) fn finish_says(
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
}
