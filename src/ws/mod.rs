//! The WebSocket transport, built the actix way: each connection is an actor
//! (`ChatSession`, `EventsSession`, `EchoSession`) that owns its socket (heartbeat, frame
//! limits, token lifetime) and talks to the shared real-time core in [`crate::realtime`]
//! (the chat server, the event hub). docs/PROTOCOL.md describes the frames.

pub mod conn;
pub mod echo;
pub mod events;
pub mod frames;
pub mod lease;
pub mod session;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;

use crate::db::Db;
use crate::error::{AppError, AuthFailure};
use crate::http::bearer::Credentials;
use crate::http::routing::Endpoint;
use crate::realtime::Realtime;
use crate::services::auth::Tokens;
use crate::services::events::UserRef;
use crate::services::{users, Actor as Caller};
use conn::WsLimits;
use echo::{EchoSession, Reply};
use events::EventsSession;
use lease::Lease;
use session::ChatSession;

/// The sub-protocol a browser offers together with its token: `["bearer", token]`.
const BEARER_PROTOCOL: &str = "bearer";

/// The access token of an upgrade request: `Authorization: Bearer`, the `bearer`
/// sub-protocol pair, or `?token=`, in that order.
fn upgrade_token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        return Credentials::parse(value.to_str().ok()?)
            .bearer()
            .map(str::to_owned);
    }
    if let Some(value) = req.headers().get(header::SEC_WEBSOCKET_PROTOCOL) {
        let offered: Vec<&str> = value.to_str().ok()?.split(',').map(str::trim).collect();
        if let Some(i) = offered.iter().position(|p| *p == BEARER_PROTOCOL) {
            return offered.get(i + 1).map(|t| (*t).to_owned());
        }
    }
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Checks the token and that this is a WebSocket upgrade, then loads the user: all before
/// the upgrade, so refusals are plain HTTP problems.
async fn authenticate(req: &HttpRequest, db: &Db) -> Result<(Lease, Caller, UserRef), AppError> {
    let raw = upgrade_token(req).ok_or(AppError::Unauthenticated(AuthFailure::Missing))?;
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("token keys are not configured")))?
        .clone()
        .into_inner();
    let rt = req.app_data::<web::Data<Realtime>>().ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("the real-time core is not configured"))
    })?;
    let token = tokens
        .verify(&raw)
        .map_err(|why| AppError::Unauthenticated(AuthFailure::InvalidToken(why)))?;
    require_upgrade(req)?;
    let caller = token.actor;
    let user = db
        .read(move |c| users::get(c, caller.user_id))
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => AppError::Unauthenticated(AuthFailure::InvalidToken(
                "the account no longer exists".to_owned(),
            )),
            other => other,
        })?;
    Ok((
        Lease::new(tokens, rt.sockets.clone(), token),
        caller,
        UserRef {
            id: user.id,
            name: user.name,
        },
    ))
}

/// RFC 6455 section 4.4: a handshake of any version but 13 is refused with 426 and the
/// version this server speaks (actix's handshake would also accept the drafts 7 and 8).
pub fn require_version_13(req: &HttpRequest) -> Result<(), AppError> {
    match req.headers().get(header::SEC_WEBSOCKET_VERSION) {
        Some(version) if version.as_bytes() != b"13" => Err(AppError::UpgradeRequired(format!(
            "WebSocket version {:?} is not supported; this server speaks version 13",
            String::from_utf8_lossy(version.as_bytes())
        ))),
        _ => Ok(()),
    }
}

fn require_upgrade(req: &HttpRequest) -> Result<(), AppError> {
    require_version_13(req)?;
    ws::handshake(req).map(|_| ()).map_err(|e| {
        AppError::BadRequest(format!(
            "this endpoint speaks WebSocket: send a GET with `Upgrade: websocket` ({e})"
        ))
    })
}

fn start<A>(
    actor: A,
    req: &HttpRequest,
    stream: web::Payload,
    limits: &WsLimits,
) -> Result<HttpResponse, AppError>
where
    A: conn::HasConnection + actix::StreamHandler<Result<ws::Message, ws::ProtocolError>>,
{
    let mut actor = actor;
    let stream = actor.connection().observe(stream);
    ws::WsResponseBuilder::new(actor, req, stream)
        .frame_size(limits.max_frame)
        .protocols(&[BEARER_PROTOCOL])
        .start()
        .map_err(|e| AppError::BadRequest(format!("WebSocket handshake failed: {e}")))
}

/// `GET /ws/echo`
pub async fn echo(
    req: HttpRequest,
    stream: web::Payload,
    rt: web::Data<Realtime>,
    limits: web::Data<WsLimits>,
) -> Result<HttpResponse, AppError> {
    start_echo(req, stream, rt, limits, Reply::Friendly)
}

/// `GET /ws/echo/raw`
pub async fn echo_raw(
    req: HttpRequest,
    stream: web::Payload,
    rt: web::Data<Realtime>,
    limits: web::Data<WsLimits>,
) -> Result<HttpResponse, AppError> {
    start_echo(req, stream, rt, limits, Reply::Exact)
}

fn start_echo(
    req: HttpRequest,
    stream: web::Payload,
    rt: web::Data<Realtime>,
    limits: web::Data<WsLimits>,
    reply: Reply,
) -> Result<HttpResponse, AppError> {
    require_upgrade(&req)?;
    let session = EchoSession::new(rt.metrics.clone(), limits.get_ref().clone(), reply);
    start(session, &req, stream, &limits)
}

/// `GET /ws/chat`
pub async fn chat(
    req: HttpRequest,
    stream: web::Payload,
    db: web::Data<Db>,
    rt: web::Data<Realtime>,
    limits: web::Data<WsLimits>,
) -> Result<HttpResponse, AppError> {
    let (lease, caller, user) = authenticate(&req, &db).await?;
    let session = ChatSession::new(
        caller,
        user,
        lease,
        rt.chat.clone(),
        rt.metrics.clone(),
        limits.get_ref().clone(),
    );
    start(session, &req, stream, &limits)
}

/// `GET /ws/events`
pub async fn events(
    req: HttpRequest,
    stream: web::Payload,
    db: web::Data<Db>,
    rt: web::Data<Realtime>,
    limits: web::Data<WsLimits>,
) -> Result<HttpResponse, AppError> {
    let (lease, caller, user) = authenticate(&req, &db).await?;
    let session = EventsSession::new(
        caller,
        user,
        lease,
        rt.hub.clone(),
        rt.metrics.clone(),
        limits.get_ref().clone(),
    );
    start(session, &req, stream, &limits)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/ws/echo").get(echo).build())
        .service(Endpoint::new("/ws/echo/raw").get(echo_raw).build())
        .service(Endpoint::new("/ws/chat").get(chat).build())
        .service(Endpoint::new("/ws/events").get(events).build());
}
