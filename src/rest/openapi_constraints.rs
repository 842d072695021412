//! What the server's validation accepts, written into the OpenAPI document, so that the
//! document describes the API in both directions: every value it allows is accepted, and
//! what it forbids is refused (schemathesis checks both). The rules live in `domain` and
//! the services; this table restates them in JSON Schema, next to the constants they
//! come from, and `tests/api/e2e.rs` (schemathesis) fails when the two drift apart.
//!
//! Patterns are written for both ECMA-262 and Python regular expressions: explicit
//! character classes only, no `\s`, `\p{…}` or look-arounds.

use serde_json::{json, Map, Value};

use crate::domain::{PageRequest, Password, CLIENT_ID_MAX, MESSAGE_BODY_MAX_CHARS, ROOM_NAME_MAX};
use crate::services;

/// Characters of single-line text: anything but C0 and C1 controls (`char::is_control`).
const LINE_CHAR: &str = r"[^\x00-\x1f\x7f-\x9f]";
/// Multi-line text may also hold tab, newline and carriage return.
const MULTILINE_CHAR: &str = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]";
/// Chat messages keep tab and newline only.
const CHAT_CHAR: &str = r"[^\x00-\x08\x0b-\x1f\x7f-\x9f]";
/// A character `str::trim` keeps (not Unicode White_Space) that is not a control: text
/// must have one to be non-empty once trimmed.
const VISIBLE: &str = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// RFC 9110 13.1.1: `*`, or a list of entity tags (`"…"` or `W/"…"`), which may be empty
/// (and then matches nothing: 412).
const ENTITY_TAGS: &str =
    r#"^(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)?$"#;
/// An idempotency key sent as a header: printable ASCII, and not blank at either end
/// (HTTP strips the whitespace there).
const HEADER_KEY: &str = r"^[\x21-\x7e]([\x20-\x7e]{0,62}[\x21-\x7e])?$";
/// `domain::Sku`: letters, digits, `-`, `_`, `.`.
const SKU: &str = r"^[A-Za-z0-9._-]{1,64}$";
/// `domain::RoomName`, before it is lower-cased.
const ROOM_NAME: &str = r"^[A-Za-z0-9][A-Za-z0-9_-]*$";
/// `domain::Email`: a dot-atom local part (at most 64 characters, which a regular
/// expression without look-arounds cannot say; the description does) and a domain of two
/// or more labels of at most 63.
const EMAIL: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

/// Text as `domain::bounded_text` takes it.
fn text(min: usize, max: usize, chars: &str) -> Value {
    let pattern = if min == 0 {
        format!("^{chars}*$")
    } else {
        format!("^{chars}*{VISIBLE}{chars}*$")
    };
    json!({"minLength": min, "maxLength": max, "pattern": pattern})
}

fn pattern(pattern: &str, min: usize, max: usize) -> Value {
    json!({"minLength": min, "maxLength": max, "pattern": pattern})
}

fn integer(min: i64, max: i64) -> Value {
    json!({"minimum": min, "maximum": max})
}

/// `(schema, property, constraints)`: merged into `components.schemas`.
fn fields() -> Vec<(&'static str, &'static str, Value)> {
    let mut email = pattern(EMAIL, 3, 254);
    merge(
        &mut email,
        &json!({"format": "email", "description": "At most 64 characters before the @."}),
    );
    let password = json!({
        "minLength": Password::MIN_CHARS,
        "maxLength": Password::MAX_CHARS,
        "pattern": format!("^{LINE_CHAR}*$"),
    });
    vec![
        ("PostInput", "title", text(1, 200, LINE_CHAR)),
        ("PostInput", "body", text(1, 20_000, MULTILINE_CHAR)),
        ("ProductInput", "sku", pattern(SKU, 1, 64)),
        ("ProductInput", "name", text(1, 200, LINE_CHAR)),
        ("ProductInput", "description", text(0, 5000, MULTILINE_CHAR)),
        (
            "ProductInput",
            "price_cents",
            integer(0, services::products::MAX_PRICE_CENTS),
        ),
        (
            "ProductInput",
            "stock",
            integer(0, i64::from(services::products::MAX_STOCK)),
        ),
        ("RegisterInput", "email", email.clone()),
        ("RegisterInput", "name", text(1, 100, LINE_CHAR)),
        ("RegisterInput", "password", password.clone()),
        ("UserInput", "email", email),
        ("UserInput", "name", text(1, 100, LINE_CHAR)),
        ("UserInput", "password", password),
        ("RoomInput", "name", pattern(ROOM_NAME, 1, ROOM_NAME_MAX)),
        ("RoomInput", "topic", text(0, 200, LINE_CHAR)),
        (
            "MessageInput",
            "body",
            text(1, MESSAGE_BODY_MAX_CHARS, CHAT_CHAR),
        ),
        (
            "OrderLineInput",
            "product_id",
            integer(1, i64::from(i32::MAX)),
        ),
        (
            "OrderLineInput",
            "quantity",
            integer(1, i64::from(services::orders::MAX_QUANTITY)),
        ),
        (
            "OrderInput",
            "items",
            json!({"minItems": 1, "maxItems": services::orders::MAX_LINES}),
        ),
    ]
}

/// The fields a list may be sorted by, per list path.
fn sortable() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("/api/v1/users", services::users::SORTABLE),
        ("/api/v1/users/{id}/posts", services::posts::SORTABLE),
        ("/api/v1/posts", services::posts::SORTABLE),
        ("/api/v1/products", services::products::SORTABLE),
        ("/api/v1/orders", services::orders::SORTABLE),
        ("/api/v1/rooms", services::rooms::SORTABLE),
    ]
}

