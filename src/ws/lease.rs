//! How long a socket may stay open: until its access token expires, unless the client sends
//! a fresh one first (`{"type":"auth","token":"..."}`). At expiry the socket is closed with
//! 4001 `token expired`; when the token's session ends early (a password change, a
//! sign-out, a disabled or deleted account) the real-time core closes it with 4003 through
//! [`Sockets`]. While open, the socket is registered there under its user and session.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, SpawnHandle};
use actix_web_actors::ws::{CloseCode, WebsocketContext};

use super::conn::close;
use crate::realtime::protocol::FrameError;
use crate::realtime::sockets::{Sockets, TOKEN_EXPIRED};
use crate::realtime::{Outbound, SessionId};
use crate::services::auth::{AccessToken, Tokens};

pub struct Lease {
    tokens: Arc<Tokens>,
    sockets: Arc<Sockets>,
    token: AccessToken,
    timer: Option<SpawnHandle>,
}

fn seconds_until(expires_at: i64) -> Duration {
    let now = chrono::Utc::now().timestamp();
    Duration::from_secs(expires_at.saturating_sub(now).max(0) as u64)
}

impl Lease {
    pub fn new(tokens: Arc<Tokens>, sockets: Arc<Sockets>, token: AccessToken) -> Self {
        Self {
            tokens,
            sockets,
            token,
            timer: None,
        }
    }

    pub fn user_id(&self) -> i32 {
        self.token.actor.user_id
    }

    /// Registers the socket and arms the expiry; call from `started`.
    pub fn start<A>(&mut self, id: SessionId, ctx: &mut WebsocketContext<A>)
    where
        A: Actor<Context = WebsocketContext<A>> + actix::Handler<Outbound>,
    {
        self.sockets.register(
            self.token.actor.user_id,
            id,
            &self.token.session,
            ctx.address().recipient(),
        );
        self.arm(ctx);
    }

    /// Unregisters the socket; call from `stopped`.
    pub fn stop(&self, id: SessionId) {
        self.sockets.unregister(self.token.actor.user_id, id);
    }

    fn arm<A: Actor<Context = WebsocketContext<A>>>(&mut self, ctx: &mut WebsocketContext<A>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let wait = seconds_until(self.token.expires_at);
        self.timer = Some(ctx.run_later(wait, |_, ctx| {
            close(ctx, CloseCode::Other(TOKEN_EXPIRED), "token expired");
        }));
    }

    /// Takes a fresh token (an `auth` frame) for the same user: the socket then lasts until
    /// it expires. Returns the new expiry (Unix seconds).
    pub fn renew<A: Actor<Context = WebsocketContext<A>>>(
        &mut self,
        id: SessionId,
        raw: &str,
        ctx: &mut WebsocketContext<A>,
    ) -> Result<i64, FrameError> {
        let token = check_renewal(&self.tokens, self.token.actor.user_id, raw)?;
        Ok(self.adopt(id, token, ctx))
    }

    /// Runs on `token` from now on (already checked with [`check_renewal`]).
    pub fn adopt<A: Actor<Context = WebsocketContext<A>>>(
        &mut self,
        id: SessionId,
        token: AccessToken,
        ctx: &mut WebsocketContext<A>,
    ) -> i64 {
        if token.session != self.token.session {
            self.sockets.renew(token.actor.user_id, id, &token.session);
        }
        let expires_at = token.expires_at;
        self.token = token;
        self.arm(ctx);
        expires_at
    }
}

/// Whether `raw` may take over a socket of `user_id`: valid, unrevoked, the same user.
pub fn check_renewal(tokens: &Tokens, user_id: i32, raw: &str) -> Result<AccessToken, FrameError> {
    let token = tokens.verify(raw).map_err(|why| {
        FrameError::new("UNAUTHENTICATED", format!("the token is not valid: {why}"))
    })?;
    if token.actor.user_id != user_id {
        return Err(FrameError::new(
            "FORBIDDEN",
            "the token is another user's; open a new connection to switch users",
        ));
    }
    Ok(token)
}
