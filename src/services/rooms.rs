//! Chat rooms and who may see them: the one access rule that REST, WebSocket and GraphQL
//! share. A public room is open to every signed-in user; a private room exists only for
//! its members, its owner (the user who created it) and admins. To anyone else a private
//! room does not exist: every way of reaching it answers "not found", never "forbidden", so
//! its name cannot be probed (OWASP API1, broken object-level authorization).
//!
//! Membership (`room_members`) has two uses: for a private room it is the access list,
//! managed by the owner and admins; for every room it says who is notified of messages while
//! away. Joining a public room makes you a member; leaving it over WebSocket ends that.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::events::{DomainEvent, Events, UserRef};
use super::{apply_sort, like_contains, Actor, Listing};
use crate::db::models::{NewRoom, NewRoomMember, Room};
use crate::db::schema::{room_members, rooms, users};
use crate::db::{self, write_transaction, DbConnection};
use crate::domain::{bounded_text, Fields, RoomName, Sort, TextKind, Visibility, Window};
use crate::error::AppError;

pub const SORTABLE: &[&str] = &["id", "name", "created_at"];

/// What creating a room takes (the REST body and the GraphQL input map to it).
#[derive(Debug, Clone)]
pub struct NewRoomInput {
    pub name: String,
    pub topic: Option<String>,
    pub visibility: Visibility,
}

/// A member of a room as listings show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMember {
    pub user: UserRef,
    pub joined_at: DateTime<Utc>,
}

pub fn visibility_of(room: &Room) -> Visibility {
    Visibility::from_stored(&room.visibility)
}

/// Owners and admins manage a room's members and delete its messages.
pub fn is_moderator(actor: &Actor, room: &Room) -> bool {
    actor.is_admin() || room.created_by == Some(actor.user_id)
}

fn is_member(conn: &mut DbConnection, room_id: i32, user_id: i32) -> Result<bool, AppError> {
    Ok(diesel::select(diesel::dsl::exists(
        room_members::table
            .filter(room_members::room_id.eq(room_id))
            .filter(room_members::user_id.eq(user_id)),
    ))
    .get_result(conn)?)
}

/// The access rule: whether `actor` may see `room` at all.
pub fn can_see(conn: &mut DbConnection, actor: &Actor, room: &Room) -> Result<bool, AppError> {
    Ok(visibility_of(room) == Visibility::Public
        || is_moderator(actor, room)
        || is_member(conn, room.id, actor.user_id)?)
}

fn not_found(name: &str) -> AppError {
    AppError::not_found("room", name)
}

