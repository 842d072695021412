//! Live notifications: the `EventHub` actor receives order and registration events (from
//! the services, through [`super::dispatch`]) and chat notices (from the chat server), decides who may see each,
//! and pushes it to their `/ws/events` sessions. Once a second it also reads the metrics and
//! sends admins the dashboard frame. Each frame is serialized once for all its recipients.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web_actors::ws::CloseCode;
use bytestring::ByteString;
use serde::Serialize;
use tokio::sync::mpsc;

use super::bridge::{FromPeer, Payload};
use super::protocol::encode;
use super::{Outbound, SessionId};
use crate::db::Db;
use crate::metrics::{Metrics, Reading};
use crate::services::events::{DomainEvent, OrderSummary, UserRef};
use crate::services::Actor as Caller;

const DASHBOARD_EVERY: Duration = Duration::from_secs(1);

#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub id: SessionId,
    pub caller: Caller,
    pub out: Recipient<Outbound>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub id: SessionId,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish(pub DomainEvent);

/// A ready frame for some users (chat messages for members who are away).
#[derive(Message)]
#[rtype(result = "()")]
pub struct NotifyUsers {
    pub users: Vec<i32>,
    pub frame: ByteString,
}

/// An order event as GraphQL's `orderUpdated` subscription receives it.
#[derive(Debug, Clone)]
pub struct OrderChange {
    pub order: OrderSummary,
    /// The status before, for a status change; `None` for a new order.
    pub from: Option<crate::domain::OrderStatus>,
}

/// A GraphQL `orderUpdated` subscription for `caller`: the order events they may see.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchOrders {
    pub caller: Caller,
    pub tx: mpsc::Sender<OrderChange>,
}

/// Close every subscription (1001): the server is shutting down.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownHub;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EventFrame<'a> {
    OrderCreated {
        order: &'a OrderSummary,
    },
    OrderStatusChanged {
        order: &'a OrderSummary,
        from: &'a str,
    },
    UserRegistered {
        user: &'a UserRef,
    },
}

struct Subscriber {
    caller: Caller,
    out: Recipient<Outbound>,
}

pub struct EventHub {
    db: Db,
    metrics: Arc<Metrics>,
    subscribers: HashMap<SessionId, Subscriber>,
    by_user: HashMap<i32, Vec<SessionId>>,
    last_reading: Option<Reading>,
    order_watchers: Vec<(Caller, mpsc::Sender<OrderChange>)>,
}

impl EventHub {
    pub fn new(db: Db, metrics: Arc<Metrics>) -> Self {
        Self {
            db,
            metrics,
            subscribers: HashMap::new(),
            by_user: HashMap::new(),
            last_reading: None,
            order_watchers: Vec::new(),
        }
    }

    /// Feeds `orderUpdated` subscribers allowed to see the order; gone or lagging ones are
    /// forgotten (their streams end).
    fn feed_order_watchers(&mut self, change: OrderChange) {
        self.order_watchers.retain(|(caller, tx)| {
            if caller.is_admin() || caller.user_id == change.order.user_id {
                tx.try_send(change.clone()).is_ok()
            } else {
                !tx.is_closed()
            }
        });
    }

    /// Sends to the given sessions; a subscriber whose mailbox is full is dropped.
    fn deliver(&mut self, ids: impl IntoIterator<Item = SessionId>, frame: &ByteString) {
        let mut slow = Vec::new();
        for id in ids {
            if let Some(sub) = self.subscribers.get(&id) {
                if sub.out.try_send(Outbound::Frame(frame.clone())).is_err() {
                    slow.push(id);
                }
            }
        }
        for id in slow {
            if let Some(sub) = self.remove(id) {
                sub.out
                    .do_send(Outbound::Close(CloseCode::Policy, "too slow to read"));
            }
        }
    }

    fn remove(&mut self, id: SessionId) -> Option<Subscriber> {
        let sub = self.subscribers.remove(&id)?;
        if let Some(ids) = self.by_user.get_mut(&sub.caller.user_id) {
            ids.retain(|&s| s != id);
            if ids.is_empty() {
                self.by_user.remove(&sub.caller.user_id);
            }
        }
        Some(sub)
    }

