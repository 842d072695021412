//! Collects the errors of several fields so a client learns about all of them at once.

use crate::error::{AppError, FieldError};

#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.0.push(err);
                None
            }
        }
    }

    pub fn push(&mut self, err: FieldError) {
        self.0.push(err);
    }

    /// Fails with every collected error, or builds the value from the parsed parts
    /// (`build` returns `None` only if a part is missing, which the errors already explain).
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, AppError> {
        if !self.0.is_empty() {
            return Err(AppError::Validation(self.0));
        }
        build().ok_or_else(|| AppError::Internal(anyhow::anyhow!("validated value incomplete")))
    }
}
