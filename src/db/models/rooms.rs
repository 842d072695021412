use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::columns::StoredTime;
use crate::db::schema::{messages, revoked_sessions, room_members, rooms};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = rooms)]
pub struct Room {
    pub id: i32,
    pub name: String,
    pub topic: String,
    pub created_by: Option<i32>,
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: NaiveDateTime,
    /// `public` or `private` (`domain::Visibility`).
    pub visibility: String,
    /// The `seq` of the room's newest message (0 before the first).
    pub last_seq: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = rooms)]
pub struct NewRoom<'a> {
    pub name: &'a str,
    pub topic: &'a str,
    pub created_by: Option<i32>,
    pub created_at: NaiveDateTime,
    pub visibility: &'a str,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = room_members)]
pub struct NewRoomMember {
    pub room_id: i32,
    pub user_id: i32,
    pub joined_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: i32,
    pub room_id: i32,
    pub user_id: i32,
    pub body: String,
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: NaiveDateTime,
    pub seq: i64,
    pub client_id: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage<'a> {
    pub room_id: i32,
    pub user_id: i32,
    pub body: &'a str,
    pub created_at: NaiveDateTime,
    pub seq: i64,
    pub client_id: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = revoked_sessions)]
pub struct RevokedSession {
    pub session_id: String,
    pub user_id: i32,
    #[diesel(deserialize_as = StoredTime)]
    pub revoked_at: NaiveDateTime,
}