    fn admins(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.subscribers
            .iter()
            .filter(|(_, s)| s.caller.is_admin())
            .map(|(&id, _)| id)
    }

    /// The sessions of `user_id` and of every admin, each once.
    fn owner_and_admins(&self, user_id: i32) -> Vec<SessionId> {
        let mut ids: Vec<SessionId> = self.admins().collect();
        for &id in self.by_user.get(&user_id).into_iter().flatten() {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    fn tick(&mut self) {
        let reading = self.metrics.reading(&self.db);
        let admins: Vec<SessionId> = self.admins().collect();
        if let (Some(previous), false) = (&self.last_reading, admins.is_empty()) {
            let frame = encode(&reading.snapshot(previous));
            self.deliver(admins, &frame);
        }
        self.last_reading = Some(reading);
    }
}

impl Actor for EventHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(DASHBOARD_EVERY, |act, _| act.tick());
    }
}

impl Handler<Subscribe> for EventHub {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Self::Context) {
        self.by_user
            .entry(msg.caller.user_id)
            .or_default()
            .push(msg.id);
        self.subscribers.insert(
            msg.id,
            Subscriber {
                caller: msg.caller,
                out: msg.out,
            },
        );
    }
}

impl Handler<Unsubscribe> for EventHub {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Self::Context) {
        self.remove(msg.id);
    }
}

impl Handler<FromPeer> for EventHub {
    type Result = ();

    /// Only notices come here; the rest of the bridge's traffic is the chat server's and
    /// the dispatcher's.
    fn handle(&mut self, msg: FromPeer, ctx: &mut Self::Context) {
        if let Payload::Notify { users, frame } = msg.payload {
            self.handle(
                NotifyUsers {
                    users,
                    frame: frame.into(),
                },
                ctx,
            );
        }
    }
}

impl Handler<Publish> for EventHub {
    type Result = ();

    fn handle(&mut self, Publish(event): Publish, _: &mut Self::Context) {
        match &event {
            DomainEvent::OrderCreated { order } => self.feed_order_watchers(OrderChange {
                order: order.clone(),
                from: None,
            }),
            DomainEvent::OrderStatusChanged { order, from } => {
                self.feed_order_watchers(OrderChange {
                    order: order.clone(),
                    from: Some(*from),
                })
            }
            _ => {}
        }
        let (frame, to) = match &event {
            DomainEvent::OrderCreated { order } => (
                encode(&EventFrame::OrderCreated { order }),
                self.owner_and_admins(order.user_id),
            ),
            DomainEvent::OrderStatusChanged { order, from } => (
                encode(&EventFrame::OrderStatusChanged {
                    order,
                    from: from.as_str(),
                }),
                self.owner_and_admins(order.user_id),
            ),
            DomainEvent::UserRegistered { user } => (
                encode(&EventFrame::UserRegistered { user }),
                self.admins().collect(),
            ),
            // Chat and session events go to the chat server and the token check.
            _ => return,
        };
        self.deliver(to, &frame);
    }
}

impl Handler<NotifyUsers> for EventHub {
    type Result = ();

    fn handle(&mut self, msg: NotifyUsers, _: &mut Self::Context) {
        let ids: Vec<SessionId> = msg
            .users
            .iter()
            .filter_map(|u| self.by_user.get(u))
            .flatten()
            .copied()
            .collect();
        self.deliver(ids, &msg.frame);
    }
}

impl Handler<WatchOrders> for EventHub {
    type Result = ();

    fn handle(&mut self, msg: WatchOrders, _: &mut Self::Context) {
        self.order_watchers.push((msg.caller, msg.tx));
    }
}

impl Handler<ShutdownHub> for EventHub {
    type Result = ();

    fn handle(&mut self, _: ShutdownHub, _: &mut Self::Context) {
        for sub in self.subscribers.values() {
            sub.out
                .do_send(Outbound::Close(CloseCode::Away, "server shutting down"));
        }
    }
}
