//! Orders: the stock transaction, visibility, and the status life cycle.

use serde_json::json;

use crate::api_test;
#[allow(unused_imports)]
use crate::helpers::*;

async fn stock(app: &TestApp, id: i64) -> i64 {
    app.get(&format!("/api/v1/products/{id}"))
        .send()
        .await
        .json()["stock"]
        .as_i64()
        .unwrap()
}

api_test!(placing_an_order_takes_stock_and_prices_the_lines, |app| {
    let (_, admin) = app.admin().await;
    let (uid, token) = app.user("ada@example.com").await;
    let a = app.product(&admin, "A", 250, 10).await;
    let b = app.product(&admin, "B", 1000, 1).await;
    let r = app
        .post("/api/v1/orders")
        .bearer(&token)
        .json(
            &json!({"items": [{"product_id": a, "quantity": 3}, {"product_id": b, "quantity": 1}]}),
        )
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let order = r.json();
    assert_eq!(
        r.header("location").unwrap(),
        format!("/api/v1/orders/{}", order["id"])
    );
    assert_eq!(order["status"], "pending");
    assert_eq!(order["user_id"], uid);
    assert_eq!(order["total_cents"], 3 * 250 + 1000);
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    assert_eq!(stock(&app, a).await, 7);
    assert_eq!(stock(&app, b).await, 0);
});

api_test!(
    creating_an_order_with_too_little_stock_returns_409_and_changes_nothing,
    |app| {
        let (_, admin) = app.admin().await;
        let (_, token) = app.user("ada@example.com").await;
        let a = app.product(&admin, "A", 250, 10).await;
        let b = app.product(&admin, "B", 1000, 1).await;
        let r = app
        .post("/api/v1/orders")
        .bearer(&token)
        .json(&json!({"items": [{"product_id": a, "quantity": 3}, {"product_id": b, "quantity": 2}]}))
        .send()
        .await;
        r.problem(409);
        // The first line's stock was taken inside the transaction and must be back.
        assert_eq!(stock(&app, a).await, 10);
        assert_eq!(stock(&app, b).await, 1);
        assert_eq!(
            app.get("/api/v1/orders").bearer(&token).send().await.json()["total"],
            0
        );
    }
);

api_test!(
    invalid_order_bodies_are_400_with_the_offending_line,
    |app| {
        let (_, admin) = app.admin().await;
        let (_, token) = app.user("ada@example.com").await;
        let a = app.product(&admin, "A", 250, 10).await;
        let cases = [
            (json!({"items": []}), "items"),
            (
                json!({"items": [{"product_id": a, "quantity": 0}]}),
                "items[0].quantity",
            ),
            (
                json!({"items": [{"product_id": a, "quantity": 1}, {"product_id": a, "quantity": 1}]}),
                "items[1].product_id",
            ),
            (
                json!({"items": [{"product_id": 999_999, "quantity": 1}]}),
                "items[0].product_id",
            ),
            (
                json!({"items": [{"product_id": a, "quantity": "1"}]}),
                "items[0].quantity",
            ),
            (
                json!({"items": [{"product_id": a, "quantity": 1, "discount": 50}]}),
                "items[0].discount",
            ),
        ];
        for (body, field) in cases {
            let r = app
                .post("/api/v1/orders")
                .bearer(&token)
                .json(&body)
                .send()
                .await;
            let problem = r.problem(400);
            let fields: Vec<String> = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect();
            assert!(
                fields.iter().any(|f| f == field || f.starts_with(field)),
                "{body}: {fields:?}"
            );
        }
        app.post("/api/v1/orders")
            .json(&json!({"items": []}))
            .send()
            .await
            .problem(401);
        assert_eq!(stock(&app, a).await, 10);
        assert_eq!(
            app.get("/api/v1/orders").bearer(&token).send().await.json()["total"],
            0
        );
    }
);

api_test!(users_see_only_their_own_orders_and_admins_see_all, |app| {
    let (_, admin) = app.admin().await;
    let (_, ada) = app.user("ada@example.com").await;
    let (_, bob) = app.user("bob@example.com").await;
    let a = app.product(&admin, "A", 100, 10).await;
    let body = json!({"items": [{"product_id": a, "quantity": 1}]});
    let ada_order = app
        .post("/api/v1/orders")
        .bearer(&ada)
        .json(&body)
        .send()
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    app.post("/api/v1/orders")
        .bearer(&bob)
        .json(&body)
        .send()
        .await;

    assert_eq!(
        app.get("/api/v1/orders").bearer(&ada).send().await.json()["total"],
        1
    );
    assert_eq!(
        app.get("/api/v1/orders").bearer(&admin).send().await.json()["total"],
        2
    );
    let path = format!("/api/v1/orders/{ada_order}");
    app.get(&path).bearer(&bob).send().await.problem(404);
    app.patch(&path)
        .bearer(&bob)
        .merge_patch(&json!({"status": "cancelled"}))
        .send()
        .await
        .problem(404);
    assert_eq!(app.get(&path).bearer(&admin).send().await.status, 200);
    assert_eq!(
        app.get(&path).bearer(&ada).send().await.json()["status"],
        "pending"
    );
    app.get("/api/v1/orders?status=lost")
        .bearer(&ada)
        .send()
        .await
        .problem(400);
    assert_eq!(
        app.get("/api/v1/orders?status=paid")
            .bearer(&ada)
            .send()
            .await
            .json()["total"],
        0
    );
});

