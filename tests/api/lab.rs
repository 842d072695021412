//! The sync / blocking / async / cpu lab endpoints: each says which model ran where and
//! where the time went. Structure only: speeds are measured by `switchboard bench`.

use crate::helpers::{spawn_app, spawn_with, Backend};

#[actix_web::test]
async fn each_model_reports_where_it_ran_and_where_the_time_went() {
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    app.product(&admin, "LAB-1", 100, 1).await;
    for model in ["sync", "blocking", "async"] {
        let r = app.get(&format!("/api/v1/lab/{model}?ms=5")).send().await;
        assert_eq!(r.status, 200);
        let body = r.json();
        assert_eq!(body["model"], model);
        assert_eq!(body["product"]["id"], 1);
        let t = &body["timings_ms"];
        assert!(t["working"].as_f64().unwrap() >= 5.0, "{body}");
        assert!(t["total"].as_f64().unwrap() >= t["working"].as_f64().unwrap());
        let (worker, handler) = (
            body["thread"].as_str().unwrap(),
            body["handler_thread"].as_str().unwrap(),
        );
        match model {
            // The blocking work ran on the worker that ran the handler; so did async's
            // short SQLite read, after a wait that held no thread...
            "sync" | "async" => assert_eq!(worker, handler, "{body}"),
            // ...or was handed to another thread.
            _ => assert_ne!(worker, handler, "{body}"),
        }
    }
    // Without products, the read finds nothing and says so.
    let empty = spawn_app().await;
    assert!(empty.get("/api/v1/lab/async?ms=0").send().await.json()["product"].is_null());
}

#[actix_web::test]
async fn cpu_work_runs_where_asked_and_inputs_are_bounded() {
    let app = spawn_app().await;
    let on_worker = app
        .get("/api/v1/lab/cpu?n=1000&model=async")
        .send()
        .await
        .json();
    assert_eq!(on_worker["thread"], on_worker["handler_thread"]);
    let on_pool = app
        .get("/api/v1/lab/cpu?n=1000&model=blocking")
        .send()
        .await
        .json();
    assert_ne!(on_pool["thread"], on_pool["handler_thread"]);
    assert_eq!(
        on_worker["digest"], on_pool["digest"],
        "same work, same result"
    );
    for bad in [
        "/api/v1/lab/sync?ms=1001",
        "/api/v1/lab/blocking?ms=-1",
        "/api/v1/lab/async?ms=ten",
        "/api/v1/lab/cpu?n=0",
        "/api/v1/lab/cpu?n=99999999",
        "/api/v1/lab/cpu?model=threads",
    ] {
        app.get(bad).send().await.problem(400);
    }
}

