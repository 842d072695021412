//! `/ws/events`: who is told what, the admin dashboard feed, and `/metrics`.

use serde_json::json;

use crate::api_test;
use crate::helpers::spawn_app;

api_test!(
    order_events_reach_the_owner_and_admins_but_no_other_user,
    |app| {
        let (_, admin) = app.admin().await;
        let (ada_id, ada) = app.user("ada@example.com").await;
        let (_, eve) = app.user("eve@example.com").await;
        let product = app.product(&admin, "SKU-EV", 250, 10).await;

        let (mut admin_ws, ready) = app.events(&admin).await;
        assert_eq!(ready["dashboard"], true);
        let (mut ada_ws, ready) = app.events(&ada).await;
        assert_eq!(ready["dashboard"], false);
        assert_eq!(ready["user"]["id"], ada_id);
        let (mut eve_ws, _) = app.events(&eve).await;

        let r = app
            .post("/api/v1/orders")
            .bearer(&ada)
            .json(&json!({"items": [{"product_id": product, "quantity": 2}]}))
            .send()
            .await;
        assert_eq!(r.status, 201);
        let order_id = r.json()["id"].as_i64().unwrap();

        let created = ada_ws.until("order_created").await;
        assert_eq!(
            created["order"],
            json!({"id": order_id, "user_id": ada_id, "status": "pending", "total_cents": 500})
        );
        assert_eq!(
            admin_ws.until("order_created").await["order"]["id"],
            order_id
        );

        let r = app
            .patch(&format!("/api/v1/orders/{order_id}"))
            .bearer(&ada)
            .merge_patch(&json!({"status": "paid"}))
            .send()
            .await;
        assert_eq!(r.status, 200);
        let changed = ada_ws.until("order_status_changed").await;
        assert_eq!(changed["from"], "pending");
        assert_eq!(changed["order"]["status"], "paid");
        assert_eq!(
            admin_ws.until("order_status_changed").await["order"]["id"],
            order_id
        );

        // Eve placed nothing and is no admin: she heard nothing of Ada's order; the first
        // thing she hears is her own.
        let eves = app.order(&eve, product, 1).await;
        eve_ws
            .next_is("order_created", |e| e["order"]["id"] == eves)
            .await;
    }
);

#[actix_web::test]
async fn admins_hear_of_registrations_and_get_a_metrics_frame_every_second() {
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    let (_, user) = app.user("watcher@example.com").await;
    let (mut admin_ws, _) = app.events(&admin).await;
    let (mut user_ws, _) = app.events(&user).await;

    let new_id = app.register("newbie@example.com", "Newbie").await;
    let registered = admin_ws.until("user_registered").await;
    assert_eq!(registered["user"], json!({"id": new_id, "name": "Newbie"}));

    let metrics = admin_ws.until("metrics").await;
    assert!(
        metrics["http"]["requests_total"].as_u64().unwrap() >= 4,
        "{metrics}"
    );
    assert!(metrics["ws"]["sessions"]["events"].as_i64().unwrap() >= 2);
    assert!(metrics["db"]["pool_max"].as_u64().unwrap() >= 1);
    assert!(metrics["uptime_s"].is_u64());
    let next = admin_ws.until("metrics").await;
    assert!(next["http"]["requests_total"].as_u64() >= metrics["http"]["requests_total"].as_u64());

    // A plain user gets neither the dashboard nor other people's registrations: two metrics
    // ticks and a registration later, the first frame they get is about their own order.
    let product = app.product(&admin, "SKU-WATCH", 100, 5).await;
    let own = app.order(&user, product, 1).await;
    user_ws
        .next_is("order_created", |e| e["order"]["id"] == own)
        .await;
}

#[actix_web::test]
async fn members_away_from_chat_are_notified_of_new_messages_in_their_rooms() {
    let app = spawn_app().await;
    let (_, ada) = app.user("ada@example.com").await;
    let (bob_id, bob) = app.user("bob@example.com").await;
    let (_, eve) = app.user("eve@example.com").await;

    // Bob joins the room, then closes the chat: still a member, now away. Eve is away from
    // a room of her own, whose messages are her markers.
    let mut bob_chat = app.chat(&bob).await;
    bob_chat.join("team").await;
    bob_chat.join("bob-only").await;
    bob_chat.close().await;
    let mut eve_chat = app.chat(&eve).await;
    eve_chat.join("eve-only").await;
    eve_chat.close().await;
    let (mut bob_events, _) = app.events(&bob).await;
    let (mut eve_events, _) = app.events(&eve).await;

    let mut ada_chat = app.chat(&ada).await;
    ada_chat.join("team").await;
    ada_chat.say("team", "standup in 5", "c1").await;
    ada_chat.expect("message").await;

    let notice = bob_events.until("chat_message").await;
    assert_eq!(notice["room"], "team");
    assert_eq!(notice["message"]["body"], "standup in 5");
    // Eve never joined the room: her first notice is of her own room.
    ada_chat.join("eve-only").await;
    ada_chat.say("eve-only", "eve marker", "e1").await;
    eve_events
        .next_is("chat_message", |n| n["message"]["body"] == "eve marker")
        .await;

    // Back in chat, Bob gets the message there and no notification.
    let mut bob_chat = app.chat(&bob).await;
    bob_chat.join("team").await;
    ada_chat.say("team", "starting", "c2").await;
    bob_chat.until("message").await;
    bob_chat.close().await;
    // Away again once the room has seen him go: his next notice is of the next message.
    loop {
        let presence = ada_chat.until("presence").await;
        if presence["left"]["id"] == bob_id {
            break;
        }
    }
    ada_chat.say("team", "while away", "c3").await;
    bob_events
        .next_is("chat_message", |n| n["message"]["body"] == "while away")
        .await;

    // After an explicit leave (answered once the membership has ended), Bob is no member
    // and hears nothing of the room: his next notice is from a room he is still in.
    let mut bob_chat = app.chat(&bob).await;
    bob_chat.join("team").await;
    bob_chat
        .send_json(json!({"type": "leave", "room": "team"}))
        .await;
    bob_chat.expect("left").await;
    bob_chat.close().await;
    ada_chat.say("team", "bye bob", "c4").await;
    ada_chat.until("message").await;
    ada_chat.join("bob-only").await;
    ada_chat.say("bob-only", "bob marker", "b1").await;
    bob_events
        .next_is("chat_message", |n| n["message"]["body"] == "bob marker")
        .await;
}

#[actix_web::test]
async fn metrics_are_served_in_the_prometheus_text_format() {
    let app = spawn_app().await;
    let (_, token) = app.user("prom@example.com").await;
    let mut ws = app.chat(&token).await;
    ws.join("counted").await;
    ws.say("counted", "one", "c").await;
    ws.expect("message").await;
    app.get("/api/v1/nothing-here").send().await;

    let r = app.get("/metrics").send().await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(r.body).unwrap();
    for line in [
        "switchboard_http_requests_total{status=\"404\"} 1",
        "switchboard_ws_sessions{kind=\"chat\"} 1",
        "switchboard_chat_messages_total 1",
        "switchboard_chat_rooms_active 1",
        "# TYPE switchboard_http_request_duration_seconds histogram",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.contains("switchboard_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
    assert!(text.contains("switchboard_db_pool_connections{state=\"idle\"}"));
}
