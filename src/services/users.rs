//! Accounts: registration, profiles, roles. A user manages their own account; admins manage
//! everyone's and are the only ones who can grant roles.

use diesel::prelude::*;
use serde::Deserialize;

use super::events::{DomainEvent, Events, UserRef};
use super::{apply_sort, passwords, sessions, Actor, Change, Listing, Precondition};
use crate::db::models::{NewUser, User, UserChanges};
use crate::db::schema::users;
use crate::db::{self, on_backend, write_transaction, Db, DbConnection};
use crate::domain::{bounded_text, Email, Fields, Password, Role, Secret, Sort, TextKind, Window};
use crate::error::AppError;

pub const SORTABLE: &[&str] = &["id", "name", "email", "created_at", "updated_at"];

/// A new account, as REST and GraphQL read it from their own input types.
#[derive(Debug, Clone)]
pub struct RegisterInput {
    pub email: String,
    pub name: String,
    /// 8 to 128 characters.
    pub password: Secret,
}

/// Body of `PUT /users/{id}`: the whole writable representation. `password` is write-only
/// and optional; `role` may be changed by admins only (sending the current role is fine).
/// Read from JSON here rather than in a transport because a merge patch is read the same
/// way, against the current fields (`Change::resolve`); `rest` describes it in the
/// OpenAPI document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub role: Option<Role>,
    /// Admins only: a disabled account cannot sign in and its sessions end at once.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// Whether `actor` may see private fields (email) of `user_id`.
pub fn can_see_private(actor: Option<&Actor>, user_id: i32) -> bool {
    actor.is_some_and(|a| a.is_admin() || a.user_id == user_id)
}

fn email_taken(err: AppError, email: &Email) -> AppError {
    match err {
        AppError::Conflict(_) => {
            AppError::Conflict(format!("the email {email} is already registered"))
        }
        other => other,
    }
}

/// A registration that passed validation, its password already hashed.
struct NewAccount {
    email: Email,
    name: String,
    password_hash: String,
}

/// Registers an account for REST and GraphQL alike: checks the input, hashes the password
/// before any database work (argon2 runs on actix's blocking pool, not while a database
/// thread and its connection are held), then stores it (a taken email is a conflict) and
/// announces it.
pub async fn register(db: &Db, events: &Events, input: RegisterInput) -> Result<User, AppError> {
    let account = prepare_registration(input).await?;
    let events = events.clone();
    db.run(move |c| store_registration(c, &events, account))
        .await
}

/// The rules an account's email and name follow, at registration and on every change.
fn email_and_name(f: &mut Fields, email: &str, name: &str) -> (Option<Email>, Option<String>) {
    let email = f.take(Email::parse("email", email));
    let name = f.take(bounded_text("name", name, 1..=100, TextKind::SingleLine));
    (email, name)
}

async fn prepare_registration(input: RegisterInput) -> Result<NewAccount, AppError> {
    let mut f = Fields::default();
    let (email, name) = email_and_name(&mut f, &input.email, &input.name);
    let password = f.take(Password::parse("password", input.password.expose()));
    let (email, name, _) = f.finish(|| Some((email?, name?, password?)))?;
    let password_hash = passwords::hash_off_thread(input.password).await?;
    Ok(NewAccount {
        email,
        name,
        password_hash,
    })
}

fn store_registration(
    conn: &mut DbConnection,
    events: &Events,
    account: NewAccount,
) -> Result<User, AppError> {
    let user = insert(
        conn,
        &account.email,
        &account.name,
        &account.password_hash,
        Role::User,
    )?;
    events.publish(DomainEvent::UserRegistered {
        user: UserRef {
            id: user.id,
            name: user.name.clone(),
        },
    });
    Ok(user)
}

/// Creates an account with an already hashed password (registration and seeding).
pub fn insert(
    conn: &mut DbConnection,
    email: &Email,
    name: &str,
    password_hash: &str,
    role: Role,
) -> Result<User, AppError> {
    let now = db::now();
    diesel::insert_into(users::table)
        .values(NewUser {
            email: email.as_str(),
            name,
            password_hash,
            role,
            created_at: now,
            updated_at: now,
        })
        .returning(users::all_columns)
        .get_result::<User>(conn)
        .map_err(|e| email_taken(e.into(), email))
}

