//! The OpenAPI 3 document, generated from the handlers' annotations and the schema types
//! the handlers use, and served at `/api/v1/openapi.json` (Swagger UI at `/docs`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{health, v1};
use crate::http::problems::{FieldErrorSchema, ProblemSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "switchboard REST API",
        description = "Users, products, posts, orders and chat rooms. Errors are application/problem+json \
            (RFC 9457). Lists take page, limit and sort and return Link and X-Total-Count \
            headers. Single resources carry strong ETags; writes honour If-Match.",
    ),
    paths(
        health::healthz, health::readyz,
        v1::auth::token, v1::auth::revoke,
        v1::users::register, v1::users::list, v1::users::me, v1::users::get,
        v1::users::replace, v1::users::patch, v1::users::delete,
        v1::posts::list, v1::posts::list_by_user, v1::posts::get, v1::posts::create,
        v1::posts::replace, v1::posts::patch, v1::posts::delete,
        v1::products::list, v1::products::get, v1::products::create,
        v1::products::replace, v1::products::patch, v1::products::delete,
        v1::orders::list, v1::orders::create, v1::orders::get, v1::orders::patch, v1::orders::delete,
        v1::rooms::list, v1::rooms::create, v1::rooms::get, v1::rooms::messages,
        v1::rooms::post_message, v1::rooms::get_message, v1::rooms::delete_message,
        v1::rooms::members, v1::rooms::add_member, v1::rooms::remove_member,
        crate::lab::sync, crate::lab::blocking, crate::lab::asynchronous, crate::lab::cpu,
        crate::lab::runs::latest, crate::lab::runs::start, crate::lab::charts::draw,
    ),
    components(schemas(ProblemSchema, FieldErrorSchema)),
    modifiers(&BearerAuth, &UniqueOperationIds),
    tags(
        (name = "auth", description = "OAuth 2.0 token endpoint and revocation"),
        (name = "users", description = "Accounts"),
        (name = "products", description = "The catalogue"),
        (name = "posts", description = "Posts by users"),
        (name = "orders", description = "Orders and their life cycle"),
        (name = "rooms", description = "Chat rooms and their history (live chat: /ws/chat, docs/PROTOCOL.md)"),
        (name = "health", description = "Liveness and readiness"),
        (name = "lab", description = "The same work done blocking the worker, on the blocking pool, and awaited (docs/CONCEPTS.md)"),
    ),
)]
pub struct ApiDoc;

/// The served document: utoipa's, with the validation rules utoipa's attributes cannot
/// carry (`rest::openapi_constraints`).
pub fn document() -> anyhow::Result<String> {
    let mut doc = serde_json::to_value(ApiDoc::openapi())?;
    super::openapi_constraints::apply(&mut doc);
    Ok(serde_json::to_string(&doc)?)
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from POST /api/v1/auth/token"))
                    .build(),
            ),
        );
    }
}

/// Handlers are named for what they do within their resource (`list`, `get`, `create`), so
/// utoipa's operation ids (the function names) repeat across resources; OpenAPI requires them
/// unique. Each becomes `<tag>_<name>` (`posts_list`), which code generators also read well.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                let tag = operation.tags.as_ref().and_then(|t| t.first()).cloned();
                if let (Some(tag), Some(id)) = (tag, operation.operation_id.as_mut()) {
                    if !id.starts_with(&format!("{tag}_")) {
                        *id = format!("{tag}_{id}");
                    }
                }
            }
        }
    }
}
