//! Cross-cutting HTTP: extractors (JSON bodies, bearer auth), conditional requests and
//! caching, list responses, routing helpers (405/OPTIONS/HEAD), request ids and logging,
//! and the OpenAPI document.

pub mod assets;
pub mod auth;
pub mod compression;
pub mod conditional;
pub mod json;
pub mod listing;
pub mod openapi;
mod openapi_constraints;
pub mod rate_limit;
pub mod request_context;
pub mod routing;
pub mod security;
