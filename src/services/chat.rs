//! Chat rooms and their messages. Any signed-in user may create, join and read a room;
//! membership lasts until the user leaves and decides who is notified of messages while
//! they are away. The WebSocket chat server and the REST history share these functions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::events::UserRef;
use super::{apply_sort, like_contains, Actor, Listing};
use crate::db::models::{Message, NewMessage, NewRoom, NewRoomMember, Room};
use crate::db::schema::{messages, room_members, rooms, users};
use crate::db::{self, write_transaction, DbConnection};
use crate::domain::{bounded_text, Fields, RoomName, Sort, TextKind, Window};
use crate::error::AppError;

/// How many messages a `joined` frame carries.
pub const JOIN_HISTORY: i64 = 50;
/// The largest history page, over WebSocket and REST alike.
pub const MAX_HISTORY_PAGE: i64 = 100;

/// Body of `POST /rooms`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomInput {
    /// 1 to 64 of `a-z 0-9 - _`, starting with a letter or digit; lower-cased.
    #[schema(example = "general")]
    pub name: String,
    /// Up to 200 characters.
    #[serde(default)]
    #[schema(example = "Anything goes")]
    pub topic: Option<String>,
}

/// A stored message as every transport shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    pub id: i32,
    pub room: String,
    pub user: UserRef,
    pub body: String,
    pub sent_at: DateTime<Utc>,
}

/// One page of a room's history, oldest first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub messages: Vec<ChatMessage>,
    /// Whether older messages exist before the first one.
    pub has_more: bool,
}

/// A message waiting to be stored, as the chat server batches them.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub user: UserRef,
    pub body: String,
}

/// What storing a batch produced: the messages (in id order) and the room's members.
#[derive(Debug)]
pub struct Stored {
    pub messages: Vec<ChatMessage>,
    pub members: Vec<i32>,
}

pub fn create_room(
    conn: &mut DbConnection,
    actor: &Actor,
    input: RoomInput,
) -> Result<Room, AppError> {
    let mut f = Fields::default();
    let name = f.take(RoomName::parse("name", &input.name));
    let topic = f.take(bounded_text(
        "topic",
        input.topic.as_deref().unwrap_or(""),
        0..=200,
        TextKind::SingleLine,
    ));
    let (name, topic) = f.finish(|| Some((name?, topic?)))?;
    diesel::insert_into(rooms::table)
        .values(NewRoom {
            name: name.as_str(),
            topic: &topic,
            created_by: Some(actor.user_id),
            created_at: db::now(),
        })
        .returning(rooms::all_columns)
        .get_result::<Room>(conn)
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(format!("the room {name} exists")),
            other => other,
        })
}

pub fn get_room(conn: &mut DbConnection, name: &RoomName) -> Result<Room, AppError> {
    rooms::table
        .filter(rooms::name.eq(name.as_str()))
        .select(Room::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("room", name))
}

pub const SORTABLE: &[&str] = &["id", "name", "created_at"];

pub fn list_rooms(
    conn: &mut DbConnection,
    q: Option<&str>,
    window: Window,
    sort: &Sort,
) -> Result<Listing<Room>, AppError> {
    let base = || {
        let mut query = rooms::table.into_boxed();
        if let Some(q) = q {
            query = query.filter(
                rooms::name
                    .like(like_contains(&q.to_lowercase()))
                    .escape('\\'),
            );
        }
        query
    };
    let total = base().count().get_result(conn)?;
    let items = apply_sort!(base(), sort, rooms::id, {
        "id" => rooms::id, "name" => rooms::name, "created_at" => rooms::created_at,
    })
    .limit(window.limit)
    .offset(window.offset)
    .select(Room::as_select())
    .load(conn)?;
    Ok(Listing { items, total })
}

fn find_or_create(conn: &mut DbConnection, name: &RoomName, by: i32) -> Result<Room, AppError> {
    if let Ok(room) = get_room(conn, name) {
        return Ok(room);
    }
    Ok(diesel::insert_into(rooms::table)
        .values(NewRoom {
            name: name.as_str(),
            topic: "",
            created_by: Some(by),
            created_at: db::now(),
        })
        .returning(rooms::all_columns)
        .get_result(conn)?)
}

/// Makes `users` members of the room (creating it on first join) and returns the room with
/// its latest messages, in one write transaction.
pub fn join(
    conn: &mut DbConnection,
    name: &RoomName,
    users: &[i32],
) -> Result<(Room, HistoryPage), AppError> {
    let first = *users
        .first()
        .ok_or_else(|| AppError::BadRequest("nobody to join".to_owned()))?;
    write_transaction(conn, |conn| {
        let room = find_or_create(conn, name, first)?;
        let existing: Vec<i32> = room_members::table
            .filter(room_members::room_id.eq(room.id))
            .filter(room_members::user_id.eq_any(users))
            .select(room_members::user_id)
            .load(conn)?;
        let now = db::now();
        let mut added = Vec::new();
        for &user_id in users {
            if !existing.contains(&user_id) && !added.contains(&user_id) {
                diesel::insert_into(room_members::table)
                    .values(NewRoomMember {
                        room_id: room.id,
                        user_id,
                        joined_at: now,
                    })
                    .execute(conn)?;
                added.push(user_id);
            }
        }
        let page = history(conn, &room, None, JOIN_HISTORY)?;
        Ok((room, page))
    })
}

/// Ends a user's membership (an explicit leave).
pub fn leave(conn: &mut DbConnection, room_id: i32, user_id: i32) -> Result<(), AppError> {
    diesel::delete(
        room_members::table
            .filter(room_members::room_id.eq(room_id))
            .filter(room_members::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(())
}

/// Stores a batch of messages for one room in one transaction, and reports its members so
/// the caller can notify those who are away.
pub fn store(conn: &mut DbConnection, room: &Room, batch: &[Outgoing]) -> Result<Stored, AppError> {
    write_transaction(conn, |conn| {
        let now = db::now();
        let mut stored = Vec::with_capacity(batch.len());
        for out in batch {
            let row = diesel::insert_into(messages::table)
                .values(NewMessage {
                    room_id: room.id,
                    user_id: out.user.id,
                    body: &out.body,
                    created_at: now,
                })
                .returning(messages::all_columns)
                .get_result::<Message>(conn)?;
            stored.push(ChatMessage {
                id: row.id,
                room: room.name.clone(),
                user: out.user.clone(),
                body: row.body,
                sent_at: row.created_at.and_utc(),
            });
        }
        let members = room_members::table
            .filter(room_members::room_id.eq(room.id))
            .select(room_members::user_id)
            .load(conn)?;
        Ok(Stored {
            messages: stored,
            members,
        })
    })
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
        .inner_join(users::table)
        .filter(messages::room_id.eq(room.id))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(messages::id.lt(before));
    }
    let mut rows: Vec<(Message, (i32, String))> = query
        .order(messages::id.desc())
        .limit(limit + 1)
        .select((Message::as_select(), (users::id, users::name)))
        .load(conn)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    rows.reverse();
    let messages = rows
        .into_iter()
        .map(|(m, (id, name))| ChatMessage {
            id: m.id,
            room: room.name.clone(),
            user: UserRef { id, name },
            body: m.body,
            sent_at: m.created_at.and_utc(),
        })
        .collect();
    Ok(HistoryPage { messages, has_more })
}
