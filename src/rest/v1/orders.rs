//! `/api/v1/orders`: your orders (all of them, for admins). Orders are records: they are
//! created, move through their statuses with PATCH, and are deleted only by admins.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::domain::OrderStatus;
use crate::error::AppError;
use crate::http::auth::AuthUser;
use crate::http::conditional::{self, cached_json, created, CachePolicy, IfMatchHeader};
use crate::http::json::{ApiJson, MergePatch};
use crate::http::listing::{filter_param, list_response, PageParams};
use crate::http::problems::{IfMatchFailed, NoValidToken, NotJson, NotModified, ProblemSchema};
use crate::services::events::Events;
use crate::services::from_json_value;
use crate::services::orders::{self, OrderDetails};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderItemView {
    pub product_id: i32,
    pub quantity: i32,
    /// The price when the order was placed.
    pub unit_price_cents: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: i32,
    pub user_id: i32,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub items: Vec<OrderItemView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&OrderDetails> for OrderView {
    fn from(d: &OrderDetails) -> Self {
        Self {
            id: d.order.id,
            user_id: d.order.user_id,
            status: d.status(),
            total_cents: d.order.total_cents,
            items: d
                .items
                .iter()
                .map(|i| OrderItemView {
                    product_id: i.product_id,
                    quantity: i.quantity,
                    unit_price_cents: i.unit_price_cents,
                })
                .collect(),
            created_at: d.order.created_at.and_utc(),
            updated_at: d.order.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineInput {
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::integer")]
    pub product_id: i32,
    /// 1 to 10000.
    #[schema(example = 2)]
    #[serde(deserialize_with = "crate::domain::integer")]
    pub quantity: i32,
}

/// Body of `POST /orders`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// 1 to 100 lines, each product at most once.
    pub items: Vec<OrderLineInput>,
}

impl From<OrderInput> for orders::OrderInput {
    fn from(input: OrderInput) -> Self {
        let items = input
            .items
            .into_iter()
            .map(|line| orders::OrderLineInput {
                product_id: line.product_id,
                quantity: line.quantity,
            })
            .collect();
        Self { items }
    }
}

/// The representation every handler shows (and `If-Match` compares with).
fn view(order: &OrderDetails) -> OrderView {
    OrderView::from(order)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilterParams {
    /// Only orders in this status.
    #[param(value_type = Option<OrderStatus>)]
    pub status: Option<String>,
}

/// Body of `PATCH /orders/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPatch {
    /// The next status: `paid` or `cancelled` (owner or admin), `shipped` (admin).
    pub status: OrderStatus,
}

/// Your orders (admins see everyone's).
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])),
    params(PageParams, OrderFilterParams),
    responses(
        (status = 200, description = "A page of orders", body = crate::http::listing::Page<OrderView>),
        (status = 400, description = "Bad parameters", body = ProblemSchema, content_type = "application/problem+json"),
        NoValidToken,
    ))]
pub async fn list(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    paging: web::Query<PageParams>,
    filter: web::Query<OrderFilterParams>,
) -> Result<HttpResponse, AppError> {
    let (page, sort) = paging.parse(orders::SORTABLE)?;
    let status = filter_param::<OrderStatus>("status", filter.status.as_deref())?;
    let listing = db
        .run(move |c| orders::list(c, &actor, status, page.into(), &sort))
        .await?;
    list_response(&req, &listing, view, page, CachePolicy::Private)
}

/// Place an order. Stock is checked and taken atomically: on 409 nothing changed.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), request_body = OrderInput,
    responses(
        (status = 201, description = "Placed, status pending", body = OrderView),
        (status = 400, description = "Invalid body or unknown product", body = ProblemSchema, content_type = "application/problem+json"),
        NoValidToken,
        (status = 409, description = "Not enough stock", body = ProblemSchema, content_type = "application/problem+json"),
        NotJson,
    ))]
pub async fn create(
    db: web::Data<Db>,
    events: web::Data<Events>,
    AuthUser(actor): AuthUser,
    ApiJson(input): ApiJson<OrderInput>,
) -> Result<HttpResponse, AppError> {
    let events = events.get_ref().clone();
    let order = db
        .run(move |c| orders::create(c, &events, &actor, input.into()))
        .await?;
    created(format!("/api/v1/orders/{}", order.order.id), &view(&order))
}

/// One of your orders (someone else's is 404).
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        NotModified,
        NoValidToken,
        (status = 404, description = "No such order of yours", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    id: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let order = db.read(move |c| orders::get(c, &actor, id)).await?;
    cached_json(&req, &view(&order), CachePolicy::Private)
}

/// Move an order to its next status. Cancelling puts the stock back.
#[utoipa::path(patch, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id"), IfMatchHeader),
    request_body(content = OrderPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated order", body = OrderView),
        NoValidToken,
        (status = 403, description = "Shipping needs admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such order of yours", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "Illegal transition", body = ProblemSchema, content_type = "application/problem+json"),
        IfMatchFailed,
        NotJson,
    ))]
pub async fn patch(
    req: HttpRequest,
    db: web::Data<Db>,
    events: web::Data<Events>,
    AuthUser(actor): AuthUser,
    id: web::Path<i32>,
    MergePatch(body): MergePatch,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let OrderPatch { status } = from_json_value(body)?;
    let events = events.get_ref().clone();
    conditional::update(&req, CachePolicy::Private, view, |check| {
        db.run(move |c| orders::change_status(c, &events, &actor, id, status, check))
    })
    .await
}

/// Delete an order (admin). A pending or paid order's stock goes back.
#[utoipa::path(delete, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Order id"), IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        NoValidToken,
        (status = 403, description = "Not an admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = ProblemSchema, content_type = "application/problem+json"),
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
        db.run(move |c| orders::delete(c, &actor, id, check))
    })
    .await
}