pub fn get(conn: &mut DbConnection, id: i32) -> Result<User, AppError> {
    on_backend!(conn, |c| users::table
        .find(id)
        .select(User::as_select())
        .first(c)
        .optional())?
    .ok_or_else(|| AppError::not_found("user", id))
}

pub fn find_by_email(conn: &mut DbConnection, email: &Email) -> Result<Option<User>, AppError> {
    Ok(users::table
        .filter(users::email.eq(email.as_str()))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn get_many(conn: &mut DbConnection, ids: &[i32]) -> Result<Vec<User>, AppError> {
    // A batch of one stays a prepared statement, and both read on the backend's own
    // connection (see `posts::by_authors`).
    Ok(match ids {
        [one] => on_backend!(conn, |c| users::table
            .filter(users::id.eq(*one))
            .select(User::as_select())
            .load(c))?,
        many => on_backend!(conn, |c| users::table
            .filter(users::id.eq_any(many))
            .select(User::as_select())
            .load(c))?,
    })
}

pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    role: Option<Role>,
    window: Window,
    sort: &Sort,
) -> Result<Listing<User>, AppError> {
    actor.require_admin()?;
    // On the backend's own connection: a page of users read through diesel's multi-backend
    // connection cost a third more (docs/PERFORMANCE.md).
    on_backend!(conn, |c| {
        let base = || {
            let mut q = users::table.into_boxed();
            if let Some(role) = role {
                q = q.filter(users::role.eq(role.as_str()));
            }
            q
        };
        let total = base().count().get_result::<i64>(c)?;
        let items = apply_sort!(base(), sort, users::id, {
            "id" => users::id, "name" => users::name, "email" => users::email,
            "created_at" => users::created_at, "updated_at" => users::updated_at,
        })
        .limit(window.limit)
        .offset(window.offset)
        .select(User::as_select())
        .load(c)?;
        Ok(Listing { items, total })
    })
}

fn require_self_or_admin(actor: &Actor, user_id: i32) -> Result<(), AppError> {
    if actor.is_admin() || actor.user_id == user_id {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "you may only change your own account".to_owned(),
        ))
    }
}

/// Applies `change` to account `id` as `actor`. A new password is hashed first, on actix's
/// blocking pool, so that the write transaction (its row lock, a database thread) is not held
/// for the tens of milliseconds argon2 takes; a new password ends every session.
pub async fn update(
    db: &Db,
    events: &Events,
    actor: Actor,
    id: i32,
    change: Change<UserInput>,
    precondition: impl Precondition<User> + Send + 'static,
) -> Result<User, AppError> {
    let hash = hash_new_password(&actor, id, &change).await?;
    let (user, ended) = db
        .run(move |c| apply_update(c, &actor, id, change, precondition, hash))
        .await?;
    announce_ended(events, id, ended);
    Ok(user)
}

/// Tells the real-time core (on every instance) which sessions just ended.
fn announce_ended(events: &Events, user_id: i32, sessions: Vec<String>) {
    if !sessions.is_empty() {
        events.publish(DomainEvent::SessionsRevoked { user_id, sessions });
    }
}

/// The hash of the new password `change` sets, or `None` when there is none, when it will
/// fail validation, or when `actor` may not change the account: [`apply_update`] then
/// reports the error in its usual order (404, 403, 412, 400), without hashing anything.
async fn hash_new_password(
    actor: &Actor,
    id: i32,
    change: &Change<UserInput>,
) -> Result<Option<String>, AppError> {
    if require_self_or_admin(actor, id).is_err() {
        return Ok(None);
    }
    let raw = match change {
        Change::Replace(input) => input.password.as_ref().map(|p| p.expose().to_owned()),
        Change::Patch(patch) => patch
            .get("password")
            .and_then(|p| p.as_str())
            .map(str::to_owned),
    };
    match raw {
        Some(raw) if Password::parse("password", &raw).is_ok() => {
            Ok(Some(passwords::hash_off_thread(Secret::new(raw)).await?))
        }
        _ => Ok(None),
    }
}

