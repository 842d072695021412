//! `/api/v1/rooms`: the chat's rooms, their members and messages over plain HTTP, for
//! clients that are not connected (or are catching up after a reconnect) and for servers
//! that publish into rooms. Private rooms answer 404 to those who may not see them
//! (`services::rooms` holds the rule).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::Room;
use crate::db::Db;
use crate::domain::{RoomName, Visibility};
use crate::error::{AppError, FieldError};
use crate::http::auth::AuthUser;
use crate::http::conditional::{cached_json, created, CachePolicy};
use crate::http::json::ApiJson;
use crate::http::listing::{list_response, PageParams};
use crate::http::problems::{NoValidToken, NotJson, ProblemSchema};
use crate::realtime::Realtime;
use crate::rest::openapi_schemas::{ChatMessageSchema, UserRefSchema};
use crate::services::chat::{self, ChatMessage, MAX_HISTORY_PAGE};
use crate::services::events::{Events, UserRef};
use crate::services::rooms::{self, NewRoomInput, RoomMember};

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
    /// `private`: only members (added by the owner or an admin), the owner and admins
    /// see the room. Default `public`.
    #[serde(default)]
    pub visibility: Visibility,
}

/// Body of `POST /rooms/{name}/messages`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    /// 1 to 4096 characters of text, trimmed; no control characters but newline and tab.
    #[schema(example = "hello from a script")]
    pub body: String,
}

/// A member of a room.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    #[schema(value_type = UserRefSchema)]
    pub user: UserRef,
    pub joined_at: DateTime<Utc>,
}

impl From<RoomMember> for MemberView {
    fn from(m: RoomMember) -> Self {
        Self {
            user: m.user,
            joined_at: m.joined_at,
        }
    }
}

/// The members of a room, in the order they joined.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberList {
    pub data: Vec<MemberView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoomView {
    pub id: i32,
    pub name: String,
    pub topic: String,
    /// The user who created it, its owner (null once that account is deleted).
    pub created_by: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub visibility: Visibility,
    /// The seq of its newest message (0 before the first).
    pub last_seq: i64,
}

impl From<&Room> for RoomView {
    fn from(r: &Room) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            topic: r.topic.clone(),
            created_by: r.created_by,
            created_at: r.created_at.and_utc(),
            visibility: rooms::visibility_of(r),
            last_seq: r.last_seq,
        }
    }
}

/// A page of messages: `data` oldest first. Without `since`, `next_before` continues with
/// older messages; with `since`, `has_more` says newer ones remain (ask again with the last
/// seq).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessagePage {
    #[schema(value_type = Vec<ChatMessageSchema>)]
    pub data: Vec<ChatMessage>,
    pub has_more: bool,
    /// Pass as `before` for the next (older) page; null when there is none.
    pub next_before: Option<i32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoomFilterParams {
    /// Rooms whose name contains this text.
    pub q: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Only messages with a smaller id (default: the newest).
    #[param(value_type = Option<i32>, minimum = 1)]
    pub before: Option<String>,
    /// Only messages after this seq, oldest first: catching up from the last seq you have.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub since: Option<String>,
    /// 1 to 100 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
}

/// Where a page of messages starts.
enum Start {
    Newest,
    Before(i32),
    Since(i64),
}

impl HistoryParams {
    fn parse(&self) -> Result<(Start, i64), AppError> {
        let mut errors = Vec::new();
        let before = match self.before.as_deref() {
            None => None,
            Some(raw) => match raw.parse::<i32>() {
                Ok(id) if id > 0 => Some(id),
                _ => {
                    errors.push(FieldError::new(
                        "before",
                        "must be a message id (a positive integer)",
                    ));
                    None
                }
            },
        };
        let since = match self.since.as_deref() {
            None => None,
            Some(raw) => match raw.parse::<i64>() {
                Ok(seq) if seq >= 0 => Some(seq),
                _ => {
                    errors.push(FieldError::new("since", "must be a seq (0 or more)"));
                    None
                }
            },
        };
        if before.is_some() && since.is_some() {
            errors.push(FieldError::new(
                "since",
                "give `before` (older messages) or `since` (newer ones), not both",
            ));
        }
        let limit = match self.limit.as_deref() {
            None => chat::JOIN_HISTORY,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=MAX_HISTORY_PAGE).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new(
                        "limit",
                        format!("must be an integer from 1 to {MAX_HISTORY_PAGE}"),
                    ));
                    0
                }
            },
        };
        if errors.is_empty() {
            let from = match (before, since) {
                (Some(before), _) => Start::Before(before),
                (None, Some(since)) => Start::Since(since),
                (None, None) => Start::Newest,
            };
            Ok((from, limit))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// A name that cannot be valid names no room.
fn room_name(raw: &str) -> Result<RoomName, AppError> {
    RoomName::parse("name", raw).map_err(|_| AppError::not_found("room", raw))
}

/// `{name}/members/{user_id}` and `{name}/messages/{id}`.
#[derive(Debug, Deserialize)]
pub struct RoomItem {
    name: String,
    id: String,
}

impl RoomItem {
    /// An id that cannot be valid names nothing in the room.
    fn parse(&self, what: &str) -> Result<(RoomName, i32), AppError> {
        let name = room_name(&self.name)?;
        match self.id.parse::<i32>() {
            Ok(id) if id > 0 => Ok((name, id)),
            _ => Err(AppError::not_found(what, &self.id)),
        }
    }
}

/// List the rooms you may see: public ones, and private ones you own or belong to
/// (admins: all).
#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms", security(("bearer" = [])), params(PageParams, RoomFilterParams),
    responses(
        (status = 200, description = "A page of rooms", body = crate::http::listing::Page<RoomView>),
        (status = 400, description = "Bad query parameter", body = ProblemSchema, content_type = "application/problem+json"),
        NoValidToken,
    ))]
