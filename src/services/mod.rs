//! The domain services: the only place business rules live (who may do what, stock,
//! order life cycle, uniqueness). Plain functions over a `&mut DbConnection`, called by REST
//! handlers today and by GraphQL resolvers and WebSocket actors alike.

pub mod auth;
pub mod chat;
pub mod events;
pub mod orders;
pub mod passwords;
pub mod posts;
pub mod products;
pub mod rooms;
pub mod seed;
pub mod sessions;
pub mod users;

use serde::de::DeserializeOwned;

use crate::domain::{merge_patch, Role};
use crate::error::{AppError, FieldError};

/// Who is asking. Built from a verified access token by the transport layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i32,
    pub role: Role,
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "this action needs the admin role".to_owned(),
            ))
        }
    }
}

/// A whole replacement (PUT) or a JSON merge patch (PATCH) of a resource's writable fields.
#[derive(Debug, Clone)]
pub enum Change<I> {
    Replace(I),
    Patch(serde_json::Value),
}

impl<I: DeserializeOwned> Change<I> {
    /// The full input the change amounts to, given the resource's current writable fields.
    /// A patch is merged into them and then read exactly as a PUT body would be.
    pub fn resolve(self, current: serde_json::Value) -> Result<I, AppError> {
        match self {
            Change::Replace(input) => Ok(input),
            Change::Patch(patch) => {
                if !patch.is_object() {
                    return Err(AppError::BadRequest(
                        "a merge patch must be a JSON object".to_owned(),
                    ));
                }
                let mut merged = current;
                merge_patch::apply(&mut merged, &patch);
                from_json_value(merged)
            }
        }
    }
}

/// Deserializes with the path of the offending field in the error.
pub fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        AppError::Validation(vec![FieldError::new(field, err.inner().to_string())])
    })
}

/// A conditional-request check run inside the write transaction, against the current row,
/// so nothing can change between the check and the write (REST passes an If-Match test).
pub trait Precondition<T>: FnOnce(&T) -> Result<(), AppError> {}
impl<T, F: FnOnce(&T) -> Result<(), AppError>> Precondition<T> for F {}

/// For callers without conditional requests.
pub fn unconditional<T>(_: &T) -> Result<(), AppError> {
    Ok(())
}

/// One page of a list and the number of items in the whole filtered list.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// Orders a boxed query by whitelisted `Sort` keys, then by id so pages are stable.
/// The field names must match the resource's `SORTABLE` list.
macro_rules! apply_sort {
    ($query:expr, $sort:expr, $id:expr, { $($name:literal => $col:expr),+ $(,)? }) => {{
        let mut query = $query;
        for key in &$sort.0 {
            query = match key.field {
                $($name => if key.descending {
                    query.then_order_by($col.desc())
                } else {
                    query.then_order_by($col.asc())
                },)+
                _ => query,
            };
        }
        query.then_order_by($id.asc())
    }};
}
pub(crate) use apply_sort;

/// `%` and `_` in user input are literals in a LIKE search, not wildcards.
pub(crate) fn like_contains(needle: &str) -> String {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

diesel::define_sql_function! {
    /// SQL `lower()`, present in SQLite and PostgreSQL alike.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
