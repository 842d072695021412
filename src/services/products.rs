//! The product catalogue. Anyone may read it; only admins change it.

use diesel::prelude::*;
use serde::Deserialize;

use super::{apply_sort, like_contains, lower, Actor, Change, Listing, Precondition};
use crate::db::models::{NewProduct, Product, ProductChanges};
use crate::db::schema::products;
use crate::db::{self, on_backend, write_transaction, DbConnection, Sql};
use crate::domain::{bounded_text, Fields, Sku, Sort, TextKind, Window};
use crate::error::{AppError, FieldError};

pub const SORTABLE: &[&str] = &[
    "id",
    "sku",
    "name",
    "price_cents",
    "stock",
    "created_at",
    "updated_at",
];
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000_000;
pub const MAX_STOCK: i32 = 1_000_000_000;

/// The writable fields of a product: the body of `POST` and `PUT`.
/// Read from JSON here rather than in a transport because a merge patch is read the same
/// way, against the current fields (`Change::resolve`); `rest` describes it in the
/// OpenAPI document.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// Unique stock-keeping unit: letters, digits, `-`, `_`, `.`; at most 64.
    pub sku: String,
    pub name: String,
    /// Optional free text, at most 5000 characters.
    #[serde(default)]
    pub description: String,
    /// Price in cents, 0 to 10^12.
    #[serde(deserialize_with = "crate::domain::integer")]
    pub price_cents: i64,
    /// Units in stock, 0 to 10^9.
    #[serde(deserialize_with = "crate::domain::integer")]
    pub stock: i32,
}

struct ProductDraft {
    sku: String,
    name: String,
    description: String,
    price_cents: i64,
    stock: i32,
}

impl ProductInput {
    fn validate(self) -> Result<ProductDraft, AppError> {
        let mut f = Fields::default();
        let sku = f.take(Sku::parse("sku", &self.sku));
        let name = f.take(bounded_text(
            "name",
            &self.name,
            1..=200,
            TextKind::SingleLine,
        ));
        let description = f.take(bounded_text(
            "description",
            &self.description,
            0..=5000,
            TextKind::MultiLine,
        ));
        if !(0..=MAX_PRICE_CENTS).contains(&self.price_cents) {
            f.push(FieldError::new(
                "price_cents",
                format!("must be from 0 to {MAX_PRICE_CENTS}"),
            ));
        }
        if !(0..=MAX_STOCK).contains(&self.stock) {
            f.push(FieldError::new(
                "stock",
                format!("must be from 0 to {MAX_STOCK}"),
            ));
        }
        f.finish(|| {
            Some(ProductDraft {
                sku: sku?.into_inner(),
                name: name?,
                description: description?,
                price_cents: self.price_cents,
                stock: self.stock,
            })
        })
    }

    fn current(p: &Product) -> serde_json::Value {
        serde_json::json!({
            "sku": p.sku, "name": p.name, "description": p.description,
            "price_cents": p.price_cents, "stock": p.stock,
        })
    }
}

/// List filters, already checked.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: Option<bool>,
}

impl ProductFilter {
    pub fn parse(
        q: Option<&str>,
        min_price: Option<&str>,
        max_price: Option<&str>,
        in_stock: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut price = |field: &str, raw: Option<&str>| match raw.map(str::parse::<i64>) {
            None => None,
            Some(Ok(v)) if (0..=MAX_PRICE_CENTS).contains(&v) => Some(v),
            Some(_) => {
                errors.push(FieldError::new(
                    field,
                    format!("must be an integer from 0 to {MAX_PRICE_CENTS}"),
                ));
                None
            }
        };
        let min_price = price("min_price", min_price);
        let max_price = price("max_price", max_price);
        // A range with min_price above max_price is empty, and so is the answer.
        let in_stock = match in_stock {
            None => None,
            Some("true") | Some("1") => Some(true),
            Some("false") | Some("0") => Some(false),
            Some(_) => {
                errors.push(FieldError::new("in_stock", "must be true or false"));
                None
            }
        };
        let q = match q.map(|raw| bounded_text("q", raw, 0..=200, TextKind::SingleLine)) {
            None => None,
            Some(Ok(text)) if text.is_empty() => None,
            Some(Ok(text)) => Some(text),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
        };
        if errors.is_empty() {
            Ok(Self {
                q,
                min_price,
                max_price,
                in_stock,
            })
        } else {
            Err(errors)
        }
    }