pub async fn list(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    paging: web::Query<PageParams>,
    filter: web::Query<RoomFilterParams>,
) -> Result<HttpResponse, AppError> {
    let (page, sort) = paging.parse(rooms::SORTABLE)?;
    let q = filter.into_inner().q;
    let listing = db
        .run(move |c| rooms::list(c, &actor, q.as_deref(), page.into(), &sort))
        .await?;
    let view = |room: &Room| RoomView::from(room);
    list_response(&req, &listing, view, page, CachePolicy::Private)
}

/// Create a room; you are its owner (joining an unknown room over WebSocket creates a
/// public one too).
#[utoipa::path(post, path = "/api/v1/rooms", tag = "rooms", security(("bearer" = [])), request_body = RoomInput,
    responses(
        (status = 201, description = "Created; `Location` names it", body = RoomView),
        (status = 400, description = "Invalid name or topic", body = ProblemSchema, content_type = "application/problem+json"),
        NoValidToken,
        (status = 409, description = "The name is taken", body = ProblemSchema, content_type = "application/problem+json"),
        NotJson,
    ))]
pub async fn create(
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    ApiJson(input): ApiJson<RoomInput>,
) -> Result<HttpResponse, AppError> {
    let input = NewRoomInput {
        name: input.name,
        topic: input.topic,
        visibility: input.visibility,
    };
    let room = db.run(move |c| rooms::create(c, &actor, input)).await?;
    created(
        format!("/api/v1/rooms/{}", room.name),
        &RoomView::from(&room),
    )
}

