use serde_json::json;

use crate::api_test;
#[allow(unused_imports)]
use crate::helpers::*;

api_test!(
    registering_returns_201_with_location_and_never_the_password,
    |app| {
        let r = app
            .post("/api/v1/users")
            .json(&json!({"email": "  Ada@Example.com ", "name": " Ada ", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(r.status, 201);
        let body = r.json();
        let id = body["id"].as_i64().unwrap();
        assert_eq!(r.header("location").unwrap(), format!("/api/v1/users/{id}"));
        assert_eq!(body["email"], "ada@example.com");
        assert_eq!(body["name"], "Ada");
        assert_eq!(body["role"], "user");
        let text = String::from_utf8_lossy(&r.body);
        assert!(
            !text.contains("password") && !text.contains("argon2"),
            "{text}"
        );
        assert!(chrono::DateTime::parse_from_rfc3339(body["created_at"].as_str().unwrap()).is_ok());
    }
);

api_test!(registering_a_taken_email_in_any_case_returns_409, |app| {
    app.register("ada@example.com", "Ada").await;
    let r = app
        .post("/api/v1/users")
        .json(&json!({"email": "ADA@example.com", "name": "Other", "password": PASSWORD}))
        .send()
        .await;
    r.problem(409);
});

api_test!(
    invalid_registrations_list_every_bad_field_and_create_nothing,
    |app| {
        let r = app
            .post("/api/v1/users")
            .json(&json!({"email": "not-an-email", "name": "", "password": "short"}))
            .send()
            .await;
        let body = r.problem(400);
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["email", "name", "password"]);

        let unknown = app
        .post("/api/v1/users")
        .json(&json!({"email": "a@example.com", "name": "A", "password": PASSWORD, "role": "admin"}))
        .send()
        .await;
        unknown.problem(400);
        // Neither attempt created an account.
        assert_eq!(app.login("a@example.com", PASSWORD).await.status, 400);
    }
);

api_test!(profiles_show_email_only_to_the_user_and_admins, |app| {
    let (ada, ada_token) = app.user("ada@example.com").await;
    let (_, bob_token) = app.user("bob@example.com").await;
    let (_, admin_token) = app.admin().await;
    let path = format!("/api/v1/users/{ada}");
    assert!(app.get(&path).send().await.json().get("email").is_none());
    assert!(app
        .get(&path)
        .bearer(&bob_token)
        .send()
        .await
        .json()
        .get("email")
        .is_none());
    assert_eq!(
        app.get(&path).bearer(&ada_token).send().await.json()["email"],
        "ada@example.com"
    );
    assert_eq!(
        app.get(&path).bearer(&admin_token).send().await.json()["email"],
        "ada@example.com"
    );
    app.get("/api/v1/users/999999").send().await.problem(404);
});

api_test!(only_admins_list_users, |app| {
    let (_, token) = app.user("ada@example.com").await;
    app.get("/api/v1/users").send().await.problem(401);
    app.get("/api/v1/users")
        .bearer(&token)
        .send()
        .await
        .problem(403);
    let (_, admin) = app.admin().await;
    let r = app
        .get("/api/v1/users?role=admin")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total"], 1);
    let all = app
        .get("/api/v1/users?sort=-id")
        .bearer(&admin)
        .send()
        .await
        .json();
    assert_eq!(all["total"], 2);
    assert!(all["data"][0]["id"].as_i64() > all["data"][1]["id"].as_i64());
    app.get("/api/v1/users?role=wizard")
        .bearer(&admin)
        .send()
        .await
        .problem(400);
});

api_test!(
    put_replaces_the_account_and_needs_every_required_field,
    |app| {
        let (id, token) = app.user("ada@example.com").await;
        let path = format!("/api/v1/users/{id}");
        let missing = app
            .put(&path)
            .bearer(&token)
            .json(&json!({"name": "Only a name"}))
            .send()
            .await;
        missing.problem(400);
        assert_eq!(
            app.get(&path).bearer(&token).send().await.json()["name"],
            "Test User"
        );

        let r = app
            .put(&path)
            .bearer(&token)
            .json(&json!({"email": "ada.l@example.com", "name": "Ada L"}))
            .send()
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["email"], "ada.l@example.com");
        assert_eq!(r.json()["name"], "Ada L");
    }
);

api_test!(
    users_cannot_change_others_or_grant_themselves_admin,
    |app| {
        let (ada, ada_token) = app.user("ada@example.com").await;
        let (bob, _) = app.user("bob@example.com").await;
        let other = app
            .patch(&format!("/api/v1/users/{bob}"))
            .bearer(&ada_token)
            .merge_patch(&json!({"name": "Hacked"}))
            .send()
            .await;
        other.problem(403);
        let promote = app
            .patch(&format!("/api/v1/users/{ada}"))
            .bearer(&ada_token)
            .merge_patch(&json!({"role": "admin"}))
            .send()
            .await;
        promote.problem(403);
        app.delete(&format!("/api/v1/users/{bob}"))
            .bearer(&ada_token)
            .send()
            .await
            .problem(403);
        let (_, admin) = app.admin().await;
        let bob_now = app
            .get(&format!("/api/v1/users/{bob}"))
            .bearer(&admin)
            .send()
            .await
            .json();
        assert_eq!(bob_now["name"], "Test User");
        let ada_now = app
            .get(&format!("/api/v1/users/{ada}"))
            .bearer(&admin)
            .send()
            .await
            .json();
        assert_eq!(ada_now["role"], "user");

        // Admins may grant roles.
        let granted = app
            .patch(&format!("/api/v1/users/{ada}"))
            .bearer(&admin)
            .merge_patch(&json!({"role": "admin"}))
            .send()
            .await;
        assert_eq!(granted.json()["role"], "admin");
    }
);

api_test!(
    patch_with_plain_json_or_merge_patch_changes_only_given_fields,
    |app| {
        let (id, token) = app.user("ada@example.com").await;
        let path = format!("/api/v1/users/{id}");
        let r = app
            .patch(&path)
            .bearer(&token)
            .json(&json!({"name": "Plain JSON"}))
            .send()
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["email"], "ada@example.com");
        assert_eq!(r.json()["name"], "Plain JSON");
        let removed = app
            .patch(&path)
            .bearer(&token)
            .merge_patch(&json!({"name": null}))
            .send()
            .await;
        removed.problem(400);
        let taken = app.register("bob@example.com", "Bob").await;
        assert!(taken > 0);
        app.patch(&path)
            .bearer(&token)
            .merge_patch(&json!({"email": "BOB@example.com"}))
            .send()
            .await
            .problem(409);
        assert_eq!(
            app.get(&path).bearer(&token).send().await.json()["name"],
            "Plain JSON"
        );
    }
);

