//! `/api/v1/users`: public registration, profiles (email only for the user and admins),
//! changes by the user themself or an admin.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::User;
use crate::db::Db;
use crate::domain::{Role, Secret};
use crate::error::AppError;
use crate::http::auth::{AuthUser, MaybeAuthUser};
use crate::http::conditional::{self, cached_json, created, CachePolicy, IfMatchHeader};
use crate::http::json::{ApiJson, MergePatch};
use crate::http::listing::{filter_param, list_response, PageParams};
use crate::http::problems::{
    BodyTooLarge, IfMatchFailed, NoValidToken, NotJson, NotMergePatch, NotModified, ProblemSchema,
};
use crate::services::events::Events;
use crate::services::users::{self, UserInput};
use crate::services::{Actor, Change};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i32,
    /// Present only for the user themself and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub name: String,
    pub role: Role,
    /// Present (true) only while an admin has disabled the account.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    pub fn for_viewer(user: &User, viewer: Option<&Actor>) -> Self {
        Self {
            id: user.id,
            email: users::can_see_private(viewer, user.id).then(|| user.email.clone()),
            name: user.name.clone(),
            role: user.role,
            disabled: user.disabled_at.is_some(),
            created_at: user.created_at.and_utc(),
            updated_at: user.updated_at.and_utc(),
        }
    }

    /// How every user looks to `actor`, signed in: what the handlers of `actor`'s requests
    /// show (and `If-Match` compares with).
    fn seen_by(actor: Actor) -> impl Fn(&User) -> Self + Clone + Send + 'static {
        move |user| Self::for_viewer(user, Some(&actor))
    }
}

/// Body of `POST /users`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterInput {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    /// 8 to 128 characters.
    #[schema(value_type = String, format = Password, example = "correct horse battery")]
    pub password: Secret,
}

impl From<RegisterInput> for users::RegisterInput {
    fn from(input: RegisterInput) -> Self {
        Self {
            email: input.email,
            name: input.name,
            password: input.password,
        }
    }
}

// The body is read as the service's `UserInput` (a merge patch is read the same way); this
// describes it in the document.
/// Body of `PUT /users/{id}`: the whole writable representation. `password` is write-only
/// and optional; `role` may be changed by admins only (sending the current role is fine).
#[derive(utoipa::ToSchema)]
#[schema(as = UserInput)]
pub struct UserInputSchema {
    pub email: String,
    pub name: String,
    #[schema(format = Password)]
    pub password: Option<String>,
    pub role: Option<Role>,
    /// Admins only: a disabled account cannot sign in and its sessions end at once.
    pub disabled: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilterParams {
    /// Only users with this role.
    #[param(value_type = Option<Role>)]
    pub role: Option<String>,
}

/// Register a new account (public).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = RegisterInput,
    responses(
        (status = 201, description = "Registered; `Location` names the account", body = UserView),
        (status = 409, description = "The email is registered", body = ProblemSchema, content_type = "application/problem+json"),
        BodyTooLarge,
        NotJson,
    ))]
pub async fn register(
    db: web::Data<Db>,
    events: web::Data<Events>,
    ApiJson(input): ApiJson<RegisterInput>,
) -> Result<HttpResponse, AppError> {
    let user = users::register(&db, &events, input.into()).await?;
    let actor = Actor {
        user_id: user.id,
        role: user.role,
    };
    created(
        format!("/api/v1/users/{}", user.id),
        &UserView::for_viewer(&user, Some(&actor)),
    )
}

