use serde_json::json;

use crate::api_test;
#[allow(unused_imports)]
use crate::helpers::*;

api_test!(
    password_grant_returns_bearer_tokens_that_are_not_cacheable,
    |app| {
        app.register("ada@example.com", "Ada").await;
        let r = app.login("ada@example.com", PASSWORD).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        let body = r.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert!(body["refresh_token"].as_str().unwrap().len() >= 32);
        let access = body["access_token"].as_str().unwrap();
        let me = app.get("/api/v1/users/me").bearer(access).send().await;
        assert_eq!(me.status, 200);
        assert_eq!(me.json()["email"], "ada@example.com");
    }
);

api_test!(login_is_case_insensitive_on_the_email, |app| {
    app.register("Ada@Example.com", "Ada").await;
    assert_eq!(app.login("ADA@example.COM", PASSWORD).await.status, 200);
});

api_test!(
    wrong_password_and_unknown_email_get_the_same_invalid_grant,
    |app| {
        app.register("ada@example.com", "Ada").await;
        let wrong = app.login("ada@example.com", "not the password").await;
        let unknown = app.login("nobody@example.com", PASSWORD).await;
        for r in [&wrong, &unknown] {
            let body = r.oauth_error(400);
            assert_eq!(body["error"], "invalid_grant");
            assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        }
        assert_eq!(
            wrong.json()["error_description"],
            unknown.json()["error_description"]
        );
    }
);

api_test!(token_endpoint_reports_rfc_6749_error_codes, |app| {
    let unsupported = app
        .post("/api/v1/auth/token")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    assert_eq!(
        unsupported.oauth_error(400)["error"],
        "unsupported_grant_type"
    );

    let missing = app
        .post("/api/v1/auth/token")
        .form(&[("grant_type", "password"), ("username", "a@b.co")])
        .send()
        .await;
    assert_eq!(missing.oauth_error(400)["error"], "invalid_request");

    let no_grant = app
        .post("/api/v1/auth/token")
        .form(&[("username", "a@b.co")])
        .send()
        .await;
    assert_eq!(no_grant.oauth_error(400)["error"], "invalid_request");

    let json_body = app
        .post("/api/v1/auth/token")
        .json(&json!({"grant_type": "password"}))
        .send()
        .await;
    assert_eq!(json_body.oauth_error(400)["error"], "invalid_request");

    let repeated = app
        .post("/api/v1/auth/token")
        .form(&[("grant_type", "password"), ("grant_type", "password")])
        .send()
        .await;
    assert_eq!(repeated.oauth_error(400)["error"], "invalid_request");

    let secret = app
        .post("/api/v1/auth/token")
        .form(&[
            ("grant_type", "password"),
            ("username", "a@b.co"),
            ("password", "x"),
            ("client_secret", "s"),
        ])
        .send()
        .await;
    assert_eq!(secret.oauth_error(401)["error"], "invalid_client");
});

/// The refresh token a token-endpoint answer carries.
fn refresh_of(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["refresh_token"].as_str().unwrap().to_owned()
}

api_test!(
    refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_family,
    |app| {
        app.register("ada@example.com", "Ada").await;
        let r1 = refresh_of(&app.login("ada@example.com", PASSWORD).await);
        let r2 = refresh_of(&app.refresh(&r1).await);
        assert_ne!(r1, r2);
        // r2 was used, so its client had the answer: r1 coming back is theft, and the
        // whole family dies with it.
        let r3 = refresh_of(&app.refresh(&r2).await);
        assert_eq!(
            app.refresh(&r1).await.oauth_error(400)["error"],
            "invalid_grant"
        );
        assert_eq!(
            app.refresh(&r3).await.oauth_error(400)["error"],
            "invalid_grant"
        );

        // A separate login is a separate family and still works.
        assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
    }
);

api_test!(
    a_refresh_whose_answer_was_lost_is_retried_with_the_same_token,
    |app| {
        app.register("ada@example.com", "Ada").await;
        let r1 = refresh_of(&app.login("ada@example.com", PASSWORD).await);
        // The answer carrying r2 never reached the client (a page navigated away).
        let lost = refresh_of(&app.refresh(&r1).await);
        let retried = app.refresh(&r1).await;
        let r3 = refresh_of(&retried);
        assert_ne!(r3, lost);
        // The undelivered token is retired, without ending the session.
        assert_eq!(
            app.refresh(&lost).await.oauth_error(400)["error"],
            "invalid_grant"
        );
        let r4 = app.refresh(&r3).await;
        let access = r4.json()["access_token"].as_str().unwrap().to_owned();
        let r4 = refresh_of(&r4);
        let me = app.get("/api/v1/users/me").bearer(&access).send().await;
        assert_eq!(me.status, 200);
        // Its successor r3 has been used now: r1 again is theft, and ends the session.
        assert_eq!(
            app.refresh(&r1).await.oauth_error(400)["error"],
            "invalid_grant"
        );
        assert_eq!(
            app.refresh(&r4).await.oauth_error(400)["error"],
            "invalid_grant"
        );
        let me = app.get("/api/v1/users/me").bearer(&access).send().await;
        assert_eq!(me.status, 401);
    }
);

