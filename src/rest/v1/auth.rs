//! The OAuth 2.0 token endpoint (RFC 6749 sections 4.3 and 6) and token revocation
//! (RFC 7009). Bodies are form-encoded, as the RFCs require.
//!
//! Errors keep both vocabularies: they are problem+json like every other error here, and
//! also carry RFC 6749's `error` and `error_description` members, so OAuth client libraries
//! read them as they expect.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::db::Db;
use crate::domain::Secret;
use crate::error::{problem, AppError, Problem};
use crate::http::problems::{BodyTooLarge, ProblemSchema};
use crate::services::auth::{self, GrantError, TokenPair, Tokens};
use crate::services::events::Events;

/// RFC 6749 section 5.2 error. Sent as `application/json`, the media type OAuth clients
/// parse; the problem-document members are kept in the body for everyone else.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OAuthProblem {
    #[serde(flatten)]
    #[schema(value_type = ProblemSchema)]
    pub problem: Problem,
    /// `invalid_request`, `invalid_client`, `invalid_grant` or `unsupported_grant_type`.
    pub error: &'static str,
    pub error_description: String,
}

/// What the token endpoint returns (RFC 6749 section 5.1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TokenPair)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    pub refresh_token: String,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token,
        }
    }
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    response
}

/// An RFC 6749 error code with its description, rendered by [`OAuthError::into_response`].
#[derive(Debug)]
struct OAuthError {
    code: &'static str,
    description: String,
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    fn into_response(self) -> HttpResponse {
        oauth_error(self.code, self.description)
    }
}

fn oauth_error(code: &'static str, description: String) -> HttpResponse {
    let status = if code == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = OAuthProblem {
        problem: problem(
            status,
            &format!("/problems/oauth/{code}"),
            description.clone(),
        ),
        error: code,
        error_description: description,
    };
    let mut response = HttpResponse::build(status)
        .content_type(mime::APPLICATION_JSON)
        .json(body);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(r#"Basic realm="switchboard""#),
        );
    }
    no_store(response)
}

/// Reads a form body; parameters may not repeat (RFC 6749 section 3.2).
fn form(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.essence_str() == "application/x-www-form-urlencoded");
    if !is_form {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut params = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if params.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                format!("the parameter {key} appears more than once"),
            ));
        }
    }
    Ok(params)
}

fn required<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                format!("the parameter {name} is required"),
            )
        })
}

/// Exchange a password or a refresh token for tokens.
///
/// `grant_type=password` with `username` (the email) and `password`, or
/// `grant_type=refresh_token` with `refresh_token`. Public clients need no client
/// authentication; a `client_secret` cannot be verified and is refused.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth",
    request_body(content_type = "application/x-www-form-urlencoded", content = TokenRequest),
    responses(
        (status = 200, description = "Tokens (never cached)", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant or unsupported_grant_type", body = OAuthProblem, content_type = "application/json"),
        (status = 401, description = "invalid_client", body = OAuthProblem, content_type = "application/json"),
        BodyTooLarge,
    ))]
pub async fn token(
    req: HttpRequest,
    db: web::Data<Db>,
    tokens: web::Data<Tokens>,
    events: web::Data<Events>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    match grant(&req, db, tokens, events, &body).await {
        Ok(pair) => Ok(no_store(HttpResponse::Ok().json(TokenResponse::from(pair)))),
        Err(Failure::OAuth(err)) => Ok(err.into_response()),
        Err(Failure::Server(err)) => Err(err),
    }
}

enum Failure {
    OAuth(OAuthError),
    Server(AppError),
}

impl From<OAuthError> for Failure {
    fn from(err: OAuthError) -> Self {
        Failure::OAuth(err)
    }
}

impl From<AppError> for Failure {
    fn from(err: AppError) -> Self {
        Failure::Server(err)
    }
}

async fn grant(
    req: &HttpRequest,
    db: web::Data<Db>,
    tokens: web::Data<Tokens>,
    events: web::Data<Events>,
    body: &[u8],
) -> Result<TokenPair, Failure> {
    let params = form(req, body)?;
    if params.get("client_secret").is_some_and(|s| !s.is_empty()) {
        return Err(OAuthError::new(
            "invalid_client",
            "this server has no confidential clients; omit client_secret",
        )
        .into());
    }
    let tokens = tokens.into_inner();
    let result = match required(&params, "grant_type")? {
        "password" => {
            let username = required(&params, "username")?.to_owned();
            let password = Secret::new(required(&params, "password")?);
            auth::password_grant(&db, tokens, username, password).await
        }
        "refresh_token" => {
            let refresh = required(&params, "refresh_token")?.to_owned();
            let events = events.get_ref().clone();
            db.run(move |c| Ok(auth::refresh_grant(c, &tokens, &events, &refresh)))
                .await?
        }
        other => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported; use password or refresh_token"),
            )
            .into())
        }
    };
    result.map_err(|err| match err {
        GrantError::InvalidGrant(why) => OAuthError::new("invalid_grant", why).into(),
        GrantError::InvalidRequest(why) => OAuthError::new("invalid_request", why).into(),
        GrantError::Server(err) => Failure::Server(err),
    })
}

/// The form fields of the token request (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// `password` or `refresh_token`.
    grant_type: String,
    /// The account email, for `password`.
    username: Option<String>,
    /// For `password`.
    password: Option<String>,
    /// For `refresh_token`.
    refresh_token: Option<String>,
}

/// The form fields of the revocation request (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RevokeRequest {
    /// The refresh token to revoke; its whole session ends.
    token: String,
    /// Optional: `refresh_token`.
    token_type_hint: Option<String>,
}

/// Revoke a refresh token and its session (RFC 7009). Unknown tokens also get 200.
#[utoipa::path(post, path = "/api/v1/auth/revoke", tag = "auth",
    request_body(content_type = "application/x-www-form-urlencoded", content = RevokeRequest),
    responses(
        (status = 200, description = "Revoked (or was never valid)"),
        (status = 400, description = "invalid_request or unsupported_token_type", body = OAuthProblem, content_type = "application/json"),
    ))]
pub async fn revoke(
    req: HttpRequest,
    db: web::Data<Db>,
    events: web::Data<Events>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params = match form(&req, &body) {
        Ok(p) => p,
        Err(err) => return Ok(err.into_response()),
    };
    let token = match required(&params, "token") {
        Ok(t) => t.to_owned(),
        Err(err) => return Ok(err.into_response()),
    };
    if params
        .get("token_type_hint")
        .is_some_and(|h| h == "access_token")
    {
        return Ok(OAuthError::new(
            "unsupported_token_type",
            "access tokens are short-lived JWTs and cannot be revoked; revoke the refresh token",
        )
        .into_response());
    }
    let events = events.get_ref().clone();
    db.run(move |c| auth::revoke(c, &events, &token)).await?;
    Ok(no_store(HttpResponse::Ok().finish()))
}
