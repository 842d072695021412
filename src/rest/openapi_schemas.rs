//! How values that the domain and the services define appear in the OpenAPI document.
//! Those layers know nothing of OpenAPI (`tests/api/layers.rs` keeps utoipa out of them),
//! yet REST bodies carry their values, so the description is written here: the enums get
//! utoipa's traits from the variants they list themselves (nothing to keep in step), and
//! each shared struct gets a description type that names it in the document (`as = …`)
//! and that handlers point to with `value_type` or `body`.
//!
//! A description type and the struct it describes must agree, member for member:
//! schemathesis (`tests/api/e2e.rs`, `--checks all`) fails when a response does not match
//! the document.

use chrono::{DateTime, Utc};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::domain::{OrderStatus, Role, Visibility};

/// A string that is one of `values`.
fn string_enum(description: &str, values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

impl PartialSchema for Role {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "What a user may do beyond their own resources.",
            Role::ALL.map(Role::as_str),
        )
    }
}

impl ToSchema for Role {}

impl PartialSchema for OrderStatus {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "pending, then paid, then shipped; pending or paid orders may be cancelled. \
             Shipped and cancelled are final.",
            OrderStatus::ALL.map(OrderStatus::as_str),
        )
    }
}

impl ToSchema for OrderStatus {}

impl PartialSchema for Visibility {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "Who may see a room: everyone signed in, or only its members, its owner and admins.",
            Visibility::ALL.map(Visibility::as_str),
        )
    }
}

impl ToSchema for Visibility {}

/// A user as others see them in events and chat frames.
#[derive(ToSchema)]
#[schema(as = UserRef)]
pub struct UserRefSchema {
    pub id: i32,
    pub name: String,
}

/// A stored message as every transport shows it.
#[derive(ToSchema)]
#[schema(as = ChatMessage)]
pub struct ChatMessageSchema {
    pub id: i32,
    /// Its place in the room: 1, 2, 3, ... in the order the messages were stored.
    pub seq: i64,
    pub room: String,
    pub user: UserRefSchema,
    pub body: String,
    pub sent_at: DateTime<Utc>,
}
