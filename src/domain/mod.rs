//! Input turned into types that cannot be invalid. Every constructor takes raw input and
//! the field name it came from, so errors can point at the offending field.

mod chat;
mod email;
mod fields;
mod integer;
pub mod merge_patch;
mod object;
mod order_status;
mod paging;
mod role;
mod secret;
mod sku;
mod text;

pub use chat::{
    ClientId, MessageBody, RoomName, Visibility, CLIENT_ID_MAX, MESSAGE_BODY_MAX_CHARS,
    ROOM_NAME_MAX,
};
pub use email::Email;
pub use fields::Fields;
pub use integer::integer;
pub use object::{object, objects};
pub use order_status::OrderStatus;
pub use paging::{PageRequest, Sort, SortKey, Window};
pub use role::Role;
pub use secret::{Password, Secret};
pub use sku::Sku;
pub use text::{bounded_text, TextKind};
