//! The one error type, as GraphQL reports it: `message` plus `extensions.code` (the same
//! stable codes as problem+json and WebSocket error frames) and, for invalid input, the
//! offending fields. Server faults are logged and reported without their cause.

use async_graphql::{ErrorExtensions, FieldError as GqlError};

use crate::error::AppError;

impl ErrorExtensions for AppError {
    fn extend(&self) -> GqlError {
        let message = match self {
            AppError::Database(_) | AppError::Internal(_) => {
                tracing::error!(error = ?self, "graphql resolver failed");
                "an internal error occurred".to_owned()
            }
            AppError::Pool(_) => "the database is not reachable right now; retry later".to_owned(),
            AppError::Validation(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            AppError::Unauthenticated(_) => {
                "authentication required: send a bearer token (POST /api/v1/auth/token)".to_owned()
            }
            other => other.to_string(),
        };
        GqlError::new(message).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let AppError::Validation(fields) = self {
                let fields: Vec<async_graphql::Value> = fields
                    .iter()
                    .map(|f| {
                        let mut map = async_graphql::indexmap::IndexMap::new();
                        map.insert(async_graphql::Name::new("field"), f.field.clone().into());
                        map.insert(
                            async_graphql::Name::new("message"),
                            f.message.clone().into(),
                        );
                        async_graphql::Value::Object(map)
                    })
                    .collect();
                ext.set("fields", fields);
            }
        })
    }
}

/// `Result<T, AppError>` into a GraphQL result.
pub trait OrGql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> OrGql<T> for Result<T, AppError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

impl<T> OrGql<T> for Result<T, std::sync::Arc<AppError>> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

/// A GraphQL `ID` that must be one of our integer ids.
pub fn parse_id(id: &async_graphql::ID) -> async_graphql::Result<i32> {
    id.parse::<i32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::invalid("id", format!("{:?} is not an id", id.as_str())).extend())
}
