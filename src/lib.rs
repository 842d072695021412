//! switchboard: one server showing every way a web backend talks to its clients.
//!
//! Requests flow one way: transport (`rest`, `ws`, `graphql`) → `services` (the
//! business rules) → `db`; `realtime` is the live core (chat rooms, event hub, the Redis
//! bridge) that the WebSocket and GraphQL transports share. `startup::Application` builds the server for `serve`, the tests
//! and the benchmarks alike.

pub mod bench;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod lab;
pub mod metrics;
#[cfg(test)]
mod proptests;
pub mod realtime;
pub mod rest;
pub mod services;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod ws;
