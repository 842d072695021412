//! Sessions and how they end early. A session is one sign-in: a refresh-token family, named
//! by the `sid` claim of every access token issued from it. A password change, a sign-out
//! (RFC 7009 revoke), a reused refresh token, an admin disabling the account or its
//! deletion ends sessions before their tokens expire.
//!
//! Access tokens are checked on every request and every open socket, so the ended sessions
//! are held in memory ([`RevokedSessions`]): the hot path is a hash lookup, not a database
//! trip. The database keeps them too (`revoked_sessions`), for instances that start later,
//! and the Redis bridge tells running instances at once. A session only needs remembering
//! while an access token from it could still be presented, so entries are forgotten one
//! access-token lifetime (plus the verification leeway) after they ended.
//!
//! Why sessions and not a per-user "valid after" time held against `iat`: `iat` has
//! one-second resolution, so a token issued in the same second as a password change would
//! be judged wrongly one way or the other; and signing out on one device should not end
//! the others.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::RevokedSession;
use crate::db::schema::{refresh_tokens, revoked_sessions};
use crate::db::{self, DbConnection};
use crate::error::AppError;

/// Ended sessions that an unexpired access token could still name, in memory.
pub struct RevokedSessions {
    /// How long after its end a session is remembered.
    keep: chrono::Duration,
    /// Session id -> when it may be forgotten.
    ended: RwLock<HashMap<String, NaiveDateTime>>,
}

impl RevokedSessions {
    /// `keep` must cover the access-token lifetime and the verification leeway.
    pub fn new(keep: Duration) -> Self {
        Self {
            keep: chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::days(1)),
            ended: RwLock::new(HashMap::new()),
        }
    }

    pub fn is_revoked(&self, session: &str) -> bool {
        self.ended
            .read()
            .map(|ended| ended.contains_key(session))
            // A poisoned lock means a panic while writing: refuse rather than guess.
            .unwrap_or(true)
    }

    /// Remembers sessions that ended at `at`.
    pub fn insert<'a>(&self, sessions: impl IntoIterator<Item = &'a str>, at: NaiveDateTime) {
        let forget_at = at + self.keep;
        if let Ok(mut ended) = self.ended.write() {
            for session in sessions {
                let entry = ended.entry(session.to_owned()).or_insert(forget_at);
                *entry = (*entry).max(forget_at);
            }
        }
    }

    /// Forgets sessions whose tokens have all expired.
    pub fn prune(&self) {
        let now = db::now();
        if let Ok(mut ended) = self.ended.write() {
            ended.retain(|_, forget_at| *forget_at > now);
        }
    }

    pub fn len(&self) -> usize {
        self.ended.read().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the sessions that still matter from the database (at start-up, and after the
    /// bridge to other instances was down), and deletes the records that no longer do.
    pub fn load(&self, conn: &mut DbConnection) -> Result<usize, AppError> {
        let horizon = db::now() - self.keep;
        diesel::delete(revoked_sessions::table.filter(revoked_sessions::revoked_at.lt(horizon)))
            .execute(conn)?;
        let rows: Vec<RevokedSession> = revoked_sessions::table
            .select(RevokedSession::as_select())
            .load(conn)?;
        for row in &rows {
            self.insert([row.session_id.as_str()], row.revoked_at);
        }
        Ok(rows.len())
    }
}

/// The sessions of a user that have not ended yet.
pub fn open_sessions(conn: &mut DbConnection, user_id: i32) -> Result<Vec<String>, AppError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .select(refresh_tokens::family_id)
        .distinct()
        .load(conn)?)
}

/// Ends `sessions` of `user_id`: their refresh tokens stop working and their access tokens
/// are refused from now on. Run inside the caller's transaction; the caller announces the
/// end ([`super::events::DomainEvent::SessionsRevoked`]) once it has committed.
pub fn revoke(
    conn: &mut DbConnection,
    user_id: i32,
    sessions: &[String],
) -> Result<NaiveDateTime, AppError> {
    let now = db::now();
    if sessions.is_empty() {
        return Ok(now);
    }
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq_any(sessions))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    let known: Vec<String> = revoked_sessions::table
        .filter(revoked_sessions::session_id.eq_any(sessions))
        .select(revoked_sessions::session_id)
        .load(conn)?;
    // One row at a time: the SQLite backend has no multi-row insert through diesel's
    // MultiConnection.
    for session in sessions.iter().filter(|s| !known.contains(s)) {
        diesel::insert_into(revoked_sessions::table)
            .values(RevokedSession {
                session_id: session.clone(),
                user_id,
                revoked_at: now,
            })
            .execute(conn)?;
    }
    Ok(now)
}

/// Ends every session of a user (password change, disabled or deleted account) and
/// returns them.
pub fn revoke_all(conn: &mut DbConnection, user_id: i32) -> Result<Vec<String>, AppError> {
    let sessions = open_sessions(conn, user_id)?;
    revoke(conn, user_id, &sessions)?;
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_sessions_are_remembered_until_their_tokens_expire() {
        let revoked = RevokedSessions::new(Duration::from_secs(60));
        revoked.insert(["a", "b"], db::now());
        revoked.insert(["old"], db::now() - chrono::Duration::seconds(61));
        assert!(revoked.is_revoked("a") && revoked.is_revoked("old"));
        assert!(!revoked.is_revoked("c"));
        revoked.prune();
        assert!(revoked.is_revoked("a") && revoked.is_revoked("b"));
        assert!(!revoked.is_revoked("old"));
    }
}
