//! One test binary for the whole API (faster to build and link than one per file).

mod helpers;

mod auth;
mod bench;
mod chat;
mod cli;
mod compression;
mod e2e;
mod events;
mod failover;
mod faults;
mod graphql;
mod lab;
mod layers;
mod ordering;
mod products;
mod resume;
mod rooms;
mod scaleout;
mod security;
mod semantics;
mod sessions;
mod users;
mod ws_client;
