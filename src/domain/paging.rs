//! Page-number pagination and whitelisted sorting for list endpoints.
//!
//! Page numbers (not keyset cursors) because clients of a shop/blog API want "page 7 of 12"
//! and a total; the price is an OFFSET scan, bounded by the 100-item page limit. Every sort
//! ends with `id` so equal keys still come back in one stable order across pages.

use crate::error::FieldError;

/// Which slice of a list to read. REST builds it from page numbers, GraphQL from
/// connection cursors; the services take either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: i64,
    pub limit: i64,
}

impl From<PageRequest> for Window {
    fn from(page: PageRequest) -> Self {
        Self {
            offset: page.offset(),
            limit: i64::from(page.limit),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 20;
    pub const MAX_LIMIT: u32 = 100;
    /// Far beyond any real list; keeps `offset` arithmetic comfortably inside i64.
    pub const MAX_PAGE: u32 = 10_000_000;

    pub fn parse(page: Option<&str>, limit: Option<&str>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let page = match page.map(str::parse::<u32>) {
            None => 1,
            Some(Ok(p)) if (1..=Self::MAX_PAGE).contains(&p) => p,
            Some(_) => {
                errors.push(FieldError::new(
                    "page",
                    format!("must be an integer from 1 to {}", Self::MAX_PAGE),
                ));
                1
            }
        };
        let limit = match limit.map(str::parse::<u32>) {
            None => Self::DEFAULT_LIMIT,
            Some(Ok(l)) if (1..=Self::MAX_LIMIT).contains(&l) => l,
            Some(_) => {
                errors.push(FieldError::new(
                    "limit",
                    format!("must be an integer from 1 to {}", Self::MAX_LIMIT),
                ));
                Self::DEFAULT_LIMIT
            }
        };
        if errors.is_empty() {
            Ok(Self { page, limit })
        } else {
            Err(errors)
        }
    }

    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.limit)
    }

    /// The last page number for `total` items (1 when the list is empty).
    pub fn last_page(&self, total: i64) -> u32 {
        let limit = i64::from(self.limit);
        let pages = (total.max(0) + limit - 1) / limit;
        u32::try_from(pages.max(1)).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: &'static str,
    pub descending: bool,
}

/// `?sort=price_cents,-created_at`: comma-separated fields, `-` for descending; a field
/// named again is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sort(pub Vec<SortKey>);

impl Sort {
    pub fn parse(raw: Option<&str>, allowed: &[&'static str]) -> Result<Self, FieldError> {
        let Some(raw) = raw else {
            return Ok(Sort::default());
        };
        let mut keys: Vec<SortKey> = Vec::new();
        for part in raw.split(',').map(str::trim) {
            let (name, descending) = match part.strip_prefix('-') {
                Some(rest) => (rest, true),
                None => (part.strip_prefix('+').unwrap_or(part), false),
            };
            let Some(field) = allowed.iter().copied().find(|f| *f == name) else {
                return Err(FieldError::new(
                    "sort",
                    format!(
                        "cannot sort by {name:?}; allowed fields: {}",
                        allowed.join(", ")
                    ),
                ));
            };
            // A repeat adds nothing: the first mention decides the direction.
            if keys.iter().any(|k| k.field == field) {
                continue;
            }
            keys.push(SortKey { field, descending });
        }
        Ok(Sort(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest { page: 1, limit: 20 }
        );
        assert_eq!(
            PageRequest::parse(Some("3"), Some("100")).unwrap().offset(),
            200
        );
        for (p, l) in [
            (Some("0"), None),
            (None, Some("101")),
            (Some("x"), None),
            (None, Some("-1")),
            (None, Some("")),
        ] {
            assert!(PageRequest::parse(p, l).is_err(), "{p:?} {l:?}");
        }
        let both = PageRequest::parse(Some("0"), Some("0")).unwrap_err();
        assert_eq!(both.len(), 2);
    }

    #[test]
    fn last_page_rounds_up_and_is_at_least_one() {
        let p = PageRequest { page: 1, limit: 20 };
        assert_eq!(p.last_page(0), 1);
        assert_eq!(p.last_page(20), 1);
        assert_eq!(p.last_page(21), 2);
    }

    #[test]
    fn sort_parses_directions_and_rejects_unknown_or_repeated_fields() {
        let s = Sort::parse(
            Some("price_cents,-created_at"),
            &["price_cents", "created_at"],
        )
        .unwrap();
        assert_eq!(
            s.0,
            vec![
                SortKey {
                    field: "price_cents",
                    descending: false
                },
                SortKey {
                    field: "created_at",
                    descending: true
                },
            ]
        );
        assert!(Sort::parse(Some("password_hash"), &["id"]).is_err());
        assert_eq!(
            Sort::parse(Some("id,-id"), &["id"]).unwrap().0,
            vec![SortKey {
                field: "id",
                descending: false
            }]
        );
        assert!(Sort::parse(Some(""), &["id"]).is_err());
    }
}
