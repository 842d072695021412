//! Bearer authentication (RFC 6750). The token is verified once here; handlers receive an
//! [`Actor`] and pass it to the services, which decide what it may do.

use std::future::{ready, Ready};

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};

use super::bearer::Credentials;
use crate::error::{AppError, AuthFailure};
use crate::services::auth::Tokens;
use crate::services::Actor;

/// Requires a valid access token.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Actor);

/// Accepts anonymous requests, but a token that is sent must be valid.
#[derive(Debug, Clone, Copy)]
pub struct MaybeAuthUser(pub Option<Actor>);

/// A bearer token the API rate limiter has already verified for this request (it keys the
/// budget by user), so that the extractors do not verify it a second time: the signature,
/// the JSON claims and the session check were 5 % of a GraphQL seed query's CPU each time
/// (docs/PERFORMANCE.md change 11). Only a token that passed is kept; one that failed is
/// verified again below, which reports why.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VerifiedBearer(pub Actor);

fn authenticate(req: &HttpRequest) -> Result<Option<Actor>, AppError> {
    if let Some(VerifiedBearer(actor)) = req.extensions().get::<VerifiedBearer>() {
        return Ok(Some(*actor));
    }
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = |why: &str| AppError::Unauthenticated(AuthFailure::InvalidToken(why.to_owned()));
    let value = value
        .to_str()
        .map_err(|_| invalid("the Authorization header is not readable"))?;
    let token = match Credentials::parse(value) {
        Credentials::Bearer(token) => token,
        // Another scheme (Basic, say) is no bearer token at all: challenge for one.
        Credentials::OtherScheme => return Err(AppError::Unauthenticated(AuthFailure::Missing)),
        Credentials::Malformed(why) => return Err(invalid(why)),
    };
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("token keys are not configured")))?;
    tokens
        .verify_access(token)
        .map(Some)
        .map_err(|why| invalid(&why))
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|actor| {
            actor
                .map(AuthUser)
                .ok_or(AppError::Unauthenticated(AuthFailure::Missing))
        }))
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(MaybeAuthUser))
    }
}
