//! One test binary for the whole API (faster to build and link than one per file).

mod helpers;

mod auth;
mod cli;
mod faults;
mod ordering;
mod products;
mod semantics;
mod users;