/// List users (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    params(PageParams, UserFilterParams),
    responses(
        (status = 200, description = "A page of users", body = crate::http::listing::Page<UserView>),
        (status = 400, description = "Bad parameters", body = ProblemSchema, content_type = "application/problem+json"),
        NoValidToken,
        (status = 403, description = "Not an admin", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    paging: web::Query<PageParams>,
    filter: web::Query<UserFilterParams>,
) -> Result<HttpResponse, AppError> {
    let (page, sort) = paging.parse(users::SORTABLE)?;
    let role = filter_param::<Role>("role", filter.role.as_deref())?;
    let listing = db
        .run(move |c| users::list(c, &actor, role, page.into(), &sort))
        .await?;
    let view = UserView::seen_by(actor);
    list_response(&req, &listing, view, page, CachePolicy::Private)
}

/// The account the token belongs to.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "Your account", body = UserView),
        NoValidToken,
        (status = 404, description = "The account was deleted", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn me(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
) -> Result<HttpResponse, AppError> {
    let user = db.read(move |c| users::get(c, actor.user_id)).await?;
    cached_json(
        &req,
        &UserView::for_viewer(&user, Some(&actor)),
        CachePolicy::Private,
    )
}

/// One user's profile (public; `email` only for the user and admins).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = i32, Path, description = "User id")),
    responses(
        (status = 200, description = "The profile", body = UserView),
        NotModified,
        (status = 401, description = "A token was sent but is invalid", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get(
    req: HttpRequest,
    db: web::Data<Db>,
    MaybeAuthUser(actor): MaybeAuthUser,
    id: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let user = db.read(move |c| users::get(c, id)).await?;
    cached_json(
        &req,
        &UserView::for_viewer(&user, actor.as_ref()),
        CachePolicy::Private,
    )
}

async fn update(
    req: HttpRequest,
    db: web::Data<Db>,
    events: web::Data<Events>,
    actor: Actor,
    id: i32,
    change: Change<UserInput>,
) -> Result<HttpResponse, AppError> {
    let view = UserView::seen_by(actor);
    conditional::update(&req, CachePolicy::Private, view, |check| {
        users::update(&db, &events, actor, id, change, check)
    })
    .await
}

/// Replace your account's fields (or any account, as admin). Changing the password ends
/// every session of the account (its tokens are refused and its sockets closed at once);
/// changing the role or `disabled` needs admin.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i32, Path, description = "User id"), IfMatchHeader),
    request_body = UserInputSchema,
    responses(
        (status = 200, description = "The updated account", body = UserView),
        NoValidToken,
        (status = 403, description = "Not yours, or a role change without admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = ProblemSchema, content_type = "application/problem+json"),
        IfMatchFailed,
        NotJson,
    ))]
pub async fn replace(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    id: web::Path<i32>,
    events: web::Data<Events>,
    ApiJson(input): ApiJson<UserInput>,
) -> Result<HttpResponse, AppError> {
    update(
        req,
        db,
        events,
        actor,
        id.into_inner(),
        Change::Replace(input),
    )
    .await
}

/// Change some fields of an account, as a JSON merge patch.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i32, Path, description = "User id"), IfMatchHeader),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "Any of email, name, password, role, disabled"),
    responses(
        (status = 200, description = "The updated account", body = UserView),
        NoValidToken,
        (status = 403, description = "Not yours, or a role change without admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = ProblemSchema, content_type = "application/problem+json"),
        IfMatchFailed,
        NotMergePatch,
    ))]
pub async fn patch(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    id: web::Path<i32>,
    events: web::Data<Events>,
    MergePatch(patch): MergePatch,
) -> Result<HttpResponse, AppError> {
    update(
        req,
        db,
        events,
        actor,
        id.into_inner(),
        Change::Patch(patch),
    )
    .await
}

/// Delete an account with its posts, orders and sessions. The last admin cannot be deleted.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i32, Path, description = "User id"), IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        NoValidToken,
        (status = 403, description = "Not yours", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The last admin", body = ProblemSchema, content_type = "application/problem+json"),
        IfMatchFailed,
    ))]
pub async fn delete(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    id: web::Path<i32>,
    events: web::Data<Events>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let events = events.get_ref().clone();
    conditional::delete(&req, UserView::seen_by(actor), |check| {
        db.run(move |c| users::delete(c, &events, &actor, id, check))
    })
    .await
}