/// `?sort=`: comma-separated allowed fields, each optionally `-` (or `+`).
fn sort_pattern(fields: &[&str]) -> String {
    let field = format!("[+-]?({})", fields.join("|"));
    format!("^{field}(,{field})*$")
}

/// Query and header parameters, by name, wherever they appear.
fn parameters() -> Vec<(&'static str, Value)> {
    vec![
        // Header values are strings: absent is the header's "no value", never `null`.
        (
            "If-Match",
            json!({"type": "string", "pattern": ENTITY_TAGS}),
        ),
        (
            "Idempotency-Key",
            json!({"type": "string", "minLength": 1, "maxLength": CLIENT_ID_MAX, "pattern": HEADER_KEY}),
        ),
        ("page", integer(1, i64::from(PageRequest::MAX_PAGE))),
        ("q", text(0, 200, LINE_CHAR)),
        ("min_price", integer(0, services::products::MAX_PRICE_CENTS)),
        ("max_price", integer(0, services::products::MAX_PRICE_CENTS)),
    ]
}

fn merge(target: &mut Value, extra: &Value) {
    if let (Some(target), Some(extra)) = (target.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// A JSON merge patch (RFC 7396) of `input`: any of its members, none required; `null`
/// removes a member, which only an optional one may be.
fn patch_schema(input: &Value) -> Value {
    let required: Vec<&str> = input["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut properties = Map::new();
    if let Some(props) = input["properties"].as_object() {
        for (name, schema) in props {
            let schema = if required.contains(&name.as_str()) {
                schema.clone()
            } else {
                json!({"anyOf": [schema, {"type": "null"}]})
            };
            properties.insert(name.clone(), schema);
        }
    }
    json!({"type": "object", "properties": properties, "additionalProperties": false})
}

/// The refusals every operation with a body or an `If-Match` can give, documented where
/// the handler's own annotations left them out: 400 (validation, a malformed header), 413
/// (`--max-body-bytes`), 415 (a media type other than the documented one); and 429 on
/// every operation under a rate limit (all of `/api/v1`).
fn document_refusals(path: &str, operation: &mut Value) {
    let has_body = operation.get("requestBody").is_some();
    let has_if_match = operation["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["name"] == "If-Match"));
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses.entry(status.to_owned()).or_insert_with(|| {
            json!({
                "description": description,
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            })
        });
    };
    if has_body || has_if_match {
        add("400", "Invalid input or a malformed header");
    }
    if has_body {
        add("413", "Body larger than --max-body-bytes");
        add("415", "Unsupported media type");
    }
    if path.starts_with("/api/v1/") {
        add(
            "429",
            "Over the rate limit: Retry-After, RateLimit and RateLimit-Policy say when to retry",
        );
    }
}

/// A parameter's schema, wherever utoipa put it (`schema`, or `oneOf` with null for an
/// `Option`).
fn parameter_schema(parameter: &mut Map<String, Value>) -> Option<&mut Value> {
    parameter.get_mut("schema")
}

/// Writes the constraints into `doc` (the document as JSON).
pub fn apply(doc: &mut Value) {
    for (schema, property, constraints) in fields() {
        let target = doc
            .pointer_mut(&format!(
                "/components/schemas/{schema}/properties/{property}"
            ))
            .unwrap_or_else(|| panic!("the document has no {schema}.{property}"));
        merge(target, &constraints);
    }
    // Input objects refuse unknown members (serde's deny_unknown_fields), patches included.
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for name in [
            "PostInput",
            "ProductInput",
            "RegisterInput",
            "UserInput",
            "RoomInput",
            "MessageInput",
            "OrderInput",
            "OrderLineInput",
            "OrderPatch",
        ] {
            if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
                schema.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
    }
    for (path, input) in [
        ("/api/v1/posts/{id}", "PostInput"),
        ("/api/v1/products/{id}", "ProductInput"),
        ("/api/v1/users/{id}", "UserInput"),
    ] {
        let schema = patch_schema(&doc["components"]["schemas"][input]);
        let pointer = format!(
            "/paths/{}/patch/requestBody/content/application~1merge-patch+json/schema",
            path.replace('/', "~1")
        );
        let target = doc
            .pointer_mut(&pointer)
            .unwrap_or_else(|| panic!("the document has no merge patch for {path}"));
        *target = schema;
    }
    let sorts = sortable();
    let by_name = parameters();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            document_refusals(path, operation);
            let Some(list) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for parameter in list.iter_mut().filter_map(Value::as_object_mut) {
                let name = parameter
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let constraints = if name == "sort" {
                    sorts
                        .iter()
                        .find(|(p, _)| p == path)
                        .map(|(_, fields)| json!({"pattern": sort_pattern(fields)}))
                } else {
                    by_name
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, c)| c.clone())
                };
                if let (Some(constraints), Some(schema)) =
                    (constraints, parameter_schema(parameter))
                {
                    merge(schema, &constraints);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constraint_finds_its_place_in_the_document() {
        // `apply` panics on a schema or property the document lacks (a rename).
        let mut doc =
            serde_json::to_value(<super::super::openapi::ApiDoc as utoipa::OpenApi>::openapi())
                .unwrap();
        apply(&mut doc);
        let title = &doc["components"]["schemas"]["PostInput"]["properties"]["title"];
        assert_eq!(title["maxLength"], 200);
        assert_eq!(
            doc["components"]["schemas"]["PostInput"]["additionalProperties"],
            false
        );
    }

    #[test]
    fn sort_patterns_list_the_allowed_fields() {
        assert_eq!(
            sort_pattern(&["id", "name"]),
            "^[+-]?(id|name)(,[+-]?(id|name))*$"
        );
    }
}
