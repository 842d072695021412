//! HTTP semantics shared by every resource: caching, conditional writes, methods, media
//! types, size limits, request ids, pagination links.

use awc::http::Method;
use serde_json::json;

use crate::api_test;
#[allow(unused_imports)]
use crate::helpers::*;

api_test!(etags_give_304_and_if_match_guards_writes_with_412, |app| {
    let (_, admin) = app.admin().await;
    let id = app.product(&admin, "A", 100, 5).await;
    let path = format!("/api/v1/products/{id}");
    let first = app.get(&path).send().await;
    let etag = first.header("etag").unwrap();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"));
    assert_eq!(
        first.header("cache-control").as_deref(),
        Some("public, max-age=60")
    );

    let cached = app
        .get(&path)
        .header("if-none-match", &format!("\"other\", {etag}"))
        .send()
        .await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag").unwrap(), etag);

    let stale = app
        .patch(&path)
        .bearer(&admin)
        .header("if-match", "\"stale\"")
        .merge_patch(&json!({"stock": 1}))
        .send()
        .await;
    stale.problem(412);
    let weak = app
        .delete(&path)
        .bearer(&admin)
        .header("if-match", &format!("W/{etag}"))
        .send()
        .await;
    weak.problem(412);
    assert_eq!(app.get(&path).send().await.json()["stock"], 5);

    let ok = app
        .patch(&path)
        .bearer(&admin)
        .header("if-match", &etag)
        .merge_patch(&json!({"stock": 1}))
        .send()
        .await;
    assert_eq!(ok.status, 200);
    let new_etag = ok.header("etag").unwrap();
    assert_ne!(new_etag, etag);
    assert_eq!(
        app.get(&path)
            .header("if-none-match", &etag)
            .send()
            .await
            .status,
        200
    );
    app.put(&path)
        .bearer(&admin)
        .header("if-match", &etag)
        .json(&json!({"sku": "A", "name": "n", "price_cents": 1, "stock": 1}))
        .send()
        .await
        .problem(412);
    assert_eq!(
        app.delete(&path)
            .bearer(&admin)
            .header("if-match", "*")
            .send()
            .await
            .status,
        204
    );
});

api_test!(private_resources_are_not_shared_cacheable, |app| {
    let (id, token) = app.user("ada@example.com").await;
    for path in [format!("/api/v1/users/{id}"), "/api/v1/users/me".to_owned()] {
        let r = app.get(&path).bearer(&token).send().await;
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("private, no-cache"),
            "{path}"
        );
        assert!(r.header("etag").is_some());
    }
});

#[actix_web::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let get = app.get("/api/v1/products").send().await;
    let head = app.request(Method::HEAD, "/api/v1/products").send().await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), get.header("etag"));
    assert_eq!(head.header("x-total-count"), get.header("x-total-count"));
    assert_eq!(
        app.request(Method::HEAD, "/healthz").send().await.status,
        200
    );
}

#[actix_web::test]
async fn unknown_routes_ids_and_methods_get_404_and_405_with_allow() {
    let app = spawn_app().await;
    app.get("/api/v1/nope").send().await.problem(404);
    app.get("/nope").send().await.problem(404);
    app.get("/api/v1/products/abc").send().await.problem(404);
    app.get("/api/v1/products/99999999999")
        .send()
        .await
        .problem(404);
    // Each resource is a scope of its own: a path its scope does not know is the API's 404,
    // not the scope's bare one, and the scope never hands it on to another resource.
    for path in [
        "/api/v1/products/",
        "/api/v1/products/1/x",
        "/api/v1/users/me/x",
        "/api/v1/productsx",
        "/api/v1/auth/nope",
    ] {
        app.get(path).send().await.problem(404);
    }
    let r = app.get("/api/v1/auth/token").send().await;
    r.problem(405);
    assert_eq!(r.header("allow").as_deref(), Some("POST, OPTIONS"));
    let r = app.put("/api/v1/products").json(&json!({})).send().await;
    r.problem(405);
    assert_eq!(
        r.header("allow").as_deref(),
        Some("GET, HEAD, POST, OPTIONS")
    );
    let r = app.post("/api/v1/products/1").send().await;
    r.problem(405);
    assert_eq!(
        r.header("allow").as_deref(),
        Some("GET, HEAD, PUT, PATCH, DELETE, OPTIONS")
    );
    let options = app
        .request(Method::OPTIONS, "/api/v1/orders/1")
        .send()
        .await;
    assert_eq!(options.status, 204);
    assert_eq!(
        options.header("allow").as_deref(),
        Some("GET, HEAD, PATCH, DELETE, OPTIONS")
    );
}

