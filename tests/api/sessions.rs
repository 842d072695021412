//! Sessions that end early, over HTTP and on open sockets: a password change, a sign-out,
//! an admin disabling the account, its deletion. Tokens of an ended session are refused at
//! once, and every socket opened with them closes with 4003; a socket whose token expires
//! closes with 4001 unless the client renews it in-band.

use awc::ws::CloseCode;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{resign, TestApp, PASSWORD};
use crate::ws_client::{Connect, WsClient};

/// Asserts `token` is refused over REST and GraphQL with `error="invalid_token"`.
async fn refused(app: &TestApp, token: &str) {
    let r = app.get("/api/v1/users/me").bearer(token).send().await;
    r.problem(401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#),
        "{:?}",
        r.header("www-authenticate")
    );
    let (status, body) = app
        .graphql_as(Some(token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(status, 401, "{body}");
}

/// A graphql-transport-ws connection for `token`, past its `connection_ack`.
async fn subscription_socket(app: &TestApp, token: &str) -> WsClient {
    let Connect::Open(mut sub, _) = app.ws_connect("/graphql", &["graphql-transport-ws"]).await
    else {
        panic!("subscription upgrade refused")
    };
    sub.send_json(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    sub.expect("connection_ack").await;
    sub
}

/// Every kind of socket a signed-in user can hold.
async fn sockets(app: &TestApp, token: &str) -> Vec<WsClient> {
    let mut chat = app.chat(token).await;
    chat.join("lobby").await;
    let (events, _) = app.events(token).await;
    vec![chat, events, subscription_socket(app, token).await]
}

async fn all_close_with(sockets: &mut [WsClient], code: u16) {
    for ws in sockets {
        assert_eq!(ws.closed().await, Some(CloseCode::Other(code)));
    }
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let r = app.login(email, password).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

api_test!(
    a_password_change_ends_every_session_over_http_and_on_open_sockets,
    |app| {
        let (id, token) = app.user("ada@example.com").await;
        let other_device = login(&app, "ada@example.com", PASSWORD).await;
        let mut open = sockets(&app, &token).await;
        let r = app
            .patch(&format!("/api/v1/users/{id}"))
            .bearer(&token)
            .merge_patch(&json!({"password": "a brand new password"}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        all_close_with(&mut open, 4003).await;
        refused(&app, &token).await;
        refused(&app, other_device["access_token"].as_str().unwrap()).await;
        // The refresh tokens of those sessions are gone too; a new sign-in works.
        let r = app
            .refresh(other_device["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(r.status, 400);
        let fresh = login(&app, "ada@example.com", "a brand new password").await;
        let fresh = fresh["access_token"].as_str().unwrap();
        assert_eq!(
            app.get("/api/v1/users/me")
                .bearer(fresh)
                .send()
                .await
                .status,
            200
        );
        app.chat(fresh).await.join("lobby").await;
    }
);

api_test!(
    signing_out_one_session_closes_its_sockets_and_leaves_the_others_alone,
    |app| {
        app.register("ada@example.com", "Ada").await;
        let laptop = login(&app, "ada@example.com", PASSWORD).await;
        let phone = login(&app, "ada@example.com", PASSWORD).await;
        let laptop_token = laptop["access_token"].as_str().unwrap();
        let phone_token = phone["access_token"].as_str().unwrap();
        let mut laptop_sockets = sockets(&app, laptop_token).await;
        let mut phone_chat = app.chat(phone_token).await;
        phone_chat.join("lobby").await;

        let r = app
            .post("/api/v1/auth/revoke")
            .form(&[("token", laptop["refresh_token"].as_str().unwrap())])
            .send()
            .await;
        assert_eq!(r.status, 200);
        all_close_with(&mut laptop_sockets, 4003).await;
        refused(&app, laptop_token).await;
        // The phone's session goes on: its token works and its socket still talks.
        assert_eq!(
            app.get("/api/v1/users/me")
                .bearer(phone_token)
                .send()
                .await
                .status,
            200
        );
        phone_chat.say("lobby", "still here", "p1").await;
        assert_eq!(phone_chat.until("message").await["body"], "still here");
    }
);

api_test!(
    a_disabled_account_is_signed_out_everywhere_and_cannot_sign_in_until_enabled,
    |app| {
        let (_, admin) = app.admin().await;
        let (id, token) = app.user("ada@example.com").await;
        let session = login(&app, "ada@example.com", PASSWORD).await;
        let mut open = sockets(&app, &token).await;
        // Only admins disable, and not themselves.
        app.patch(&format!("/api/v1/users/{id}"))
            .bearer(&token)
            .merge_patch(&json!({"disabled": true}))
            .send()
            .await
            .problem(403);
        let r = app
            .patch(&format!("/api/v1/users/{id}"))
            .bearer(&admin)
            .merge_patch(&json!({"disabled": true}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["disabled"], true);
        all_close_with(&mut open, 4003).await;
        refused(&app, &token).await;
        let r = app.login("ada@example.com", PASSWORD).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["error"], "invalid_grant");
        let r = app
            .refresh(session["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(r.status, 400);
        // Enabled again, the account signs in (old sessions stay ended).
        let r = app
            .patch(&format!("/api/v1/users/{id}"))
            .bearer(&admin)
            .merge_patch(&json!({"disabled": false}))
            .send()
            .await;
        assert_eq!(r.status, 200);
        assert!(r.json().get("disabled").is_none());
        login(&app, "ada@example.com", PASSWORD).await;
        refused(&app, &token).await;
    }
);

api_test!(deleting_an_account_closes_its_sockets, |app| {
    let (_, admin) = app.admin().await;
    let (id, token) = app.user("ada@example.com").await;
    let mut open = sockets(&app, &token).await;
    let r = app
        .delete(&format!("/api/v1/users/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(r.status, 204);
    all_close_with(&mut open, 4003).await;
    refused(&app, &token).await;
    // Writes with the dead token answer 401 too, not a confusing 409.
    app.post("/api/v1/posts")
        .bearer(&token)
        .json(&json!({"title": "t", "body": "b"}))
        .send()
        .await
        .problem(401);
});

#[actix_web::test]
async fn a_socket_closes_with_4001_when_its_token_expires_unless_renewed_in_band() {
    // Expiry is the subject here, so the sockets' timers run out for real; the tokens are
    // the server's own, re-dated (helpers::resign), so nothing waits for a clock to tick.
    let app = crate::helpers::spawn_app().await;
    app.register("ada@example.com", "Ada").await;
    app.register("bob@example.com", "Bob").await;
    let issued = login(&app, "ada@example.com", PASSWORD).await;
    let issued = issued["access_token"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    let first = resign(&issued, |c| c["exp"] = json!(now + 3));
    let second = resign(&issued, |c| c["exp"] = json!(now + 5));
    let mut lapses = app.chat(&first).await;
    let mut renews = app.chat(&first).await;
    let (mut events, _) = app.events(&first).await;
    let mut sub = subscription_socket(&app, &first).await;

    renews
        .send_json(json!({"type": "auth", "token": second}))
        .await;
    let renewed = renews.expect("authenticated").await;
    assert!(renewed["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    events
        .send_json(json!({"type": "auth", "token": second}))
        .await;
    events.expect("authenticated").await;
    sub.send_json(
        json!({"type": "ping", "payload": {"Authorization": format!("Bearer {second}")}}),
    )
    .await;
    let pong = sub.expect("pong").await;
    assert_eq!(
        pong["payload"]["expires_at"], renewed["expires_at"],
        "{pong}"
    );
    // Bad renewals are refused and change nothing.
    let bob = login(&app, "bob@example.com", PASSWORD).await;
    renews
        .send_json(json!({"type": "auth", "token": bob["access_token"]}))
        .await;
    assert_eq!(renews.expect("error").await["code"], "FORBIDDEN");
    renews
        .send_json(json!({"type": "auth", "token": "forged"}))
        .await;
    assert_eq!(renews.expect("error").await["code"], "UNAUTHENTICATED");

    // The unrenewed socket closes at its token's expiry; the renewed ones are still open.
    assert_eq!(lapses.closed().await, Some(CloseCode::Other(4001)));
    renews.join("after-expiry").await;
    sub.send_json(json!({"type": "ping"})).await;
    sub.expect("pong").await;
    // ...until their new token expires in turn.
    assert_eq!(renews.closed().await, Some(CloseCode::Other(4001)));
    assert_eq!(events.closed().await, Some(CloseCode::Other(4001)));
    assert_eq!(sub.closed().await, Some(CloseCode::Other(4001)));
}

#[actix_web::test]
async fn a_bad_token_in_connection_init_closes_with_4403() {
    let app = crate::helpers::spawn_app().await;
    let Connect::Open(mut bad, _) = app.ws_connect("/graphql", &["graphql-transport-ws"]).await
    else {
        panic!("refused")
    };
    bad.send_json(
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}}),
    )
    .await;
    assert_eq!(bad.closed().await, Some(CloseCode::Other(4403)));
}
