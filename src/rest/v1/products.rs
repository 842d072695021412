//! `/api/v1/products`: a public catalogue, changed by admins.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::models::Product;
use crate::db::Db;
use crate::error::AppError;
use crate::http::auth::AuthUser;
use crate::http::conditional::{self, cached_json, created, CachePolicy, IfMatchHeader};
use crate::http::json::{ApiJson, MergePatch};
use crate::http::listing::{list_response, PageParams};
use crate::http::problems::{
    BodyTooLarge, IfMatchFailed, NoValidToken, NotJson, NotMergePatch, NotModified, ProblemSchema,
};
use crate::services::products::{self, ProductFilter, ProductInput};
use crate::services::Change;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    pub id: i32,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id,
            sku: p.sku.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            price_cents: p.price_cents,
            stock: p.stock,
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
        }
    }
}

// The body is read as the service's `ProductInput` (a merge patch is read the same way);
// this describes it in the document.
/// The writable fields of a product: the body of `POST` and `PUT`.
#[derive(utoipa::ToSchema)]
#[schema(as = ProductInput)]
pub struct ProductInputSchema {
    /// Unique stock-keeping unit: letters, digits, `-`, `_`, `.`; at most 64.
    #[schema(example = "SKU-10001")]
    pub sku: String,
    #[schema(example = "Walnut desk")]
    pub name: String,
    /// Optional free text, at most 5000 characters.
    #[schema(required = false)]
    pub description: String,
    /// Price in cents, 0 to 10^12.
    #[schema(example = 24900)]
    pub price_cents: i64,
    /// Units in stock, 0 to 10^9.
    #[schema(example = 12)]
    pub stock: i32,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilterParams {
    /// Case-insensitive search in the name.
    pub q: Option<String>,
    /// Lowest price in cents.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub min_price: Option<String>,
    /// Highest price in cents.
    #[param(value_type = Option<i64>, minimum = 0)]
    pub max_price: Option<String>,
    /// Only products with (true) or without (false) stock.
    #[param(value_type = Option<bool>)]
    pub in_stock: Option<String>,
}

fn location(id: i32) -> String {
    format!("/api/v1/products/{id}")
}

/// The representation every handler shows (and `If-Match` compares with).
fn view(product: &Product) -> ProductView {
    ProductView::from(product)
}

/// List products, filtered, sorted and paginated.
#[utoipa::path(get, path = "/api/v1/products", tag = "products",
    params(PageParams, ProductFilterParams),
    responses(
        (status = 200, description = "A page of products; `Link` and `X-Total-Count` headers", body = crate::http::listing::Page<ProductView>),
        NotModified,
        (status = 400, description = "Bad parameters", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn list(
    req: HttpRequest,
    db: web::Data<Db>,
    paging: web::Query<PageParams>,
    filter: web::Query<ProductFilterParams>,
) -> Result<HttpResponse, AppError> {
    let (page, sort) = paging.parse(products::SORTABLE)?;
    let filter = ProductFilter::parse(
        filter.q.as_deref(),
        filter.min_price.as_deref(),
        filter.max_price.as_deref(),
        filter.in_stock.as_deref(),
    )
    .map_err(AppError::Validation)?;
    let listing = db
        .run(move |c| products::list(c, &filter, page.into(), &sort))
        .await?;
    list_response(&req, &listing, view, page, CachePolicy::Public)
}

/// Get one product.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products",
    params(("id" = i32, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product, with `ETag`", body = ProductView),
        NotModified,
        (status = 404, description = "No such product", body = ProblemSchema, content_type = "application/problem+json"),
    ))]
pub async fn get(
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let product = db.read(move |c| products::get(c, id)).await?;
    cached_json(&req, &view(&product), CachePolicy::Public)
}

/// Create a product (admin).
#[utoipa::path(post, path = "/api/v1/products", tag = "products", security(("bearer" = [])),
    request_body = ProductInputSchema,
    responses(
        (status = 201, description = "Created; `Location` names it", body = ProductView),
        NoValidToken,
        (status = 403, description = "Not an admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The sku is taken", body = ProblemSchema, content_type = "application/problem+json"),
        BodyTooLarge,
        NotJson,
    ))]
pub async fn create(
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<HttpResponse, AppError> {
    let product = db.run(move |c| products::create(c, &actor, input)).await?;
    created(location(product.id), &view(&product))
}

async fn update(
    req: HttpRequest,
    db: web::Data<Db>,
    AuthUser(actor): AuthUser,
    id: i32,
    change: Change<ProductInput>,
) -> Result<HttpResponse, AppError> {
    conditional::update(&req, CachePolicy::Public, view, |check| {
        db.run(move |c| products::update(c, &actor, id, change, check))
    })
    .await
}

/// Replace a product (admin). Every writable field is required.
#[utoipa::path(put, path = "/api/v1/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Product id"), IfMatchHeader),
    request_body = ProductInputSchema,
    responses(
        (status = 200, description = "The updated product", body = ProductView),
        NoValidToken,
        (status = 403, description = "Not an admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The sku is taken", body = ProblemSchema, content_type = "application/problem+json"),
        IfMatchFailed,
        NotJson,
    ))]
pub async fn replace(
    req: HttpRequest,
    db: web::Data<Db>,
    actor: AuthUser,
    id: web::Path<i32>,
    ApiJson(input): ApiJson<ProductInput>,
) -> Result<HttpResponse, AppError> {
    update(req, db, actor, id.into_inner(), Change::Replace(input)).await
}

/// Change some fields of a product (admin), as a JSON merge patch.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Product id"), IfMatchHeader),
    request_body(content = Object, content_type = "application/merge-patch+json", description = "Any subset of the product's writable fields"),
    responses(
        (status = 200, description = "The updated product", body = ProductView),
        NoValidToken,
        (status = 403, description = "Not an admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The sku is taken", body = ProblemSchema, content_type = "application/problem+json"),
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

/// Delete a product (admin). Products that appear in orders cannot be deleted.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Product id"), IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        NoValidToken,
        (status = 403, description = "Not an admin", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = ProblemSchema, content_type = "application/problem+json"),
        (status = 409, description = "The product is in orders", body = ProblemSchema, content_type = "application/problem+json"),
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
        db.run(move |c| products::delete(c, &actor, id, check))
    })
    .await
}