#[actix_web::test]
async fn wrong_media_types_are_415_and_oversized_bodies_413_and_nothing_is_created() {
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    let body = json!({"sku": "A", "name": "n", "price_cents": 1, "stock": 1});
    let bytes = serde_json::to_vec(&body).unwrap();
    app.post("/api/v1/products")
        .bearer(&admin)
        .body_with("text/plain", bytes.clone())
        .send()
        .await
        .problem(415);
    app.post("/api/v1/products")
        .bearer(&admin)
        .raw_body(bytes.clone())
        .send()
        .await
        .problem(415);
    let id = app.product(&admin, "B", 1, 1).await;
    app.patch(&format!("/api/v1/products/{id}"))
        .bearer(&admin)
        .body_with("application/json-patch+json", b"[]".to_vec())
        .send()
        .await
        .problem(415);
    let huge = json!({"sku": "C", "name": "n", "description": "x".repeat(300 * 1024), "price_cents": 1, "stock": 1});
    app.post("/api/v1/products")
        .bearer(&admin)
        .json(&huge)
        .send()
        .await
        .problem(413);
    for bad in [
        &b"{\"sku\":"[..],
        b"{\"sku\":\"D\",\"name\":\"n\",\"price_cents\":1,\"stock\":1} trailing",
    ] {
        app.post("/api/v1/products")
            .bearer(&admin)
            .body_with("application/json", bad.to_vec())
            .send()
            .await
            .problem(400);
    }
    let wrong_type = app
        .post("/api/v1/products")
        .bearer(&admin)
        .json(&json!({"sku": "E", "name": "n", "price_cents": "ten", "stock": 1}))
        .send()
        .await;
    assert_eq!(wrong_type.problem(400)["errors"][0]["field"], "price_cents");
    assert_eq!(app.get("/api/v1/products").send().await.json()["total"], 1);
}

#[actix_web::test]
async fn request_ids_are_generated_echoed_or_replaced_when_unsafe() {
    let app = spawn_app().await;
    let generated = app
        .get("/healthz")
        .send()
        .await
        .header("x-request-id")
        .unwrap();
    assert!(generated.len() >= 32);
    let echoed = app
        .get("/healthz")
        .header("x-request-id", "abc-123")
        .send()
        .await;
    assert_eq!(echoed.header("x-request-id").as_deref(), Some("abc-123"));
    let long = "a".repeat(300);
    let replaced = app
        .get("/healthz")
        .header("x-request-id", &long)
        .send()
        .await;
    assert_ne!(replaced.header("x-request-id").unwrap(), long);
    let problem = app.get("/nope").send().await;
    assert!(problem.header("x-request-id").is_some());
}

api_test!(
    lists_paginate_with_link_headers_sorting_and_filters,
    |app| {
        let (_, admin) = app.admin().await;
        for (sku, price, stock) in [
            ("A", 500, 1),
            ("B", 100, 0),
            ("C", 300, 2),
            ("D", 200, 3),
            ("E", 400, 0),
        ] {
            app.product(&admin, sku, price, stock).await;
        }
        let r = app
            .get("/api/v1/products?limit=2&page=2&sort=-price_cents")
            .send()
            .await;
        let body = r.json();
        assert_eq!(
            (
                body["page"].as_i64(),
                body["limit"].as_i64(),
                body["total"].as_i64()
            ),
            (Some(2), Some(2), Some(5))
        );
        let prices: Vec<i64> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["price_cents"].as_i64().unwrap())
            .collect();
        assert_eq!(prices, [300, 200]);
        assert_eq!(r.header("x-total-count").as_deref(), Some("5"));
        let link = r.header("link").unwrap();
        for rel in ["first", "prev", "next", "last"] {
            assert!(link.contains(&format!("rel=\"{rel}\"")), "{link}");
        }
        assert!(
            link.contains("sort=-price_cents&page=3&limit=2>; rel=\"last\""),
            "{link}"
        );

        let asc = app
            .get("/api/v1/products?sort=price_cents&limit=5")
            .send()
            .await
            .json();
        let prices: Vec<i64> = asc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["price_cents"].as_i64().unwrap())
            .collect();
        assert_eq!(prices, [100, 200, 300, 400, 500]);
        let filtered = app
            .get("/api/v1/products?min_price=200&max_price=400&in_stock=true")
            .send()
            .await
            .json();
        assert_eq!(filtered["total"], 2);
        assert_eq!(
            app.get("/api/v1/products?q=PRODUCT%20c")
                .send()
                .await
                .json()["total"],
            1
        );
        assert_eq!(
            app.get("/api/v1/products?q=%25").send().await.json()["total"],
            0
        );
        // An empty price range is an empty list, not an error.
        assert_eq!(
            app.get("/api/v1/products?min_price=5&max_price=1")
                .send()
                .await
                .json()["total"],
            0
        );
        for bad in [
            "page=0",
            "limit=101",
            "limit=abc",
            "sort=password_hash",
            "min_price=-5",
            "in_stock=maybe",
        ] {
            app.get(&format!("/api/v1/products?{bad}"))
                .send()
                .await
                .problem(400);
        }
        let both = app
            .get("/api/v1/products?page=0&limit=0")
            .send()
            .await
            .problem(400);
        assert_eq!(both["errors"].as_array().unwrap().len(), 2);
    }
);

#[actix_web::test]
async fn health_readiness_openapi_and_docs_are_served() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").send().await.json()["status"], "ok");
    assert_eq!(app.get("/readyz").send().await.json()["database"], "sqlite");
    let doc = app.get("/api/v1/openapi.json").send().await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/products/{id}",
        "/api/v1/auth/token",
        "/api/v1/orders",
        "/api/v1/users/me",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let docs = app.get("/docs/").send().await;
    assert_eq!(docs.status, 200);
    assert!(String::from_utf8_lossy(&docs.body).contains("swagger"));
    let redirect = app.get("/docs").send().await;
    assert!(
        redirect.status == 307
            || redirect.status == 308
            || redirect.status == 301
            || redirect.status == 302
    );
    assert_eq!(redirect.header("location").as_deref(), Some("/docs/"));
    let index = app.get("/").send().await;
    assert!(String::from_utf8_lossy(&index.body).contains("/docs/"));
}
