//! `AppError`: the one error type of the domain. Every layer returns it; this module is the
//! only place that turns it into HTTP (RFC 9457 problem+json). GraphQL and WebSocket frames
//! map the same variants through [`AppError::code`].

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// One offending input field, as listed in a validation problem.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// Where the value was: a JSON path (`items[0].quantity`) or a query parameter name.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why authentication failed, for the `WWW-Authenticate` challenge (RFC 6750 section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials were sent: the challenge carries no error code.
    Missing,
    /// A token was sent but is malformed, expired or forged.
    InvalidToken(String),
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthenticated(AuthFailure),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the resource changed: its ETag no longer matches If-Match")]
    PreconditionFailed,
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Over a request budget; retry after this many seconds.
    #[error("too many requests: retry in {0} s")]
    RateLimited(u64),
    /// A WebSocket handshake of a version other than 13 (RFC 6455 section 4.4).
    #[error("{0}")]
    UpgradeRequired(String),
    #[error("database unavailable: {0}")]
    Pool(#[source] r2d2::Error),
    /// A dependency other than the database is down (the Redis bridge); the text says which.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(diesel::result::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        AppError::NotFound(format!("{what} {id} does not exist"))
    }

    /// The same error as the client sees it, for handing to another task (the error itself
    /// is not `Clone`: it may hold a database error). Server faults stay opaque.
    pub fn for_client(&self) -> AppError {
        match self {
            AppError::Validation(fields) => AppError::Validation(fields.clone()),
            AppError::BadRequest(m) => AppError::BadRequest(m.clone()),
            AppError::Unauthenticated(why) => AppError::Unauthenticated(why.clone()),
            AppError::Forbidden(m) => AppError::Forbidden(m.clone()),
            AppError::NotFound(m) => AppError::NotFound(m.clone()),
            AppError::Conflict(m) => AppError::Conflict(m.clone()),
            AppError::PreconditionFailed => AppError::PreconditionFailed,
            AppError::PayloadTooLarge(n) => AppError::PayloadTooLarge(*n),
            AppError::UnsupportedMediaType(m) => AppError::UnsupportedMediaType(m.clone()),
            AppError::RateLimited(s) => AppError::RateLimited(*s),
            AppError::UpgradeRequired(m) => AppError::UpgradeRequired(m.clone()),
            AppError::Pool(_) | AppError::Unavailable(_) => {
                AppError::Unavailable("the database is not reachable right now".to_owned())
            }
            AppError::Database(_) | AppError::Internal(_) => {
                AppError::Internal(anyhow::anyhow!("an internal error occurred"))
            }
        }
    }

    /// `Ok` when a check found nothing, else one 400 listing every field it found wrong.
    pub fn unless_invalid(errors: Vec<FieldError>) -> Result<(), AppError> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(errors))
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    /// A stable, machine-readable code, shared by problem `type`s, GraphQL
    /// `extensions.code` and WebSocket error frames.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) | AppError::BadRequest(_) => "BAD_USER_INPUT",
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::Conflict(_) => "CONFLICT",
            AppError::PreconditionFailed => "PRECONDITION_FAILED",
            AppError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            AppError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            AppError::RateLimited(_) => "RATE_LIMITED",
            AppError::UpgradeRequired(_) => "UPGRADE_REQUIRED",
            AppError::Pool(_) | AppError::Unavailable(_) => "UNAVAILABLE",
            AppError::Database(_) | AppError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The problem `type`: a relative URI documented in docs/API.md.
    fn problem_type(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "/problems/validation-error",
            AppError::BadRequest(_) => "/problems/bad-request",
            AppError::Unauthenticated(_) => "/problems/unauthenticated",
            AppError::Forbidden(_) => "/problems/forbidden",
            AppError::NotFound(_) => "/problems/not-found",
            AppError::Conflict(_) => "/problems/conflict",
            AppError::PreconditionFailed => "/problems/precondition-failed",
            AppError::PayloadTooLarge(_) => "/problems/payload-too-large",
            AppError::UnsupportedMediaType(_) => "/problems/unsupported-media-type",
            AppError::RateLimited(_) => "/problems/rate-limited",
            AppError::UpgradeRequired(_) => "/problems/upgrade-required",
            AppError::Pool(_) | AppError::Unavailable(_) => "/problems/unavailable",
            AppError::Database(_) | AppError::Internal(_) => "/problems/internal",
        }
    }

    /// What the client is told. Server faults say nothing about their cause.
    fn detail(&self) -> String {
        match self {
            AppError::Validation(errors) if errors.len() == 1 => {
                format!("{}: {}", errors[0].field, errors[0].message)
            }
            AppError::Validation(errors) => format!("{} fields are invalid", errors.len()),
            AppError::Unauthenticated(AuthFailure::Missing) => {
                "this endpoint needs a bearer token (POST /api/v1/auth/token)".to_owned()
            }
            AppError::Unauthenticated(AuthFailure::InvalidToken(why)) => {
                format!("the bearer token is not valid: {why}")
            }
            AppError::Pool(_) => "the database is not reachable right now; retry later".to_owned(),
            AppError::Database(_) | AppError::Internal(_) => {
                "an internal error occurred; quote the X-Request-Id header when reporting it"
                    .to_owned()
            }
            other => other.to_string(),
        }
    }
}

