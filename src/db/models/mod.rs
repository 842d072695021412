//! Row structs (what a `SELECT` returns) and insert/update forms, one file per table group.
//! Queries live in `services/`, next to the rules that decide which rows they touch.

mod orders;
mod posts;
mod products;
mod refresh_tokens;
mod rooms;
mod users;

pub use orders::{NewOrder, NewOrderItem, Order, OrderItem};
pub use posts::{NewPost, Post, PostChanges, PostHeadline};
pub use products::{NewProduct, Product, ProductChanges};
pub use refresh_tokens::{NewRefreshToken, RefreshToken};
pub use rooms::{Message, NewMessage, NewRoom, NewRoomMember, RevokedSession, Room};
pub use users::{NewUser, User, UserChanges};
