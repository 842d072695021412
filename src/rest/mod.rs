//! The REST transport: handlers parse, authorize via the extractors, call one service
//! function on the database threads (`Db::run`), and shape the response (status, Location,
//! ETag, Link).

pub mod health;
pub mod openapi;
mod openapi_constraints;
pub mod openapi_schemas;
pub mod v1;