#[actix_web::test]
async fn the_lab_page_gets_the_last_results_and_can_run_a_small_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().to_owned();
    let app = crate::helpers::spawn_with(crate::helpers::Backend::Sqlite, move |a| {
        a.lab_results = results;
    })
    .await
    .unwrap();
    // Before the first bench: 200 with an empty result set, not an error.
    let none = app.get("/api/v1/lab/results").send().await;
    assert_eq!(none.status, 200);
    assert_eq!(none.json()["runs"], serde_json::json!([]));
    assert!(none.json()["detail"]
        .as_str()
        .unwrap()
        .contains("switchboard bench"));
    std::fs::write(dir.path().join("latest.json"), br#"{"runs":[]}"#).unwrap();
    let r = app.get("/api/v1/lab/results").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["runs"], serde_json::json!([]));

    let r = app
        .post("/api/v1/lab/runs")
        .json(&serde_json::json!({"ms": 2, "concurrency": [1, 2], "seconds": 0.2}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let runs = r.json()["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 6);
    for run in &runs {
        assert_eq!(run["scenario"], "lab");
        assert!(run["summary"]["count"].as_u64().unwrap() > 0, "{run}");
        assert_eq!(run["summary"]["errors"], 0);
    }
    for bad in [
        serde_json::json!({"ms": 500}),
        serde_json::json!({"concurrency": [1, 2, 3, 4, 5]}),
        serde_json::json!({"concurrency": [100]}),
        serde_json::json!({"seconds": 60}),
    ] {
        app.post("/api/v1/lab/runs")
            .json(&bad)
            .send()
            .await
            .problem(400);
    }
}

#[actix_web::test]
async fn live_runs_are_not_throttled_by_the_default_api_budget_but_guessed_keys_are() {
    let app = spawn_with(Backend::Sqlite, |args| {
        args.limits.rate_limit = 50;
        args.limits.rate_limit_burst = 100;
    })
    .await
    .unwrap();
    let (_, admin) = app.admin().await;
    app.product(&admin, "LAB-1", 100, 1).await;
    let r = app
        .post("/api/v1/lab/runs")
        .json(&serde_json::json!({"ms": 0, "concurrency": [4], "seconds": 0.5}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    for run in r.json()["runs"].as_array().unwrap() {
        assert_eq!(run["summary"]["errors"], 0, "{run}");
    }
    let served: u64 = r.json()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["summary"]["count"].as_u64().unwrap())
        .sum();
    assert!(served > 150, "more than the budget would allow: {served}");
    // The page's own next request still fits the budget.
    assert_eq!(app.get("/api/v1/lab/async?ms=0").send().await.status, 200);
    // A client that guesses the header is limited like anyone else.
    let mut limited = false;
    for _ in 0..150 {
        let r = app
            .get("/api/v1/lab/async?ms=0")
            .header("x-switchboard-lab-run", "guess")
            .send()
            .await;
        limited |= r.status == 429;
    }
    assert!(limited);
}

/// A lab run as `GET /lab/results` and `POST /lab/runs` answer it.
fn lab_run(model: &str, concurrency: u32) -> serde_json::Value {
    let c = f64::from(concurrency);
    serde_json::json!({
        "scenario": "lab", "case": model, "concurrency": concurrency, "seconds": 0.3,
        "summary": {"count": 100, "errors": 0, "per_second": 90.0 * c, "p50_ms": 5.5,
                    "p90_ms": 6.0, "p99_ms": 7.5, "max_ms": 9.0},
        "extra": {"ms": 5, "ideal_per_second": 200.0 * c},
    })
}

#[actix_web::test]
async fn the_lab_chart_is_the_benchs_svg_drawn_at_the_width_the_page_asks_for() {
    let app = spawn_app().await;
    let runs: Vec<_> = ["sync", "blocking", "async"]
        .iter()
        .flat_map(|m| [1, 4].map(|c| lab_run(m, c)))
        .collect();
    let r = app
        .post("/api/v1/lab/chart")
        .json(&serde_json::json!({"metric": "rps", "width": 500, "runs": runs}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type").as_deref(), Some("image/svg+xml"));
    let svg = String::from_utf8(r.body).unwrap();
    assert!(svg
        .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lab-svg\" width=\"500\""));
    assert!(svg
        .contains("<title>Throughput vs. concurrency (5 ms of simulated I/O per request)</title>"));
    assert_eq!(svg.matches("<polyline class=\"series").count(), 3);
    assert_eq!(svg.matches("<g class=\"point ").count(), 6);
    assert!(svg.contains("data-testid=\"ideal-line\""));
    // Each point says its figures (and, on hover, every model's at its level).
    assert!(svg.contains(
        "aria-label=\"async · 4 connections, 360 req/s, p50 5.50 · p90 6.00 · p99 7.50 ms"
    ));
    assert!(svg.contains("<title>4 connections\nasync: 360 req/s · p50 5.50 · p99 7.50 ms\nsync: "));
    // No inline script or style: the page's CSP stays strict (chart.css styles it).
    assert!(!svg.contains("<script") && !svg.contains("<style") && !svg.contains("style="));

    let p99 = app
        .post("/api/v1/lab/chart")
        .json(&serde_json::json!({"metric": "p99", "runs": runs}))
        .send()
        .await;
    assert_eq!(p99.status, 200);
    let p99 = String::from_utf8(p99.body).unwrap();
    assert!(p99.contains("data-metric=\"p99\"") && p99.contains("width=\"640\""));
    assert!(!p99.contains("ideal-line"));

    for bad in [
        serde_json::json!({"width": 100, "runs": runs}),
        serde_json::json!({"width": 5000, "runs": runs}),
        serde_json::json!({"runs": []}),
        serde_json::json!({"metric": "p50", "runs": runs}),
        serde_json::json!({"runs": [lab_run("async", 0)]}),
        serde_json::json!({}),
    ] {
        app.post("/api/v1/lab/chart")
            .json(&bad)
            .send()
            .await
            .problem(400);
    }
    let doc = app.get("/api/v1/openapi.json").send().await.json();
    let op = &doc["paths"]["/api/v1/lab/chart"]["post"];
    assert!(
        op["responses"]["200"]["content"]["image/svg+xml"].is_object(),
        "{op}"
    );
}
