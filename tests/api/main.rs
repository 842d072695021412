//! One test binary for the whole API (faster to build and link than one per file).

mod helpers;

mod auth;
mod caching;
mod cli;
mod faults;
mod http_semantics;
mod ordering;
mod orders;
mod posts;
mod products;
mod semantics;
mod users;
