//! Mutations: the same service calls REST makes, with the same rules (admin-only catalogue,
//! author-only posts, stock taken atomically) and the same domain events published.

use async_graphql::{Context, InputObject, Object, ID};

use super::errors::{parse_id, OrGql};
use super::types::{Caller, Order, OrderStatus, Post, Product, User};
use crate::db::Db;
use crate::domain::Secret;
use crate::services::events::Events;
use crate::services::{orders, posts, products, unconditional, users, Change};

fn db<'a>(ctx: &Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}

fn events(ctx: &Context<'_>) -> Events {
    ctx.data_opt::<Events>().cloned().unwrap_or_default()
}

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    pub name: String,
    /// 8 to 128 characters.
    #[graphql(secret)]
    pub password: String,
}

#[derive(InputObject)]
pub struct PostInput {
    pub title: String,
    pub body: String,
}

impl From<PostInput> for posts::PostInput {
    fn from(p: PostInput) -> Self {
        Self {
            title: p.title,
            body: p.body,
        }
    }
}

#[derive(InputObject)]
pub struct ProductInput {
    pub sku: String,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub price_cents: i64,
    pub stock: i32,
}

impl From<ProductInput> for products::ProductInput {
    fn from(p: ProductInput) -> Self {
        Self {
            sku: p.sku,
            name: p.name,
            description: p.description,
            price_cents: p.price_cents,
            stock: p.stock,
        }
    }
}

#[derive(InputObject)]
pub struct OrderLineInput {
    pub product_id: ID,
    pub quantity: i32,
}

/// The mutations over users, posts, products and orders (rooms: [`super::rooms`]).
#[derive(Default)]
pub struct CoreMutation;

#[Object]
impl CoreMutation {
    /// Create an account (then get tokens from `POST /api/v1/auth/token`).
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<User> {
        let events = events(ctx);
        let input = users::RegisterInput {
            email: input.email,
            name: input.name,
            password: Secret::new(input.password),
        };
        let user = users::register(db(ctx), &events, input).await.gql()?;
        Ok(User::from(user))
    }

    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: PostInput,
    ) -> async_graphql::Result<Post> {
        let actor = Caller::require(ctx)?;
        let post = db(ctx)
            .run(move |c| posts::create(c, &actor, input.into()))
            .await
            .gql()?;
        Ok(Post::Full(post))
    }

    /// Replace a post's title and body (its author only).
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: PostInput,
    ) -> async_graphql::Result<Post> {
        let actor = Caller::require(ctx)?;
        let id = parse_id(&id)?;
        let change = Change::Replace(input.into());
        let post = db(ctx)
            .run(move |c| posts::update(c, &actor, id, change, unconditional))
            .await
            .gql()?;
        Ok(Post::Full(post))
    }

    /// Delete a post (its author, or an admin); returns its id.
    async fn delete_post(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let actor = Caller::require(ctx)?;
        let post_id = parse_id(&id)?;
        db(ctx)
            .run(move |c| posts::delete(c, &actor, post_id, unconditional))
            .await
            .gql()?;
        Ok(id)
    }

    /// Admins only.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: ProductInput,
    ) -> async_graphql::Result<Product> {
        let actor = Caller::require(ctx)?;
        let product = db(ctx)
            .run(move |c| products::create(c, &actor, input.into()))
            .await
            .gql()?;
        Ok(Product(product))
    }

    /// Admins only: replace every writable field.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ProductInput,
    ) -> async_graphql::Result<Product> {
        let actor = Caller::require(ctx)?;
        let id = parse_id(&id)?;
        let change = Change::Replace(input.into());
        let product = db(ctx)
            .run(move |c| products::update(c, &actor, id, change, unconditional))
            .await
            .gql()?;
        Ok(Product(product))
    }

    /// Admins only; a product that was ordered cannot be deleted (CONFLICT). Returns its id.
    async fn delete_product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let actor = Caller::require(ctx)?;
        let product_id = parse_id(&id)?;
        db(ctx)
            .run(move |c| products::delete(c, &actor, product_id, unconditional))
            .await
            .gql()?;
        Ok(id)
    }

    /// Place an order: all lines' stock is taken at once, or nothing changes (CONFLICT).
    async fn create_order(
        &self,
        ctx: &Context<'_>,
        items: Vec<OrderLineInput>,
    ) -> async_graphql::Result<Order> {
        let actor = Caller::require(ctx)?;
        let events = events(ctx);
        let mut lines = Vec::with_capacity(items.len());
        for line in &items {
            lines.push(orders::OrderLineInput {
                product_id: parse_id(&line.product_id)?,
                quantity: line.quantity,
            });
        }
        let input = orders::OrderInput { items: lines };
        let order = db(ctx)
            .run(move |c| orders::create(c, &events, &actor, input))
            .await
            .gql()?;
        Ok(Order(order))
    }

    /// Cancel one of your orders; its stock goes back on the shelf.
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        self.set_order_status(ctx, id, OrderStatus::Cancelled).await
    }

    /// Move an order along its life cycle (pending → paid → shipped; shipping is for admins).
    async fn set_order_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: OrderStatus,
    ) -> async_graphql::Result<Order> {
        let actor = Caller::require(ctx)?;
        let events = events(ctx);
        let id = parse_id(&id)?;
        let next = status.into();
        let order = db(ctx)
            .run(move |c| orders::change_status(c, &events, &actor, id, next, unconditional))
            .await
            .gql()?;
        Ok(Order(order))
    }
}
