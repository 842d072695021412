//! `switchboard bench` at a tiny size: every scenario runs, the report has every number,
//! and the numbers are sane (no errors, nothing lost). Never a speed assertion.

use std::process::Command;

use serde_json::Value;

use crate::helpers::spawn_app;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn bench(args: &[&str], out: &std::path::Path) -> Value {
    let output = Command::new(BIN)
        .arg("bench")
        .args(args)
        .args(["--out", out.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .output()
        .expect("bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("per second") && stdout.contains("p99 ms"),
        "no table:\n{stdout}"
    );
    let svg = std::fs::read_to_string(out.join("latest.svg")).expect("an SVG chart");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    serde_json::from_str(&std::fs::read_to_string(out.join("latest.json")).unwrap()).unwrap()
}

fn runs<'a>(results: &'a Value, scenario: &str) -> Vec<&'a Value> {
    results["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["scenario"] == scenario)
        .collect()
}

#[test]
fn every_scenario_runs_against_a_server_the_bench_starts_and_reports_sane_numbers() {
    let out = tempfile::tempdir().unwrap();
    let results = bench(
        &[
            "--duration",
            "0.3",
            "--concurrency",
            "1,4",
            "--http-concurrency",
            "4",
            "--connections",
            "4",
            "--members",
            "20",
            "--rate",
            "20",
            "--fanout-duration",
            "1",
            "--hold",
            "40",
            "--chat-users",
            "3",
            "--workers",
            "2",
        ],
        out.path(),
    );
    assert!(results["machine"]["cpus"].as_u64().unwrap() >= 1);
    for scenario in ["lab", "rest", "graphql", "ws-echo", "ws-fanout", "ws-hold"] {
        let found = runs(&results, scenario);
        assert!(!found.is_empty(), "no {scenario} runs");
        for run in found {
            let s = &run["summary"];
            assert_eq!(s["errors"], 0, "{run}");
            assert!(s["count"].as_u64().unwrap() > 0, "{run}");
            assert!(s["per_second"].as_f64().unwrap() > 0.0, "{run}");
            let (p50, p99, max) = (
                s["p50_ms"].as_f64().unwrap(),
                s["p99_ms"].as_f64().unwrap(),
                s["max_ms"].as_f64().unwrap(),
            );
            assert!(p50 > 0.0 && p50 <= p99 && p99 <= max, "{run}");
        }
    }
    // Three models at two levels each.
    assert_eq!(runs(&results, "lab").len(), 6);
    let fanout = runs(&results, "ws-fanout")[0];
    assert_eq!(fanout["extra"]["messages_sent"], 20);
    assert_eq!(fanout["extra"]["expected_deliveries"], 400);
    assert_eq!(fanout["extra"]["lost"], 0);
    assert_eq!(fanout["extra"]["duplicated"], 0);
    assert_eq!(fanout["summary"]["count"], 400, "every delivery timed");
    let hold = runs(&results, "ws-hold")[0];
    assert_eq!(hold["extra"]["connected"], 40);
    assert_eq!(hold["extra"]["received_broadcast"], 40);
    assert_eq!(
        hold["summary"]["count"], 40,
        "every member's broadcast timed"
    );
    assert!(hold["extra"]["bytes_per_connection"].is_number());
    assert!(results["target"].as_str().unwrap().contains("SQLite"));
}

#[actix_web::test]
async fn the_lab_scenario_runs_against_a_given_url() {
    let app = spawn_app().await;
    let url = app.address.clone();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_owned();
    let results = actix_web::rt::task::spawn_blocking(move || {
        bench(
            &[
                "lab",
                "--url",
                &url,
                "--duration",
                "0.2",
                "--concurrency",
                "2",
                "--ms",
                "1",
            ],
            &dir,
        )
    })
    .await
    .unwrap();
    assert!(results["target"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let lab = runs(&results, "lab");
    assert_eq!(lab.len(), 3);
    for run in lab {
        assert_eq!(run["concurrency"], 2);
        assert_eq!(run["extra"]["ms"], 1);
        assert!(run["summary"]["count"].as_u64().unwrap() > 0);
    }
}

/// `ws-failover` at a tiny size: its own deployment (PostgreSQL, Redis, two instances), one
/// Redis restart, one killed instance, and the report says nothing was lost or duplicated.
#[test]
fn the_failover_scenario_counts_no_loss_and_no_duplicate_across_a_crash() {
    let Some(database_url) = postgres_and_redis_server() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let results = bench(
        &[
            "ws-failover",
            "--database-url",
            &database_url,
            "--failover-clients",
            "20",
            "--failover-rate",
            "40",
            "--failover-duration",
            "4",
            "--chat-users",
            "3",
        ],
        out.path(),
    );
    let run = runs(&results, "ws-failover")[0];
    assert_eq!(run["summary"]["errors"], 0, "{run}");
    assert_eq!(run["concurrency"], 22);
    for key in ["lost", "duplicated", "out_of_order"] {
        assert_eq!(run["extra"][key], 0, "{key}: {run}");
    }
    assert!(
        run["extra"]["messages_stored"].as_u64().unwrap() > 10,
        "{run}"
    );
    // Every client of the killed instance (ten readers and a sender) resumed on the other.
    assert_eq!(run["extra"]["resumed_clients"], 11, "{run}");
    assert!(run["extra"]["recover_p99_ms"].as_f64().unwrap() > 0.0);
}

/// The PostgreSQL server of `TEST_POSTGRES_URL`, when there is one and `redis-server` is
/// installed (the bench starts its own); otherwise `None` with the reason printed, or a
/// failure where `TEST_POSTGRES_REQUIRED` says it must run.
fn postgres_and_redis_server() -> Option<String> {
    let Ok(database_url) = std::env::var("TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("TEST_POSTGRES_REQUIRED").is_none(),
            "TEST_POSTGRES_URL is required"
        );
        eprintln!("note: skipped: TEST_POSTGRES_URL is not set");
        return None;
    };
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("TEST_REDIS_REQUIRED").is_none(),
            "redis-server is required"
        );
        eprintln!("note: skipped: redis-server is not installed");
        return None;
    }
    Some(database_url)
}

