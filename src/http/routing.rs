//! Resources that answer every method correctly: GET also answers HEAD, OPTIONS lists the
//! allowed methods, and any other method gets 405 with an `Allow` header (RFC 9110 15.5.6).

use actix_web::http::{header, StatusCode};
use actix_web::{guard, web, FromRequest, Handler, HttpResponse, Resource, Responder};

use crate::error::{problem, AppError};

pub struct Endpoint {
    resource: Resource,
    allow: Vec<&'static str>,
}

impl Endpoint {
    pub fn new(path: &str) -> Self {
        Self {
            resource: web::resource(path),
            allow: Vec::new(),
        }
    }

    fn route<F, Args>(
        mut self,
        methods: &[&'static str],
        guard: impl guard::Guard + 'static,
        handler: F,
    ) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::route().guard(guard).to(handler));
        self.allow.extend_from_slice(methods);
        self
    }

    pub fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(
            &["GET", "HEAD"],
            guard::Any(guard::Get()).or(guard::Head()),
            handler,
        )
    }

    pub fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(&["POST"], guard::Post(), handler)
    }

    pub fn put<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(&["PUT"], guard::Put(), handler)
    }

    pub fn patch<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(&["PATCH"], guard::Patch(), handler)
    }

    pub fn delete<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(&["DELETE"], guard::Delete(), handler)
    }

    pub fn build(self) -> Resource {
        let mut allow = self.allow;
        allow.push("OPTIONS");
        let allow = allow.join(", ");
        let allow_for_options = allow.clone();
        self.resource
            .route(web::route().guard(guard::Options()).to(move || {
                let allow = allow_for_options.clone();
                async move {
                    HttpResponse::NoContent()
                        .insert_header((header::ALLOW, allow))
                        .finish()
                }
            }))
            .default_service(web::to(move || {
                let allow = allow.clone();
                async move {
                    let mut response = problem(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "/problems/method-not-allowed",
                        format!("this resource allows {allow}"),
                    )
                    .into_response();
                    if let Ok(v) = header::HeaderValue::from_str(&allow) {
                        response.headers_mut().insert(header::ALLOW, v);
                    }
                    response
                }
            }))
    }
}

/// The app-wide fallback: a problem+json 404 for unknown paths.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    problem(
        StatusCode::NOT_FOUND,
        "/problems/not-found",
        format!("no resource at {}", req.path()),
    )
    .into_response()
}

/// Path segments that do not parse (`/products/abc`) name no resource: 404, not 400.
pub fn path_error(
    _: actix_web::error::PathError,
    req: &actix_web::HttpRequest,
) -> actix_web::Error {
    AppError::NotFound(format!("no resource at {}", req.path())).into()
}

/// Query strings that cannot be decoded at all.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    AppError::BadRequest(format!("the query string is malformed: {err}")).into()
}
