//! Chat rooms over GraphQL: listing and reading rooms, their members and messages, posting,
//! moderation and membership. Every resolver calls the function REST calls, so the access
//! rule of `services::rooms` holds here too: a private room you may not see is `null` (or a
//! `NOT_FOUND` error for mutations), exactly as if it did not exist.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::errors::{parse_id, OrGql};
use super::types::{page, window, Author, Caller, Message, Page};
use crate::db::{models, Db};
use crate::domain::{RoomName, Sort};
use crate::error::AppError;
use crate::realtime::Realtime;
use crate::services::chat::{self, MAX_HISTORY_PAGE};
use crate::services::events::Events;
use crate::services::rooms::{self, NewRoomInput};

fn db<'a>(ctx: &Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}

fn room_name(raw: &str) -> async_graphql::Result<RoomName> {
    RoomName::parse("room", raw)
        .map_err(|_| AppError::not_found("room", raw))
        .gql()
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::Visibility")]
pub enum Visibility {
    Public,
    Private,
}

pub struct Room(pub models::Room);

/// A page of a room's messages, oldest first.
#[derive(SimpleObject)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// More messages exist past this page: older ones (with `before` or neither), newer
    /// ones (with `since`).
    pub has_more: bool,
}

#[derive(SimpleObject)]
pub struct RoomMember {
    pub user: Author,
    pub joined_at: DateTime<Utc>,
}

#[Object]
impl Room {
    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn topic(&self) -> &str {
        &self.0.topic
    }

    async fn visibility(&self) -> Visibility {
        rooms::visibility_of(&self.0).into()
    }

    /// Its owner, who created it (null once that account is deleted).
    async fn owner_id(&self) -> Option<ID> {
        self.0.created_by.map(|id| ID(id.to_string()))
    }

    /// The seq of its newest message (0 before the first).
    async fn last_seq(&self) -> i64 {
        self.0.last_seq
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }

