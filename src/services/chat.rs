//! Chat messages: storing them in order and exactly once, reading them back, resuming after
//! a disconnect, and moderation. Who may see a room is decided in [`super::rooms`]; the
//! chat server (WebSocket), REST and GraphQL all go through these functions.
//!
//! Every stored message gets its room's next sequence number (`seq`: 1, 2, 3, ... without
//! gaps), taken from `rooms.last_seq` in the transaction that stores it. On PostgreSQL the
//! room's row is locked first, so instances writing to one room at once take turns; on
//! SQLite the write transaction already does. Because a seq is only handed out under that
//! lock, a message with seq `n` being visible means every message before it is too, which
//! is what lets a client resume from the last seq it has.
//!
//! A sender's `client_id` (REST: `Idempotency-Key`) makes a send idempotent: the same key
//! from the same user in the same room within the dedup window stores nothing new and
//! answers with the original message.

use std::time::Duration;

use diesel::prelude::*;

use super::events::{DomainEvent, Events, UserRef};
use super::{rooms, users, Actor};
use crate::db::models::{Message, NewMessage, Room};
use crate::db::schema::{messages, room_members, rooms as rooms_table, users as users_table};
use crate::db::{self, lock_row, write_transaction, DbConnection, LockTable};
use crate::domain::{ClientId, MessageBody, RoomName, Visibility};
use crate::error::AppError;

/// How many messages a `joined` frame carries when it cannot resume.
pub const JOIN_HISTORY: i64 = 50;
/// The largest history page, over WebSocket and REST alike.
pub const MAX_HISTORY_PAGE: i64 = 100;

/// Chat settings from `serve`.
#[derive(Debug, Clone, Copy)]
pub struct ChatSettings {
    /// How long a `client_id` / `Idempotency-Key` is remembered.
    pub dedup_window: Duration,
    /// The most missed messages a join with `since` replays; past it the client gets the
    /// newest page and pages back with `history`.
    pub resume_max: i64,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            dedup_window: Duration::from_secs(24 * 3600),
            resume_max: 1000,
        }
    }
}

/// Defined with the other event vocabulary (a posted message is an event), so that
/// `events` need not import this module while this module publishes events.
pub use super::events::ChatMessage;

impl ChatMessage {
    fn of(message: Message, room: &str, user: UserRef) -> Self {
        Self {
            id: message.id,
            seq: message.seq,
            room: room.to_owned(),
            user,
            body: message.body,
            sent_at: message.created_at.and_utc(),
        }
    }
}

/// One page of a room's history, oldest first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub messages: Vec<ChatMessage>,
    /// Whether more messages exist past the page (older for `history`, newer for `after`).
    pub has_more: bool,
}

/// What a (re)join hands the client.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
    /// True when `messages` are exactly those after the client's `since`; false when it
    /// gave none, or missed more than the bound and gets the newest page instead.
    pub recovered: bool,
    /// The room's newest seq when this was read: live messages continue after it.
    pub last_seq: i64,
}

/// A message waiting to be stored, as the chat server batches them.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub user: UserRef,
    pub body: String,
    pub client_id: Option<String>,
}

/// A message after a send: `fresh` is false when the send repeated an earlier one's
/// `client_id` and this is that earlier message.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: ChatMessage,
    pub fresh: bool,
}

/// What storing a batch produced: one [`Sent`] per outgoing message, in order, and the
/// room's members (to notify those who are away).
#[derive(Debug)]
pub struct Stored {
    pub sent: Vec<Sent>,
    pub members: Vec<i32>,
}

/// A join request: who, and the last seq they have (if resuming).
#[derive(Debug, Clone, Copy)]
pub struct JoinRequest {
    pub actor: Actor,
    pub since: Option<i64>,
}

