//! The problem+json answers in the OpenAPI document (for every HTTP transport: REST and the lab).
//!
//! [`crate::error::Problem`] is the body every transport's errors share, and that layer knows
//! nothing of OpenAPI, so [`ProblemSchema`] describes it here (member for member: schemathesis
//! fails when a response does not match the document). Operations name it with
//! `body = ProblemSchema` for the answers whose meaning is theirs ("No such post"), and list
//! the answers that mean the same everywhere by the types below.

use utoipa::{IntoResponses, ToSchema};

/// RFC 9457 problem details, with `errors` for validation problems.
#[derive(ToSchema)]
#[schema(as = Problem)]
pub struct ProblemSchema {
    /// A URI naming the kind of problem.
    #[schema(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub errors: Option<Vec<FieldErrorSchema>>,
}

/// One offending input field, as listed in a validation problem.
#[derive(ToSchema)]
#[schema(as = FieldError)]
pub struct FieldErrorSchema {
    /// Where the value was: a JSON path (`items[0].quantity`) or a query parameter name.
    pub field: String,
    pub message: String,
}

/// No token, or one that is malformed, expired or from an ended session.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "No valid token",
    content_type = "application/problem+json"
)]
pub struct NoValidToken(pub ProblemSchema);

/// `If-Match` names another version than the current one.
#[derive(IntoResponses)]
#[response(
    status = 412,
    description = "If-Match does not match",
    content_type = "application/problem+json"
)]
pub struct IfMatchFailed(pub ProblemSchema);

/// The body of a JSON operation is not `application/json`.
#[derive(IntoResponses)]
#[response(
    status = 415,
    description = "Not JSON",
    content_type = "application/problem+json"
)]
pub struct NotJson(pub ProblemSchema);

/// The body of a PATCH is not `application/merge-patch+json`.
#[derive(IntoResponses)]
#[response(
    status = 415,
    description = "Not a merge patch",
    content_type = "application/problem+json"
)]
pub struct NotMergePatch(pub ProblemSchema);

/// The body is over `--max-body-bytes`.
#[derive(IntoResponses)]
#[response(
    status = 413,
    description = "Body too large",
    content_type = "application/problem+json"
)]
pub struct BodyTooLarge(pub ProblemSchema);

/// `If-None-Match` names the current version.
#[derive(IntoResponses)]
#[response(status = 304, description = "Not modified (If-None-Match)")]
pub struct NotModified;
