//! The sync / blocking / async / cpu lab endpoints: each says which model ran where and
//! where the time went. Structure only: speeds are measured by `switchboard bench`.

use crate::helpers::spawn_app;

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
            // The blocking work ran on the worker that ran the handler...
            "sync" => assert_eq!(worker, handler),
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