/// `new_password_hash` is [`hash_new_password`]'s answer for the same change; without it a
/// new password would be hashed here, under the lock.
fn apply_update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    change: Change<UserInput>,
    precondition: impl Precondition<User>,
    new_password_hash: Option<String>,
) -> Result<(User, Vec<String>), AppError> {
    write_transaction(conn, |conn| {
        db::lock_row(conn, db::LockTable::Users, id)?;
        let current = get(conn, id)?;
        require_self_or_admin(actor, id)?;
        let current_fields = serde_json::json!({
            "email": current.email, "name": current.name, "role": current.role,
            "disabled": current.disabled_at.is_some(),
        });
        let input = change.resolve(current_fields)?;

        let mut f = Fields::default();
        let (email, name) = email_and_name(&mut f, &input.email, &input.name);
        let password = match &input.password {
            Some(p) => f.take(Password::parse("password", p.expose())).map(Some),
            None => Some(None),
        };
        let (email, name, password) = f.finish(|| Some((email?, name?, password?)))?;
        let role = input.role.unwrap_or(current.role);
        if role != current.role {
            actor.require_admin()?;
        }
        let was_disabled = current.disabled_at.is_some();
        let disabled = input.disabled.unwrap_or(was_disabled);
        if disabled != was_disabled {
            actor.require_admin()?;
            if actor.user_id == id {
                return Err(AppError::Conflict(
                    "admins cannot disable their own account".to_owned(),
                ));
            }
        }
        // Last of the checks: a request that would fail anyway answers with that failure,
        // not 412 (RFC 9110 section 13.2.1).
        precondition(&current)?;
        let password_hash = match (password, new_password_hash) {
            (Some(_), Some(hash)) => Some(hash),
            (Some(p), None) => Some(passwords::hash(p.expose())?),
            (None, _) => None,
        };
        let changed_password = password_hash.is_some();
        let now = db::now();
        let user = diesel::update(users::table.find(id))
            .set(UserChanges {
                email: Some(email.as_str().to_owned()),
                name: Some(name),
                password_hash,
                role: Some(role),
                updated_at: now,
                disabled_at: (disabled != was_disabled).then(|| disabled.then_some(now)),
            })
            .returning(users::all_columns)
            .get_result::<User>(conn)
            .map_err(|e| email_taken(e.into(), &email))?;
        // A new password ends every session that the old one started; disabling the
        // account ends them all.
        let ended = if changed_password || (disabled && !was_disabled) {
            sessions::revoke_all(conn, id)?
        } else {
            Vec::new()
        };
        Ok((user, ended))
    })
}

/// Deletes an account; its sessions end on every instance (their tokens are refused and
/// their sockets closed).
pub fn delete(
    conn: &mut DbConnection,
    events: &Events,
    actor: &Actor,
    id: i32,
    precondition: impl Precondition<User>,
) -> Result<(), AppError> {
    let ended = write_transaction(conn, |conn| {
        db::lock_row(conn, db::LockTable::Users, id)?;
        let current = get(conn, id)?;
        require_self_or_admin(actor, id)?;
        precondition(&current)?;
        if current.role == Role::Admin {
            let admins = users::table
                .filter(users::role.eq(Role::Admin.as_str()))
                .count()
                .get_result::<i64>(conn)?;
            if admins <= 1 {
                return Err(AppError::Conflict(
                    "the last admin account cannot be deleted".to_owned(),
                ));
            }
        }
        // Ended before the account goes: its refresh tokens cascade away with it, and the
        // record of ended sessions must outlive it.
        let ended = sessions::revoke_all(conn, id)?;
        // Posts, orders and refresh tokens go with the account (ON DELETE CASCADE).
        diesel::delete(users::table.find(id)).execute(conn)?;
        Ok::<_, AppError>(ended)
    })?;
    announce_ended(events, id, ended);
    Ok(())
}