api_test!(
    orders_follow_their_life_cycle_and_cancelling_restores_stock,
    |app| {
        let (_, admin) = app.admin().await;
        let (_, token) = app.user("ada@example.com").await;
        let a = app.product(&admin, "A", 100, 5).await;
        let body = json!({"items": [{"product_id": a, "quantity": 2}]});
        let first = app
            .post("/api/v1/orders")
            .bearer(&token)
            .json(&body)
            .send()
            .await
            .json()["id"]
            .as_i64()
            .unwrap();
        let path = format!("/api/v1/orders/{first}");
        let set = |status: &'static str, who: String| {
            let path = path.clone();
            let app = &app;
            async move {
                app.patch(&path)
                    .bearer(&who)
                    .merge_patch(&json!({"status": status}))
                    .send()
                    .await
            }
        };
        set("shipped", admin.clone()).await.problem(409); // pending -> shipped skips payment
        assert_eq!(set("paid", token.clone()).await.json()["status"], "paid");
        set("shipped", token.clone()).await.problem(403); // only admins ship
        assert_eq!(
            set("shipped", admin.clone()).await.json()["status"],
            "shipped"
        );
        set("cancelled", admin.clone()).await.problem(409); // shipped is final
        assert_eq!(stock(&app, a).await, 3);

        let second = app
            .post("/api/v1/orders")
            .bearer(&token)
            .json(&body)
            .send()
            .await
            .json()["id"]
            .as_i64()
            .unwrap();
        assert_eq!(stock(&app, a).await, 1);
        let r = app
            .patch(&format!("/api/v1/orders/{second}"))
            .bearer(&token)
            .json(&json!({"status": "cancelled"}))
            .send()
            .await;
        assert_eq!(r.json()["status"], "cancelled");
        assert_eq!(stock(&app, a).await, 3);
        app.patch(&format!("/api/v1/orders/{second}"))
            .bearer(&token)
            .json(&json!({"status": "paid"}))
            .send()
            .await
            .problem(409);
        app.patch(&format!("/api/v1/orders/{second}"))
            .bearer(&token)
            .json(&json!({"status": "lost"}))
            .send()
            .await
            .problem(400);
        app.put(&format!("/api/v1/orders/{second}"))
            .bearer(&token)
            .json(&body)
            .send()
            .await
            .problem(405);
    }
);

api_test!(
    only_admins_delete_orders_and_unshipped_stock_goes_back,
    |app| {
        let (_, admin) = app.admin().await;
        let (_, token) = app.user("ada@example.com").await;
        let a = app.product(&admin, "A", 100, 5).await;
        let id = app
            .post("/api/v1/orders")
            .bearer(&token)
            .json(&json!({"items": [{"product_id": a, "quantity": 4}]}))
            .send()
            .await
            .json()["id"]
            .as_i64()
            .unwrap();
        let path = format!("/api/v1/orders/{id}");
        app.delete(&path).bearer(&token).send().await.problem(403);
        // A product in an order cannot be deleted.
        app.delete(&format!("/api/v1/products/{a}"))
            .bearer(&admin)
            .send()
            .await
            .problem(409);
        assert_eq!(app.delete(&path).bearer(&admin).send().await.status, 204);
        app.get(&path).bearer(&admin).send().await.problem(404);
        assert_eq!(stock(&app, a).await, 5);
        assert_eq!(
            app.delete(&format!("/api/v1/products/{a}"))
                .bearer(&admin)
                .send()
                .await
                .status,
            204
        );
    }
);

#[actix_web::test]
async fn concurrent_orders_never_oversell() {
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    let a = app.product(&admin, "A", 100, 5).await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(app.user(&format!("buyer{i}@example.com")).await.1);
    }
    let body = json!({"items": [{"product_id": a, "quantity": 1}]});
    let results = futures_util::future::join_all(
        tokens
            .iter()
            .map(|t| app.post("/api/v1/orders").bearer(t).json(&body).send()),
    )
    .await;
    let placed = results.iter().filter(|r| r.status == 201).count();
    let refused = results.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (placed, refused),
        (5, 3),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(stock(&app, a).await, 0);
}

api_test!(
    concurrent_writers_with_one_etag_let_exactly_one_through,
    |app| {
        // The If-Match check and the write happen under one row lock: of several writers
        // holding the same ETag, one wins and the others get 412 (never a lost update).
        let (_, admin) = app.admin().await;
        let id = app.product(&admin, "RACE", 100, 1).await;
        for round in 0..5 {
            let current = app.get(&format!("/api/v1/products/{id}")).send().await;
            let etag = current.header("etag").unwrap();
            let writes = (0..6).map(|i| {
                app.patch(&format!("/api/v1/products/{id}"))
                    .bearer(&admin)
                    .header("if-match", &etag)
                    .merge_patch(&json!({"name": format!("round {round} writer {i}")}))
                    .send()
            });
            let results = futures_util::future::join_all(writes).await;
            let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
            assert_eq!(
                statuses.iter().filter(|&&s| s == 200).count(),
                1,
                "round {round}: {statuses:?}"
            );
            assert!(
                statuses.iter().all(|&s| s == 200 || s == 412),
                "{statuses:?}"
            );
        }
    }
);
