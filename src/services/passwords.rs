//! Password hashing with argon2id at the library's defaults (the OWASP minimum: 19 MiB,
//! two passes). Hashes are self-describing PHC strings, so raising the cost later needs no
//! migration.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::domain::Secret;
use crate::error::AppError;

/// Runs argon2 work on actix's blocking pool. A hash takes tens of milliseconds of CPU: it
/// must neither stall an async worker nor hold one of the database threads (and its
/// connection), which are as few as the cores when the database is SQLite.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    actix_web::web::block(work)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing task failed: {e}")))
}

/// [`hash`], off the async workers and the database threads.
pub async fn hash_off_thread(password: Secret) -> Result<String, AppError> {
    off_thread(move || hash(password.expose())).await?
}

/// [`verify`] against `stored_hash`, or [`verify_dummy`] when there is none, off the async
/// workers and the database threads.
pub async fn verify_off_thread(
    password: Secret,
    stored_hash: Option<String>,
) -> Result<bool, AppError> {
    off_thread(move || match stored_hash {
        Some(stored) => verify(password.expose(), &stored),
        None => {
            verify_dummy(password.expose());
            false
        }
    })
    .await
}

pub fn hash(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// Constant-time comparison is argon2's own. An unparsable stored hash never matches.
pub fn verify(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, so a login for an unknown email takes as
/// long as one with a wrong password and does not reveal which emails exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(stored) = DUMMY.get_or_init(|| hash("not a real password").ok()) {
        let _ = verify(password, stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("x", "not a hash"));
    }
}
