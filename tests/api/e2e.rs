//! Checks run by real outside clients, from tests/e2e: the pages in headless Chromium
//! (`@playwright/test` specs: chat, GraphiQL, lab, token renewal), the GraphQL-over-HTTP
//! conformance audits of `graphql-http`, the reference graphql-ws client, and Python's
//! checkers. They need Node.js and `npm ci` in tests/e2e (and Chromium for the browser);
//! without them a test is skipped with a note, unless `TEST_E2E_REQUIRED` is set (as
//! `.ci/run` does), when a missing tool is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{spawn_app, PASSWORD};

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

fn chromium() -> PathBuf {
    PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
}

/// `None` when everything `needs` is there; otherwise skips or fails, as configured.
fn missing(package: &str, browser: Option<&Path>) -> Option<String> {
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".to_owned());
    }
    if !e2e_dir().join("node_modules").join(package).is_dir() {
        missing.push(format!(
            "tests/e2e/node_modules/{package} (run `npm ci` in tests/e2e)"
        ));
    }
    if let Some(browser) = browser.filter(|b| !b.exists()) {
        missing.push(format!("Chromium at {}", browser.display()));
    }
    if missing.is_empty() {
        return None;
    }
    let why = format!("needs {}", missing.join(", "));
    assert!(std::env::var_os("TEST_E2E_REQUIRED").is_none(), "{why}");
    eprintln!("note: skipped: {why}");
    Some(why)
}

/// `true` (after a note) when `probe` does not run successfully: the tool it stands for is
/// not installed. With `TEST_E2E_REQUIRED` that is a failure instead.
fn lacks(probe: &mut Command, install: &str) -> bool {
    if probe.output().is_ok_and(|o| o.status.success()) {
        return false;
    }
    let why = format!("needs {install}");
    assert!(std::env::var_os("TEST_E2E_REQUIRED").is_none(), "{why}");
    eprintln!("note: skipped: {why}");
    true
}

/// A probe for a Python module.
fn python_module(module: &str) -> Command {
    let mut probe = Command::new("python3");
    probe.args(["-c", &format!("import {module}")]);
    probe
}

