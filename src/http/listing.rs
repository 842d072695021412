//! List responses: `{"data", "page", "limit", "total"}`, an `X-Total-Count` header and an RFC
//! 8288 `Link` header with first/prev/next/last that keep the client's other parameters.

use std::str::FromStr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::conditional::{cached_json, CachePolicy};
use crate::domain::{PageRequest, Sort};
use crate::error::{AppError, FieldError};
use crate::services::Listing;

/// Query parameters every list accepts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// Comma-separated fields, `-` for descending, e.g. `price_cents,-created_at`.
    pub sort: Option<String>,
}

impl PageParams {
    /// The page and sort, with errors for every bad parameter at once.
    pub fn parse(&self, sortable: &[&'static str]) -> Result<(PageRequest, Sort), AppError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let page = PageRequest::parse(self.page.as_deref(), self.limit.as_deref())
            .map_err(|e| errors.extend(e));
        let sort = Sort::parse(self.sort.as_deref(), sortable).map_err(|e| errors.push(e));
        match (page, sort) {
            (Ok(page), Ok(sort)) => Ok((page, sort)),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

/// An optional filter parameter, read with its type's `FromStr`; a bad one is a 400 that
/// names it.
pub fn filter_param<T>(name: &str, raw: Option<&str>) -> Result<Option<T>, AppError>
where
    T: FromStr,
    T::Err: Into<String>,
{
    raw.map(str::parse::<T>)
        .transpose()
        .map_err(|why| AppError::invalid(name, why))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub page: u32,
    pub limit: u32,
    pub total: i64,
}

fn page_link(req: &HttpRequest, page: u32, limit: u32, rel: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if k != "page" && k != "limit" {
            query.append_pair(&k, &v);
        }
    }
    query.append_pair("page", &page.to_string());
    query.append_pair("limit", &limit.to_string());
    format!("<{}?{}>; rel=\"{rel}\"", req.path(), query.finish())
}

/// One page of `listing`, each item as `view` shows it, with its links and total.
pub fn list_response<T, V: Serialize>(
    req: &HttpRequest,
    listing: &Listing<T>,
    view: impl FnMut(&T) -> V,
    page: PageRequest,
    policy: CachePolicy,
) -> Result<HttpResponse, AppError> {
    let total = listing.total;
    let last = page.last_page(total);
    let mut links = vec![page_link(req, 1, page.limit, "first")];
    if page.page > 1 {
        links.push(page_link(
            req,
            (page.page - 1).min(last),
            page.limit,
            "prev",
        ));
    }
    if page.page < last {
        links.push(page_link(req, page.page + 1, page.limit, "next"));
    }
    links.push(page_link(req, last, page.limit, "last"));

    let body = Page {
        data: listing.items.iter().map(view).collect(),
        page: page.page,
        limit: page.limit,
        total,
    };
    let mut response = cached_json(req, &body, policy)?;
    let headers = response.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&links.join(", ")) {
        headers.insert(header::LINK, v);
    }
    headers.insert(
        header::HeaderName::from_static("x-total-count"),
        header::HeaderValue::from(total),
    );
    Ok(response)
}
