//! Property tests for the parsers that take raw client input: JSON bodies (depth scan,
//! merge patch), list query parameters, chat frames and room names. They assert what must
//! hold for *any* input: no panic, and the documented contract.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::domain::{merge_patch, PageRequest, RoomName, Sort};
use crate::http::json::json_depth;
use crate::realtime::protocol::ClientFrame;

/// Arbitrary JSON values, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn nesting(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

/// Objects only, and without nulls: a patch with these is a plain merge.
fn object_without_nulls() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z]{1,3}", any::<i32>().prop_map(|n| json!(n)), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

proptest! {
    #[test]
    fn the_depth_scan_agrees_with_the_parser(value in json_value()) {
        let text = serde_json::to_string(&value).unwrap();
        prop_assert_eq!(json_depth(text.as_bytes()), nesting(&value));
    }

    #[test]
    fn the_depth_scan_survives_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = json_depth(&bytes);
    }

    #[test]
    fn a_merge_patch_applied_twice_changes_nothing_more(target in json_value(), patch in json_value()) {
        let mut once = target.clone();
        merge_patch::apply(&mut once, &patch);
        let mut twice = once.clone();
        merge_patch::apply(&mut twice, &patch);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn a_patch_without_nulls_sets_every_member_it_names(target in object_without_nulls(), patch in object_without_nulls()) {
        let mut result = target.clone();
        merge_patch::apply(&mut result, &patch);
        for (name, value) in patch.as_object().unwrap() {
            prop_assert_eq!(&result[name], value);
        }
        for (name, value) in target.as_object().unwrap() {
            if patch.get(name).is_none() {
                prop_assert_eq!(&result[name], value);
            }
        }
    }

    #[test]
    fn a_null_member_removes_it(target in object_without_nulls(), name in "[a-z]{1,3}") {
        let mut result = target;
        merge_patch::apply(&mut result, &json!({ name.clone(): null }));
        prop_assert!(result.get(&name).is_none());
    }

    #[test]
    fn page_parameters_are_in_range_or_refused(page in ".{0,12}", limit in ".{0,12}") {
        if let Ok(p) = PageRequest::parse(Some(&page), Some(&limit)) {
            prop_assert!(p.page >= 1 && p.page <= PageRequest::MAX_PAGE);
            prop_assert!(p.limit >= 1 && p.limit <= PageRequest::MAX_LIMIT);
            prop_assert!(p.offset() >= 0);
        }
    }

    #[test]
    fn sort_keys_are_whitelisted(raw in "[-a-z_,]{0,40}") {
        if let Ok(sort) = Sort::parse(Some(&raw), &["id", "name"]) {
            prop_assert!(sort.0.iter().all(|k| k.field == "id" || k.field == "name"));
        }
    }

    #[test]
    fn room_names_are_url_safe_or_refused(raw in ".{0,80}") {
        if let Ok(name) = RoomName::parse("room", &raw) {
            let s = name.as_str();
            prop_assert!(!s.is_empty() && s.len() <= 64);
            prop_assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'));
        }
    }

    #[test]
    fn any_text_frame_parses_or_is_refused_with_a_documented_code(text in ".{0,200}") {
        if let Err(err) = ClientFrame::parse(&text) {
            prop_assert!(["BAD_FRAME", "UNKNOWN_TYPE", "BAD_USER_INPUT"].contains(&err.code));
        }
    }

    #[test]
    fn any_json_frame_parses_or_is_refused_with_a_documented_code(value in json_value(), kind in prop::sample::select(vec!["join", "leave", "message", "typing", "history", "other"])) {
        let mut frame = value;
        if let Value::Object(members) = &mut frame {
            members.insert("type".into(), json!(kind));
        }
        if let Err(err) = ClientFrame::parse(&frame.to_string()) {
            prop_assert!(["BAD_FRAME", "UNKNOWN_TYPE", "BAD_USER_INPUT"].contains(&err.code));
        }
    }

    #[test]
    fn valid_message_frames_always_parse(room in "[a-z0-9][a-z0-9_-]{0,20}", body in "[a-zA-Z0-9 .,!?<>&]{1,100}", id in "[a-z0-9-]{0,64}") {
        prop_assume!(!body.trim().is_empty());
        let frame = json!({"type": "message", "room": room, "body": body, "client_id": id});
        let parsed = ClientFrame::parse(&frame.to_string());
        prop_assert!(parsed.is_ok(), "{:?}", parsed);
    }
}