/// A room by name, whatever its visibility (for the chat server's find-or-create).
pub fn find(conn: &mut DbConnection, name: &RoomName) -> Result<Option<Room>, AppError> {
    Ok(rooms::table
        .filter(rooms::name.eq(name.as_str()))
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

/// The room `name` as `actor` may see it; a private room they may not see is not found.
pub fn visible(conn: &mut DbConnection, actor: &Actor, name: &RoomName) -> Result<Room, AppError> {
    match find(conn, name)? {
        Some(room) if can_see(conn, actor, &room)? => Ok(room),
        _ => Err(not_found(name.as_str())),
    }
}

pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    input: NewRoomInput,
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
    write_transaction(conn, |conn| {
        let room =
            insert(conn, &name, &topic, actor.user_id, input.visibility).map_err(|e| match e {
                AppError::Conflict(_) => AppError::Conflict(format!("the room {name} exists")),
                other => other,
            })?;
        add(conn, room.id, actor.user_id)?;
        Ok(room)
    })
}

pub(super) fn insert(
    conn: &mut DbConnection,
    name: &RoomName,
    topic: &str,
    by: i32,
    visibility: Visibility,
) -> Result<Room, AppError> {
    Ok(diesel::insert_into(rooms::table)
        .values(NewRoom {
            name: name.as_str(),
            topic,
            created_by: Some(by),
            created_at: db::now(),
            visibility: visibility.as_str(),
        })
        .returning(rooms::all_columns)
        .get_result(conn)?)
}

/// Makes `user_id` a member; `false` when they already were.
pub(super) fn add(conn: &mut DbConnection, room_id: i32, user_id: i32) -> Result<bool, AppError> {
    if is_member(conn, room_id, user_id)? {
        return Ok(false);
    }
    diesel::insert_into(room_members::table)
        .values(NewRoomMember {
            room_id,
            user_id,
            joined_at: db::now(),
        })
        .execute(conn)?;
    Ok(true)
}

/// The rooms `actor` may see: public ones, and private ones they own or belong to (admins
/// see all).
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    q: Option<&str>,
    window: Window,
    sort: &Sort,
) -> Result<Listing<Room>, AppError> {
    // Searched like products (`q`): single-line text, at most 200 characters; blank is none.
    let q = q
        .map(|raw| bounded_text("q", raw, 0..=200, TextKind::SingleLine))
        .transpose()
        .map_err(|e| AppError::Validation(vec![e]))?
        .filter(|q| !q.is_empty());
    let q = q.as_deref();
    let me = actor.user_id;
    let admin = actor.is_admin();
    let base = || {
        let mut query = rooms::table.into_boxed();
        if !admin {
            let mine = room_members::table
                .filter(room_members::user_id.eq(me))
                .select(room_members::room_id);
            query = query.filter(
                rooms::visibility
                    .eq(Visibility::Public.as_str())
                    .or(rooms::created_by.eq(me))
                    .or(rooms::id.eq_any(mine)),
            );
        }
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

/// The members of a room `actor` may see, in the order they joined.
pub fn members(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &RoomName,
) -> Result<Vec<RoomMember>, AppError> {
    let room = visible(conn, actor, name)?;
    let rows: Vec<(i32, String, chrono::NaiveDateTime)> = room_members::table
        .inner_join(users::table)
        .filter(room_members::room_id.eq(room.id))
        .order((room_members::joined_at.asc(), users::id.asc()))
        .select((users::id, users::name, room_members::joined_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, joined_at)| RoomMember {
            user: UserRef { id, name },
            joined_at: joined_at.and_utc(),
        })
        .collect())
}

/// Adds `user_id` to the room (owner or admin). `true` when they were not a member yet.
pub fn add_member(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &RoomName,
    user_id: i32,
) -> Result<bool, AppError> {
    write_transaction(conn, |conn| {
        let room = visible(conn, actor, name)?;
        if !is_moderator(actor, &room) {
            return Err(AppError::Forbidden(
                "only the room's owner or an admin can add members".to_owned(),
            ));
        }
        // Serialized with joins (which add members too) on PostgreSQL.
        db::lock_row(conn, db::LockTable::Rooms, room.id)?;
        let exists: bool =
            diesel::select(diesel::dsl::exists(users::table.find(user_id))).get_result(conn)?;
        if !exists {
            return Err(AppError::not_found("user", user_id));
        }
        add(conn, room.id, user_id)
    })
}

/// Ends `user_id`'s membership (the owner, an admin, or the member themself). Their open
/// sockets leave the room at once, on every instance.
pub fn remove_member(
    conn: &mut DbConnection,
    events: &Events,
    actor: &Actor,
    name: &RoomName,
    user_id: i32,
) -> Result<(), AppError> {
    write_transaction(conn, |conn| {
        let room = visible(conn, actor, name)?;
        if !is_moderator(actor, &room) && actor.user_id != user_id {
            return Err(AppError::Forbidden(
                "only the room's owner, an admin or the member themself can remove a member"
                    .to_owned(),
            ));
        }
        let removed = diesel::delete(
            room_members::table
                .filter(room_members::room_id.eq(room.id))
                .filter(room_members::user_id.eq(user_id)),
        )
        .execute(conn)?;
        if removed == 0 {
            return Err(AppError::NotFound(format!(
                "user {user_id} is not a member of the room {name}"
            )));
        }
        Ok(())
    })?;
    events.publish(DomainEvent::MemberRemoved {
        room: name.as_str().to_owned(),
        user_id,
    });
    Ok(())
}
