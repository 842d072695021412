//! GraphQL over the same domain as REST: one typed endpoint, `/graphql`, whose resolvers
//! call the same services (so no rule is written twice), batch nested reads through
//! DataLoaders (no N+1), and subscribe to the same actors as the WebSocket chat. The schema
//! is checked in as docs/schema.graphql; a test fails when the two drift apart.

mod documents;
mod errors;
pub mod http;
mod loaders;
mod mutation;
mod query;
mod rooms;
mod subscription;
pub mod subscriptions;
mod types;

use async_graphql::{Schema, SchemaBuilder, ValidationMode};

use crate::config::GraphqlArgs;
use crate::db::Db;
use crate::http::routing::Endpoint;
use crate::realtime::Realtime;
use crate::services::events::Events;
pub use documents::Documents;
pub use subscription::Subscription;

/// Every query: the core resources and the chat rooms.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(query::CoreQuery, rooms::RoomQuery);

/// Every mutation: the core resources and the chat rooms.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(mutation::CoreMutation, rooms::RoomMutation);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription)
}

/// The schema in SDL, as docs/schema.graphql holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The served schema: the shared handles every resolver needs, and the abuse limits.
pub fn schema(db: Db, events: Events, realtime: Realtime, limits: &GraphqlArgs) -> AppSchema {
    served(db, events, realtime, limits, ValidationMode::Strict)
}

/// The served schema for documents that already passed every validation rule once
/// ([`Documents`] remembers which). A rule's verdict depends only on the schema, the text
/// and the variables, so a repeated text without variables would pass them all again;
/// async-graphql's fast mode skips them, and still computes the depth and complexity and
/// holds them to the limits. Validating the seed query was 7 % of its server CPU.
pub struct KnownValid(pub AppSchema);

pub fn known_valid_schema(
    db: Db,
    events: Events,
    realtime: Realtime,
    limits: &GraphqlArgs,
) -> KnownValid {
    KnownValid(served(db, events, realtime, limits, ValidationMode::Fast))
}

fn served(
    db: Db,
    events: Events,
    realtime: Realtime,
    limits: &GraphqlArgs,
    mode: ValidationMode,
) -> AppSchema {
    let mut builder = builder()
        .data(db)
        .data(events)
        .data(realtime)
        .validation_mode(mode)
        .limit_depth(limits.graphql_max_depth)
        .limit_complexity(limits.graphql_max_complexity);
    if !limits.graphql_introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// `/graphql` (queries, mutations, and the subscription upgrade), for the caller to wrap
/// in the API's rate limit.
pub fn resource() -> actix_web::Resource {
    Endpoint::new("/graphql")
        .get(http::graphql)
        .post(http::graphql)
        .build()
}
