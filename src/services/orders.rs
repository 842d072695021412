//! Orders: stock is taken when an order is placed and given back when it is cancelled, in the
//! same transaction as the status change, so stock and orders always agree.
//!
//! Users see only their own orders (someone else's reads as 404, so ids reveal nothing);
//! admins see all. Owners pay and cancel; shipping is an admin's job.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::events::{DomainEvent, Events, OrderSummary};
use super::{apply_sort, Actor, Listing, Precondition};
use crate::db::models::{NewOrder, NewOrderItem, Order, OrderItem};
use crate::db::schema::{order_items, orders, products};
use crate::db::{self, write_transaction, DbConnection};
use crate::domain::{OrderStatus, Sort, Window};
use crate::error::{AppError, FieldError};

pub const SORTABLE: &[&str] = &["id", "status", "total_cents", "created_at", "updated_at"];
pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i32 = 10_000;

#[derive(Debug, Clone)]
pub struct OrderLineInput {
    pub product_id: i32,
    /// 1 to 10000.
    pub quantity: i32,
}

/// A new order, as REST and GraphQL read it from their own input types.
#[derive(Debug, Clone)]
pub struct OrderInput {
    /// 1 to 100 lines, each product at most once.
    pub items: Vec<OrderLineInput>,
}

/// An order with its lines.
#[derive(Debug, Clone)]
pub struct OrderDetails {
    pub order: Order,
    pub items: Vec<OrderItem>,
}

impl OrderDetails {
    pub fn status(&self) -> OrderStatus {
        self.order.status
    }
}