/// Database errors keep their meaning: a missing row is 404, a uniqueness or foreign-key
/// clash is 409, a connection that is gone is 503 (the database is unavailable, the request
/// may be retried); everything else is a server fault.
impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match err {
            Error::NotFound => AppError::NotFound("the resource does not exist".to_owned()),
            Error::DatabaseError(Kind::UniqueViolation, _) => {
                AppError::Conflict("a resource with the same unique value exists".to_owned())
            }
            Error::DatabaseError(Kind::ForeignKeyViolation, _) => AppError::Conflict(
                "the change conflicts with resources that refer to this one".to_owned(),
            ),
            // diesel's SQLite backend reports some constraint failures as `Unknown`; the
            // message is SQLite's fixed text for them.
            Error::DatabaseError(Kind::Unknown, ref info)
                if info.message().starts_with("FOREIGN KEY constraint failed") =>
            {
                AppError::Conflict(
                    "the change conflicts with resources that refer to this one".to_owned(),
                )
            }
            Error::DatabaseError(Kind::Unknown, ref info)
                if info.message().starts_with("UNIQUE constraint failed") =>
            {
                AppError::Conflict("a resource with the same unique value exists".to_owned())
            }
            Error::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, _) => {
                AppError::Unavailable("the database is not reachable right now".to_owned())
            }
            // PostgreSQL ending the session (SQLSTATE 57P01, admin_shutdown, and its kin).
            Error::DatabaseError(Kind::Unknown, ref info)
                if info.message().starts_with("terminating connection") =>
            {
                AppError::Unavailable("the database is not reachable right now".to_owned())
            }
            other => AppError::Database(other),
        }
    }
}

/// RFC 9457 problem details, with `errors` for validation problems.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem body; also used for errors raised outside `AppError` (unknown routes, wrong
/// methods, the OAuth token endpoint).
pub fn problem(status: StatusCode, problem_type: &str, detail: impl Into<String>) -> Problem {
    Problem {
        problem_type: problem_type.to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        errors: None,
    }
}

impl Problem {
    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .content_type(PROBLEM_JSON)
            .json(self)
    }
}

impl AppError {
    /// The problem document this error is shown as.
    pub fn to_problem(&self) -> Problem {
        let mut body = problem(self.status_code(), self.problem_type(), self.detail());
        if let AppError::Validation(errors) = self {
            body.errors = Some(errors.clone());
        }
        body
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Validation(_) | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::UpgradeRequired(_) => StatusCode::UPGRADE_REQUIRED,
            AppError::Pool(_) | AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // Logged inside the request span, so the line carries the request id.
            tracing::error!(error = ?self, cause = %self, "request failed");
        }
        let mut response = self.to_problem().into_response();
        let headers = response.headers_mut();
        match self {
            AppError::Unauthenticated(failure) => {
                let challenge = match failure {
                    AuthFailure::Missing => r#"Bearer realm="switchboard""#.to_owned(),
                    AuthFailure::InvalidToken(why) => format!(
                        r#"Bearer realm="switchboard", error="invalid_token", error_description="{}""#,
                        why.replace(['"', '\\'], "'")
                    ),
                };
                if let Ok(value) = header::HeaderValue::from_str(&challenge) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            AppError::Pool(_) | AppError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            }
            AppError::RateLimited(secs) => {
                headers.insert(header::RETRY_AFTER, header::HeaderValue::from(*secs));
            }
            AppError::UpgradeRequired(_) => {
                headers.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    header::HeaderValue::from_static("13"),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<FieldError> for AppError {
    fn from(err: FieldError) -> Self {
        AppError::Validation(vec![err])
    }
}
