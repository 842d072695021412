//! The layers point one way: transport (rest, graphql, ws, lab) → http → realtime →
//! services → db → domain → error. Each top-level module of `src/` may use only the modules
//! listed for it below; a `crate::` path to any other fails this test, naming the file and
//! line. Entry points (main, lib, startup, bench) may use everything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Module, and the modules it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("domain", &["error"]),
    ("db", &["error", "domain"]),
    ("services", &["error", "domain", "db"]),
    // Pool gauges come from the database layer.
    ("metrics", &["error", "db"]),
    (
        "realtime",
        &["error", "domain", "db", "services", "metrics"],
    ),
    // Settings turn into the settings types of the layers they configure.
    ("config", &["error", "domain", "services", "realtime"]),
    ("telemetry", &["config"]),
    ("tls", &["config"]),
    (
        "http",
        &["error", "domain", "db", "services", "metrics", "config"],
    ),
    (
        "ws",
        &[
            "error", "domain", "db", "services", "metrics", "config", "realtime", "http",
        ],
    ),
    // Subscriptions use the socket plumbing every WebSocket shares (ws::conn, ws::lease).
    (
        "graphql",
        &[
            "error", "domain", "db", "services", "metrics", "config", "realtime", "http", "ws",
        ],
    ),
    // The OpenAPI document lists the lab's operations too.
    (
        "rest",
        &[
            "error", "domain", "db", "services", "metrics", "config", "realtime", "http", "lab",
        ],
    ),
    // Live runs drive the bench's load generator.
    (
        "lab",
        &[
            "error", "domain", "db", "services", "metrics", "config", "http", "bench",
        ],
    ),
];

const ENTRY_POINTS: &[&str] = &["main", "lib", "startup", "bench", "proptests"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    // A layer that is one file (src/error.rs).
    let file = dir.with_extension("rs");
    if !dir.exists() && file.is_file() {
        out.push(file);
        return;
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line names through `crate::`, outside comments.
fn crate_paths(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or_default();
    code.match_indices("crate::")
        .map(|(at, _)| {
            let rest = &code[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn no_module_uses_a_layer_above_it() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let known: BTreeSet<&str> = ALLOWED
        .iter()
        .map(|(m, _)| *m)
        .chain(ENTRY_POINTS.iter().copied())
        .collect();
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        assert!(
            known.contains(top.as_str()),
            "src/{top} is in no layer: add it to ALLOWED in tests/api/layers.rs"
        );
        if ENTRY_POINTS.contains(&top.as_str()) {
            continue;
        }
        let allowed = ALLOWED.iter().find(|(m, _)| *m == top).unwrap().1;
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for used in crate_paths(line) {
                if used != top && !allowed.contains(&used) {
                    wrong.push(format!(
                        "src/{}:{}: {top} uses crate::{used}",
                        relative.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scanner_sees_paths_in_code_and_not_in_comments() {
    assert_eq!(
        crate_paths("use crate::services::auth; // see crate::http"),
        vec!["services"]
    );
    assert!(crate_paths("/// `crate::realtime` holds the core").is_empty());
}

/// The lines of the files under `src/<layer>` whose code (not comments) names `word`.
fn code_naming(layer: &str, word: &str) -> Vec<String> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join(layer), &mut files);
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains(word) {
                found.push(format!(
                    "src/{}:{}: {}",
                    file.strip_prefix(&src).unwrap().display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

/// The OpenAPI document belongs to the REST transport (`rest::openapi`, which also
/// describes the domain's and the services' values: `rest::openapi_schemas`, and the
/// shared error body: `http::problems`); the layers below the transports know nothing of it.
#[test]
fn utoipa_is_used_by_no_layer_below_the_transports() {
    let found: Vec<String> = ["services", "domain", "db", "error"]
        .iter()
        .flat_map(|layer| code_naming(layer, "utoipa"))
        .collect();
    assert!(
        found.is_empty(),
        "utoipa below the transports (describe the value in src/rest instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_utoipa_scan_reads_code_and_skips_comments() {
    // src/rest names utoipa in code and in its module docs; only the code counts.
    let found = code_naming("rest", "utoipa");
    assert!(found.iter().any(|l| l.starts_with("src/rest/openapi.rs:")));
    assert!(found.iter().all(|l| !l.contains(": //")), "{found:?}");
}

/// The service modules `file` names: `super::x`, `super::{x, y}` and `crate::services::x`.
fn sibling_services(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for prefix in ["super::", "crate::services::"] {
            for (at, _) in code.match_indices(prefix) {
                let rest = &code[at + prefix.len()..];
                let names = match rest.strip_prefix('{') {
                    Some(list) => list.split('}').next().unwrap_or_default().to_owned(),
                    None => rest.to_owned(),
                };
                for name in names.split(',') {
                    let name: String = name
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != "self" && name != "super" {
                        found.insert(name);
                    }
                }
            }
        }
    }
    found
}

/// Within the services, no two modules use each other (users ↔ posts, events ↔ chat were
/// such pairs): each pair of them has one direction.
#[test]
fn no_two_service_modules_use_each_other() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/services");
    let mut uses = Vec::new();
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        // Unit tests (`use super::*`) live inside their module.
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        uses.push((name, sibling_services(code)));
    }
    let names: BTreeSet<String> = uses.iter().map(|(n, _)| n.clone()).collect();
    let mut cycles = Vec::new();
    for (a, used) in &uses {
        for b in used.iter().filter(|b| names.contains(*b) && *b != a) {
            let back = uses
                .iter()
                .find(|(n, _)| n == b)
                .is_some_and(|(_, u)| u.contains(a));
            if back && a < b {
                cycles.push(format!("services::{a} <-> services::{b}"));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "service modules using each other:\n{}",
        cycles.join("\n")
    );
}
