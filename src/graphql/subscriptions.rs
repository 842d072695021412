//! The WebSocket side of `/graphql` (`graphql-transport-ws`, and the older `graphql-ws`),
//! run by async-graphql's actix actor. Browsers cannot set headers on a WebSocket, so the
//! token comes in the `connection_init` payload: `{"Authorization": "Bearer <token>"}` (or
//! `{"token": "<token>"}`). A bad token refuses the connection; none means anonymous.

use actix_web::{web, HttpRequest, HttpResponse};
use async_graphql::{Data, ErrorExtensions};
use async_graphql_actix_web::GraphQLSubscription;

use super::loaders::Loaders;
use super::types::Caller;
use super::AppSchema;
use crate::db::Db;
use crate::error::{AppError, AuthFailure};
use crate::services::auth::Tokens;

fn token_of(payload: &serde_json::Value) -> Option<String> {
    let header = ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(*k)?.as_str());
    if let Some(value) = header {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    payload.get("token")?.as_str().map(str::to_owned)
}

pub fn start(
    req: &HttpRequest,
    payload: web::Payload,
    schema: &web::Data<AppSchema>,
    db: &web::Data<Db>,
) -> Result<HttpResponse, actix_web::Error> {
    let tokens = req.app_data::<web::Data<Tokens>>().cloned();
    let db = db.get_ref().clone();
    GraphQLSubscription::new(schema.get_ref().clone())
        .on_connection_init(move |init| async move {
            let caller = match token_of(&init) {
                None => Caller(None),
                Some(token) => {
                    let tokens = tokens.ok_or_else(|| {
                        AppError::Internal(anyhow::anyhow!("token keys are not configured"))
                            .extend()
                    })?;
                    let actor = tokens.verify_access(&token).map_err(|why| {
                        AppError::Unauthenticated(AuthFailure::InvalidToken(why)).extend()
                    })?;
                    Caller(Some(actor))
                }
            };
            let mut data = Data::default();
            data.insert(caller);
            // No cache in these loaders, so sharing them for the connection's life is safe.
            data.insert(Loaders::new(&db));
            Ok(data)
        })
        .start(req, payload)
}
