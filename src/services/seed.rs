//! Demo data. `--bench` is a fixed data set other tools rely on: products 1..=10000 with skus
//! `SKU-00001`..., users `user1@example.com`... named `User 1`..., five posts each titled
//! `Post N by user U`, then one admin. Ids follow insertion order on a fresh database.

use diesel::prelude::*;
use rand::distr::{Alphanumeric, SampleString};

use super::{passwords, users};
use crate::db::models::{NewPost, NewProduct};
use crate::db::schema::{posts, products, users as users_table};
use crate::db::{self, write_transaction, DbConnection};
use crate::domain::{Email, Role, Secret};
use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub products: u32,
    pub users: u32,
    pub posts_per_user: u32,
    pub admin_email: String,
    pub admin_password: Option<Secret>,
    /// Every demo user shares this password (hashed once: argon2 is slow on purpose).
    pub user_password: Secret,
}

impl SeedPlan {
    pub const BENCH: (u32, u32, u32) = (10_000, 1_000, 5);
}

#[derive(Debug)]
pub enum SeedOutcome {
    Seeded {
        products: u32,
        users: u32,
        posts: u32,
        admin_email: String,
        generated_admin_password: Option<Secret>,
    },
    AlreadySeeded,
}

pub fn run(conn: &mut DbConnection, plan: &SeedPlan) -> Result<SeedOutcome, AppError> {
    let admin_email = Email::parse("admin_email", &plan.admin_email)?;
    let generated = plan
        .admin_password
        .is_none()
        .then(|| Secret::new(Alphanumeric.sample_string(&mut rand::rng(), 20)));
    let admin_password = plan
        .admin_password
        .as_ref()
        .or(generated.as_ref())
        .map(Secret::expose)
        .unwrap_or_default();
    crate::domain::Password::parse("admin_password", admin_password)?;
    crate::domain::Password::parse("user_password", plan.user_password.expose())?;
    let admin_hash = passwords::hash(admin_password)?;
    let user_hash = passwords::hash(plan.user_password.expose())?;

    write_transaction(conn, |conn| {
        let marker = products::table
            .filter(products::sku.eq(sku(1)))
            .count()
            .get_result::<i64>(conn)?;
        if marker > 0 {
            return Ok(SeedOutcome::AlreadySeeded);
        }
        let existing_users = users_table::table.count().get_result::<i64>(conn)?;
        let existing_products = products::table.count().get_result::<i64>(conn)?;
        if existing_users > 0 || existing_products > 0 {
            return Err(AppError::Conflict(format!(
                "the database already has {existing_users} users and {existing_products} products; \
                 seed only a fresh database so the demo ids come out as documented"
            )));
        }
        let now = db::now();
        let mut user_ids = Vec::with_capacity(plan.users as usize);
        for u in 1..=plan.users {
            let email = Email::parse("email", &format!("user{u}@example.com"))?;
            user_ids.push((
                u,
                users::insert(conn, &email, &format!("User {u}"), &user_hash, Role::User)?.id,
            ));
        }
        users::insert(conn, &admin_email, "Admin", &admin_hash, Role::Admin)?;
        for p in 1..=plan.products {
            let i = i64::from(p);
            diesel::insert_into(products::table)
                .values(NewProduct {
                    sku: &sku(p),
                    name: &format!("Product {p}"),
                    description: &format!("Demo product number {p}."),
                    price_cents: 99 + (i * 7919) % 100_000,
                    stock: i32::try_from(100 + (i * 31) % 900).unwrap_or(100),
                    created_at: now,
                    updated_at: now,
                })
                .execute(conn)?;
        }
        let mut post_count = 0;
        for (u, user_id) in &user_ids {
            for n in 1..=plan.posts_per_user {
                diesel::insert_into(posts::table)
                    .values(NewPost {
                        author_id: *user_id,
                        title: &format!("Post {n} by user {u}"),
                        body: &format!("This is post {n} by user {u}."),
                        created_at: now,
                        updated_at: now,
                    })
                    .execute(conn)?;
                post_count += 1;
            }
        }
        Ok(SeedOutcome::Seeded {
            products: plan.products,
            users: plan.users,
            posts: post_count,
            admin_email: admin_email.to_string(),
            generated_admin_password: generated.clone(),
        })
    })
}

fn sku(n: u32) -> String {
    format!("SKU-{n:05}")
}