api_test!(
    deleting_an_account_returns_204_then_404_and_removes_its_posts,
    |app| {
        let (id, token) = app.user("ada@example.com").await;
        let post = app
            .post("/api/v1/posts")
            .bearer(&token)
            .json(&json!({"title": "t", "body": "b"}))
            .send()
            .await;
        let post_id = post.json()["id"].as_i64().unwrap();
        let r = app
            .delete(&format!("/api/v1/users/{id}"))
            .bearer(&token)
            .send()
            .await;
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        app.get(&format!("/api/v1/users/{id}"))
            .send()
            .await
            .problem(404);
        app.get(&format!("/api/v1/posts/{post_id}"))
            .send()
            .await
            .problem(404);
        // The account's tokens end with it: 401, not a confusing 404 or 409.
        let again = app
            .delete(&format!("/api/v1/users/{id}"))
            .bearer(&token)
            .send()
            .await;
        again.problem(401);
        assert!(again
            .header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#));
        let (_, admin) = app.admin().await;
        app.delete(&format!("/api/v1/users/{id}"))
            .bearer(&admin)
            .send()
            .await
            .problem(404);
        assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 400);
    }
);

api_test!(the_last_admin_cannot_delete_their_account, |app| {
    let (id, token) = app.admin().await;
    app.delete(&format!("/api/v1/users/{id}"))
        .bearer(&token)
        .send()
        .await
        .problem(409);
    assert_eq!(
        app.get("/api/v1/users/me")
            .bearer(&token)
            .send()
            .await
            .status,
        200
    );
});

api_test!(
    only_authors_edit_posts_and_admins_may_only_delete_them,
    |app| {
        let (ada, ada_token) = app.user("ada@example.com").await;
        let (_, bob_token) = app.user("bob@example.com").await;
        let (_, admin) = app.admin().await;
        let r = app
            .post("/api/v1/posts")
            .bearer(&ada_token)
            .json(&json!({"title": "Hi", "body": "Text"}))
            .send()
            .await;
        assert_eq!(r.status, 201);
        let post = r.json();
        assert_eq!(post["author_id"], ada);
        let path = format!("/api/v1/posts/{}", post["id"]);
        app.put(&path)
            .bearer(&bob_token)
            .json(&json!({"title": "X", "body": "Y"}))
            .send()
            .await
            .problem(403);
        app.patch(&path)
            .bearer(&admin)
            .merge_patch(&json!({"title": "X"}))
            .send()
            .await
            .problem(403);
        app.delete(&path)
            .bearer(&bob_token)
            .send()
            .await
            .problem(403);
        app.put(&path)
            .bearer(&ada_token)
            .json(&json!({"title": "Only title"}))
            .send()
            .await
            .problem(400);
        assert_eq!(app.get(&path).send().await.json()["title"], "Hi");
        let patched = app
            .patch(&path)
            .bearer(&ada_token)
            .merge_patch(&json!({"title": "Hello"}))
            .send()
            .await
            .json();
        assert_eq!(
            (patched["title"].as_str(), patched["body"].as_str()),
            (Some("Hello"), Some("Text"))
        );
        let listed = app
            .get(&format!("/api/v1/posts?author_id={ada}"))
            .send()
            .await
            .json();
        assert_eq!(listed["total"], 1);
        app.get("/api/v1/posts?author_id=x")
            .send()
            .await
            .problem(400);
        app.get("/api/v1/users/999999/posts")
            .send()
            .await
            .problem(404);
        assert_eq!(app.delete(&path).bearer(&admin).send().await.status, 204);
        app.get(&path).send().await.problem(404);
    }
);
