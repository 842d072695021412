//! Subscriptions, fed by the same actors as the WebSocket chat and `/ws/events`: the chat
//! server hands every stored message of a room to its watchers, the event hub every order
//! event to the watchers allowed to see it. Each watcher has a bounded channel; one that
//! falls too far behind is dropped and its stream ends.

use std::sync::Arc;

use async_graphql::{
    ComplexObject, Context, Enum, SimpleObject, Subscription as GqlSubscription, ID,
};
use futures_util::stream::{self, Stream};
use tokio::sync::mpsc;

use super::errors::OrGql;
use super::types::{Caller, Message, Order, OrderStatus};
use crate::db::Db;
use crate::domain::RoomName;
use crate::error::AppError;
use crate::services::orders;
use crate::ws::events::{OrderChange, WatchOrders};
use crate::ws::server::{WatchRoom, WATCH_QUEUE};
use crate::ws::Realtime;

/// A bounded receiver as a stream that ends when the sender is dropped.
fn receive<T: Send + 'static>(rx: mpsc::Receiver<T>) -> impl Stream<Item = T> {
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum OrderUpdateKind {
    Created,
    StatusChanged,
}

/// An order was placed or changed status.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct OrderUpdate {
    pub kind: OrderUpdateKind,
    pub order_id: ID,
    pub status: OrderStatus,
    /// The status before a change; null for a new order.
    pub previous_status: Option<OrderStatus>,
    pub total_cents: i64,
    #[graphql(skip)]
    id: i32,
}

#[ComplexObject]
impl OrderUpdate {
    /// The order now, with its items.
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Order> {
        let actor = Caller::require(ctx)?;
        let id = self.id;
        let order = ctx
            .data_unchecked::<Db>()
            .run(move |c| orders::get(c, &actor, id))
            .await
            .gql()?;
        Ok(Order(order))
    }
}

impl From<OrderChange> for OrderUpdate {
    fn from(change: OrderChange) -> Self {
        let status = change
            .order
            .status
            .parse::<crate::domain::OrderStatus>()
            .unwrap_or(crate::domain::OrderStatus::Pending);
        Self {
            kind: if change.from.is_some() {
                OrderUpdateKind::StatusChanged
            } else {
                OrderUpdateKind::Created
            },
            order_id: ID(change.order.id.to_string()),
            status: status.into(),
            previous_status: change.from.map(Into::into),
            total_cents: change.order.total_cents,
            id: change.order.id,
        }
    }
}

pub struct Subscription;

#[GqlSubscription]
impl Subscription {
    /// Every message posted in `room` from now on (signed-in users).
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        room: String,
    ) -> async_graphql::Result<impl Stream<Item = Message>> {
        Caller::require(ctx)?;
        let room = RoomName::parse("room", &room)
            .map_err(|e| AppError::Validation(vec![e]))
            .gql()?;
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        ctx.data_unchecked::<Realtime>()
            .chat
            .do_send(WatchRoom { room, tx });
        Ok(futures_util::StreamExt::map(receive(rx), |m: Arc<_>| {
            Message::from(m.as_ref())
        }))
    }

    /// Your orders' events (admins: everyone's) from now on.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = OrderUpdate>> {
        let caller = Caller::require(ctx)?;
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        ctx.data_unchecked::<Realtime>()
            .hub
            .do_send(WatchOrders { caller, tx });
        Ok(futures_util::StreamExt::map(receive(rx), OrderUpdate::from))
    }
}
