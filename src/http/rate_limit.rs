//! Request budgets with actix-governor (GCRA token buckets, in memory, per instance).
//!
//! - The API budget (`/api/v1`, `/graphql`) is per client: the user of a valid bearer token,
//!   else the peer address (or, behind a configured trusted proxy, the address it forwards).
//! - Sign-in and registration have a much stricter budget per address: the brute-force
//!   guard. Those two routes are exempt from the API budget, so their headers describe the
//!   budget that actually applies.
//!
//! Every limited response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds until the whole burst is available again), and the same as
//! the IETF draft's `RateLimit-Policy` and `RateLimit` fields; a refused one is a 429
//! problem with `Retry-After` (whole seconds, never 0).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::StateInformationMiddleware;
use actix_governor::governor::NotUntil;
use actix_governor::{Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{header, Method};
use actix_web::middleware::{Condition, Next};
use actix_web::{web, HttpMessage, HttpResponse, HttpResponseBuilder};

use super::auth::VerifiedBearer;
use super::bearer::Credentials;
use crate::config::RateLimitArgs;
use crate::error::{AppError, PROBLEM_JSON};
use crate::services::auth::Tokens;

/// Who a budget belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    User(i32),
    Address(IpAddr),
    /// Routes with a budget of their own (sign-in, registration).
    Exempt,
}

const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const X_RATELIMIT_AFTER: HeaderName = HeaderName::from_static("x-ratelimit-after");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The routes guarded by the strict budget.
pub fn is_credential_route(method: &Method, path: &str) -> bool {
    method == Method::POST && (path == "/api/v1/auth/token" || path == "/api/v1/users")
}

