//! The GraphQL object types: thin wrappers over the database rows, whose nested fields go
//! through the request's DataLoaders.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{ComplexObject, Context, Enum, Lookahead, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::errors::OrGql;
use super::loaders::Loaders;
use crate::db::models;
use crate::domain::Window;
use crate::error::AppError;
use crate::services::chat::ChatMessage;
use crate::services::orders::OrderDetails;
use crate::services::users::can_see_private;
use crate::services::{Actor, Listing};

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;

/// The caller, if the request carried a valid bearer token.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Option<Actor>);

impl Caller {
    pub fn of(ctx: &Context<'_>) -> Option<Actor> {
        ctx.data_opt::<Caller>().and_then(|c| c.0)
    }

    pub fn require(ctx: &Context<'_>) -> async_graphql::Result<Actor> {
        Self::of(ctx)
            .ok_or(AppError::Unauthenticated(
                crate::error::AuthFailure::Missing,
            ))
            .gql()
    }
}

pub fn loaders<'a>(ctx: &Context<'a>) -> &'a Loaders {
    ctx.data_unchecked::<Loaders>()
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::Role")]
pub enum Role {
    User,
    Admin,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::OrderStatus")]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

/// A user, with their posts when the resolver that found the user read those too (shared,
/// so that resolving them copies no rows).
pub struct User(pub models::User, pub Option<Arc<[Post]>>);

impl From<models::User> for User {
    fn from(user: models::User) -> Self {
        Self(user, None)
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Only for the user themself and admins; null for everyone else.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        can_see_private(Caller::of(ctx).as_ref(), self.0.id).then_some(self.0.email.as_str())
    }

    async fn role(&self) -> Role {
        self.0.role.into()
    }

    /// Their posts, oldest first (loaded for all users of a response in one query).
    #[graphql(complexity = "10 * child_complexity")]
    async fn posts(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<[Post]>> {
        if let Some(posts) = &self.1 {
            return Ok(posts.clone());
        }
        let posts = loaders(ctx)
            .posts_by_author
            .load_one(self.0.id)
            .await
            .gql()?;
        Ok(posts
            .unwrap_or_default()
            .into_iter()
            .map(Post::Full)
            .collect())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }
}

/// A post as the resolver that found it read it: the whole row, or only its headline when
/// the query asked for nothing a headline lacks ([`Post::headline_suffices`], decided from
/// the look-ahead before the read).
#[derive(Clone)]
pub enum Post {
    Full(models::Post),
    Headline(models::PostHeadline),
}

/// The fields of `Post` a headline answers; any other field needs the whole row.
const HEADLINE_FIELDS: &[&str] = &["id", "title", "author", "__typename"];

impl Post {
    /// Whether every field asked of these posts (through aliases and fragments) is one a
    /// headline answers.
    pub fn headline_suffices(posts: &Lookahead<'_>) -> bool {
        posts.selection_fields().iter().all(|field| {
            field
                .selection_set()
                .all(|child| HEADLINE_FIELDS.contains(&child.name()))
        })
    }

    fn row_id(&self) -> i32 {
        match self {
            Post::Full(p) => p.id,
            Post::Headline(p) => p.id,
        }
    }

    pub fn author_id(&self) -> i32 {
        match self {
            Post::Full(p) => p.author_id,
            Post::Headline(p) => p.author_id,
        }
    }

    /// The whole row. A headline is only made where the look-ahead saw no field that needs
    /// more, so reaching the error is a bug in that decision, reported as one.
    fn full(&self) -> async_graphql::Result<&models::Post> {
        match self {
            Post::Full(p) => Ok(p),
            Post::Headline(p) => Err(AppError::Internal(anyhow::anyhow!(
                "post {} was read as a headline, but a field of the whole row was asked for",
                p.id
            )))
            .gql(),
        }
    }
}

#[Object]
impl Post {
    async fn id(&self) -> ID {
        ID(self.row_id().to_string())
    }

    async fn title(&self) -> &str {
        match self {
            Post::Full(p) => &p.title,
            Post::Headline(p) => &p.title,
        }
    }

    async fn body(&self) -> async_graphql::Result<&str> {
        Ok(&self.full()?.body)
    }

    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(loaders(ctx)
            .users
            .load_one(self.author_id())
            .await
            .gql()?
            .map(User::from))
    }

