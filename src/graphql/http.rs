//! GraphQL over HTTP (the GraphQL-over-HTTP draft, checked in CI by `graphql-http`'s
//! audits): `POST` with `application/json`, `GET` with query parameters for queries only,
//! and the response media type the client accepts. A malformed request (bad JSON, missing or
//! mistyped parameters) is a 400 either way. A document that does not parse or validate is
//! a 400 without `data` for `application/graphql-response+json`, and a 200 with `errors`
//! for `application/json`, as older clients expect. GET with `Upgrade: websocket` starts a
//! subscription connection (`graphql-transport-ws`).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use async_graphql::parser::types::OperationType;
use async_graphql::{ServerError, Value, Variables};
use serde::Serialize;
use serde_json::{json, Map, Value as Json};

use super::documents::{Documents, Parsed};
use super::loaders::Loaders;
use super::types::Caller;
use super::{AppSchema, KnownValid};
use crate::db::Db;
use crate::error::{AppError, AuthFailure};
use crate::http::auth::MaybeAuthUser;
use crate::http::json::BodyLimit;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Media {
    /// `application/graphql-response+json`: HTTP status codes carry meaning.
    GraphqlResponse,
    /// `application/json` (or no preference): always 200 with a GraphQL body.
    Json,
}

impl Media {
    fn of(req: &HttpRequest) -> Self {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The first acceptable of the two, in the client's order (no q-value ranking: the
        // draft asks servers to honour whichever of these the client lists).
        for item in accept.split(',') {
            let media = item.split(';').next().unwrap_or("").trim();
            match media {
                GRAPHQL_RESPONSE => return Media::GraphqlResponse,
                "application/json" | "application/*" | "*/*" => return Media::Json,
                _ => {}
            }
        }
        Media::Json
    }

    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
}

/// A request that cannot be executed at all.
struct RequestError(String);

fn error_body(message: &str, code: &str) -> Json {
    json!({"errors": [{"message": message, "extensions": {"code": code}}]})
}

fn respond(media: Media, status: StatusCode, body: &impl Serialize) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status)
            .content_type(media.content_type())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(bytes),
        Err(e) => AppError::Internal(e.into()).error_response(),
    }
}

/// A GraphQL response body. The data is written straight from the executor's value tree:
/// converting it to a `serde_json::Value` first was 8 % of the CPU time of a 50-users query.
#[derive(Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Json>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

fn request_error(media: Media, err: RequestError) -> HttpResponse {
    respond(
        media,
        StatusCode::BAD_REQUEST,
        &error_body(&err.0, "BAD_REQUEST"),
    )
}

/// `variables` and `extensions` must be maps (or null, or absent).
fn map_param(params: &Map<String, Json>, name: &str) -> Result<Option<Json>, RequestError> {
    match params.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(v @ Json::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(RequestError(format!("`{name}` must be an object"))),
    }
}

/// The parameters of a GraphQL request, checked as the draft says.
fn parse_params(params: &Map<String, Json>) -> Result<async_graphql::Request, RequestError> {
    let query = match params.get("query") {
        Some(Json::String(q)) => q.clone(),
        Some(_) => return Err(RequestError("`query` must be a string".into())),
        None => return Err(RequestError("the `query` parameter is missing".into())),
    };
    let mut request = async_graphql::Request::new(query);
    match params.get("operationName") {
        None | Some(Json::Null) => {}
        Some(Json::String(name)) => request = request.operation_name(name),
        Some(_) => return Err(RequestError("`operationName` must be a string".into())),
    }
    if let Some(variables) = map_param(params, "variables")? {
        request = request.variables(Variables::from_json(variables));
    }
    if let Some(Json::Object(extensions)) = map_param(params, "extensions")? {
        for (key, value) in extensions {
            if let Ok(value) = Value::from_json(value) {
                request.extensions.insert(key, value);
            }
        }
    }
    Ok(request)
}

/// GET: parameters in the query string; `variables`/`extensions` as JSON text.
fn parse_get(req: &HttpRequest) -> Result<async_graphql::Request, RequestError> {
    let mut params = Map::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        let value = match key.as_ref() {
            "variables" | "extensions" => serde_json::from_str(&value)
                .map_err(|_| RequestError(format!("`{key}` must be JSON")))?,
            _ => Json::String(value.into_owned()),
        };
        params.insert(key.into_owned(), value);
    }
    parse_params(&params)
}

fn parse_post(req: &HttpRequest, body: &[u8]) -> Result<async_graphql::Request, PostError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        Some("application/json") => {}
        Some("application/graphql") => {
            let query = std::str::from_utf8(body)
                .map_err(|_| PostError::Request(RequestError("the body is not UTF-8".into())))?;
            return Ok(async_graphql::Request::new(query));
        }
        _ => return Err(PostError::MediaType),
    }
    if body.is_empty() {
        return Err(PostError::Request(RequestError(
            "the request has no body".into(),
        )));
    }
    let params: Json = serde_json::from_slice(body)
        .map_err(|e| PostError::Request(RequestError(format!("the body is not JSON: {e}"))))?;
    match params {
        Json::Object(map) => parse_params(&map).map_err(PostError::Request),
        _ => Err(PostError::Request(RequestError(
            "the body must be a JSON object".into(),
        ))),
    }
}

enum PostError {
    MediaType,
    Request(RequestError),
}

/// Whether the operation the request would run is a mutation (refused over GET).
fn is_mutation(request: &async_graphql::Request, documents: &Documents) -> bool {
    let Some(doc) = documents.get(&request.query) else {
        return false;
    };
    let wanted = request.operation_name.as_deref();
    doc.document().operations.iter().any(|(name, op)| {
        let selected = match (wanted, name) {
            (Some(w), Some(n)) => w == n.as_str(),
            (None, _) => true,
            (Some(_), None) => false,
        };
        selected && op.node.ty == OperationType::Mutation
    })
}