/// The client's address: the peer, or what a trusted proxy says it forwarded for.
fn client_address(req: &ServiceRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    // The right-most address that is not one of our proxies is the client; anything to its
    // left was written by the client itself and proves nothing.
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

fn too_many(negative: &NotUntil<QuantaInstant>, mut response: HttpResponseBuilder) -> HttpResponse {
    // Whole seconds, rounded up: "retry in 0 s" would invite an immediate retry.
    let wait = negative.wait_time_from(DefaultClock::default().now());
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    response
        .insert_header((header::RETRY_AFTER, secs))
        .insert_header((X_RATELIMIT_AFTER, secs))
        .content_type(PROBLEM_JSON)
        .json(AppError::RateLimited(secs).to_problem())
}

/// Requests the server sends itself on purpose (the /lab page's live runs), which the API
/// budget lets through: under `path_prefix`, carrying `header` with the `secret`.
#[derive(Clone)]
pub struct Exemption {
    pub path_prefix: &'static str,
    pub header: &'static str,
    pub secret: Arc<str>,
}

impl Exemption {
    fn covers(&self, req: &ServiceRequest) -> bool {
        req.path().starts_with(self.path_prefix)
            && req
                .headers()
                .get(self.header)
                .is_some_and(|v| same_secret(v.as_bytes(), self.secret.as_bytes()))
    }
}

/// The API budget's key: the token's user, else the address.
#[derive(Clone)]
pub struct ApiClient {
    tokens: Arc<Tokens>,
    trusted: Arc<[IpAddr]>,
    exemption: Exemption,
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl KeyExtractor for ApiClient {
    type Key = Client;
    type KeyExtractionError = AppError;

    fn extract(&self, req: &ServiceRequest) -> Result<Client, AppError> {
        if is_credential_route(req.method(), req.path()) || self.exemption.covers(req) {
            return Ok(Client::Exempt);
        }
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Credentials::parse(v).bearer())
            .and_then(|token| self.tokens.verify_access(token).ok());
        if let Some(actor) = bearer {
            req.extensions_mut().insert(VerifiedBearer(actor));
            return Ok(Client::User(actor.user_id));
        }
        address_key(req, &self.trusted)
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        response: HttpResponseBuilder,
    ) -> HttpResponse {
        too_many(negative, response)
    }

    fn whitelisted_keys(&self) -> Vec<Client> {
        vec![Client::Exempt]
    }
}

/// The strict budget's key: the address only (there is no token yet).
#[derive(Clone)]
pub struct CredentialClient {
    trusted: Arc<[IpAddr]>,
}

impl KeyExtractor for CredentialClient {
    type Key = Client;
    type KeyExtractionError = AppError;

    fn extract(&self, req: &ServiceRequest) -> Result<Client, AppError> {
        if !is_credential_route(req.method(), req.path()) {
            return Ok(Client::Exempt);
        }
        address_key(req, &self.trusted)
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        response: HttpResponseBuilder,
    ) -> HttpResponse {
        too_many(negative, response)
    }

    fn whitelisted_keys(&self) -> Vec<Client> {
        vec![Client::Exempt]
    }
}

/// The key of a request counted by where it comes from.
fn address_key(req: &ServiceRequest, trusted: &[IpAddr]) -> Result<Client, AppError> {
    client_address(req, trusted)
        .map(Client::Address)
        .ok_or_else(|| AppError::BadRequest("the client address is unknown".to_owned()))
}

pub type ApiGovernor = GovernorConfig<ApiClient, StateInformationMiddleware>;
pub type CredentialGovernor = GovernorConfig<CredentialClient, StateInformationMiddleware>;

/// Both budgets, built once so every worker shares the same buckets. A budget that is
/// turned off still exists (the middleware is then skipped), which keeps the types simple.
#[derive(Clone)]
pub struct RateLimits {
    pub api: ApiGovernor,
    pub api_on: bool,
    pub credentials: CredentialGovernor,
    pub credentials_on: bool,
    /// Time to earn back one request, per budget (for `X-RateLimit-Reset`).
    api_period: Duration,
    credentials_period: Duration,
}

impl RateLimits {
    pub fn new(
        args: &RateLimitArgs,
        tokens: Arc<Tokens>,
        exemption: Exemption,
    ) -> anyhow::Result<Self> {
        let trusted: Arc<[IpAddr]> = args.trusted_proxies.clone().into();
        let api_period = Duration::from_secs(1) / args.rate_limit.max(1);
        let credentials_period = Duration::from_secs(60) / args.auth_rate_limit.max(1);
        let api = GovernorConfigBuilder::default()
            .period(api_period)
            .burst_size(args.rate_limit_burst.max(1))
            .key_extractor(ApiClient {
                exemption,
                tokens,
                trusted: trusted.clone(),
            })
            .use_headers()
            .finish()
            .ok_or_else(|| anyhow::anyhow!("invalid API rate limit"))?;
        let credentials = GovernorConfigBuilder::default()
            .period(credentials_period)
            .burst_size(args.auth_rate_limit_burst.max(1))
            .key_extractor(CredentialClient { trusted })
            .use_headers()
            .finish()
            .ok_or_else(|| anyhow::anyhow!("invalid sign-in rate limit"))?;
        Ok(Self {
            api,
            api_on: args.rate_limit > 0,
            credentials,
            credentials_on: args.auth_rate_limit > 0,
            api_period,
            credentials_period,
        })
    }

    /// Forgets clients whose buckets are full again, so the key maps do not grow with every
    /// address ever seen.
    pub fn purge(&self) {
        self.api.limiter().retain_recent();
        self.credentials.limiter().retain_recent();
    }

    /// The API budget as middleware (a no-op when it is off).
    pub fn api_middleware(&self) -> Condition<Governor<ApiClient, StateInformationMiddleware>> {
        Condition::new(self.api_on, Governor::new(&self.api))
    }

    /// The sign-in/registration budget as middleware (a no-op when it is off).
    pub fn credentials_middleware(
        &self,
    ) -> Condition<Governor<CredentialClient, StateInformationMiddleware>> {
        Condition::new(self.credentials_on, Governor::new(&self.credentials))
    }

    fn period_for(&self, method: &Method, path: &str) -> Duration {
        if is_credential_route(method, path) {
            self.credentials_period
        } else {
            self.api_period
        }
    }
}

/// The fields of draft-ietf-httpapi-ratelimit-headers (structured fields, RFC 9651):
/// `RateLimit-Policy: "api";q=100;w=2` (a quota of 100 requests that refills within 2
/// seconds) and `RateLimit: "api";r=42;t=1` (42 left, all back within a second).
fn ietf_fields(policy: &str, quota: u64, window: u64, remaining: u64, reset: u64) -> [String; 2] {
    [
        format!("\"{policy}\";q={quota};w={window}"),
        format!("\"{policy}\";r={remaining};t={reset}"),
    ]
}

/// Completes the governor's headers on every response it limited: `X-RateLimit-Reset`
/// and the IETF `RateLimit` and `RateLimit-Policy` fields, on 2xx and 429 alike.
pub async fn reset_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let budget = req.app_data::<web::Data<RateLimits>>().map(|limits| {
        let sign_in = is_credential_route(req.method(), req.path());
        let period = limits.period_for(req.method(), req.path());
        (if sign_in { "sign-in" } else { "api" }, period)
    });
    let mut response = next.call(req).await?;
    let number = |name: &HeaderName| -> Option<u64> {
        response.headers().get(name)?.to_str().ok()?.parse().ok()
    };
    if let (Some((policy, period)), Some(limit), Some(remaining)) = (
        budget,
        number(&X_RATELIMIT_LIMIT),
        number(&X_RATELIMIT_REMAINING),
    ) {
        let missing = u32::try_from(limit.saturating_sub(remaining)).unwrap_or(u32::MAX);
        let reset = (period * missing).as_secs_f64().ceil() as u64;
        let window = (period * u32::try_from(limit).unwrap_or(u32::MAX))
            .as_secs_f64()
            .ceil()
            .max(1.0) as u64;
        let [policy_field, state_field] = ietf_fields(policy, limit, window, remaining, reset);
        let headers = response.headers_mut();
        headers.insert(X_RATELIMIT_RESET, HeaderValue::from(reset));
        for (name, value) in [(RATELIMIT_POLICY, policy_field), (RATELIMIT, state_field)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_a_trusted_proxy_may_name_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let req = |peer: &str| {
            TestRequest::default()
                .peer_addr(peer.parse().unwrap())
                .insert_header(("x-forwarded-for", "198.51.100.1, 203.0.113.9"))
                .to_srv_request()
        };
        // From the proxy: the right-most forwarded address (the left one is client-written).
        assert_eq!(
            client_address(&req("10.0.0.1:5000"), &[proxy]),
            Some(client)
        );
        // From anyone else: the header is ignored.
        assert_eq!(
            client_address(&req("192.0.2.7:5000"), &[proxy]),
            Some("192.0.2.7".parse().unwrap())
        );
    }
}