    async fn created_at(&self) -> async_graphql::Result<DateTime<Utc>> {
        Ok(self.full()?.created_at.and_utc())
    }

    async fn updated_at(&self) -> async_graphql::Result<DateTime<Utc>> {
        Ok(self.full()?.updated_at.and_utc())
    }
}

pub struct Product(pub models::Product);

#[Object]
impl Product {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn sku(&self) -> &str {
        &self.0.sku
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Price in cents (an integer: no floating-point money).
    async fn price_cents(&self) -> i64 {
        self.0.price_cents
    }

    async fn stock(&self) -> i32 {
        self.0.stock
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at.and_utc()
    }
}

pub struct Order(pub OrderDetails);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.0.order.id.to_string())
    }

    async fn status(&self) -> OrderStatus {
        self.0.status().into()
    }

    async fn total_cents(&self) -> i64 {
        self.0.order.total_cents
    }

    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(loaders(ctx)
            .users
            .load_one(self.0.order.user_id)
            .await
            .gql()?
            .map(User::from))
    }

    async fn items(&self) -> Vec<OrderItem> {
        self.0.items.iter().cloned().map(OrderItem).collect()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.order.created_at.and_utc()
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.order.updated_at.and_utc()
    }
}

pub struct OrderItem(pub models::OrderItem);

#[Object]
impl OrderItem {
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }

    /// The price when the order was placed.
    async fn unit_price_cents(&self) -> i64 {
        self.0.unit_price_cents
    }

    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        Ok(loaders(ctx)
            .products
            .load_one(self.0.product_id)
            .await
            .gql()?
            .map(Product))
    }
}

#[derive(SimpleObject)]
pub struct Author {
    pub id: ID,
    pub name: String,
}

/// A chat message.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Message {
    pub id: ID,
    /// Its place in the room: 1, 2, 3, ... Pass the last one you have as `since`.
    pub seq: i64,
    pub room: String,
    pub body: String,
    pub sent_at: DateTime<Utc>,
    #[graphql(skip)]
    pub author_id: i32,
    #[graphql(skip)]
    pub author_name: String,
}

#[ComplexObject]
impl Message {
    async fn user(&self) -> Author {
        Author {
            id: ID(self.author_id.to_string()),
            name: self.author_name.clone(),
        }
    }
}

impl From<&ChatMessage> for Message {
    fn from(m: &ChatMessage) -> Self {
        Self {
            id: ID(m.id.to_string()),
            seq: m.seq,
            room: m.room.clone(),
            body: m.body.clone(),
            sent_at: m.sent_at,
            author_id: m.user.id,
            author_name: m.user.name.clone(),
        }
    }
}

/// Extra connection fields: how many items the whole filtered list has.
#[derive(SimpleObject)]
pub struct Total {
    pub total_count: i64,
}

pub type Page<T> = Connection<OpaqueCursor<i64>, T, Total>;

/// Reads `first`/`after` into a window of the list, refusing pages over the maximum.
pub fn window(first: Option<i32>, after: Option<String>) -> async_graphql::Result<Window> {
    let limit = first.unwrap_or(DEFAULT_PAGE);
    if !(0..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            "first",
            format!("must be from 0 to {MAX_PAGE}"),
        ))
        .gql();
    }
    let offset = match after {
        None => 0,
        Some(cursor) => {
            use async_graphql::connection::CursorType;
            OpaqueCursor::<i64>::decode_cursor(&cursor)
                .map_err(|_| AppError::invalid("after", "is not a cursor from this list"))
                .gql()?
                .0
                + 1
        }
    };
    Ok(Window {
        offset: offset.max(0),
        limit: i64::from(limit),
    })
}

/// A Relay connection over one window of a listing.
pub fn page<R, T>(window: Window, listing: Listing<R>, mut wrap: impl FnMut(R) -> T) -> Page<T>
where
    T: async_graphql::OutputType,
{
    let count = listing.items.len() as i64;
    let mut connection = Connection::with_additional_fields(
        window.offset > 0,
        window.offset + count < listing.total,
        Total {
            total_count: listing.total,
        },
    );
    connection.edges.extend(
        listing
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Edge::new(OpaqueCursor(window.offset + i as i64), wrap(item))),
    );
    connection
}
