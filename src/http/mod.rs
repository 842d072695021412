//! Cross-cutting HTTP: extractors (JSON bodies, bearer auth), conditional requests and
//! caching, compression, rate limits, list responses, routing helpers (405/OPTIONS/HEAD),
//! request ids and logging, and how the problem+json answers every HTTP transport gives appear
//! in an OpenAPI document (`problems`). It knows no resource: the OpenAPI document, which
//! lists them all, is the REST transport's (`rest::openapi`).

pub mod assets;
pub mod auth;
pub mod bearer;
pub mod compression;
pub mod conditional;
pub mod json;
pub mod listener;
pub mod listing;
pub mod problems;
pub mod rate_limit;
pub mod request_context;
pub mod routing;
pub mod security;
