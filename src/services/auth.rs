//! Tokens: short-lived JWT access tokens (HS256) that any instance can verify with the
//! shared secret, and long-lived opaque refresh tokens kept (hashed) in the database.
//!
//! Refresh tokens rotate: each use returns a new one and retires the old. Tokens issued from
//! one login form a family; presenting a retired token again means it was copied, so the
//! whole family is revoked (OAuth 2.0 Security BCP, section 4.14).
//!
//! One exception, the reuse grace (Okta's "grace period for token rotation", Auth0's "reuse
//! interval"): a client whose refresh answer never arrived (a page navigated away while the
//! request was in flight, a dropped connection) still holds only the retired token. If it
//! presents that token again within the grace and the successor it never received has not
//! been used, the successor is retired unused and a new pair issued. Once a successor has
//! been used, the client demonstrably got it, so the old token coming back is theft again.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::events::{DomainEvent, Events};
use super::sessions::{self, RevokedSessions};
use super::{passwords, users, Actor};
use crate::db::models::{NewRefreshToken, RefreshToken};
use crate::db::schema::refresh_tokens;
use crate::db::{self, write_transaction, Db, DbConnection};
use crate::domain::{Email, Role, Secret};
use crate::error::AppError;

pub const ISSUER: &str = "switchboard";
/// Secrets shorter than this are refused at start-up (HS256 wants at least its hash size).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
    /// The session (refresh-token family) the token belongs to; empty in tokens from
    /// before sessions were tracked, which are refused.
    #[serde(default)]
    pub sid: String,
}

/// A verified access token: who it speaks for, for which session, until when.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub actor: Actor,
    pub session: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Signs and verifies access tokens; built once at start-up and shared by all workers.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
    reuse_grace: chrono::Duration,
    revoked: RevokedSessions,
}

/// Seconds of clock skew allowed when checking `exp`.
const LEEWAY_SECS: u64 = 5;

/// What a grant issues: a bearer access token and the refresh token that renews it.
#[derive(Debug)]
pub struct TokenPair {
    pub access_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    pub refresh_token: String,
}

/// Token endpoint failures, named as RFC 6749 section 5.2 names them.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidGrant(String),
    #[error(transparent)]
    Server(#[from] AppError),
}

impl From<diesel::result::Error> for GrantError {
    fn from(e: diesel::result::Error) -> Self {
        GrantError::Server(e.into())
    }
}

