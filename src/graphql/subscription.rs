//! Subscriptions, fed by the same actors as the WebSocket chat and `/ws/events`: the chat
//! server hands every stored message of a room to its watchers, the event hub every order
//! event to the watchers allowed to see it. Each watcher has a bounded channel; one that
//! falls too far behind is dropped and its stream ends.

use std::sync::Arc;

use async_graphql::{
    ComplexObject, Context, Enum, SimpleObject, Subscription as GqlSubscription, ID,
};
use futures_util::stream::{self, Stream};
use tokio::sync::{mpsc, oneshot};

use super::errors::OrGql;
use super::types::{Caller, Message, Order, OrderStatus};
use crate::db::Db;
use crate::domain::RoomName;
use crate::error::AppError;
use crate::realtime::chat::{WatchRoom, WATCH_QUEUE};
use crate::realtime::hub::{OrderChange, WatchOrders};
use crate::realtime::Realtime;
use crate::services::orders;

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
            .read(move |c| orders::get(c, &actor, id))
            .await
            .gql()?;
        Ok(Order(order))
    }
}

impl From<OrderChange> for OrderUpdate {
    fn from(change: OrderChange) -> Self {
        let status = change.order.status;
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
    /// Every message posted in `room` from now on, in seq order (signed-in users who may
    /// see the room). With `since` (the last seq you have), first the messages after it,
    /// when at most the resume bound (1,000 by default) were missed; otherwise a
    /// `BAD_USER_INPUT` error tells you to page back with `room { messages }`.
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        room: String,
        since: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = Message>> {
        let caller = Caller::require(ctx)?;
        let room = RoomName::parse("room", &room)
            .map_err(|e| AppError::Validation(vec![e]))
            .gql()?;
        if since.is_some_and(|s| s < 0) {
            return Err(AppError::invalid("since", "must be a seq (0 or more)")).gql();
        }
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        let (ready, answer) = oneshot::channel();
        ctx.data_unchecked::<Realtime>().chat.do_send(WatchRoom {
            caller,
            room,
            since,
            tx,
            ready,
        });
        let resume = answer
            .await
            .map_err(|_| AppError::Unavailable("the chat server is not answering".to_owned()))
            .gql()?
            .gql()?;
        let replay = match since {
            Some(_) if !resume.recovered => {
                return Err(AppError::invalid(
                    "since",
                    "more messages were missed than a subscription replays; read them with room { messages } first",
                ))
                .gql()
            }
            Some(_) => resume.messages,
            None => Vec::new(),
        };
        // Live messages the replay already held come again once: skip them by seq.
        let mut last = replay
            .last()
            .map_or(resume.last_seq, |m| m.seq.max(resume.last_seq));
        let live = futures_util::StreamExt::filter_map(receive(rx), move |m: Arc<_>| {
            let fresh = m.seq > last;
            if fresh {
                last = m.seq;
            }
            std::future::ready(fresh.then(|| Message::from(m.as_ref())))
        });
        let replayed = stream::iter(replay.into_iter().map(|m| Message::from(&m)));
        Ok(futures_util::StreamExt::chain(replayed, live))
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
