use serde_json::json;

use crate::api_test;
#[allow(unused_imports)]
use crate::helpers::*;

fn product(sku: &str) -> serde_json::Value {
    json!({"sku": sku, "name": "Walnut desk", "description": "Solid.", "price_cents": 24900, "stock": 3})
}

api_test!(admins_create_products_with_201_location_and_body, |app| {
    let (_, admin) = app.admin().await;
    let r = app
        .post("/api/v1/products")
        .bearer(&admin)
        .json(&product("DESK-1"))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let body = r.json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(
        r.header("location").unwrap(),
        format!("/api/v1/products/{id}")
    );
    assert!(r.header("etag").is_some());
    for (field, value) in [
        ("sku", json!("DESK-1")),
        ("name", json!("Walnut desk")),
        ("price_cents", json!(24900)),
        ("stock", json!(3)),
    ] {
        assert_eq!(body[field], value, "{field}");
    }
    let fetched = app.get(&format!("/api/v1/products/{id}")).send().await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), body);
});

api_test!(only_admins_change_the_catalogue, |app| {
    let (_, admin) = app.admin().await;
    let (_, user) = app.user("ada@example.com").await;
    let id = app.product(&admin, "DESK-1", 100, 1).await;
    let path = format!("/api/v1/products/{id}");
    app.post("/api/v1/products")
        .json(&product("X"))
        .send()
        .await
        .problem(401);
    app.post("/api/v1/products")
        .bearer(&user)
        .json(&product("X"))
        .send()
        .await
        .problem(403);
    app.put(&path)
        .bearer(&user)
        .json(&product("X"))
        .send()
        .await
        .problem(403);
    app.patch(&path)
        .bearer(&user)
        .merge_patch(&json!({"stock": 0}))
        .send()
        .await
        .problem(403);
    app.delete(&path).bearer(&user).send().await.problem(403);
    let now = app.get(&path).send().await.json();
    assert_eq!(now["sku"], "DESK-1");
    assert_eq!(now["stock"], 1);
    assert_eq!(app.get("/api/v1/products").send().await.json()["total"], 1);
});

api_test!(a_duplicate_sku_returns_409_on_create_and_update, |app| {
    let (_, admin) = app.admin().await;
    app.product(&admin, "DESK-1", 100, 1).await;
    let other = app.product(&admin, "DESK-2", 100, 1).await;
    app.post("/api/v1/products")
        .bearer(&admin)
        .json(&product("DESK-1"))
        .send()
        .await
        .problem(409);
    app.patch(&format!("/api/v1/products/{other}"))
        .bearer(&admin)
        .merge_patch(&json!({"sku": "DESK-1"}))
        .send()
        .await
        .problem(409);
    assert_eq!(
        app.get(&format!("/api/v1/products/{other}"))
            .send()
            .await
            .json()["sku"],
        "DESK-2"
    );
});

api_test!(invalid_products_are_rejected_field_by_field, |app| {
    let (_, admin) = app.admin().await;
    let r = app
        .post("/api/v1/products")
        .bearer(&admin)
        .json(&json!({"sku": "bad sku", "name": "  ", "price_cents": -1, "stock": -5}))
        .send()
        .await;
    let body = r.problem(400);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["sku", "name", "price_cents", "stock"]);
    let control = app
        .post("/api/v1/products")
        .bearer(&admin)
        .json(&json!({"sku": "OK-1", "name": "bell\u{7}", "price_cents": 1, "stock": 1}))
        .send()
        .await;
    assert_eq!(control.problem(400)["errors"][0]["field"], "name");
    let huge = app
        .post("/api/v1/products")
        .bearer(&admin)
        .json(&json!({"sku": "OK-2", "name": "x", "price_cents": 1, "stock": 99_999_999_999i64}))
        .send()
        .await;
    assert_eq!(huge.problem(400)["errors"][0]["field"], "stock");
    assert_eq!(app.get("/api/v1/products").send().await.json()["total"], 0);
});

api_test!(put_replaces_every_field_and_rejects_a_partial_body, |app| {
    let (_, admin) = app.admin().await;
    let id = app.product(&admin, "DESK-1", 100, 1).await;
    let path = format!("/api/v1/products/{id}");
    let partial = app
        .put(&path)
        .bearer(&admin)
        .json(&json!({"name": "Only name"}))
        .send()
        .await;
    partial.problem(400);
    assert_eq!(app.get(&path).send().await.json()["name"], "Product DESK-1");

    let r = app
        .put(&path)
        .bearer(&admin)
        .json(&json!({"sku": "DESK-9", "name": "New", "price_cents": 5, "stock": 7}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["sku"], "DESK-9");
    // description was omitted, so PUT reset it to its default.
    assert_eq!(body["description"], "");
    assert_ne!(body["updated_at"], body["created_at"]);
});

api_test!(merge_patch_changes_only_named_fields, |app| {
    let (_, admin) = app.admin().await;
    let id = app.product(&admin, "DESK-1", 100, 1).await;
    let path = format!("/api/v1/products/{id}");
    let r = app
        .patch(&path)
        .bearer(&admin)
        .merge_patch(&json!({"stock": 42, "description": "now described"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["stock"], 42);
    assert_eq!(body["description"], "now described");
    assert_eq!(body["sku"], "DESK-1");
    assert_eq!(body["price_cents"], 100);
    app.patch(&path)
        .bearer(&admin)
        .merge_patch(&json!({"colour": "red"}))
        .send()
        .await
        .problem(400);
    app.patch(&path)
        .bearer(&admin)
        .merge_patch(&json!(["not", "an", "object"]))
        .send()
        .await
        .problem(400);
    app.patch(&path)
        .bearer(&admin)
        .merge_patch(&json!({"stock": "many"}))
        .send()
        .await
        .problem(400);
    assert_eq!(app.get(&path).send().await.json()["stock"], 42);
});

api_test!(deleting_a_product_returns_204_then_404, |app| {
    let (_, admin) = app.admin().await;
    let id = app.product(&admin, "DESK-1", 100, 1).await;
    let path = format!("/api/v1/products/{id}");
    let r = app.delete(&path).bearer(&admin).send().await;
    assert_eq!(r.status, 204);
    app.get(&path).send().await.problem(404);
    app.delete(&path).bearer(&admin).send().await.problem(404);
    app.put(&path)
        .bearer(&admin)
        .json(&product("DESK-1"))
        .send()
        .await
        .problem(404);
});