fn validate(input: &OrderInput) -> Result<(), AppError> {
    let mut errors = Vec::new();
    if input.items.is_empty() || input.items.len() > MAX_LINES {
        errors.push(FieldError::new(
            "items",
            format!("must have 1 to {MAX_LINES} lines"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, line) in input.items.iter().enumerate() {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            errors.push(FieldError::new(
                format!("items[{i}].quantity"),
                format!("must be from 1 to {MAX_QUANTITY}"),
            ));
        }
        if !seen.insert(line.product_id) {
            errors.push(FieldError::new(
                format!("items[{i}].product_id"),
                "each product may appear only once",
            ));
        }
    }
    AppError::unless_invalid(errors)
}

/// Places an order: every line's stock is checked and taken in one write transaction, so
/// either the whole order is placed or nothing changes.
pub fn create(
    conn: &mut DbConnection,
    events: &Events,
    actor: &Actor,
    input: OrderInput,
) -> Result<OrderDetails, AppError> {
    validate(&input)?;
    let placed = write_transaction(conn, |conn| {
        let now = db::now();
        let mut priced = Vec::with_capacity(input.items.len());
        // In id order, so concurrent orders lock rows in the same order (no deadlocks on PG).
        let mut lines: Vec<(usize, &OrderLineInput)> = input.items.iter().enumerate().collect();
        lines.sort_by_key(|(_, l)| l.product_id);
        for (i, line) in lines {
            // Check and take in one statement: no window between reading and writing stock.
            let price = diesel::update(
                products::table
                    .filter(products::id.eq(line.product_id))
                    .filter(products::stock.ge(line.quantity)),
            )
            .set((
                products::stock.eq(products::stock - line.quantity),
                products::updated_at.eq(now),
            ))
            .returning(products::price_cents)
            .get_result::<i64>(conn)
            .optional()?;
            match price {
                Some(price) => priced.push((line, price)),
                None => {
                    let stock = products::table
                        .find(line.product_id)
                        .select(products::stock)
                        .first::<i32>(conn)
                        .optional()?;
                    return Err(match stock {
                        None => AppError::invalid(
                            format!("items[{i}].product_id"),
                            format!("product {} does not exist", line.product_id),
                        ),
                        Some(available) => AppError::Conflict(format!(
                            "not enough stock for product {}: {} requested, {} available",
                            line.product_id, line.quantity, available
                        )),
                    });
                }
            }
        }
        let total = priced
            .iter()
            .try_fold(0i64, |sum, (line, price)| {
                sum.checked_add(price.checked_mul(i64::from(line.quantity))?)
            })
            .ok_or_else(|| AppError::BadRequest("order total is too large".to_owned()))?;
        let order = diesel::insert_into(orders::table)
            .values(NewOrder {
                user_id: actor.user_id,
                status: OrderStatus::Pending,
                total_cents: total,
                created_at: now,
                updated_at: now,
            })
            .returning(orders::all_columns)
            .get_result::<Order>(conn)?;
        let mut items = Vec::with_capacity(priced.len());
        for (line, price) in priced {
            items.push(
                diesel::insert_into(order_items::table)
                    .values(NewOrderItem {
                        order_id: order.id,
                        product_id: line.product_id,
                        quantity: line.quantity,
                        unit_price_cents: price,
                    })
                    .returning(order_items::all_columns)
                    .get_result::<OrderItem>(conn)?,
            );
        }
        items.sort_by_key(|it| it.id);
        Ok(OrderDetails { order, items })
    })?;
    events.publish(DomainEvent::OrderCreated {
        order: OrderSummary::from(&placed.order),
    });
    Ok(placed)
}

/// Attaches items to orders with one query for the whole page.
fn with_items(conn: &mut DbConnection, orders: Vec<Order>) -> Result<Vec<OrderDetails>, AppError> {
    let ids: Vec<i32> = orders.iter().map(|o| o.id).collect();
    let mut by_order: HashMap<i32, Vec<OrderItem>> = HashMap::new();
    for item in order_items::table
        .filter(order_items::order_id.eq_any(&ids))
        .order(order_items::id.asc())
        .select(OrderItem::as_select())
        .load(conn)?
    {
        by_order.entry(item.order_id).or_default().push(item);
    }
    Ok(orders
        .into_iter()
        .map(|order| OrderDetails {
            items: by_order.remove(&order.id).unwrap_or_default(),
            order,
        })
        .collect())
}

pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    status: Option<OrderStatus>,
    window: Window,
    sort: &Sort,
) -> Result<Listing<OrderDetails>, AppError> {
    let base = || {
        let mut q = orders::table.into_boxed();
        if !actor.is_admin() {
            q = q.filter(orders::user_id.eq(actor.user_id));
        }
        if let Some(status) = status {
            q = q.filter(orders::status.eq(status.as_str()));
        }
        q
    };
    let total = base().count().get_result::<i64>(conn)?;
    let page_of_orders = apply_sort!(base(), sort, orders::id, {
        "id" => orders::id, "status" => orders::status, "total_cents" => orders::total_cents,
        "created_at" => orders::created_at, "updated_at" => orders::updated_at,
    })
    .limit(window.limit)
    .offset(window.offset)
    .select(Order::as_select())
    .load(conn)?;
    Ok(Listing {
        items: with_items(conn, page_of_orders)?,
        total,
    })
}

/// The order if the actor may see it; someone else's order is "not found".
pub fn get(conn: &mut DbConnection, actor: &Actor, id: i32) -> Result<OrderDetails, AppError> {
    let order = orders::table
        .find(id)
        .select(Order::as_select())
        .first(conn)
        .optional()?
        .filter(|o| actor.is_admin() || o.user_id == actor.user_id)
        .ok_or_else(|| AppError::not_found("order", id))?;
    Ok(with_items(conn, vec![order])?.remove(0))
}

fn restock(conn: &mut DbConnection, items: &[OrderItem]) -> Result<(), AppError> {
    let now = db::now();
    for item in items {
        diesel::update(products::table.find(item.product_id))
            .set((
                products::stock.eq(products::stock + item.quantity),
                products::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Moves an order along its life cycle; an illegal transition is a 409.
pub fn change_status(
    conn: &mut DbConnection,
    events: &Events,
    actor: &Actor,
    id: i32,
    next: OrderStatus,
    precondition: impl Precondition<OrderDetails>,
) -> Result<OrderDetails, AppError> {
    let (from, changed) = write_transaction(conn, |conn| {
        db::lock_row(conn, db::LockTable::Orders, id)?;
        let current = get(conn, actor, id)?;
        precondition(&current)?;
        let status = current.status();
        if next == OrderStatus::Shipped && !actor.is_admin() {
            return Err(AppError::Forbidden(
                "only an admin may mark an order shipped".to_owned(),
            ));
        }
        if !status.can_become(next) {
            return Err(AppError::Conflict(format!(
                "an order that is {status} cannot become {next}"
            )));
        }
        // Guarded by the old status, so a concurrent change makes this a no-op we detect.
        let updated = diesel::update(
            orders::table
                .find(id)
                .filter(orders::status.eq(status.as_str())),
        )
        .set((
            orders::status.eq(next.as_str()),
            orders::updated_at.eq(db::now()),
        ))
        .execute(conn)?;
        if updated != 1 {
            return Err(AppError::Conflict(
                "the order changed meanwhile; reload it".to_owned(),
            ));
        }
        if next == OrderStatus::Cancelled {
            restock(conn, &current.items)?;
        }
        Ok((status, get(conn, actor, id)?))
    })?;
    events.publish(DomainEvent::OrderStatusChanged {
        order: OrderSummary::from(&changed.order),
        from,
    });
    Ok(changed)
}

/// Admins only. Stock held by a pending or paid order goes back on the shelf.
pub fn delete(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    precondition: impl Precondition<OrderDetails>,
) -> Result<(), AppError> {
    actor.require_admin()?;
    write_transaction(conn, |conn| {
        db::lock_row(conn, db::LockTable::Orders, id)?;
        let current = get(conn, actor, id)?;
        precondition(&current)?;
        let status = current.status();
        if status.holds_stock() && status != OrderStatus::Shipped {
            restock(conn, &current.items)?;
        }
        diesel::delete(orders::table.find(id)).execute(conn)?;
        Ok(())
    })
}