impl Tokens {
    /// `reuse_grace`: how long after its rotation a refresh token whose answer was lost may be
    /// presented again (zero: never).
    pub fn new(
        secret: &Secret,
        access_ttl: Duration,
        refresh_ttl: Duration,
        reuse_grace: Duration,
    ) -> Self {
        let key = secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            access_ttl,
            refresh_ttl,
            reuse_grace: chrono::Duration::from_std(reuse_grace)
                .unwrap_or(chrono::Duration::zero()),
            // A minute more than a token can live, so clocks a little apart do no harm.
            revoked: RevokedSessions::new(access_ttl + Duration::from_secs(LEEWAY_SECS + 60)),
        }
    }

    /// The sessions that ended early, as this instance knows them.
    pub fn revoked(&self) -> &RevokedSessions {
        &self.revoked
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    pub fn issue_access(
        &self,
        user_id: i32,
        role: Role,
        session: &str,
    ) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            iat: now,
            exp: now + i64::try_from(self.access_ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::new_v4().to_string(),
            iss: ISSUER.to_owned(),
            sid: session.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("signing a token failed: {e}")))
    }

    /// The actor a token speaks for, or why it is not acceptable.
    pub fn verify_access(&self, token: &str) -> Result<Actor, String> {
        self.verify(token).map(|t| t.actor)
    }

    /// Checks signature, issuer and expiry, and that the token's session has not ended
    /// (a password change, a sign-out, a disabled or deleted account).
    pub fn verify(&self, token: &str) -> Result<AccessToken, String> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                ErrorKind::InvalidSignature => "the token signature is invalid".to_owned(),
                _ => "the token is malformed".to_owned(),
            }
        })?;
        let user_id = data
            .claims
            .sub
            .parse()
            .map_err(|_| "the token subject is invalid".to_owned())?;
        if data.claims.sid.is_empty() {
            return Err("the token names no session; sign in again".to_owned());
        }
        if self.revoked.is_revoked(&data.claims.sid) {
            return Err("the session has ended; sign in again".to_owned());
        }
        Ok(AccessToken {
            actor: Actor {
                user_id,
                role: data.claims.role,
            },
            session: data.claims.sid,
            expires_at: data.claims.exp,
        })
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn issue_pair(
    conn: &mut DbConnection,
    tokens: &Tokens,
    user_id: i32,
    role: Role,
    family_id: &str,
    now: chrono::NaiveDateTime,
) -> Result<TokenPair, AppError> {
    let refresh = random_token();
    let ttl = chrono::Duration::from_std(tokens.refresh_ttl).unwrap_or(chrono::Duration::days(30));
    diesel::insert_into(refresh_tokens::table)
        .values(NewRefreshToken {
            user_id,
            family_id,
            token_hash: &hash_token(&refresh),
            expires_at: now + ttl,
            created_at: now,
        })
        .execute(conn)?;
    Ok(TokenPair {
        access_token: tokens.issue_access(user_id, role, family_id)?,
        expires_in: tokens.access_ttl.as_secs(),
        refresh_token: refresh,
    })
}