/// One room.
#[utoipa::path(get, path = "/api/v1/rooms/{name}", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name")),
    responses(
        (status = 200, description = "The room", body = RoomView),
        NoValidToken,
        (status = 404, description = "No such room", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = room_name(&name)?;
    let room = db.read(move |c| rooms::visible(c, &actor, &name)).await?;
    cached_json(&req, &RoomView::from(&room), CachePolicy::Private)
}

/// A room's messages, newest page first; each page oldest first. Follow `Link: rel="next"`
/// (or pass `next_before` as `before`) for older ones, or pass `since` (a seq) to catch up
/// on newer ones.
#[utoipa::path(get, path = "/api/v1/rooms/{name}/messages", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name"), HistoryParams),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        (status = 400, description = "Bad `before` or `limit`", body = ProblemSchema, content_type = "application/problem+json"),
        NoValidToken,
        (status = 404, description = "No such room", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn messages(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    name: web::Path<String>,
    params: web::Query<HistoryParams>,
) -> Result<HttpResponse, AppError> {
    let name = room_name(&name)?;
    let (from, limit) = params.parse()?;
    let forward = matches!(from, Start::Since(_));
    let page = db
        .read(move |c| {
            let room = rooms::visible(c, &actor, &name)?;
            match from {
                Start::Newest => chat::history(c, &room, None, limit),
                Start::Before(before) => chat::history(c, &room, Some(before), limit),
                Start::Since(since) => chat::after(c, &room, since, limit),
            }
        })
        .await?;
    let next_before = (page.has_more && !forward)
        .then(|| page.messages.first().map(|m| m.id))
        .flatten();
    let body = MessagePage {
        data: page.messages,
        has_more: page.has_more,
        next_before,
    };
    let mut response = cached_json(&req, &body, CachePolicy::Private)?;
    if let Some(before) = next_before {
        let link = format!(
            "<{}?before={before}&limit={limit}>; rel=\"next\"",
            req.path()
        );
        if let Ok(value) = header::HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// Post a message, as over WebSocket: stored with the room's next seq and broadcast to its
/// members on every instance. With `Idempotency-Key` (1 to 64 printable characters), a
/// retry with the same key within the dedup window (24 h by default) stores nothing and
/// answers with the original message (`Idempotent-Replayed: true`).
#[utoipa::path(post, path = "/api/v1/rooms/{name}/messages", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key answers with the same message")),
    request_body = MessageInput,
    responses(
        (status = 201, description = "Stored (or, for a repeated key, the original); `Location` names it", body = ChatMessageSchema),
        (status = 400, description = "Invalid body or key", body = ProblemSchema, content_type = "application/problem+json"),
        NoValidToken,
        (status = 404, description = "No such room (or not one you may see)", body = ProblemSchema, content_type = "application/problem+json"),
        NotJson,
    ))]
pub async fn post_message(
    req: HttpRequest,
    db: web::Data<Db>,
    events: web::Data<Events>,
    rt: web::Data<Realtime>,
    AuthUser(actor): AuthUser,
    name: web::Path<String>,
    ApiJson(input): ApiJson<MessageInput>,
) -> Result<HttpResponse, AppError> {
    let name = room_name(&name)?;
    let key = match req.headers().get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| AppError::invalid("Idempotency-Key", "must be printable ASCII"))?
                .to_owned(),
        ),
    };
    let events = events.get_ref().clone();
    let settings = rt.chat_settings;
    let room = name.clone();
    let sent = db
        .run(move |c| {
            chat::post(
                c,
                &events,
                &actor,
                &room,
                &input.body,
                key.as_deref(),
                &settings,
            )
        })
        .await?;
    let mut response = created(
        format!("/api/v1/rooms/{}/messages/{}", name, sent.message.id),
        &sent.message,
    )?;
    if !sent.fresh {
        response.headers_mut().insert(
            header::HeaderName::from_static("idempotent-replayed"),
            header::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// One message.
#[utoipa::path(get, path = "/api/v1/rooms/{name}/messages/{id}", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name"), ("id" = i32, Path, description = "Message id", minimum = 1)),
    responses(
        (status = 200, description = "The message", body = ChatMessageSchema),
        NoValidToken,
        (status = 404, description = "No such room or message", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get_message(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    path: web::Path<RoomItem>,
) -> Result<HttpResponse, AppError> {
    let (name, id) = path.parse("message")?;
    let message = db
        .read(move |c| chat::get_message(c, &actor, &name, id))
        .await?;
    cached_json(&req, &message, CachePolicy::Private)
}

/// Delete a message (the room's owner or an admin); members' sockets get a `deleted` frame.
#[utoipa::path(delete, path = "/api/v1/rooms/{name}/messages/{id}", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name"), ("id" = i32, Path, description = "Message id", minimum = 1)),
    responses(
        (status = 204, description = "Deleted"),
        NoValidToken,
        (status = 403, description = "Not the room's owner or an admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such room or message", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn delete_message(
    db: web::Data<Db>,
    events: web::Data<Events>,
    AuthUser(actor): AuthUser,
    path: web::Path<RoomItem>,
) -> Result<HttpResponse, AppError> {
    let (name, id) = path.parse("message")?;
    let events = events.get_ref().clone();
    db.run(move |c| chat::delete_message(c, &events, &actor, &name, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A room's members.
#[utoipa::path(get, path = "/api/v1/rooms/{name}/members", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name")),
    responses(
        (status = 200, description = "The members, in the order they joined", body = MemberList),
        NoValidToken,
        (status = 404, description = "No such room (or not one you may see)", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn members(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = room_name(&name)?;
    let members = db.run(move |c| rooms::members(c, &actor, &name)).await?;
    let body = MemberList {
        data: members.into_iter().map(MemberView::from).collect(),
    };
    cached_json(&req, &body, CachePolicy::Private)
}

/// Add a member (the room's owner or an admin). Idempotent: 201 when added, 204 when they
/// already were one.
#[utoipa::path(put, path = "/api/v1/rooms/{name}/members/{user_id}", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name"), ("user_id" = i32, Path, description = "User id", minimum = 1)),
    responses(
        (status = 201, description = "Added"),
        (status = 204, description = "Already a member"),
        NoValidToken,
        (status = 403, description = "Not the room's owner or an admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such room (or not one you may see), or no such user", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn add_member(
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    path: web::Path<RoomItem>,
) -> Result<HttpResponse, AppError> {
    let (name, user_id) = path.parse("user")?;
    let location = format!("/api/v1/rooms/{name}/members/{user_id}");
    let added = db
        .run(move |c| rooms::add_member(c, &actor, &name, user_id))
        .await?;
    Ok(if added {
        HttpResponse::Created()
            .insert_header((header::LOCATION, location))
            .finish()
    } else {
        HttpResponse::NoContent().finish()
    })
}

/// Remove a member (the room's owner, an admin, or the member themself). Their open
/// sockets leave the room at once, on every instance, with a `left` frame (`reason:
/// "removed"`).
#[utoipa::path(delete, path = "/api/v1/rooms/{name}/members/{user_id}", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name"), ("user_id" = i32, Path, description = "User id", minimum = 1)),
    responses(
        (status = 204, description = "Removed"),
        NoValidToken,
        (status = 403, description = "Not allowed to remove this member", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such room (or not one you may see), or not a member", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn remove_member(
    db: web::Data<Db>,
    events: web::Data<Events>,
    AuthUser(actor): AuthUser,
    path: web::Path<RoomItem>,
) -> Result<HttpResponse, AppError> {
    let (name, user_id) = path.parse("user")?;
    let events = events.get_ref().clone();
    db.run(move |c| rooms::remove_member(c, &events, &actor, &name, user_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
