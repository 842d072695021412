//! Every open socket of a signed-in user (chat, events, GraphQL subscriptions), by user,
//! with the session its token belongs to. When sessions end early (a password change, a
//! sign-out, a disabled or deleted account) the sockets opened with them are closed at
//! once with 4003, on every instance (the event crosses the Redis bridge).

use std::collections::HashMap;
use std::sync::Mutex;

use actix::Recipient;
use actix_web_actors::ws::CloseCode;

use super::{Outbound, SessionId};

/// Close code for a socket whose session ended (a 4xxx code: the application's own).
pub const SESSION_ENDED: u16 = 4003;
/// Close code for a socket whose token expired without being renewed.
pub const TOKEN_EXPIRED: u16 = 4001;

struct Entry {
    id: SessionId,
    session: String,
    out: Recipient<Outbound>,
}

#[derive(Default)]
pub struct Sockets {
    by_user: Mutex<HashMap<i32, Vec<Entry>>>,
}

impl Sockets {
    pub fn register(&self, user_id: i32, id: SessionId, session: &str, out: Recipient<Outbound>) {
        if let Ok(mut by_user) = self.by_user.lock() {
            by_user.entry(user_id).or_default().push(Entry {
                id,
                session: session.to_owned(),
                out,
            });
        }
    }

    /// The socket now runs on a token of `session` (an `auth` frame after a new sign-in).
    pub fn renew(&self, user_id: i32, id: SessionId, session: &str) {
        if let Ok(mut by_user) = self.by_user.lock() {
            if let Some(entry) = by_user
                .get_mut(&user_id)
                .and_then(|entries| entries.iter_mut().find(|e| e.id == id))
            {
                session.clone_into(&mut entry.session);
            }
        }
    }

    pub fn unregister(&self, user_id: i32, id: SessionId) {
        if let Ok(mut by_user) = self.by_user.lock() {
            if let Some(entries) = by_user.get_mut(&user_id) {
                entries.retain(|e| e.id != id);
                if entries.is_empty() {
                    by_user.remove(&user_id);
                }
            }
        }
    }

    /// Closes the user's sockets that belong to any of `sessions`.
    pub fn end_sessions(&self, user_id: i32, sessions: &[String]) {
        let Ok(by_user) = self.by_user.lock() else {
            return;
        };
        for entry in by_user.get(&user_id).into_iter().flatten() {
            if sessions.contains(&entry.session) {
                entry.out.do_send(Outbound::Close(
                    CloseCode::Other(SESSION_ENDED),
                    "session ended",
                ));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_user
            .lock()
            .map_or(0, |b| b.values().map(Vec::len).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
