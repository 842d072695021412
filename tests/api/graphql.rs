//! `/graphql`: queries, mutations, errors and their codes, auth, limits, batching (the N+1
//! query count), subscriptions over graphql-transport-ws, and the checked-in SDL.

use std::time::Duration;

use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{spawn_app, spawn_with, Backend, TestApp, PASSWORD};
use crate::ws_client::{Connect, Received};

impl TestApp {
    /// POSTs a GraphQL request and returns the status and the JSON body.
    pub async fn graphql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut req = self.post("/graphql");
        if let Some(token) = token {
            req = req.bearer(token);
        }
        let r = req
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await;
        (r.status, r.json())
    }

    pub async fn gql(&self, token: Option<&str>, query: &str) -> Value {
        let (status, body) = self.graphql_as(token, query, json!({})).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The total of SQL statements the server has sent, from `/metrics`.
    pub async fn sql_statements(&self) -> u64 {
        let text = String::from_utf8(self.get("/metrics").send().await.body).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("switchboard_db_queries_total "))
            .and_then(|v| v.parse().ok())
            .expect("switchboard_db_queries_total in /metrics")
    }
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// Users with posts, straight through the services (one password hash for all: fast).
async fn users_with_posts(app: &TestApp, count: usize, posts_each: usize) {
    app.db
        .run(move |conn| {
            use switchboard::domain::{Email, Role};
            use switchboard::services::{posts, users, Actor};
            let hash = switchboard::services::passwords::hash(PASSWORD)?;
            for i in 0..count {
                let tag = uuid::Uuid::new_v4().simple();
                let email = Email::parse("email", &format!("bulk-{tag}@example.com")).unwrap();
                let user = users::insert(conn, &email, &format!("Bulk {i}"), &hash, Role::User)?;
                let actor = Actor {
                    user_id: user.id,
                    role: Role::User,
                };
                for p in 0..posts_each {
                    posts::create(
                        conn,
                        &actor,
                        posts::PostInput {
                            title: format!("P{p} of {i}"),
                            body: "text".into(),
                        },
                    )?;
                }
            }
            Ok(())
        })
        .await
        .unwrap();
}