/// Runs `command` off the async workers (the server keeps serving) and collects its output.
async fn run(mut command: Command) -> std::process::Output {
    let program = format!("{:?}", command.get_program());
    actix_web::rt::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

fn log_of(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `node tests/e2e/<script>` off the async workers (the server keeps serving).
async fn node(script: &str, env: Vec<(&'static str, String)>) {
    let mut command = Command::new("node");
    command.arg(e2e_dir().join(script)).envs(env);
    let output = run(command).await;
    assert!(
        output.status.success(),
        "{script} failed:\n{}",
        log_of(&output)
    );
}

/// The browser test package; its `playwright` runs the specs.
const PLAYWRIGHT: &str = "@playwright/test";

/// Runs one browser spec (`tests/e2e/<spec>`, playwright.config.mjs) against the server at
/// `base_url`, with `env` for what the spec needs besides. Traces and screenshots of failed
/// tests go to target/tmp/playwright/<spec>, which the failure message names.
async fn playwright(spec: &str, base_url: &str, env: Vec<(&'static str, String)>) {
    let output_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("playwright")
        .join(spec.trim_end_matches(".spec.mjs"));
    let mut command = Command::new(e2e_dir().join("node_modules/.bin/playwright"));
    command
        .current_dir(e2e_dir())
        .args(["test", spec, "--config", "playwright.config.mjs"])
        .env("BASE_URL", base_url)
        .env("CHROMIUM", chromium())
        .env("E2E_OUTPUT_DIR", &output_dir)
        .env("FORCE_COLOR", "0")
        .envs(env);
    let output = run(command).await;
    assert!(
        output.status.success(),
        "{spec} failed (traces and screenshots in {}):\n{}",
        output_dir.display(),
        log_of(&output)
    );
}

/// Two people chat through /chat (desktop and phone), with private rooms, moderation, a
/// reconnect and a session ended elsewhere, while an admin watches /dashboard.
#[actix_web::test]
async fn two_people_chat_through_the_chat_page_in_chromium() {
    if missing(PLAYWRIGHT, Some(&chromium())).is_some() {
        return;
    }
    let app = spawn_app().await;
    let (_, admin_token) = app.admin().await;
    let admin_email = app
        .get("/api/v1/users/me")
        .bearer(&admin_token)
        .send()
        .await
        .json()["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let env = vec![
        ("ADMIN_EMAIL", admin_email),
        ("ADMIN_PASSWORD", PASSWORD.to_owned()),
    ];
    playwright("chat.spec.mjs", &app.address, env).await;
}

/// The GraphQL explorer: docs from introspection, queries, errors, sign-in, a subscription.
#[actix_web::test]
async fn the_graphiql_page_explores_queries_and_subscriptions_in_chromium() {
    if missing(PLAYWRIGHT, Some(&chromium())).is_some() {
        return;
    }
    let app = spawn_app().await;
    playwright("graphiql.spec.mjs", &app.address, Vec::new()).await;
}

/// The lab page: single requests per model and a live comparison drawn as a chart, on a
/// server with the default API budget (live runs must not be throttled by it).
#[actix_web::test]
async fn the_lab_page_compares_the_models_live_in_chromium() {
    if missing(PLAYWRIGHT, Some(&chromium())).is_some() {
        return;
    }
    let app = crate::helpers::spawn_with(crate::helpers::Backend::Sqlite, |args| {
        args.limits.rate_limit = 50;
        args.limits.rate_limit_burst = 100;
    })
    .await
    .unwrap();
    let (_, admin) = app.admin().await;
    app.product(&admin, "LAB-1", 100, 1).await;
    playwright("lab.spec.mjs", &app.address, Vec::new()).await;
}

#[actix_web::test]
async fn graphql_passes_every_must_of_the_graphql_over_http_audits() {
    if missing("graphql-http", None).is_some() {
        return;
    }
    let app = spawn_app().await;
    node(
        "graphql-audit.mjs",
        vec![("GRAPHQL_URL", format!("{}/graphql", app.address))],
    )
    .await;
}

/// Schemathesis fuzzes every operation of the OpenAPI document (examples, boundary values,
/// random and stateful sequences) as an admin, with every check: no server error, answers
/// as documented, schema-valid requests accepted and invalid ones refused. The few answers
/// that depend on state (a stale If-Match, an unknown product) are declared per operation
/// in tests/e2e/schemathesis.toml.
#[actix_web::test]
async fn schemathesis_finds_no_server_error_and_no_response_outside_the_schema() {
    if lacks(
        Command::new("st").arg("--version"),
        "schemathesis (`pip install schemathesis`)",
    ) {
        return;
    }
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    let schema = format!("{}/api/v1/openapi.json", app.address);
    let output = actix_web::rt::task::spawn_blocking(move || {
        Command::new("st")
            .arg("--config-file")
            .arg(e2e_dir().join("schemathesis.toml"))
            .args(["--no-color", "run", &schema, "--checks", "all"])
            .args(["--max-examples", "30", "--seed", "1"])
            // A live lab run is seconds of load by design; its bounds are tested in lab.rs.
            .args(["--exclude-path", "/api/v1/lab/runs"])
            // The lab's CPU work goes up to 2,000,000 SHA-256 rounds by design: seconds in
            // this unoptimised build, more on a busy machine, and over schemathesis's
            // default 10 s there (an answer that comes late is not a wrong answer; the
            // response-time check gets the same 60 s for it in schemathesis.toml).
            .args(["--request-timeout", "60"])
            .args(["-H", &format!("Authorization: Bearer {admin}")])
            .output()
    })
    .await
    .unwrap()
    .expect("schemathesis runs");
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{log}"
    );
}

/// The served OpenAPI document is valid OpenAPI 3.1, as `openapi-spec-validator` (PyPI)
/// judges it: every response described, operation ids unique, schemas well formed.
#[actix_web::test]
async fn the_openapi_document_passes_openapi_spec_validator() {
    const CHECK: &str = "import json, sys\n\
from openapi_spec_validator import validate\n\
validate(json.load(sys.stdin))\n\
print('valid')";
    if lacks(
        &mut python_module("openapi_spec_validator"),
        "openapi-spec-validator (`pip install openapi-spec-validator`)",
    ) {
        return;
    }
    let app = spawn_app().await;
    let document = app.get("/api/v1/openapi.json").send().await.body;
    let output = actix_web::rt::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new("python3")
            .args(["-c", CHECK])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(&document)?;
        child.wait_with_output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The pages renew their sockets' tokens in-band (tokens live 8 s here), recover from a
/// 4001 and sign out on a 4003 (tests/e2e/session.spec.mjs).
#[actix_web::test]
async fn the_pages_renew_their_sockets_tokens_in_chromium() {
    if missing(PLAYWRIGHT, Some(&chromium())).is_some() {
        return;
    }
    let app = crate::helpers::spawn_with(crate::helpers::Backend::Sqlite, |args| {
        args.access_token_ttl = 8
    })
    .await
    .unwrap();
    let env = vec![("ACCESS_TOKEN_TTL", "8".to_owned())];
    playwright("session.spec.mjs", &app.address, env).await;
}

/// Autobahn|Testsuite's cases (kosoku, PyPI, which ships Autobahn's own case files) against
/// the exact echo: framing, pings, fragmentation, UTF-8 (6.x) and closing (7.x). Every case
/// must be OK, NON-STRICT or INFORMATIONAL; permessage-deflate (12.x, 13.x) is not offered,
/// so those are UNIMPLEMENTED. The performance cases (9.x) are the bench's business.
#[actix_web::test]
async fn autobahn_testsuite_finds_no_failure_in_the_raw_echo() {
    if lacks(
        &mut python_module("kosoku"),
        "kosoku (`pip install kosoku`)",
    ) {
        return;
    }
    let app = spawn_app().await;
    let url = format!("{}/ws/echo/raw", app.address.replacen("http", "ws", 1));
    let reports = tempfile::tempdir().unwrap();
    let mut command = Command::new("kosoku");
    command
        .arg(&url)
        .args(["--exclude", "9.*", "--parallelism", "4", "--outdir"])
        .arg(reports.path());
    let output = run(command).await;
    let index = std::fs::read(reports.path().join("index.json"))
        .unwrap_or_else(|e| panic!("kosoku wrote no report ({e}):\n{}", log_of(&output)));
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    let cases = index
        .as_object()
        .and_then(|agents| agents.values().next())
        .and_then(|cases| cases.as_object())
        .expect("one agent's cases");
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    let mut failed = Vec::new();
    for (id, case) in cases {
        let behavior = case["behavior"].as_str().unwrap_or("?");
        let close = case["behaviorClose"].as_str().unwrap_or("?");
        *tally.entry(behavior.to_owned()).or_default() += 1;
        let compression = id.starts_with("12.") || id.starts_with("13.");
        let acceptable = |verdict: &str| {
            matches!(verdict, "OK" | "NON-STRICT" | "INFORMATIONAL")
                || (compression && verdict == "UNIMPLEMENTED")
        };
        if !acceptable(behavior) || !acceptable(close) {
            failed.push(format!(
                "{id}: {behavior} / {close} ({})",
                case["remoteCloseCode"]
            ));
        }
    }
    eprintln!("autobahn verdicts: {tally:?}");
    assert!(cases.len() > 250, "only {} cases ran", cases.len());
    assert!(
        failed.is_empty(),
        "autobahn cases failed:\n{}",
        failed.join("\n")
    );
}

/// The graphql-transport-ws close codes and a live subscription, as the reference client
/// (`graphql-ws` on npm) sees them (tests/e2e/graphql-ws.mjs).
#[actix_web::test]
async fn the_graphql_ws_client_sees_every_close_code_of_the_protocol() {
    if missing("graphql-ws", None).is_some() {
        return;
    }
    let app = crate::helpers::spawn_with(crate::helpers::Backend::Sqlite, |args| {
        args.graphql.graphql_init_timeout_ms = 300;
    })
    .await
    .unwrap();
    let (_, token) = app.admin().await;
    let r = app
        .post("/api/v1/rooms")
        .bearer(&token)
        .json(&serde_json::json!({"name": "graphql-ws"}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    node(
        "graphql-ws.mjs",
        vec![
            ("GRAPHQL_URL", format!("{}/graphql", app.address)),
            ("TOKEN", token),
            ("ROOM", "graphql-ws".to_owned()),
        ],
    )
    .await;
}

/// RFC 6749's token endpoint and RFC 7009's revocation through an OAuth client library
/// (Authlib's OAuth2Session): success, refresh, revoke, and every error parsed as
/// `error` / `error_description` from `application/json` (tests/e2e/oauth_client.py).
#[actix_web::test]
async fn an_oauth_client_library_signs_in_refreshes_and_reads_every_error() {
    if lacks(
        &mut python_module("authlib, requests"),
        "Authlib and requests (`pip install authlib requests`)",
    ) {
        return;
    }
    let app = spawn_app().await;
    let email = "oauth-client@example.com";
    app.user(email).await;
    let mut command = Command::new("python3");
    command
        .arg(e2e_dir().join("oauth_client.py"))
        .env("BASE_URL", &app.address)
        .env("EMAIL", email)
        .env("PASSWORD", PASSWORD);
    let output = run(command).await;
    assert!(
        output.status.success(),
        "the OAuth client checks failed:\n{}",
        log_of(&output)
    );
}

/// `promtool check metrics` (Prometheus' own linter, from Debian's `prometheus` package) reads
/// `/metrics` after traffic of every kind the registry counts: no lint finding at all.
#[actix_web::test]
async fn promtool_finds_nothing_to_lint_in_the_metrics() {
    let mut probe = Command::new("promtool");
    probe.arg("--version");
    if lacks(&mut probe, "promtool (apt install prometheus)") {
        return;
    }
    let app = spawn_app().await;
    let (_, token) = app.user("promtool@example.com").await;
    let mut ws = app.chat(&token).await;
    ws.join("linted").await;
    ws.say("linted", "one", "l").await;
    ws.expect("message").await;
    app.get("/api/v1/nothing-here").send().await;
    let r = app.get("/metrics").send().await;
    assert_eq!(r.status, 200);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &r.body).unwrap();
    let mut check = Command::new("promtool");
    check
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file.path()).unwrap());
    let output = run(check).await;
    assert!(
        output.status.success() && log_of(&output).trim().is_empty(),
        "promtool check metrics:\n{}\non\n{}",
        log_of(&output),
        String::from_utf8_lossy(&r.body)
    );
}
