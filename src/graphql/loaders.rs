//! DataLoaders: every nested list or reference is loaded for the whole response level in
//! one query (`user { posts }` over 50 users is one `WHERE author_id IN (...)`), not one per
//! parent. A fresh set per request, so nothing cached outlives it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};

use crate::db::models::{Post, Product, User};
use crate::db::Db;
use crate::error::AppError;
use crate::services::{posts, products, users};

pub type LoadError = Arc<AppError>;

pub struct UserLoader(pub Db);
pub struct ProductLoader(pub Db);
pub struct PostsByAuthorLoader(pub Db);

impl Loader<i32> for UserLoader {
    type Value = User;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, User>, LoadError> {
        let keys = keys.to_vec();
        let found = self.0.read(move |c| users::get_many(c, &keys)).await?;
        Ok(found.into_iter().map(|u| (u.id, u)).collect())
    }
}

impl Loader<i32> for ProductLoader {
    type Value = Product;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Product>, LoadError> {
        let keys = keys.to_vec();
        let found = self.0.read(move |c| products::get_many(c, &keys)).await?;
        Ok(found.into_iter().map(|p| (p.id, p)).collect())
    }
}

impl Loader<i32> for PostsByAuthorLoader {
    type Value = Vec<Post>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Vec<Post>>, LoadError> {
        let keys = keys.to_vec();
        let found = self.0.read(move |c| posts::by_authors(c, &keys)).await?;
        Ok(by_author(found, |p| p.author_id))
    }
}

/// Posts grouped by author, each author's in the order given. Authors without posts are
/// simply absent: the resolvers read that as no posts.
pub fn by_author<P>(posts: Vec<P>, author: impl Fn(&P) -> i32) -> HashMap<i32, Vec<P>> {
    let mut grouped: HashMap<i32, Vec<P>> = HashMap::new();
    for post in posts {
        grouped.entry(author(&post)).or_default().push(post);
    }
    grouped
}

/// How long a loader waits for more keys before it queries. Zero is enough: a request runs
/// on one actix worker (a single-threaded runtime), and the sibling resolvers of a level all
/// enqueue their keys in the same poll before the spawned fetch can run, so batches stay
/// whole (the N+1 test counts the queries). The library's default of 1 ms instead made every
/// nesting level wait one to two timer ticks, which bounded throughput by latency.
const BATCH_WINDOW: Duration = Duration::ZERO;

/// The loaders one request uses.
pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub products: DataLoader<ProductLoader>,
    pub posts_by_author: DataLoader<PostsByAuthorLoader>,
}

impl Loaders {
    pub fn new(db: &Db) -> Self {
        Self {
            users: DataLoader::new(UserLoader(db.clone()), actix_web::rt::spawn)
                .delay(BATCH_WINDOW),
            products: DataLoader::new(ProductLoader(db.clone()), actix_web::rt::spawn)
                .delay(BATCH_WINDOW),
            posts_by_author: DataLoader::new(PostsByAuthorLoader(db.clone()), actix_web::rt::spawn)
                .delay(BATCH_WINDOW),
        }
    }
}