api_test!(the_seed_query_works_exactly_as_written, |app| {
    let (id, token) = app.user("seeded@example.com").await;
    app.post("/api/v1/posts")
        .bearer(&token)
        .json(&json!({"title": "First", "body": "hello"}))
        .send()
        .await;
    let query = format!(r#"query {{ user(id: "{id}") {{ name posts {{ title }} }} }}"#);
    let body = app.gql(None, &query).await;
    assert_eq!(
        body,
        json!({"data": {"user": {"name": "Test User", "posts": [{"title": "First"}]}}})
    );
    // Unknown ids are null, not errors, with or without posts asked for.
    let body = app.gql(None, r#"{ user(id: "999999") { name } }"#).await;
    assert_eq!(body["data"]["user"], Value::Null);
    let body = app
        .gql(None, r#"{ user(id: "999999") { name posts { title } } }"#)
        .await;
    assert_eq!(body, json!({"data": {"user": null}}));
    // Posts reached through a fragment and an alias are read with the user; a user
    // without posts has an empty list.
    let (other, _) = app.user("no-posts@example.com").await;
    let query = format!(
        r#"{{ a: user(id: "{id}") {{ ...P }} b: user(id: "{other}") {{ ...P }} }}
           fragment P on User {{ mine: posts {{ title }} }}"#
    );
    let body = app.gql(None, &query).await;
    assert_eq!(
        body,
        json!({"data": {"a": {"mine": [{"title": "First"}]}, "b": {"mine": []}}})
    );
});

api_test!(nested_lists_load_in_a_constant_number_of_queries, |app| {
    let (_, admin) = app.admin().await;
    let query = "{ users(first: 50) { edges { node { name posts { title } } } } }";
    users_with_posts(&app, 4, 2).await;
    let before = app.sql_statements().await;
    let small = app.gql(Some(&admin), query).await;
    let few_users = app.sql_statements().await - before;
    assert_eq!(small["data"]["users"]["edges"].as_array().unwrap().len(), 5);

    users_with_posts(&app, 46, 3).await;
    let before = app.sql_statements().await;
    let big = app.gql(Some(&admin), query).await;
    let many_users = app.sql_statements().await - before;
    let edges = big["data"]["users"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 50);
    assert_eq!(edges[49]["node"]["posts"].as_array().unwrap().len(), 3);
    // Not 1 + 50: the posts of all 50 users come in one batch.
    assert_eq!(
        few_users, many_users,
        "query count grew with the number of users"
    );
    assert!(many_users <= 8, "{many_users} statements for one request");
    // The same through `nodes`, an alias and a fragment: the same posts for the same users.
    let before = app.sql_statements().await;
    let other = app
        .gql(
            Some(&admin),
            "{ users(first: 50) { nodes { ...U } } } fragment U on User { name mine: posts { title } }",
        )
        .await;
    assert_eq!(app.sql_statements().await - before, many_users);
    let nodes = other["data"]["users"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 50);
    for (node, edge) in nodes.iter().zip(edges) {
        assert_eq!(node["name"], edge["node"]["name"]);
        assert_eq!(node["mine"], edge["node"]["posts"]);
    }
});

api_test!(
    posts_read_as_headlines_still_answer_every_field_asked_for,
    |app| {
        let (_, admin) = app.admin().await;
        users_with_posts(&app, 2, 2).await;
        // Titles only: the headline read.
        let titles = app
            .gql(
                Some(&admin),
                "{ users(first: 5) { nodes { posts { id title __typename } } } }",
            )
            .await;
        let titles = titles["data"]["users"]["nodes"].as_array().unwrap();
        assert_eq!(titles.len(), 3);
        assert_eq!(titles[1]["posts"][0]["title"], "P0 of 0");
        assert_eq!(titles[1]["posts"][0]["__typename"], "Post");
        // One path asks titles only, another (through a fragment) the body and times: every
        // field must be there, for every user, on both paths.
        let both = app
        .gql(
            Some(&admin),
            "{ users(first: 5) { edges { node { posts { title } } } nodes { posts { ...Full } } } }
             fragment Full on Post { title body createdAt updatedAt }",
        )
        .await;
        assert!(both.get("errors").is_none(), "{both}");
        let nodes = both["data"]["users"]["nodes"].as_array().unwrap();
        for (node, titled) in nodes.iter().zip(titles) {
            let posts = node["posts"].as_array().unwrap();
            assert_eq!(posts.len(), titled["posts"].as_array().unwrap().len());
            for (post, only_title) in posts.iter().zip(titled["posts"].as_array().unwrap()) {
                assert_eq!(post["title"], only_title["title"]);
                assert_eq!(post["body"], "text");
                assert!(post["createdAt"].as_str().is_some_and(|t| t.len() >= 19));
                assert_eq!(post["createdAt"], post["updatedAt"]);
            }
        }
        // The single user's posts, the body asked through an inline fragment.
        let id = titles[1]["posts"][0]["id"].as_str().unwrap().to_owned();
        let post = app
            .gql(
                None,
                &format!(r#"{{ post(id: "{id}") {{ author {{ id }} }} }}"#),
            )
            .await;
        let author = post["data"]["post"]["author"]["id"].as_str().unwrap();
        let user = app
        .gql(
            None,
            &format!(
                r#"{{ user(id: "{author}") {{ posts {{ title ... on Post {{ body }} author {{ name }} }} }} }}"#
            ),
        )
        .await;
        assert!(user.get("errors").is_none(), "{user}");
        assert_eq!(user["data"]["user"]["posts"][1]["body"], "text");
        assert_eq!(user["data"]["user"]["posts"][1]["title"], "P1 of 0");
        assert_eq!(user["data"]["user"]["posts"][1]["author"]["name"], "Bulk 0");
        // A text that failed validation fails again: only a text that passed every rule skips
        // them the next time, and then still gets the same answer.
        for _ in 0..2 {
            let bad = app.gql(None, "{ user(id: \"1\") { nope } }").await;
            assert_eq!(code(&bad), "GRAPHQL_VALIDATION_FAILED");
            let again = app
                .gql(
                    Some(&admin),
                    "{ users(first: 5) { nodes { posts { id title __typename } } } }",
                )
                .await;
            assert_eq!(again["data"]["users"]["nodes"].as_array().unwrap(), titles);
        }
    }
);

api_test!(connections_page_with_cursors_and_count_everything, |app| {
    let (_, admin) = app.admin().await;
    for i in 1..=5 {
        app.product(&admin, &format!("SKU-C{i}"), 100 * i, 1).await;
    }
    let q = r#"query($after: String) { products(first: 2, after: $after, filter: {minPrice: 200}) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { sku } } } }"#;
    let (_, first) = app.graphql_as(None, q, json!({})).await;
    let page = &first["data"]["products"];
    assert_eq!(page["totalCount"], 4);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let skus: Vec<&str> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["SKU-C2", "SKU-C3"]);
    let after = page["pageInfo"]["endCursor"].clone();
    let (_, second) = app.graphql_as(None, q, json!({"after": after})).await;
    let page = &second["data"]["products"];
    let skus: Vec<&str> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["SKU-C4", "SKU-C5"]);
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], true);

    let (_, bad) = app.graphql_as(None, q, json!({"after": "garbage"})).await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    let too_many = app
        .gql(None, "{ products(first: 101) { totalCount } }")
        .await;
    assert_eq!(code(&too_many), "BAD_USER_INPUT");
    // A price range that is empty finds nothing (as REST answers it).
    let empty_range = app
        .gql(
            None,
            "{ products(filter: {minPrice: 5, maxPrice: 1}) { totalCount } }",
        )
        .await;
    assert_eq!(
        empty_range["data"]["products"]["totalCount"], 0,
        "{empty_range}"
    );
    let bad_filter = app
        .gql(None, "{ products(filter: {minPrice: -1}) { totalCount } }")
        .await;
    assert_eq!(code(&bad_filter), "BAD_USER_INPUT");
    assert_eq!(
        bad_filter["errors"][0]["extensions"]["fields"][0]["field"],
        "min_price"
    );
});