/// Makes the requesters members of the room (creating it, public, on first join) and
/// reads each one's resume, in one write transaction. A requester who may not see the room
/// gets "not found" in their slot; the others are unaffected.
pub fn join(
    conn: &mut DbConnection,
    name: &RoomName,
    requests: &[JoinRequest],
    settings: &ChatSettings,
) -> Result<(Room, Vec<Result<Resume, AppError>>), AppError> {
    let first = requests
        .first()
        .ok_or_else(|| AppError::BadRequest("nobody to join".to_owned()))?;
    // Created first, on its own: two instances creating the same room at once must not
    // fail either join (on PostgreSQL the loser's unique violation would abort its whole
    // transaction), so the loser just finds the winner's room.
    if rooms::find(conn, name)?.is_none() {
        match rooms::insert(conn, name, "", first.actor.user_id, Visibility::Public) {
            Ok(_) | Err(AppError::Conflict(_)) => {}
            Err(err) => return Err(err),
        }
    }
    write_transaction(conn, |conn| {
        let room = rooms::find(conn, name)?.ok_or_else(|| AppError::not_found("room", name))?;
        // Joins of one user on two instances at once would both insert the membership.
        lock_row(conn, LockTable::Rooms, room.id)?;
        let mut answers = Vec::with_capacity(requests.len());
        let mut pages: Vec<(Option<i64>, Resume)> = Vec::new();
        for request in requests {
            if !rooms::can_see(conn, &request.actor, &room)? {
                answers.push(Err(AppError::not_found("room", name)));
                continue;
            }
            rooms::add(conn, room.id, request.actor.user_id)?;
            let resume = match pages.iter().find(|(since, _)| *since == request.since) {
                Some((_, resume)) => resume.clone(),
                None => {
                    let resume = resume(conn, &room, request.since, settings.resume_max)?;
                    pages.push((request.since, resume.clone()));
                    resume
                }
            };
            answers.push(Ok(resume));
        }
        Ok((room, answers))
    })
}

/// The messages after `since` if there are at most `max` of them, else the newest page.
/// `room` must have been read in the caller's transaction (its `last_seq` is the bound).
pub fn resume(
    conn: &mut DbConnection,
    room: &Room,
    since: Option<i64>,
    max: i64,
) -> Result<Resume, AppError> {
    let last_seq = room.last_seq;
    match since {
        Some(since) if (0..=last_seq).contains(&since) && last_seq - since <= max => {
            let page = after(conn, room, since, max)?;
            Ok(Resume {
                messages: page.messages,
                recovered: true,
                last_seq,
            })
        }
        _ => Ok(Resume {
            messages: history(conn, room, None, JOIN_HISTORY)?.messages,
            recovered: false,
            last_seq,
        }),
    }
}

