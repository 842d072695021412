//! Queries. Each resolver calls the same service function as the REST handler for the same
//! read, so visibility rules (your orders only, the user list for admins) hold here too.
//! A missing (or invisible) single item is `null`, as GraphQL clients expect.

use async_graphql::{Context, InputObject, Lookahead, Object, ID};

use super::errors::{parse_id, OrGql};
use super::loaders::by_author;
use super::types::{loaders, page, window, Caller, Order, OrderStatus, Page, Post, Product, User};
use crate::db::{Db, DbConnection};
use crate::domain::Sort;
use crate::error::AppError;
use crate::services::{orders, posts, products, users};

fn db<'a>(ctx: &Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}

/// `NotFound` becomes `None`; other errors stay errors.
fn found<T>(result: Result<T, AppError>) -> async_graphql::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(err) => Err(err).gql(),
    }
}

/// The posts of these authors, by author and then oldest first: only their headlines where
/// those answer the query.
fn posts_of(c: &mut DbConnection, authors: &[i32], headlines: bool) -> Result<Vec<Post>, AppError> {
    Ok(if headlines {
        let found = posts::headlines_by_authors(c, authors)?;
        found.into_iter().map(Post::Headline).collect()
    } else {
        posts::by_authors(c, authors)?
            .into_iter()
            .map(Post::Full)
            .collect()
    })
}

/// Product filters, with the same rules as the REST query parameters.
#[derive(InputObject, Default)]
pub struct ProductFilterInput {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: Option<bool>,
}

/// The queries over users, posts, products and orders (rooms: [`super::rooms`]).
#[derive(Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// The signed-in user (null without a token).
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(actor) = Caller::of(ctx) else {
            return Ok(None);
        };
        Ok(loaders(ctx)
            .users
            .load_one(actor.user_id)
            .await
            .gql()?
            .map(User::from))
    }

    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        let id = parse_id(&id)?;
        // Asked for the posts too (the seed's query)? Then the user and the posts come from
        // one read, not two in a row: the look-ahead sees the selection before it runs
        // (docs/PERFORMANCE.md).
        let posts_ahead = ctx.look_ahead().field("posts");
        if posts_ahead.exists() {
            let headlines = Post::headline_suffices(&posts_ahead);
            let found = db(ctx)
                .read(move |c| {
                    let Some(user) = users::get_many(c, &[id])?.pop() else {
                        return Ok(None);
                    };
                    Ok(Some((user, posts_of(c, &[id], headlines)?)))
                })
                .await
                .gql()?;
            return Ok(found.map(|(user, posts)| User(user, Some(posts.into()))));
        }
        Ok(loaders(ctx).users.load_one(id).await.gql()?.map(User::from))
    }

    /// All users (admins only, as in REST).
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<User>> {
        let actor = Caller::require(ctx)?;
        let window = window(first, after)?;
        // Asked for their posts? Then the page and all its users' posts come from one trip
        // to the database threads, before any resolver runs, instead of a second trip the
        // posts DataLoader would make once the users are resolved (docs/PERFORMANCE.md).
        // Only their titles? Then only those columns are read (`Post::headline_suffices`).
        let ahead = ctx.look_ahead();
        let posts_ahead = [
            ahead.field("edges").field("node").field("posts"),
            ahead.field("nodes").field("posts"),
        ];
        let with_posts = posts_ahead.iter().any(Lookahead::exists);
        let headlines = posts_ahead.iter().all(Post::headline_suffices);
        let (listing, posts) = db(ctx)
            .run(move |c| {
                let listing = users::list(c, &actor, None, window, &Sort(Vec::new()))?;
                let posts = if with_posts {
                    let ids: Vec<i32> = listing.items.iter().map(|u| u.id).collect();
                    Some(by_author(posts_of(c, &ids, headlines)?, Post::author_id))
                } else {
                    None
                };
                Ok((listing, posts))
            })
            .await
            .gql()?;
        Ok(match posts {
            None => page(window, listing, User::from),
            Some(mut posts) => page(window, listing, |user| {
                let own = posts.remove(&user.id).unwrap_or_default();
                User(user, Some(own.into()))
            }),
        })
    }

    async fn post(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Post>> {
        let id = parse_id(&id)?;
        found(db(ctx).read(move |c| posts::get(c, id)).await).map(|p| p.map(Post::Full))
    }

    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        author_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Post>> {
        let author = author_id.as_ref().map(parse_id).transpose()?;
        let window = window(first, after)?;
        let listing = db(ctx)
            .run(move |c| posts::list(c, author, window, &Sort(Vec::new())))
            .await
            .gql()?;
        Ok(page(window, listing, Post::Full))
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
        let id = parse_id(&id)?;
        Ok(loaders(ctx).products.load_one(id).await.gql()?.map(Product))
    }

    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProductFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Product>> {
        let f = filter.unwrap_or_default();
        let text = |v: Option<i64>| v.map(|n| n.to_string());
        let filter = products::ProductFilter::parse(
            f.q.as_deref(),
            text(f.min_price).as_deref(),
            text(f.max_price).as_deref(),
            f.in_stock.map(|b| b.to_string()).as_deref(),
        )
        .map_err(AppError::Validation)
        .gql()?;
        let window = window(first, after)?;
        let listing = db(ctx)
            .run(move |c| products::list(c, &filter, window, &Sort(Vec::new())))
            .await
            .gql()?;
        Ok(page(window, listing, Product))
    }

    /// One of your orders (admins: any).
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        let actor = Caller::require(ctx)?;
        let id = parse_id(&id)?;
        found(db(ctx).read(move |c| orders::get(c, &actor, id)).await).map(|o| o.map(Order))
    }

    /// Your orders (admins: everyone's), newest last.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        status: Option<OrderStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Order>> {
        let actor = Caller::require(ctx)?;
        let window = window(first, after)?;
        let status = status.map(Into::into);
        let listing = db(ctx)
            .run(move |c| orders::list(c, &actor, status, window, &Sort(Vec::new())))
            .await
            .gql()?;
        Ok(page(window, listing, Order))
    }
}