api_test!(
    mutations_share_the_rest_rules_and_report_domain_error_codes,
    |app| {
        let (_, admin) = app.admin().await;
        let (ada_id, ada) = app.user("ada@example.com").await;
        let (_, eve) = app.user("eve@example.com").await;

        let body = app.gql(None, r#"mutation { register(input: {email: "new@example.com", name: "New", password: "longenough1"}) { name email } }"#).await;
        assert_eq!(body["data"]["register"]["name"], "New");
        let dup = app.gql(None, r#"mutation { register(input: {email: "new@example.com", name: "New", password: "longenough1"}) { name } }"#).await;
        assert_eq!(code(&dup), "CONFLICT");
        let invalid = app.gql(None, r#"mutation { register(input: {email: "nope", name: "", password: "x"}) { name } }"#).await;
        assert_eq!(code(&invalid), "BAD_USER_INPUT");
        assert_eq!(
            invalid["errors"][0]["extensions"]["fields"]
                .as_array()
                .unwrap()
                .len(),
            3
        );

        let product = r#"mutation { createProduct(input: {sku: "GQL-1", name: "Lamp", priceCents: 1500, stock: 2}) { id stock } }"#;
        assert_eq!(code(&app.gql(None, product).await), "UNAUTHENTICATED");
        assert_eq!(code(&app.gql(Some(&ada), product).await), "FORBIDDEN");
        let created = app.gql(Some(&admin), product).await;
        let product_id = created["data"]["createProduct"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let order = format!(
            r#"mutation {{ createOrder(items: [{{productId: "{product_id}", quantity: 2}}]) {{ id status totalCents user {{ id }} items {{ quantity product {{ name stock }} }} }} }}"#
        );
        let placed = app.gql(Some(&ada), &order).await;
        let placed = &placed["data"]["createOrder"];
        assert_eq!(placed["status"], "PENDING");
        assert_eq!(placed["totalCents"], 3000);
        assert_eq!(placed["user"]["id"], ada_id.to_string());
        assert_eq!(
            placed["items"][0]["product"],
            json!({"name": "Lamp", "stock": 0})
        );
        let order_id = placed["id"].as_str().unwrap().to_owned();
        // Out of stock now: a CONFLICT that changes nothing.
        assert_eq!(code(&app.gql(Some(&eve), &order).await), "CONFLICT");

        // Eve cannot see or cancel Ada's order (null / NOT_FOUND), Ada can.
        let read = format!(r#"{{ order(id: "{order_id}") {{ status }} }}"#);
        assert_eq!(
            app.gql(Some(&eve), &read).await["data"]["order"],
            Value::Null
        );
        let cancel = format!(
            r#"mutation {{ cancelOrder(id: "{order_id}") {{ status items {{ product {{ stock }} }} }} }}"#
        );
        assert_eq!(code(&app.gql(Some(&eve), &cancel).await), "NOT_FOUND");
        let cancelled = app.gql(Some(&ada), &cancel).await;
        assert_eq!(cancelled["data"]["cancelOrder"]["status"], "CANCELLED");
        assert_eq!(
            cancelled["data"]["cancelOrder"]["items"][0]["product"]["stock"],
            2
        );
        let again = format!(
            r#"mutation {{ setOrderStatus(id: "{order_id}", status: PAID) {{ status }} }}"#
        );
        assert_eq!(code(&app.gql(Some(&ada), &again).await), "CONFLICT");

        // Posts: author-only edits, delete returns the id.
        let post = app
            .gql(
                Some(&ada),
                r#"mutation { createPost(input: {title: "T", body: "B"}) { id author { name } } }"#,
            )
            .await;
        let post_id = post["data"]["createPost"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let edit = format!(
            r#"mutation {{ updatePost(id: "{post_id}", input: {{title: "T2", body: "B2"}}) {{ title }} }}"#
        );
        assert_eq!(code(&app.gql(Some(&eve), &edit).await), "FORBIDDEN");
        assert_eq!(
            app.gql(Some(&ada), &edit).await["data"]["updatePost"]["title"],
            "T2"
        );
        let delete = format!(r#"mutation {{ deletePost(id: "{post_id}") }}"#);
        assert_eq!(
            app.gql(Some(&ada), &delete).await["data"]["deletePost"],
            post_id.as_str()
        );
        assert_eq!(
            code(&app.gql(None, r#"{ post(id: "x") { id } }"#).await),
            "BAD_USER_INPUT"
        );
    }
);

#[actix_web::test]
async fn email_is_visible_to_the_user_themself_and_admins_only() {
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    let (id, ada) = app.user("ada@example.com").await;
    let (_, eve) = app.user("eve@example.com").await;
    let q = format!(r#"{{ user(id: "{id}") {{ email }} }}"#);
    assert_eq!(
        app.gql(Some(&ada), &q).await["data"]["user"]["email"],
        "ada@example.com"
    );
    assert_eq!(
        app.gql(Some(&admin), &q).await["data"]["user"]["email"],
        "ada@example.com"
    );
    assert_eq!(
        app.gql(Some(&eve), &q).await["data"]["user"]["email"],
        Value::Null
    );
    assert_eq!(
        app.gql(None, &q).await["data"]["user"]["email"],
        Value::Null
    );
    assert_eq!(
        app.gql(Some(&ada), "{ me { email } }").await["data"]["me"]["email"],
        "ada@example.com"
    );
    assert_eq!(
        app.gql(None, "{ me { email } }").await["data"]["me"],
        Value::Null
    );
    let users = app.gql(Some(&eve), "{ users { totalCount } }").await;
    assert_eq!(code(&users), "FORBIDDEN");
    // A forged token is refused outright.
    let (status, body) = app
        .graphql_as(Some("forged"), "{ me { id } }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[actix_web::test]
async fn depth_complexity_and_introspection_limits_hold() {
    let app = spawn_with(Backend::Sqlite, |a| {
        a.graphql.graphql_max_depth = 5;
        a.graphql.graphql_max_complexity = 60;
        a.graphql.graphql_introspection = false;
    })
    .await
    .unwrap();
    let deep = r#"{ posts(first: 1) { edges { node { author { posts { author { name } } } } } } }"#;
    let r = app
        .post("/graphql")
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": deep}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    let body = r.json();
    assert!(body.get("data").is_none());
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested too deep"),
        "{body}"
    );
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");
    // Documents that never run still get a code: syntax errors and unknown fields.
    assert_eq!(
        code(&app.gql(None, r#"{ user(id: "1") { name "#).await),
        "GRAPHQL_PARSE_FAILED"
    );
    assert_eq!(
        code(&app.gql(None, "{ nope }").await),
        "GRAPHQL_VALIDATION_FAILED"
    );

    let wide =
        "{ products(first: 10) { edges { node { id sku name description priceCents stock } } } }";
    let body = app.gql(None, wide).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("complex"),
        "{body}"
    );
    let narrow = "{ products(first: 2) { edges { node { id } } } }";
    assert!(app.gql(None, narrow).await.get("errors").is_none());

    // With introspection off the schema is simply not there.
    let body = app.gql(None, "{ __schema { types { name } } }").await;
    assert_eq!(body["data"]["__schema"], Value::Null, "{body}");
}

#[actix_web::test]
async fn http_semantics_follow_the_graphql_over_http_draft() {
    let app = spawn_app().await;
    // Introspection is on by default.
    let body = app.gql(None, "{ __schema { queryType { name } } }").await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let r = app.get("/graphql?query=%7B__typename%7D").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["__typename"], "Query");
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));

    let r = app
        .get("/graphql?query=mutation%7B__typename%7D")
        .header("accept", "application/graphql-response+json")
        .send()
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("POST"));

    let r = app
        .post("/graphql")
        .header("accept", "application/graphql-response+json")
        .body_with("application/json", b"{ \"not a JSON".to_vec())
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/graphql-response+json"));
    let r = app
        .post("/graphql")
        .header("accept", "application/json")
        .json(&json!({"query": "{ __typename }", "variables": "nope"}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"].is_array());
    // A document that does not validate is a GraphQL error, still 200 for application/json.
    let r = app
        .post("/graphql")
        .header("accept", "application/json")
        .json(&json!({"query": "{ nope }"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["errors"].is_array());
    let r = app
        .post("/graphql")
        .body_with("text/plain", b"{}".to_vec())
        .send()
        .await;
    assert_eq!(r.status, 415);
}

#[actix_web::test]
async fn subscriptions_deliver_chat_messages_and_order_updates_over_graphql_transport_ws() {
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    let (_, ada) = app.user("ada@example.com").await;
    let product = app.product(&admin, "SUB-1", 500, 1000).await;
    let mut chat = app.chat(&ada).await;
    chat.join("gql").await;

    let Connect::Open(mut sub, protocol) =
        app.ws_connect("/graphql", &["graphql-transport-ws"]).await
    else {
        panic!("subscription upgrade refused")
    };
    assert_eq!(protocol.as_deref(), Some("graphql-transport-ws"));
    sub.send_json(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {ada}")}}),
    )
    .await;
    sub.expect("connection_ack").await;
    // `since: 0` replays what the room had before the watcher registered, so the message
    // arrives once whether it is stored before or after: no waiting for the registration.
    sub.send_json(json!({"id": "m", "type": "subscribe", "payload": {
        "query": "subscription { messageAdded(room: \"gql\", since: 0) { body room user { name } } }"}}))
        .await;
    chat.say("gql", "over graphql", "c").await;
    chat.expect("message").await;
    let next = sub.expect("next").await;
    assert_eq!(next["id"], "m");
    assert_eq!(
        next["payload"]["data"]["messageAdded"],
        json!({"body": "over graphql", "room": "gql", "user": {"name": "Test User"}})
    );

    // Order updates have no replay: place orders until the watcher, once registered,
    // reports one (each is like the others).
    sub.send_json(json!({"id": "o", "type": "subscribe", "payload": {
        "query": "subscription { orderUpdated { kind status previousStatus order { totalCents items { quantity } } } }"}}))
    .await;
    let mut next = None;
    for _ in 0..50 {
        app.order(&ada, product, 3).await;
        if let Some(Received::Json(frame)) = sub.next_within(Duration::from_millis(100)).await {
            next = Some(frame);
            break;
        }
    }
    let next = next.expect("an order update within 50 orders");
    assert_eq!(next["id"], "o", "{next}");
    let update = &next["payload"]["data"]["orderUpdated"];
    assert_eq!(update["kind"], "CREATED");
    assert_eq!(update["status"], "PENDING");
    assert_eq!(update["previousStatus"], Value::Null);
    assert_eq!(update["order"]["totalCents"], 1500);

    // A bad token in connection_init is refused.
    let Connect::Open(mut bad, _) = app.ws_connect("/graphql", &["graphql-transport-ws"]).await
    else {
        panic!("refused")
    };
    bad.send_json(
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}}),
    )
    .await;
    match bad.next().await {
        Received::Closed(_) => {}
        Received::Json(v) => assert_ne!(v["type"], "connection_ack", "{v}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_checked_in_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.graphql");
    let checked_in = std::fs::read_to_string(path).expect("docs/schema.graphql exists");
    assert!(
        checked_in == switchboard::graphql::sdl(),
        "docs/schema.graphql is out of date: run `cargo run -- graphql-schema > docs/schema.graphql`"
    );
}

api_test!(the_remaining_queries_and_mutations_work_end_to_end, |app| {
    let (_, admin) = app.admin().await;
    let (ada_id, ada) = app.user("ada@example.com").await;
    let body = app.gql(Some(&admin), r#"mutation { createProduct(input: {sku: "ROUND-1", name: "Mug", priceCents: 900, stock: 9}) { id } }"#).await;
    let pid = body["data"]["createProduct"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let update = format!(
        r#"mutation {{ updateProduct(id: "{pid}", input: {{sku: "ROUND-1", name: "Big mug", description: "500 ml", priceCents: 1200, stock: 9}}) {{ name description priceCents }} }}"#
    );
    assert_eq!(
        app.gql(Some(&admin), &update).await["data"]["updateProduct"],
        json!({"name": "Big mug", "description": "500 ml", "priceCents": 1200})
    );
    let one = format!(r#"{{ product(id: "{pid}") {{ sku stock }} }}"#);
    assert_eq!(
        app.gql(None, &one).await["data"]["product"],
        json!({"sku": "ROUND-1", "stock": 9})
    );

    app.gql(
        Some(&ada),
        r#"mutation { createPost(input: {title: "Mine", body: "x"}) { id } }"#,
    )
    .await;
    let posts = format!(
        r#"{{ posts(authorId: "{ada_id}") {{ totalCount edges {{ node {{ title author {{ id }} }} }} }} }}"#
    );
    let posts = app.gql(None, &posts).await;
    assert_eq!(posts["data"]["posts"]["totalCount"], 1);
    assert_eq!(
        posts["data"]["posts"]["edges"][0]["node"]["author"]["id"],
        ada_id.to_string()
    );

    let order = format!(
        r#"mutation {{ createOrder(items: [{{productId: "{pid}", quantity: 1}}]) {{ id }} }}"#
    );
    let oid = app.gql(Some(&ada), &order).await["data"]["createOrder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pay = format!(r#"mutation {{ setOrderStatus(id: "{oid}", status: PAID) {{ status }} }}"#);
    assert_eq!(
        app.gql(Some(&ada), &pay).await["data"]["setOrderStatus"]["status"],
        "PAID"
    );
    let ship =
        format!(r#"mutation {{ setOrderStatus(id: "{oid}", status: SHIPPED) {{ status }} }}"#);
    assert_eq!(code(&app.gql(Some(&ada), &ship).await), "FORBIDDEN");
    assert_eq!(
        app.gql(Some(&admin), &ship).await["data"]["setOrderStatus"]["status"],
        "SHIPPED"
    );
    let mine = app
        .gql(
            Some(&ada),
            "{ orders(status: SHIPPED) { totalCount edges { node { id } } } }",
        )
        .await;
    assert_eq!(mine["data"]["orders"]["totalCount"], 1);
    assert_eq!(
        code(&app.gql(None, "{ orders { totalCount } }").await),
        "UNAUTHENTICATED"
    );

    // An ordered product cannot be deleted; an unordered one can.
    let delete = format!(r#"mutation {{ deleteProduct(id: "{pid}") }}"#);
    assert_eq!(code(&app.gql(Some(&admin), &delete).await), "CONFLICT");
    let spare = app.gql(Some(&admin), r#"mutation { createProduct(input: {sku: "SPARE", name: "Spare", priceCents: 1, stock: 1}) { id } }"#).await;
    let spare = spare["data"]["createProduct"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let delete = format!(r#"mutation {{ deleteProduct(id: "{spare}") }}"#);
    assert_eq!(
        app.gql(Some(&admin), &delete).await["data"]["deleteProduct"],
        spare.as_str()
    );
    let gone = format!(r#"{{ product(id: "{spare}") {{ id }} }}"#);
    assert_eq!(app.gql(None, &gone).await["data"]["product"], Value::Null);
});
