//! What every WebSocket session actor does the same way: heartbeats, reassembling
//! fragmented frames within the size limit, the per-connection frame budget, and closing with
//! the right code. The session actors keep only their own protocol.

use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, AsyncContext};
use actix_http::ws::Item;
use actix_web::web::{Bytes, BytesMut};
use actix_web_actors::ws::{self, CloseCode, CloseReason, ProtocolError, WebsocketContext};
use bytestring::ByteString;

use super::frames::{Fault, Watch};
use crate::config::WsArgs;
use crate::realtime::Outbound;

/// Limits of one connection, from `serve` settings.
#[derive(Debug, Clone)]
pub struct WsLimits {
    /// How often the server pings.
    pub heartbeat: Duration,
    /// A connection silent (no frame, no pong) this long is dropped.
    pub client_timeout: Duration,
    /// Largest frame, or reassembled fragmented message, in bytes.
    pub max_frame: usize,
    /// Client frames per second allowed, on average...
    pub rate: f64,
    /// ...with bursts up to this many.
    pub burst: f64,
    /// Refused frames in a row before the connection is closed (1008).
    pub strikes: u32,
    /// Frames queued for one connection before it counts as too slow and is dropped.
    pub queue: usize,
}

impl From<&WsArgs> for WsLimits {
    fn from(a: &WsArgs) -> Self {
        Self {
            heartbeat: Duration::from_millis(a.ws_heartbeat_ms.max(10)),
            client_timeout: Duration::from_millis(a.ws_client_timeout_ms.max(20)),
            max_frame: a.ws_max_frame_bytes.max(1024),
            rate: a.ws_rate.max(0.1),
            burst: a.ws_burst.max(1.0),
            strikes: a.ws_strikes.max(1),
            queue: a.ws_queue.max(1),
        }
    }
}

/// A complete message from the client, after control frames were dealt with.
pub enum Incoming {
    Text(ByteString),
    Binary(Bytes),
}

/// Token bucket over client frames.
struct Budget {
    tokens: f64,
    refilled: Instant,
}

/// Per-connection state shared by all session kinds.
pub struct Connection {
    limits: WsLimits,
    last_heard: Instant,
    budget: Budget,
    strikes: u32,
    partial: Option<(bool, BytesMut)>,
    watch: Watch,
}

/// Implemented by session actors so the shared heartbeat can reach their [`Connection`].
pub trait HasConnection: Actor<Context = WebsocketContext<Self>> {
    fn connection(&mut self) -> &mut Connection;
}

/// What a session does with an order from the real-time core: write the frame, or close
/// and stop.
pub fn apply<A>(msg: Outbound, ctx: &mut WebsocketContext<A>)
where
    A: Actor<Context = WebsocketContext<A>>,
{
    match msg {
        Outbound::Frame(text) => ctx.text(text),
        Outbound::Close(code, why) => close(ctx, code, why),
    }
}

/// A close frame's reason may take 123 bytes (a control frame carries 125, the code two):
/// a longer one is cut at a character boundary, or the frame would be invalid.
const MAX_CLOSE_REASON: usize = 123;

fn close_reason(why: &str) -> String {
    let mut end = why.len().min(MAX_CLOSE_REASON);
    while !why.is_char_boundary(end) {
        end -= 1;
    }
    why[..end].to_owned()
}

/// Closes with `code` and stops the actor (the close frame is flushed first).
pub fn close<A>(ctx: &mut WebsocketContext<A>, code: CloseCode, why: &str)
where
    A: Actor<Context = WebsocketContext<A>>,
{
    ctx.close(Some(CloseReason {
        code,
        description: Some(close_reason(why)),
    }));
    ctx.stop();
}

/// What a frame over the budget leads to.
pub enum Refusal {
    /// Tell the client and go on.
    Warn,
    /// Too many in a row: the connection was closed.
    Closed,
}

impl Connection {
    pub fn new(limits: WsLimits) -> Self {
        let burst = limits.burst;
        Self {
            limits,
            last_heard: Instant::now(),
            budget: Budget {
                tokens: burst,
                refilled: Instant::now(),
            },
            strikes: 0,
            partial: None,
            watch: Watch::default(),
        }
    }

    pub fn limits(&self) -> &WsLimits {
        &self.limits
    }

    /// The client's frames as this connection's codec should read them: through the
    /// [`Watch`] that finds what the codec cannot judge (see `ws::frames`).
    pub fn observe<S>(&self, payload: S) -> super::frames::Watched<S> {
        self.watch.observe(payload, self.limits.max_frame)
    }

