//! The Redis side of the bridge. One task owns a command connection: it publishes (batched
//! into pipelines), mirrors this instance's presence into its own keys, and every heartbeat
//! refreshes those keys and reads the other live instances' keys for the chat server. A
//! second task holds the subscription and hands envelopes to the actors. Each reconnects
//! on its own with exponential backoff; while one is down, `/readyz` says so and local
//! delivery goes on.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;
use anyhow::Context;
use futures_util::StreamExt;
use rand::Rng;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::peers::{parse_presence_member, FromPeer, PeerSnapshot};
use super::{Bridge, BridgeConfig, Command, Envelope, InstanceId, Payload, Shared, QUEUE};
use crate::realtime::dispatch::Dispatch;

/// Commands sent to Redis in one pipeline at most.
const BATCH: usize = 512;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where envelopes from other instances go.
pub struct Relay {
    /// Chat messages, presence, typing, online changes and goodbyes.
    pub chat: Recipient<FromPeer>,
    /// The periodic view of the other instances.
    pub snapshots: Recipient<PeerSnapshot>,
    /// Notices for `/ws/events`.
    pub events: Recipient<FromPeer>,
    /// Domain events, and the catch-up after an outage.
    pub dispatch: Dispatch,
}

struct Keys {
    channel: String,
    instances: String,
    prefix: String,
    me: InstanceId,
}

impl Keys {
    fn alive(&self, id: &str) -> String {
        format!("{}:alive:{id}", self.prefix)
    }
    fn presence(&self, id: &str) -> String {
        format!("{}:presence:{id}", self.prefix)
    }
    fn online(&self, id: &str) -> String {
        format!("{}:online:{id}", self.prefix)
    }
}

/// The bridge handle, and the tasks to start once the actors it feeds exist.
pub struct Link {
    shared: Arc<Shared>,
    client: redis::Client,
    rx: mpsc::Receiver<Command>,
    ttl: Duration,
    keys: Keys,
}

/// Checks the URL and creates the handle; nothing connects until [`Link::spawn`].
pub fn start(config: &BridgeConfig) -> anyhow::Result<(Bridge, Link)> {
    let client = redis::Client::open(config.url.as_str()).context("invalid --redis-url")?;
    let me: InstanceId = uuid::Uuid::new_v4().simple().to_string().into();
    let (tx, rx) = mpsc::channel(QUEUE);
    let shared = Arc::new(Shared {
        instance: me.clone(),
        suspect: tokio::sync::Notify::new(),
        tx,
        publisher_up: AtomicBool::new(false),
        subscriber_up: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
    });
    let keys = Keys {
        channel: format!("{}:bus", config.prefix),
        instances: format!("{}:instances", config.prefix),
        prefix: config.prefix.clone(),
        me,
    };
    let link = Link {
        shared: shared.clone(),
        client,
        rx,
        ttl: config.presence_ttl.max(Duration::from_secs(1)),
        keys,
    };
    Ok((Bridge(Some(shared)), link))
}

impl Link {
    /// Starts both tasks on the current runtime.
    pub fn spawn(self, relay: Relay) {
        tracing::info!(instance = %self.keys.me, channel = %self.keys.channel, "bridging real-time traffic through Redis");
        let subscriber = Subscriber {
            shared: self.shared.clone(),
            client: self.client.clone(),
            channel: self.keys.channel.clone(),
            relay,
        };
        let relay_snapshots = subscriber.relay.snapshots.clone();
        actix_web::rt::spawn(subscriber.run());
        let publisher = Publisher {
            shared: self.shared,
            client: self.client,
            keys: self.keys,
            ttl: self.ttl,
            snapshots: relay_snapshots,
            presence: HashSet::new(),
            online: HashSet::new(),
        };
        actix_web::rt::spawn(publisher.run(self.rx));
    }
}

/// Exponential backoff from 100 ms to 5 s, with jitter so instances do not reconnect in
/// lockstep after a Redis restart.
struct Backoff(u32);

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = 100u64.saturating_mul(1 << self.0.min(6)).min(5_000);
        self.0 += 1;
        Duration::from_millis(base + rand::rng().random_range(0..=base / 4))
    }
    fn reset(&mut self) {
        self.0 = 0;
    }
}