/// `grant_type=password`: the same answer for an unknown email and a wrong password, after
/// the same amount of work, so the endpoint cannot be used to find accounts. The password
/// is checked between two database calls, so no connection is held while argon2 runs.
pub async fn password_grant(
    db: &Db,
    tokens: Arc<Tokens>,
    username: String,
    password: Secret,
) -> Result<TokenPair, GrantError> {
    let rejected = || GrantError::InvalidGrant("the username or password is incorrect".to_owned());
    let user = match Email::parse("username", &username) {
        Ok(email) => db.run(move |c| users::find_by_email(c, &email)).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = passwords::verify_off_thread(password, stored).await?;
    let user = match user {
        None => {
            tracing::warn!(reason = "unknown user", "failed login");
            return Err(rejected());
        }
        Some(user) if !matches => {
            tracing::warn!(user_id = user.id, reason = "wrong password", "failed login");
            return Err(rejected());
        }
        Some(user) if user.disabled_at.is_some() => {
            tracing::warn!(user_id = user.id, reason = "disabled", "failed login");
            return Err(GrantError::InvalidGrant(
                "the account is disabled".to_owned(),
            ));
        }
        Some(user) => user,
    };
    let family = uuid::Uuid::new_v4().to_string();
    Ok(db
        .run(move |c| issue_pair(c, &tokens, user.id, user.role, &family, db::now()))
        .await?)
}

enum Refresh {
    Issued(TokenPair),
    Rejected(&'static str),
    /// A retired token came back: its session was ended (committed) and is announced.
    Reused(i32, String),
}

/// `grant_type=refresh_token`, with rotation and reuse detection.
pub fn refresh_grant(
    conn: &mut DbConnection,
    tokens: &Tokens,
    events: &Events,
    presented: &str,
) -> Result<TokenPair, GrantError> {
    let hash = hash_token(presented);
    let outcome = write_transaction(conn, |conn| -> Result<Refresh, AppError> {
        let Some(stored) = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select(RefreshToken::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(Refresh::Rejected("the refresh token is unknown"));
        };
        let now = db::now();
        if stored.revoked_at.is_some() {
            return Ok(Refresh::Rejected("the refresh token has been revoked"));
        }
        // When the token was rotated, if this is a retry of a rotation whose answer was lost.
        let retried = match stored.used_at {
            Some(used_at)
                if now - used_at <= tokens.reuse_grace
                    && !successor_used(conn, &stored.family_id, used_at)? =>
            {
                Some(used_at)
            }
            _ => None,
        };
        if stored.used_at.is_some() && retried.is_none() {
            // Committed even though the request fails: that is the point.
            sessions::revoke(
                conn,
                stored.user_id,
                std::slice::from_ref(&stored.family_id),
            )?;
            tracing::warn!(
                user_id = stored.user_id,
                "refresh token reused; its family is revoked"
            );
            return Ok(Refresh::Reused(stored.user_id, stored.family_id));
        }
        if stored.expires_at <= now {
            return Ok(Refresh::Rejected("the refresh token has expired"));
        }
        let user = users::get(conn, stored.user_id)?;
        if user.disabled_at.is_some() {
            return Ok(Refresh::Rejected("the account is disabled"));
        }
        if let Some(used_at) = retried {
            // The successor never reached its client: nobody may use it now.
            let undelivered = diesel::update(successors(stored.family_id.clone(), used_at))
                .filter(refresh_tokens::revoked_at.is_null())
                .set(refresh_tokens::revoked_at.eq(Some(now)))
                .execute(conn)?;
            tracing::info!(
                user_id = user.id,
                undelivered,
                "a rotated refresh token came back within the reuse grace; its successor is retired"
            );
        } else {
            diesel::update(refresh_tokens::table.find(stored.id))
                .set(refresh_tokens::used_at.eq(Some(now)))
                .execute(conn)?;
        }
        Ok(Refresh::Issued(issue_pair(
            conn,
            tokens,
            user.id,
            user.role,
            &stored.family_id,
            now,
        )?))
    })?;
    match outcome {
        Refresh::Issued(pair) => Ok(pair),
        Refresh::Rejected(why) => Err(GrantError::InvalidGrant(why.to_owned())),
        Refresh::Reused(user_id, session) => {
            events.publish(DomainEvent::SessionsRevoked {
                user_id,
                sessions: vec![session],
            });
            Err(GrantError::InvalidGrant(
                "the refresh token was already used; sign in again".to_owned(),
            ))
        }
    }
}

/// The tokens issued in `family` when (or after) one of its tokens was rotated at `used_at`.
#[diesel::dsl::auto_type]
fn successors(family: String, used_at: chrono::NaiveDateTime) -> _ {
    refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family))
        .filter(refresh_tokens::created_at.ge(used_at))
}

/// Whether a token issued in `family` from the rotation at `used_at` was itself used: then
/// its client had the answer, and the rotated token coming back is not a lost answer retried.
fn successor_used(
    conn: &mut DbConnection,
    family: &str,
    used_at: chrono::NaiveDateTime,
) -> Result<bool, AppError> {
    let used: i64 = successors(family.to_owned(), used_at)
        .filter(refresh_tokens::used_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(used > 0)
}

/// RFC 7009: revoking a refresh token ends its whole session (family): its access tokens
/// are refused and its sockets closed from now on. Unknown tokens are not an error, so the
/// endpoint reveals nothing about which tokens exist.
pub fn revoke(conn: &mut DbConnection, events: &Events, presented: &str) -> Result<(), AppError> {
    let hash = hash_token(presented);
    let ended = write_transaction(conn, |conn| -> Result<_, AppError> {
        let found = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select((refresh_tokens::user_id, refresh_tokens::family_id))
            .first::<(i32, String)>(conn)
            .optional()?;
        if let Some((user_id, family)) = &found {
            sessions::revoke(conn, *user_id, std::slice::from_ref(family))?;
        }
        Ok(found)
    })?;
    if let Some((user_id, session)) = ended {
        events.publish(DomainEvent::SessionsRevoked {
            user_id,
            sessions: vec![session],
        });
    }
    Ok(())
}
