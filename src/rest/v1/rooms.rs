//! `/api/v1/rooms`: the chat's rooms and their history over plain HTTP, for clients that
//! are not connected (or are catching up after a reconnect). Any signed-in user.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::Room;
use crate::db::Db;
use crate::domain::RoomName;
use crate::error::{AppError, FieldError};
use crate::http::auth::AuthUser;
use crate::http::conditional::{cached_json, created, CachePolicy};
use crate::http::json::ApiJson;
use crate::http::listing::{list_response, PageParams};
use crate::services::chat::{self, ChatMessage, RoomInput, MAX_HISTORY_PAGE};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoomView {
    pub id: i32,
    pub name: String,
    pub topic: String,
    /// The user who created it (null once that account is deleted).
    pub created_by: Option<i32>,
    pub created_at: DateTime<Utc>,
}

impl From<&Room> for RoomView {
    fn from(r: &Room) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            topic: r.topic.clone(),
            created_by: r.created_by,
            created_at: r.created_at.and_utc(),
        }
    }
}

/// A page of history: `data` oldest first; `next_before` continues with older messages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessagePage {
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
    #[param(value_type = Option<i32>)]
    pub before: Option<String>,
    /// 1 to 100 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
}

impl HistoryParams {
    fn parse(&self) -> Result<(Option<i32>, i64), AppError> {
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
            Ok((before, limit))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// A name that cannot be valid names no room.
fn room_name(raw: &str) -> Result<RoomName, AppError> {
    RoomName::parse("name", raw).map_err(|_| AppError::not_found("room", raw))
}

/// List rooms.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms", security(("bearer" = [])), params(PageParams, RoomFilterParams),
    responses(
        (status = 200, description = "A page of rooms", body = crate::http::listing::Page<RoomView>),
        (status = 400, description = "Bad query parameter", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    req: HttpRequest,
    db: web::Data<Db>,
    _: AuthUser,
    paging: web::Query<PageParams>,
    filter: web::Query<RoomFilterParams>,
) -> Result<HttpResponse, AppError> {
    let (page, sort) = paging.parse(chat::SORTABLE)?;
    let q = filter.into_inner().q.filter(|q| !q.trim().is_empty());
    let listing = db
        .run(move |c| chat::list_rooms(c, q.as_deref(), page.into(), &sort))
        .await?;
    let views = listing.items.iter().map(RoomView::from).collect();
    list_response(&req, views, listing.total, page, CachePolicy::Private)
}

/// Create a room (joining one over WebSocket creates it too).
#[utoipa::path(post, path = "/api/v1/rooms", tag = "rooms", security(("bearer" = [])), request_body = RoomInput,
    responses(
        (status = 201, description = "Created; `Location` names it", body = RoomView),
        (status = 400, description = "Invalid name or topic", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    ApiJson(input): ApiJson<RoomInput>,
) -> Result<HttpResponse, AppError> {
    let room = db.run(move |c| chat::create_room(c, &actor, input)).await?;
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
        (status = 401, description = "No valid token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such room", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    req: HttpRequest,
    db: web::Data<Db>,
    _: AuthUser,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let name = room_name(&name)?;
    let room = db.run(move |c| chat::get_room(c, &name)).await?;
    cached_json(&req, &RoomView::from(&room), CachePolicy::Private)
}

/// A room's messages, newest page first; each page oldest first. Follow `Link: rel="next"`
/// (or pass `next_before` as `before`) for older ones.
#[utoipa::path(get, path = "/api/v1/rooms/{name}/messages", tag = "rooms", security(("bearer" = [])),
    params(("name" = String, Path, description = "Room name"), HistoryParams),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        (status = 400, description = "Bad `before` or `limit`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such room", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn messages(
    req: HttpRequest,
    db: web::Data<Db>,
    _: AuthUser,
    name: web::Path<String>,
    params: web::Query<HistoryParams>,
) -> Result<HttpResponse, AppError> {
    let name = room_name(&name)?;
    let (before, limit) = params.parse()?;
    let page = db
        .run(move |c| {
            let room = chat::get_room(c, &name)?;
            chat::history(c, &room, before, limit)
        })
        .await?;
    let next_before = page
        .has_more
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