    fn query(&self) -> products::BoxedQuery<'static, Sql> {
        let mut query = products::table.into_boxed();
        if let Some(q) = &self.q {
            query = query.filter(
                lower(products::name)
                    .like(like_contains(&q.to_lowercase()))
                    .escape('\\'),
            );
        }
        if let Some(lo) = self.min_price {
            query = query.filter(products::price_cents.ge(lo));
        }
        if let Some(hi) = self.max_price {
            query = query.filter(products::price_cents.le(hi));
        }
        match self.in_stock {
            Some(true) => query = query.filter(products::stock.gt(0)),
            Some(false) => query = query.filter(products::stock.eq(0)),
            None => {}
        }
        query
    }
}

pub fn list(
    conn: &mut DbConnection,
    filter: &ProductFilter,
    window: Window,
    sort: &Sort,
) -> Result<Listing<Product>, AppError> {
    let total = filter.query().count().get_result::<i64>(conn)?;
    let query = apply_sort!(filter.query(), sort, products::id, {
        "id" => products::id, "sku" => products::sku, "name" => products::name,
        "price_cents" => products::price_cents, "stock" => products::stock,
        "created_at" => products::created_at, "updated_at" => products::updated_at,
    });
    let items = query
        .limit(window.limit)
        .offset(window.offset)
        .select(Product::as_select())
        .load(conn)?;
    Ok(Listing { items, total })
}

pub fn get(conn: &mut DbConnection, id: i32) -> Result<Product, AppError> {
    on_backend!(conn, |c| products::table
        .find(id)
        .select(Product::as_select())
        .first(c)
        .optional())?
    .ok_or_else(|| AppError::not_found("product", id))
}

/// Products by id, for batch loading; missing ids are simply absent.
pub fn get_many(conn: &mut DbConnection, ids: &[i32]) -> Result<Vec<Product>, AppError> {
    Ok(products::table
        .filter(products::id.eq_any(ids))
        .select(Product::as_select())
        .load(conn)?)
}

fn sku_taken(err: AppError, sku: &str) -> AppError {
    match err {
        AppError::Conflict(_) => {
            AppError::Conflict(format!("a product with sku {sku:?} already exists"))
        }
        other => other,
    }
}

pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    input: ProductInput,
) -> Result<Product, AppError> {
    actor.require_admin()?;
    let draft = input.validate()?;
    let now = db::now();
    diesel::insert_into(products::table)
        .values(NewProduct {
            sku: &draft.sku,
            name: &draft.name,
            description: &draft.description,
            price_cents: draft.price_cents,
            stock: draft.stock,
            created_at: now,
            updated_at: now,
        })
        .returning(products::all_columns)
        .get_result::<Product>(conn)
        .map_err(|e| sku_taken(e.into(), &draft.sku))
}

pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    change: Change<ProductInput>,
    precondition: impl Precondition<Product>,
) -> Result<Product, AppError> {
    actor.require_admin()?;
    write_transaction(conn, |conn| {
        db::lock_row(conn, db::LockTable::Products, id)?;
        let current = get(conn, id)?;
        let draft = change
            .resolve(ProductInput::current(&current))?
            .validate()?;
        // Last of the checks: a request that would fail anyway answers with that failure,
        // not 412 (RFC 9110 section 13.2.1).
        precondition(&current)?;
        diesel::update(products::table.find(id))
            .set(ProductChanges {
                sku: &draft.sku,
                name: &draft.name,
                description: &draft.description,
                price_cents: draft.price_cents,
                stock: draft.stock,
                updated_at: db::now(),
            })
            .returning(products::all_columns)
            .get_result::<Product>(conn)
            .map_err(|e| sku_taken(e.into(), &draft.sku))
    })
}

pub fn delete(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    precondition: impl Precondition<Product>,
) -> Result<(), AppError> {
    actor.require_admin()?;
    write_transaction(conn, |conn| {
        db::lock_row(conn, db::LockTable::Products, id)?;
        let current = get(conn, id)?;
        precondition(&current)?;
        diesel::delete(products::table.find(id))
            .execute(conn)
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict(_) => AppError::Conflict(format!(
                "product {id} appears in orders and cannot be deleted; set its stock to 0 instead"
            )),
                other => other,
            })?;
        Ok(())
    })
}
