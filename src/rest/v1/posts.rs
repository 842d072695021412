//! `/api/v1/posts` and `/api/v1/users/{id}/posts`: public reading, authors write their own.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::Post;
use crate::db::Db;
use crate::error::AppError;
use crate::http::auth::AuthUser;
use crate::http::conditional::{self, cached_json, created, CachePolicy, IfMatchHeader};
use crate::http::json::{ApiJson, MergePatch};
use crate::http::listing::{list_response, PageParams};
use crate::http::problems::{
    IfMatchFailed, NoValidToken, NotJson, NotMergePatch, NotModified, ProblemSchema,
};
use crate::services::posts::{self, PostInput};
use crate::services::{Change, Listing};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PostView {
    pub id: i32,
    pub author_id: i32,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Post> for PostView {
    fn from(p: &Post) -> Self {
        Self {
            id: p.id,
            author_id: p.author_id,
            title: p.title.clone(),
            body: p.body.clone(),
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
        }
    }
}

// The body is read as the service's `PostInput` (a merge patch is read the same way);
// this describes it in the document.
/// The writable fields of a post: the body of `POST` and `PUT`.
#[derive(utoipa::ToSchema)]
#[schema(as = PostInput)]
pub struct PostInputSchema {
    /// 1 to 200 characters.
    #[schema(example = "Hello, switchboard")]
    pub title: String,
    /// 1 to 20000 characters of HTML, cleaned to a safe allow-list (plain text is fine).
    #[schema(example = "First post.")]
    pub body: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostFilterParams {
    /// Only posts by this user.
    #[param(value_type = Option<i32>)]
    pub author_id: Option<String>,
}

/// The representation every handler shows (and `If-Match` compares with).
fn view(post: &Post) -> PostView {
    PostView::from(post)
}

fn respond(
    req: &HttpRequest,
    listing: Listing<Post>,
    page: crate::domain::PageRequest,
) -> Result<HttpResponse, AppError> {
    list_response(req, &listing, view, page, CachePolicy::Public)
}

/// List posts, optionally by one author.
#[utoipa::path(get, path = "/api/v1/posts", tag = "posts", params(PageParams, PostFilterParams),
    responses(
        (status = 200, description = "A page of posts", body = crate::http::listing::Page<PostView>),
        (status = 400, description = "Bad parameters", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list(
    req: HttpRequest,
    db: web::Data<Db>,
    paging: web::Query<PageParams>,
    filter: web::Query<PostFilterParams>,
) -> Result<HttpResponse, AppError> {
    let (page, sort) = paging.parse(posts::SORTABLE)?;
    let author = filter
        .author_id
        .as_deref()
        .map(str::parse::<i32>)
        .transpose()
        .map_err(|_| AppError::invalid("author_id", "must be a user id"))?;
    let listing = db
        .run(move |c| posts::list(c, author, page.into(), &sort))
        .await?;
    respond(&req, listing, page)
}

/// List one user's posts.
#[utoipa::path(get, path = "/api/v1/users/{id}/posts", tag = "posts",
    params(("id" = i32, Path, description = "User id"), PageParams),
    responses(
        (status = 200, description = "A page of the user's posts", body = crate::http::listing::Page<PostView>),
        (status = 400, description = "Bad parameters", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list_by_user(
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<i32>,
    paging: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    let (page, sort) = paging.parse(posts::SORTABLE)?;
    let user_id = id.into_inner();
    let listing = db
        .run(move |c| posts::list_by_user(c, user_id, page.into(), &sort))
        .await?;
    respond(&req, listing, page)
}

/// Get one post.
#[utoipa::path(get, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = i32, Path, description = "Post id")),
    responses(
        (status = 200, description = "The post", body = PostView),
        NotModified,
        (status = 404, description = "No such post", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get(
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let post = db.read(move |c| posts::get(c, id)).await?;
    cached_json(&req, &view(&post), CachePolicy::Public)
}

/// Write a post as the token's user.
#[utoipa::path(post, path = "/api/v1/posts", tag = "posts", security(("bearer" = [])), request_body = PostInputSchema,
    responses(
        (status = 201, description = "Created", body = PostView),
        NoValidToken,
        NotJson,
    ))]
pub async fn create(
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    ApiJson(input): ApiJson<PostInput>,
) -> Result<HttpResponse, AppError> {
    let post = db.run(move |c| posts::create(c, &actor, input)).await?;
    created(format!("/api/v1/posts/{}", post.id), &view(&post))
}

async fn update(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    id: i32,
    change: Change<PostInput>,
) -> Result<HttpResponse, AppError> {
    conditional::update(&req, CachePolicy::Public, view, |check| {
        db.run(move |c| posts::update(c, &actor, id, change, check))
    })
    .await
}

/// Replace your post's title and body.
#[utoipa::path(put, path = "/api/v1/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Post id"), IfMatchHeader),
    request_body = PostInputSchema,
    responses(
        (status = 200, description = "The updated post", body = PostView),
        NoValidToken,
        (status = 403, description = "Not your post", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such post", body = ProblemSchema, content_type = "application/problem+json"),
        IfMatchFailed,
        NotJson,
    ))]
pub async fn replace(
    req: HttpRequest,
    db: web::Data<Db>,
    actor: AuthUser,
    id: web::Path<i32>,
    ApiJson(input): ApiJson<PostInput>,
) -> Result<HttpResponse, AppError> {
    update(req, db, actor, id.into_inner(), Change::Replace(input)).await
}

/// Change your post's title or body, as a JSON merge patch.
#[utoipa::path(patch, path = "/api/v1/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Post id"), IfMatchHeader),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "title and/or body"),
    responses(
        (status = 200, description = "The updated post", body = PostView),
        NoValidToken,
        (status = 403, description = "Not your post", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such post", body = ProblemSchema, content_type = "application/problem+json"),
        IfMatchFailed,
        NotMergePatch,
    ))]
pub async fn patch(
    req: HttpRequest,
    db: web::Data<Db>,
    actor: AuthUser,
    id: web::Path<i32>,
    MergePatch(patch): MergePatch,
) -> Result<HttpResponse, AppError> {
    update(req, db, actor, id.into_inner(), Change::Patch(patch)).await
}

/// Delete your post (admins may delete any).
#[utoipa::path(delete, path = "/api/v1/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Post id"), IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        NoValidToken,
        (status = 403, description = "Not your post", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such post", body = ProblemSchema, content_type = "application/problem+json"),
        IfMatchFailed,
    ))]
pub async fn delete(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    id: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    conditional::delete(&req, view, |check| {
        db.run(move |c| posts::delete(c, &actor, id, check))
    })
    .await
}