#[actix_web::test]
async fn without_a_reuse_grace_any_retired_refresh_token_revokes_its_family() {
    let app = spawn_with(Backend::Sqlite, |a| a.refresh_reuse_grace = 0)
        .await
        .unwrap();
    app.register("ada@example.com", "Ada").await;
    let r1 = refresh_of(&app.login("ada@example.com", PASSWORD).await);
    let r2 = refresh_of(&app.refresh(&r1).await);
    assert_eq!(
        app.refresh(&r1).await.oauth_error(400)["error"],
        "invalid_grant"
    );
    assert_eq!(
        app.refresh(&r2).await.oauth_error(400)["error"],
        "invalid_grant"
    );
}

api_test!(
    revoking_a_refresh_token_ends_its_session_and_unknown_tokens_are_accepted,
    |app| {
        app.register("ada@example.com", "Ada").await;
        let refresh = app.login("ada@example.com", PASSWORD).await.json()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let revoke = app
            .post("/api/v1/auth/revoke")
            .form(&[("token", &refresh)])
            .send()
            .await;
        assert_eq!(revoke.status, 200);
        let use_it = app.refresh(&refresh).await;
        assert_eq!(use_it.oauth_error(400)["error"], "invalid_grant");

        let unknown = app
            .post("/api/v1/auth/revoke")
            .form(&[("token", "never-issued")])
            .send()
            .await;
        assert_eq!(unknown.status, 200);
        let missing = app
            .post("/api/v1/auth/revoke")
            .form(&[("token_type_hint", "refresh_token")])
            .send()
            .await;
        assert_eq!(missing.oauth_error(400)["error"], "invalid_request");
    }
);

api_test!(
    changing_the_password_revokes_existing_refresh_tokens,
    |app| {
        let (id, token) = app.user("ada@example.com").await;
        let refresh = app.login("ada@example.com", PASSWORD).await.json()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app
            .patch(&format!("/api/v1/users/{id}"))
            .bearer(&token)
            .merge_patch(&json!({"password": "a brand new password"}))
            .send()
            .await;
        assert_eq!(r.status, 200);
        assert!(r.json().get("password").is_none() && r.json().get("password_hash").is_none());
        let use_it = app.refresh(&refresh).await;
        assert_eq!(use_it.oauth_error(400)["error"], "invalid_grant");
        assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 400);
        assert_eq!(
            app.login("ada@example.com", "a brand new password")
                .await
                .status,
            200
        );
    }
);

api_test!(
    protected_routes_challenge_missing_and_invalid_bearer_tokens,
    |app| {
        let missing = app.get("/api/v1/users/me").send().await;
        missing.problem(401);
        let challenge = missing.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(!challenge.contains("invalid_token"));

        let garbage = app.get("/api/v1/users/me").bearer("not.a.jwt").send().await;
        garbage.problem(401);
        assert!(garbage
            .header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#));

        // Signed with another secret: forged.
        let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "1", "role": "admin", "iat": 0, "exp": 4_000_000_000u64, "jti": "x", "iss": "switchboard"}),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret!!"),
    )
    .unwrap();
        let r = app.get("/api/v1/users").bearer(&forged).send().await;
        r.problem(401);
        assert!(r
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token"));

        let basic = app
            .get("/api/v1/users/me")
            .header("authorization", "Basic YTpi")
            .send()
            .await;
        basic.problem(401);
    }
);

#[actix_web::test]
async fn expired_access_tokens_are_refused() {
    let app = spawn_app().await;
    let (_, token) = app.user("ada@example.com").await;
    let now = chrono::Utc::now().timestamp();
    // The same token issued a little over its lifetime (and the 5 s leeway) ago...
    let lapsed = resign(&token, |c| {
        c["iat"] = json!(now - 906);
        c["exp"] = json!(now - 6);
    });
    let r = app.get("/api/v1/users/me").bearer(&lapsed).send().await;
    let body = r.problem(401);
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    // ...while within the leeway it still holds (clocks a little apart do no harm).
    let just = resign(&token, |c| c["exp"] = json!(now - 2));
    assert_eq!(
        app.get("/api/v1/users/me")
            .bearer(&just)
            .send()
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn a_short_jwt_secret_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = serve_args(&dir.path().join("t.db").to_string_lossy());
    args.jwt_secret = Some(switchboard::domain::Secret::new("too-short"));
    let err = switchboard::startup::Application::build(args)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("at least 32"), "{err}");
}