    /// Up to `last` (1 to 100, default 50) messages, oldest first: the newest ones, those
    /// before the message `before`, or those after the seq `since`.
    async fn messages(
        &self,
        ctx: &Context<'_>,
        last: Option<i32>,
        before: Option<ID>,
        since: Option<i64>,
    ) -> async_graphql::Result<MessagePage> {
        let limit = i64::from(last.unwrap_or(chat::JOIN_HISTORY as i32));
        if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
            return Err(AppError::invalid(
                "last",
                format!("must be from 1 to {MAX_HISTORY_PAGE}"),
            ))
            .gql();
        }
        if before.is_some() && since.is_some() {
            return Err(AppError::invalid(
                "since",
                "give `before` or `since`, not both",
            ))
            .gql();
        }
        if since.is_some_and(|s| s < 0) {
            return Err(AppError::invalid("since", "must be a seq (0 or more)")).gql();
        }
        let before = before.as_ref().map(parse_id).transpose()?;
        let room = self.0.clone();
        let page = db(ctx)
            .read(move |c| match since {
                Some(since) => chat::after(c, &room, since, limit),
                None => chat::history(c, &room, before, limit),
            })
            .await
            .gql()?;
        Ok(MessagePage {
            messages: page.messages.iter().map(Message::from).collect(),
            has_more: page.has_more,
        })
    }

    /// Its members, in the order they joined.
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RoomMember>> {
        let actor = Caller::require(ctx)?;
        let name = room_name(&self.0.name)?;
        let members = db(ctx)
            .run(move |c| rooms::members(c, &actor, &name))
            .await
            .gql()?;
        Ok(members
            .into_iter()
            .map(|m| RoomMember {
                user: Author {
                    id: ID(m.user.id.to_string()),
                    name: m.user.name,
                },
                joined_at: m.joined_at,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct RoomQuery;

#[Object]
impl RoomQuery {
    /// The rooms you may see: public ones, and private ones you own or belong to (admins:
    /// all).
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn rooms(
        &self,
        ctx: &Context<'_>,
        q: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Room>> {
        let actor = Caller::require(ctx)?;
        let window = window(first, after)?;
        let listing = db(ctx)
            .run(move |c| rooms::list(c, &actor, q.as_deref(), window, &Sort(Vec::new())))
            .await
            .gql()?;
        Ok(page(window, listing, Room))
    }

    /// A room by name; null when there is none you may see.
    async fn room(&self, ctx: &Context<'_>, name: String) -> async_graphql::Result<Option<Room>> {
        let actor = Caller::require(ctx)?;
        let Ok(name) = RoomName::parse("name", &name) else {
            return Ok(None);
        };
        match db(ctx)
            .read(move |c| rooms::visible(c, &actor, &name))
            .await
        {
            Ok(room) => Ok(Some(Room(room))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(err) => Err(err).gql(),
        }
    }
}

#[derive(InputObject)]
pub struct RoomInput {
    pub name: String,
    pub topic: Option<String>,
    /// Default `PUBLIC`.
    pub visibility: Option<Visibility>,
}

#[derive(Default)]
pub struct RoomMutation;

#[Object]
impl RoomMutation {
    /// Create a room; you are its owner.
    async fn create_room(
        &self,
        ctx: &Context<'_>,
        input: RoomInput,
    ) -> async_graphql::Result<Room> {
        let actor = Caller::require(ctx)?;
        let input = NewRoomInput {
            name: input.name,
            topic: input.topic,
            visibility: input.visibility.map(Into::into).unwrap_or_default(),
        };
        let room = db(ctx)
            .run(move |c| rooms::create(c, &actor, input))
            .await
            .gql()?;
        Ok(Room(room))
    }

    /// Post a message, as over WebSocket: stored with the room's next seq and broadcast to
    /// its members. The same `clientId` within the dedup window returns the original.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        room: String,
        body: String,
        client_id: Option<String>,
    ) -> async_graphql::Result<Message> {
        let actor = Caller::require(ctx)?;
        let name = room_name(&room)?;
        let events = ctx.data_opt::<Events>().cloned().unwrap_or_default();
        let settings = ctx.data_unchecked::<Realtime>().chat_settings;
        let sent = db(ctx)
            .run(move |c| {
                chat::post(
                    c,
                    &events,
                    &actor,
                    &name,
                    &body,
                    client_id.as_deref(),
                    &settings,
                )
            })
            .await
            .gql()?;
        Ok(Message::from(&sent.message))
    }

    /// Delete a message (the room's owner or an admin); returns its id.
    async fn delete_message(
        &self,
        ctx: &Context<'_>,
        room: String,
        id: ID,
    ) -> async_graphql::Result<ID> {
        let actor = Caller::require(ctx)?;
        let name = room_name(&room)?;
        let message_id = parse_id(&id)?;
        let events = ctx.data_opt::<Events>().cloned().unwrap_or_default();
        db(ctx)
            .run(move |c| chat::delete_message(c, &events, &actor, &name, message_id))
            .await
            .gql()?;
        Ok(id)
    }

    /// Add a member (the room's owner or an admin); returns whether they were new.
    async fn add_room_member(
        &self,
        ctx: &Context<'_>,
        room: String,
        user_id: ID,
    ) -> async_graphql::Result<bool> {
        let actor = Caller::require(ctx)?;
        let name = room_name(&room)?;
        let user_id = parse_id(&user_id)?;
        db(ctx)
            .run(move |c| rooms::add_member(c, &actor, &name, user_id))
            .await
            .gql()
    }

    /// Remove a member (the owner, an admin, or the member themself); their sockets leave
    /// the room at once.
    async fn remove_room_member(
        &self,
        ctx: &Context<'_>,
        room: String,
        user_id: ID,
    ) -> async_graphql::Result<bool> {
        let actor = Caller::require(ctx)?;
        let name = room_name(&room)?;
        let user_id = parse_id(&user_id)?;
        let events = ctx.data_opt::<Events>().cloned().unwrap_or_default();
        db(ctx)
            .run(move |c| rooms::remove_member(c, &events, &actor, &name, user_id))
            .await
            .gql()?;
        Ok(true)
    }
}