/// The bench's own servers on a scratch PostgreSQL database: two instances bridged through
/// Redis, ws-hold's members spread over both, and the broadcast sent on the first reaching
/// every member of the second too.
#[test]
fn the_bench_starts_two_instances_on_postgresql_and_the_hold_broadcast_crosses_them() {
    let Some(database_url) = postgres_and_redis_server() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let results = bench(
        &[
            "rest",
            "ws-hold",
            "--database-url",
            &database_url,
            "--instances",
            "2",
            "--duration",
            "0.3",
            "--http-concurrency",
            "4",
            "--hold",
            "40",
            "--chat-users",
            "3",
            "--workers",
            "1",
        ],
        out.path(),
    );
    let target = results["target"].as_str().unwrap();
    assert!(
        target.contains("PostgreSQL") && target.contains("Redis"),
        "{target}"
    );
    let rest = runs(&results, "rest");
    assert!(!rest.is_empty());
    for run in rest {
        assert_eq!(run["summary"]["errors"], 0, "{run}");
        assert!(run["summary"]["count"].as_u64().unwrap() > 0, "{run}");
    }
    let hold = runs(&results, "ws-hold")[0];
    assert_eq!(hold["extra"]["connected"], 40, "{hold}");
    assert_eq!(hold["extra"]["received_broadcast"], 40, "{hold}");
    assert_eq!(hold["summary"]["count"], 40, "{hold}");
    let instances = hold["extra"]["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2);
    for instance in instances {
        assert_eq!(instance["connections"], 20, "{hold}");
        assert!(instance["rss_after_bytes"].as_u64().unwrap() > 0, "{hold}");
    }
}