    /// Pings every `heartbeat`; stops the actor when the client has been silent too long.
    pub fn start_heartbeat<A: HasConnection>(&self, ctx: &mut WebsocketContext<A>) {
        ctx.run_interval(self.limits.heartbeat, |act, ctx| {
            let conn = act.connection();
            if conn.last_heard.elapsed() > conn.limits.client_timeout {
                tracing::debug!("websocket client timed out");
                close(ctx, CloseCode::Away, "no answer to pings");
                return;
            }
            ctx.ping(b"");
        });
    }

    /// Handles control frames and fragments; returns complete data messages.
    pub fn receive<A>(
        &mut self,
        msg: Result<ws::Message, ProtocolError>,
        ctx: &mut WebsocketContext<A>,
    ) -> Option<Incoming>
    where
        A: Actor<Context = WebsocketContext<A>>,
    {
        self.last_heard = Instant::now();
        let msg = match msg {
            Ok(msg) => msg,
            Err(err) => {
                let (code, why) = match (&err, self.watch.fault()) {
                    (ProtocolError::Overflow, _) | (_, Some(Fault::TooLarge)) => {
                        (CloseCode::Size, "frame too large")
                    }
                    // The codec calls both a bad close code and a bad close reason BadOpCode.
                    (ProtocolError::BadOpCode, Some(Fault::CloseReasonNotUtf8)) => {
                        (CloseCode::Invalid, "close reason is not UTF-8")
                    }
                    // actix-web-actors reports a text frame that is not UTF-8 only as an I/O
                    // error carrying the decoder's message; RFC 6455 wants 1007 for it.
                    (ProtocolError::Io(io), _) if io.to_string().contains("utf-8") => {
                        (CloseCode::Invalid, "text is not UTF-8")
                    }
                    _ => (CloseCode::Protocol, "protocol error"),
                };
                tracing::debug!(error = %err, "websocket protocol error");
                close(ctx, code, why);
                return None;
            }
        };
        match msg {
            ws::Message::Ping(payload) => {
                ctx.pong(&payload);
                None
            }
            ws::Message::Pong(_) | ws::Message::Nop => None,
            ws::Message::Close(reason) => {
                // Answer the client's close (1000 unless it gave another code), then end.
                ctx.close(reason.or(Some(CloseCode::Normal.into())));
                ctx.stop();
                None
            }
            ws::Message::Text(text) => Some(Incoming::Text(text)),
            ws::Message::Binary(bytes) => Some(Incoming::Binary(bytes)),
            ws::Message::Continuation(item) => self.reassemble(item, ctx),
        }
    }

    fn reassemble<A>(&mut self, item: Item, ctx: &mut WebsocketContext<A>) -> Option<Incoming>
    where
        A: Actor<Context = WebsocketContext<A>>,
    {
        let (is_last, chunk) = match item {
            Item::FirstText(chunk) => {
                self.partial = Some((true, BytesMut::new()));
                (false, chunk)
            }
            Item::FirstBinary(chunk) => {
                self.partial = Some((false, BytesMut::new()));
                (false, chunk)
            }
            Item::Continue(chunk) => (false, chunk),
            Item::Last(chunk) => (true, chunk),
        };
        let Some((_, buf)) = self.partial.as_mut() else {
            close(
                ctx,
                CloseCode::Protocol,
                "continuation without a first frame",
            );
            return None;
        };
        if buf.len() + chunk.len() > self.limits.max_frame {
            self.partial = None;
            close(ctx, CloseCode::Size, "message too large");
            return None;
        }
        buf.extend_from_slice(&chunk);
        if !is_last {
            return None;
        }
        let (text, buf) = self.partial.take()?;
        let bytes = buf.freeze();
        if !text {
            return Some(Incoming::Binary(bytes));
        }
        match ByteString::try_from(bytes) {
            Ok(text) => Some(Incoming::Text(text)),
            Err(_) => {
                close(ctx, CloseCode::Invalid, "text is not UTF-8");
                None
            }
        }
    }

    /// Takes one frame from the budget. `Err` when the client is over it.
    pub fn admit<A>(&mut self, ctx: &mut WebsocketContext<A>) -> Result<(), Refusal>
    where
        A: Actor<Context = WebsocketContext<A>>,
    {
        let now = Instant::now();
        let budget = &mut self.budget;
        let refill = now.duration_since(budget.refilled).as_secs_f64() * self.limits.rate;
        budget.tokens = (budget.tokens + refill).min(self.limits.burst);
        budget.refilled = now;
        if budget.tokens >= 1.0 {
            budget.tokens -= 1.0;
            self.strikes = 0;
            return Ok(());
        }
        self.strikes += 1;
        if self.strikes >= self.limits.strikes {
            close(ctx, CloseCode::Policy, "too many frames");
            Err(Refusal::Closed)
        } else {
            Err(Refusal::Warn)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame_and_stay_utf8() {
        assert_eq!(close_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= MAX_CLOSE_REASON && cut.len() >= MAX_CLOSE_REASON - 1);
        assert!(long.starts_with(&cut));
    }
}