async fn connect(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

struct Publisher {
    shared: Arc<Shared>,
    client: redis::Client,
    keys: Keys,
    ttl: Duration,
    snapshots: Recipient<PeerSnapshot>,
    /// This instance's presence and online users, to rewrite after Redis lost them.
    presence: HashSet<String>,
    online: HashSet<i32>,
}

impl Publisher {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut conn: Option<MultiplexedConnection> = None;
        let mut backoff = Backoff(0);
        let mut retry_at = Instant::now();
        let mut failing = false;
        let mut beat = tokio::time::interval(self.ttl / 3);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = rx.recv() => {
                    let Some(command) = command else { break };
                    let mut batch = vec![command];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(command) => batch.push(command),
                            Err(_) => break,
                        }
                    }
                    if let Some(done) = self.send(&mut conn, batch).await {
                        self.goodbye(&mut conn).await;
                        let _ = done.send(());
                        break;
                    }
                }
                _ = tokio::time::sleep_until(retry_at), if conn.is_none() => {
                    match connect(&self.client).await {
                        Ok(c) => {
                            if failing {
                                tracing::info!("Redis bridge: publishing again");
                            }
                            failing = false;
                            backoff.reset();
                            conn = Some(c);
                            self.heartbeat(&mut conn, true).await;
                        }
                        Err(err) => {
                            if !failing {
                                tracing::warn!(error = %err, "Redis bridge: cannot connect; retrying with backoff");
                            }
                            failing = true;
                            retry_at = Instant::now() + backoff.next();
                        }
                    }
                }
                _ = self.shared.suspect.notified(), if conn.is_some() => {
                    self.heartbeat(&mut conn, false).await;
                    if conn.is_none() {
                        failing = true;
                        retry_at = Instant::now() + backoff.next();
                    }
                }
                _ = beat.tick() => {
                    if conn.is_some() {
                        self.heartbeat(&mut conn, false).await;
                        if conn.is_none() {
                            failing = true;
                            retry_at = Instant::now() + backoff.next();
                        }
                    }
                }
            }
        }
    }

    fn lost(&self, conn: &mut Option<MultiplexedConnection>, err: &redis::RedisError) {
        if conn.take().is_some() {
            tracing::warn!(error = %err, "Redis bridge: lost the connection; local delivery continues");
        }
        self.shared.publisher_up.store(false, Ordering::Relaxed);
    }

    /// Sends one batch; returns the shutdown acknowledgement when the batch asked to stop.
    async fn send(
        &mut self,
        conn: &mut Option<MultiplexedConnection>,
        batch: Vec<Command>,
    ) -> Option<tokio::sync::oneshot::Sender<()>> {
        let mut pipe = redis::pipe();
        let mut publishes = 0u64;
        let mut shutdown = None;
        let presence_key = self.keys.presence(&self.keys.me);
        let online_key = self.keys.online(&self.keys.me);
        let ttl_ms = self.ttl.as_millis() as i64;
        for command in batch {
            match command {
                Command::Publish(bytes) => {
                    pipe.publish(&self.keys.channel, bytes).ignore();
                    publishes += 1;
                }
                Command::Presence {
                    member,
                    add,
                    envelope,
                } => {
                    if add {
                        pipe.sadd(&presence_key, &member).ignore();
                        pipe.pexpire(&presence_key, ttl_ms).ignore();
                        self.presence.insert(member);
                    } else {
                        pipe.srem(&presence_key, &member).ignore();
                        self.presence.remove(&member);
                    }
                    pipe.publish(&self.keys.channel, envelope).ignore();
                    publishes += 1;
                }
                Command::Online {
                    user_id,
                    add,
                    envelope,
                } => {
                    if add {
                        pipe.sadd(&online_key, user_id).ignore();
                        pipe.pexpire(&online_key, ttl_ms).ignore();
                        self.online.insert(user_id);
                    } else {
                        pipe.srem(&online_key, user_id).ignore();
                        self.online.remove(&user_id);
                    }
                    pipe.publish(&self.keys.channel, envelope).ignore();
                    publishes += 1;
                }
                Command::Shutdown(done) => shutdown = Some(done),
            }
        }
        let Some(c) = conn.as_mut() else {
            self.shared.dropped.fetch_add(publishes, Ordering::Relaxed);
            return shutdown;
        };
        if let Err(err) = pipe.query_async::<()>(c).await {
            // Often a connection that died while idle (Redis restarted): one fresh attempt,
            // with this instance's keys written again, before the batch is given up.
            self.lost(conn, &err);
            let resent = match connect(&self.client).await {
                Ok(fresh) => {
                    *conn = Some(fresh);
                    self.heartbeat(conn, true).await;
                    match conn.as_mut() {
                        Some(c) => pipe.query_async::<()>(c).await.is_ok(),
                        None => false,
                    }
                }
                Err(_) => false,
            };
            if resent {
                tracing::info!("Redis bridge: publishing again");
            } else {
                *conn = None;
                self.shared.publisher_up.store(false, Ordering::Relaxed);
                self.shared.dropped.fetch_add(publishes, Ordering::Relaxed);
            }
        }
        shutdown
    }

    /// Refreshes this instance's keys (rewriting them all after a reconnect) and hands the
    /// chat server what the other live instances hold.
    async fn heartbeat(&mut self, conn: &mut Option<MultiplexedConnection>, rewrite: bool) {
        let Some(c) = conn.as_mut() else { return };
        match self.beat(c, rewrite).await {
            Ok(snapshot) => {
                self.shared.publisher_up.store(true, Ordering::Relaxed);
                let _ = self.snapshots.try_send(snapshot);
            }
            Err(err) => self.lost(conn, &err),
        }
    }

    async fn beat(
        &self,
        c: &mut MultiplexedConnection,
        rewrite: bool,
    ) -> redis::RedisResult<PeerSnapshot> {
        let me = &self.keys.me;
        let (presence_key, online_key) = (self.keys.presence(me), self.keys.online(me));
        let ttl_ms = self.ttl.as_millis() as i64;
        let mut pipe = redis::pipe();
        if rewrite {
            pipe.atomic();
            pipe.del(&presence_key).ignore().del(&online_key).ignore();
            if !self.presence.is_empty() {
                pipe.sadd(&presence_key, self.presence.iter().collect::<Vec<_>>())
                    .ignore();
            }
            if !self.online.is_empty() {
                pipe.sadd(&online_key, self.online.iter().collect::<Vec<_>>())
                    .ignore();
            }
        }
        pipe.sadd(&self.keys.instances, me.as_ref()).ignore();
        pipe.cmd("SET")
            .arg(self.keys.alive(me))
            .arg(1)
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        pipe.pexpire(&presence_key, ttl_ms).ignore();
        pipe.pexpire(&online_key, ttl_ms).ignore();
        pipe.query_async::<()>(c).await?;

        let taken_at = std::time::Instant::now();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&self.keys.instances)
            .query_async(c)
            .await?;
        let others: Vec<String> = ids.into_iter().filter(|id| id != me.as_ref()).collect();
        let mut snapshot = PeerSnapshot {
            taken_at: Some(taken_at),
            ..PeerSnapshot::default()
        };
        if others.is_empty() {
            return Ok(snapshot);
        }
        let mut pipe = redis::pipe();
        for id in &others {
            pipe.exists(self.keys.alive(id))
                .smembers(self.keys.presence(id))
                .smembers(self.keys.online(id));
        }
        let rows: Vec<(bool, Vec<String>, Vec<i32>)> = {
            let flat: Vec<redis::Value> = pipe.query_async(c).await?;
            flat.chunks(3)
                .map(|chunk| {
                    redis::from_redis_value::<(bool, Vec<String>, Vec<i32>)>(redis::Value::Array(
                        chunk.to_vec(),
                    ))
                })
                .collect::<Result<_, _>>()
                .map_err(redis::RedisError::from)?
        };
        let mut dead = Vec::new();
        for (id, (alive, presence, online)) in others.into_iter().zip(rows) {
            if !alive {
                dead.push(id);
                continue;
            }
            let instance: InstanceId = id.into();
            for member in presence {
                if let Some((room, user)) = parse_presence_member(&member) {
                    snapshot.presence.push((instance.clone(), room, user));
                }
            }
            for user_id in online {
                snapshot.online.push((instance.clone(), user_id));
            }
        }
        if !dead.is_empty() {
            let mut pipe = redis::pipe();
            for id in &dead {
                tracing::info!(instance = %id, "Redis bridge: an instance stopped heartbeating; forgetting its users");
                pipe.srem(&self.keys.instances, id)
                    .ignore()
                    .del(self.keys.presence(id))
                    .ignore()
                    .del(self.keys.online(id))
                    .ignore();
            }
            pipe.query_async::<()>(c).await?;
        }
        Ok(snapshot)
    }

    /// Tells the others this instance is leaving and removes its keys.
    async fn goodbye(&self, conn: &mut Option<MultiplexedConnection>) {
        let Some(c) = conn.as_mut() else { return };
        let me = &self.keys.me;
        let envelope = Envelope {
            origin: me.to_string(),
            payload: Payload::Gone,
        };
        let mut pipe = redis::pipe();
        pipe.srem(&self.keys.instances, me.as_ref())
            .ignore()
            .del(self.keys.alive(me))
            .ignore()
            .del(self.keys.presence(me))
            .ignore()
            .del(self.keys.online(me))
            .ignore()
            .publish(
                &self.keys.channel,
                serde_json::to_vec(&envelope).expect("envelopes serialize"),
            )
            .ignore();
        if let Err(err) = pipe.query_async::<()>(c).await {
            tracing::warn!(error = %err, "Redis bridge: could not say goodbye; peers will expire this instance");
        }
    }
}