/// Ends a user's membership after a WebSocket `leave`: only for public rooms, where it
/// means "stop notifying me". A private room's membership is its access list and ends only
/// through the members API.
pub fn leave(conn: &mut DbConnection, room: &Room, user_id: i32) -> Result<(), AppError> {
    if rooms::visibility_of(room) == Visibility::Private {
        return Ok(());
    }
    diesel::delete(
        room_members::table
            .filter(room_members::room_id.eq(room.id))
            .filter(room_members::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(())
}

/// Stores a batch of messages for one room in one transaction, numbering them, and reports
/// its members so the caller can notify those who are away. Sends that repeat a recent
/// `client_id` of the same user answer with the original message and store nothing.
pub fn store(
    conn: &mut DbConnection,
    room: &Room,
    batch: &[Outgoing],
    settings: &ChatSettings,
) -> Result<Stored, AppError> {
    write_transaction(conn, |conn| {
        lock_row(conn, LockTable::Rooms, room.id)?;
        let now = db::now();
        let horizon = now
            - chrono::Duration::from_std(settings.dedup_window)
                .unwrap_or(chrono::Duration::days(1));
        let keys: Vec<&str> = batch
            .iter()
            .filter_map(|o| o.client_id.as_deref())
            .collect();
        let mut earlier: Vec<Message> = if keys.is_empty() {
            Vec::new()
        } else {
            messages::table
                .filter(messages::room_id.eq(room.id))
                .filter(messages::client_id.eq_any(&keys))
                .filter(messages::created_at.ge(horizon))
                .select(Message::as_select())
                .load(conn)?
        };
        let fresh_count = batch
            .iter()
            .enumerate()
            .filter(|(i, out)| {
                let Some(key) = out.client_id.as_deref() else {
                    return true;
                };
                let seen_before = earlier
                    .iter()
                    .any(|m| m.user_id == out.user.id && m.client_id.as_deref() == Some(key));
                let repeated_in_batch = batch[..*i]
                    .iter()
                    .any(|o| o.user.id == out.user.id && o.client_id.as_deref() == Some(key));
                !seen_before && !repeated_in_batch
            })
            .count() as i64;
        let mut next_seq = if fresh_count > 0 {
            let last: i64 = diesel::update(rooms_table::table.find(room.id))
                .set(rooms_table::last_seq.eq(rooms_table::last_seq + fresh_count))
                .returning(rooms_table::last_seq)
                .get_result(conn)?;
            last - fresh_count + 1
        } else {
            0
        };
        let mut sent = Vec::with_capacity(batch.len());
        for out in batch {
            let original = out.client_id.as_deref().and_then(|key| {
                earlier
                    .iter()
                    .find(|m| m.user_id == out.user.id && m.client_id.as_deref() == Some(key))
            });
            if let Some(original) = original {
                sent.push(Sent {
                    message: ChatMessage::of(original.clone(), &room.name, out.user.clone()),
                    fresh: false,
                });
                continue;
            }
            let row = diesel::insert_into(messages::table)
                .values(NewMessage {
                    room_id: room.id,
                    user_id: out.user.id,
                    body: &out.body,
                    created_at: now,
                    seq: next_seq,
                    client_id: out.client_id.as_deref(),
                })
                .returning(messages::all_columns)
                .get_result::<Message>(conn)?;
            next_seq += 1;
            if row.client_id.is_some() {
                earlier.push(row.clone());
            }
            sent.push(Sent {
                message: ChatMessage::of(row, &room.name, out.user.clone()),
                fresh: true,
            });
        }
        let members = room_members::table
            .filter(room_members::room_id.eq(room.id))
            .select(room_members::user_id)
            .load(conn)?;
        Ok(Stored { sent, members })
    })
}

/// Posts a message without a WebSocket (REST, GraphQL): the same rules as a chat send, and
/// the chat server broadcasts it on every instance (unless it repeated an earlier send).
pub fn post(
    conn: &mut DbConnection,
    events: &Events,
    actor: &Actor,
    name: &RoomName,
    body: &str,
    client_id: Option<&str>,
    settings: &ChatSettings,
) -> Result<Sent, AppError> {
    let body = MessageBody::parse("body", body).map_err(|e| AppError::Validation(vec![e]))?;
    let client_id = client_id
        .map(|raw| ClientId::parse("client_id", raw).map_err(|e| AppError::Validation(vec![e])))
        .transpose()?;
    let room = rooms::visible(conn, actor, name)?;
    let user = users::get(conn, actor.user_id)?;
    let outgoing = Outgoing {
        user: UserRef {
            id: user.id,
            name: user.name,
        },
        body: body.as_str().to_owned(),
        client_id: client_id.map(|c| c.as_str().to_owned()),
    };
    let mut stored = store(conn, &room, std::slice::from_ref(&outgoing), settings)?;
    let sent = stored
        .sent
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a stored batch came back empty")))?;
    if sent.fresh {
        events.publish(DomainEvent::MessagePosted {
            message: sent.message.clone(),
            members: stored.members,
        });
    }
    Ok(sent)
}

fn page_rows(rows: Vec<(Message, (i32, String))>, room: &Room) -> Vec<ChatMessage> {
    rows.into_iter()
        .map(|(m, (id, name))| ChatMessage::of(m, &room.name, UserRef { id, name }))
        .collect()
}

/// Up to `limit` messages before the id `before` (or the newest), oldest first.
pub fn history(
    conn: &mut DbConnection,
    room: &Room,
    before: Option<i32>,
    limit: i64,
) -> Result<HistoryPage, AppError> {
    let limit = limit.clamp(1, MAX_HISTORY_PAGE);
    let mut query = messages::table
        .inner_join(users_table::table)
        .filter(messages::room_id.eq(room.id))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(messages::id.lt(before));
    }
    let mut rows: Vec<(Message, (i32, String))> = query
        .order(messages::seq.desc())
        .limit(limit + 1)
        .select((Message::as_select(), (users_table::id, users_table::name)))
        .load(conn)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    rows.reverse();
    Ok(HistoryPage {
        messages: page_rows(rows, room),
        has_more,
    })
}

/// Up to `limit` messages after the seq `since`, oldest first; `has_more` when newer ones
/// remain.
pub fn after(
    conn: &mut DbConnection,
    room: &Room,
    since: i64,
    limit: i64,
) -> Result<HistoryPage, AppError> {
    let limit = limit.max(1);
    let mut rows: Vec<(Message, (i32, String))> = messages::table
        .inner_join(users_table::table)
        .filter(messages::room_id.eq(room.id))
        .filter(messages::seq.gt(since))
        .order(messages::seq.asc())
        .limit(limit + 1)
        .select((Message::as_select(), (users_table::id, users_table::name)))
        .load(conn)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(HistoryPage {
        messages: page_rows(rows, room),
        has_more,
    })
}

/// The messages of a room with seq in `from..=to` (the chat server filling a gap).
pub fn range(
    conn: &mut DbConnection,
    name: &RoomName,
    from: i64,
    to: i64,
) -> Result<Vec<ChatMessage>, AppError> {
    let Some(room) = rooms::find(conn, name)? else {
        return Ok(Vec::new());
    };
    let rows: Vec<(Message, (i32, String))> = messages::table
        .inner_join(users_table::table)
        .filter(messages::room_id.eq(room.id))
        .filter(messages::seq.between(from, to))
        .order(messages::seq.asc())
        .select((Message::as_select(), (users_table::id, users_table::name)))
        .load(conn)?;
    Ok(page_rows(rows, &room))
}

/// One message of a room `actor` may see.
pub fn get_message(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &RoomName,
    id: i32,
) -> Result<ChatMessage, AppError> {
    let room = rooms::visible(conn, actor, name)?;
    let row: Option<(Message, (i32, String))> = messages::table
        .inner_join(users_table::table)
        .filter(messages::room_id.eq(room.id))
        .filter(messages::id.eq(id))
        .select((Message::as_select(), (users_table::id, users_table::name)))
        .first(conn)
        .optional()?;
    let (m, (user_id, user_name)) = row.ok_or_else(|| AppError::not_found("message", id))?;
    Ok(ChatMessage::of(
        m,
        &room.name,
        UserRef {
            id: user_id,
            name: user_name,
        },
    ))
}

/// Deletes a message (the room's owner or an admin); every member's socket is told.
pub fn delete_message(
    conn: &mut DbConnection,
    events: &Events,
    actor: &Actor,
    name: &RoomName,
    id: i32,
) -> Result<(), AppError> {
    write_transaction(conn, |conn| {
        let room = rooms::visible(conn, actor, name)?;
        if !rooms::is_moderator(actor, &room) {
            return Err(AppError::Forbidden(
                "only the room's owner or an admin can delete messages".to_owned(),
            ));
        }
        let deleted = diesel::delete(
            messages::table
                .filter(messages::room_id.eq(room.id))
                .filter(messages::id.eq(id)),
        )
        .execute(conn)?;
        if deleted == 0 {
            return Err(AppError::not_found("message", id));
        }
        Ok(())
    })?;
    events.publish(DomainEvent::MessageDeleted {
        room: name.as_str().to_owned(),
        id,
    });
    Ok(())
}