/// Gives the errors of a document that never ran the codes clients know from Apollo
/// Server, so that every error has an `extensions.code`: `GRAPHQL_PARSE_FAILED` for syntax
/// errors (the parser's messages point at the spot, ` --> line:column`) and
/// `GRAPHQL_VALIDATION_FAILED` for the rest (unknown fields, wrong arguments, the depth and
/// complexity limits).
fn coded_as_unrun(errors: &mut Json) {
    let Some(errors) = errors.as_array_mut() else {
        return;
    };
    for error in errors.iter_mut().filter_map(Json::as_object_mut) {
        let parse = error
            .get("message")
            .and_then(Json::as_str)
            .is_some_and(|m| m.starts_with(" --> "));
        let code = if parse {
            "GRAPHQL_PARSE_FAILED"
        } else {
            "GRAPHQL_VALIDATION_FAILED"
        };
        let extensions = error
            .entry("extensions")
            .or_insert_with(|| Json::Object(Map::new()));
        if let Some(extensions) = extensions.as_object_mut() {
            extensions
                .entry("code")
                .or_insert_with(|| Json::String(code.to_owned()));
        }
    }
}

/// Parse and validation errors carry no path: the document never ran.
fn never_ran(errors: &[ServerError]) -> bool {
    !errors.is_empty() && errors.iter().all(|e| e.path.is_empty())
}

async fn execute(
    schemas: (&AppSchema, &KnownValid),
    db: &Db,
    caller: Caller,
    request: async_graphql::Request,
    parsed: Option<Arc<Parsed>>,
    media: Media,
) -> HttpResponse {
    // Only without variables: their values take part in validation.
    let parsed = parsed.filter(|_| request.variables.is_empty());
    let schema = match &parsed {
        Some(parsed) if parsed.known_valid() => &schemas.1 .0,
        _ => schemas.0,
    };
    let request = request.data(caller).data(Loaders::new(db));
    let response = schema.execute(request).await;
    let ran = !never_ran(&response.errors);
    if let Some(parsed) = parsed.filter(|_| ran) {
        // It ran, so it passed validation (on the strict schema, the first time).
        parsed.passed_validation();
    }
    let errors = (!response.errors.is_empty()).then(|| {
        let mut errors = serde_json::to_value(&response.errors).unwrap_or(Json::Null);
        if !ran {
            coded_as_unrun(&mut errors);
        }
        errors
    });
    let body = ResponseBody {
        data: ran.then_some(&response.data),
        errors,
        extensions: &response.extensions,
    };
    let status = if !ran && media == Media::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    respond(media, status, &body)
}

fn unauthenticated(media: Media, err: &AppError) -> HttpResponse {
    let message = match err {
        AppError::Unauthenticated(AuthFailure::InvalidToken(why)) => {
            format!("the bearer token is not valid: {why}")
        }
        _ => "authentication failed".to_owned(),
    };
    HttpResponse::build(StatusCode::UNAUTHORIZED)
        .content_type(media.content_type())
        .insert_header((
            header::WWW_AUTHENTICATE,
            r#"Bearer realm="switchboard", error="invalid_token""#,
        ))
        .body(error_body(&message, "UNAUTHENTICATED").to_string())
}

/// `GET|POST /graphql`.
pub async fn graphql(
    req: HttpRequest,
    payload: web::Payload,
    schema: web::Data<AppSchema>,
    known_valid: web::Data<KnownValid>,
    db: web::Data<Db>,
    documents: web::Data<Documents>,
) -> Result<HttpResponse, actix_web::Error> {
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if req.method() == Method::GET && is_upgrade {
        return super::subscriptions::start(&req, payload, &schema, &db);
    }
    let media = Media::of(&req);
    let caller = match MaybeAuthUser::extract(&req).await {
        Ok(MaybeAuthUser(actor)) => Caller(actor),
        Err(err) => return Ok(unauthenticated(media, &err)),
    };
    let mut request = if req.method() == Method::GET {
        match parse_get(&req) {
            Ok(request) if is_mutation(&request, &documents) => {
                return Ok(HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, "POST"))
                    .content_type(media.content_type())
                    .body(
                        error_body("mutations must be sent with POST", "METHOD_NOT_ALLOWED")
                            .to_string(),
                    ));
            }
            Ok(request) => request,
            Err(err) => return Ok(request_error(media, err)),
        }
    } else {
        let limit = req.app_data::<BodyLimit>().map_or(64 * 1024, |l| l.0);
        let Ok(body) = payload.to_bytes_limited(limit).await else {
            return Ok(HttpResponse::PayloadTooLarge()
                .content_type(media.content_type())
                .body(
                    error_body(
                        &format!("the request body is larger than {limit} bytes"),
                        "PAYLOAD_TOO_LARGE",
                    )
                    .to_string(),
                ));
        };
        let body = body?;
        match parse_post(&req, &body) {
            Ok(request) => request,
            Err(PostError::Request(err)) => return Ok(request_error(media, err)),
            Err(PostError::MediaType) => {
                return Ok(HttpResponse::UnsupportedMediaType()
                    .content_type(media.content_type())
                    .body(
                        error_body(
                            "send the request as application/json (or application/graphql)",
                            "UNSUPPORTED_MEDIA_TYPE",
                        )
                        .to_string(),
                    ))
            }
        }
    };
    let parsed = documents.prepare(&mut request);
    let schemas = (schema.get_ref(), known_valid.get_ref());
    Ok(execute(schemas, &db, caller, request, parsed, media).await)
}