struct Subscriber {
    shared: Arc<Shared>,
    client: redis::Client,
    channel: String,
    relay: Relay,
}

impl Subscriber {
    async fn run(self) {
        let mut backoff = Backoff(0);
        let mut failing = false;
        loop {
            let subscribed = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&self.channel).await?;
                redis::RedisResult::Ok(pubsub)
            };
            match tokio::time::timeout(CONNECT_TIMEOUT, subscribed).await {
                Ok(Ok(mut pubsub)) => {
                    backoff.reset();
                    self.shared.subscriber_up.store(true, Ordering::Relaxed);
                    if failing {
                        // Subscribed first, then caught up: nothing falls between the two
                        // (what arrives twice is dropped by seq).
                        tracing::info!(
                            "Redis bridge: receiving again; catching up from the database"
                        );
                        self.relay.dispatch.resync();
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        self.dispatch(message.get_payload_bytes());
                    }
                    self.shared.subscriber_up.store(false, Ordering::Relaxed);
                    self.shared.suspect.notify_one();
                    tracing::warn!("Redis bridge: lost the subscription; local delivery continues");
                    failing = true;
                }
                Ok(Err(err)) => {
                    if !failing {
                        tracing::warn!(error = %err, "Redis bridge: cannot subscribe; retrying with backoff");
                    }
                    failing = true;
                }
                Err(_) => {
                    if !failing {
                        tracing::warn!(
                            "Redis bridge: subscribing timed out; retrying with backoff"
                        );
                    }
                    failing = true;
                }
            }
            tokio::time::sleep(backoff.next()).await;
        }
    }

    fn dispatch(&self, bytes: &[u8]) {
        let envelope: Envelope = match serde_json::from_slice(bytes) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::warn!(error = %err, "Redis bridge: ignoring an envelope it cannot read");
                return;
            }
        };
        if envelope.origin == *self.shared.instance {
            return;
        }
        let message = FromPeer {
            origin: envelope.origin.into(),
            payload: envelope.payload,
        };
        match message.payload {
            Payload::Event { event } => self.relay.dispatch.local(event),
            Payload::Notify { .. } => self.relay.events.do_send(message),
            _ => self.relay.chat.do_send(message),
        }
    }
}
