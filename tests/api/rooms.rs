//! Private rooms and their members, moderation, and posting over REST: one access rule,
//! seen the same way over REST, WebSocket and GraphQL.

use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::TestApp;
use crate::ws_client::Connect;

async fn private_room(app: &TestApp, owner: &str, name: &str) -> Value {
    let r = app
        .post("/api/v1/rooms")
        .bearer(owner)
        .json(&json!({"name": name, "visibility": "private"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

api_test!(
    a_private_room_does_not_exist_for_a_non_member_over_rest_websocket_and_graphql,
    |app| {
        let (_, ada) = app.user("ada@example.com").await;
        let (_, eve) = app.user("eve@example.com").await;
        let (_, admin) = app.admin().await;
        let room = private_room(&app, &ada, "secret").await;
        assert_eq!(room["visibility"], "private");
        let mut owner_ws = app.chat(&ada).await;
        owner_ws.join("secret").await;
        owner_ws.say("secret", "for members only", "s1").await;
        owner_ws.until("message").await;

        // REST: every way in answers 404, exactly like a room that does not exist.
        for path in [
            "/api/v1/rooms/secret",
            "/api/v1/rooms/secret/messages",
            "/api/v1/rooms/secret/members",
            "/api/v1/rooms/secret/messages/1",
        ] {
            let hidden = app.get(path).bearer(&eve).send().await.problem(404);
            let missing = app
                .get(&path.replace("secret", "nosuchroom"))
                .bearer(&eve)
                .send()
                .await
                .problem(404);
            assert_eq!(hidden["type"], missing["type"], "{path}");
        }
        app.post("/api/v1/rooms/secret/messages")
            .bearer(&eve)
            .json(&json!({"body": "let me in"}))
            .send()
            .await
            .problem(404);
        let listed = app.get("/api/v1/rooms").bearer(&eve).send().await.json();
        assert!(
            !listed["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == "secret"),
            "{listed}"
        );
        // The owner and admins see it.
        let listed = app.get("/api/v1/rooms").bearer(&ada).send().await.json();
        assert!(listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "secret"));
        assert_eq!(
            app.get("/api/v1/rooms/secret")
                .bearer(&admin)
                .send()
                .await
                .status,
            200
        );

        // WebSocket: join (and so history) is refused with NOT_FOUND; nothing leaks.
        let mut eve_ws = app.chat(&eve).await;
        eve_ws
            .send_json(json!({"type": "join", "room": "secret"}))
            .await;
        let refused = eve_ws.expect("error").await;
        assert_eq!(refused["code"], "NOT_FOUND", "{refused}");
        eve_ws
            .send_json(json!({"type": "history", "room": "secret"}))
            .await;
        assert_eq!(eve_ws.expect("error").await["code"], "NOT_A_MEMBER");

        // GraphQL: the room is null, its messages unreachable, posting NOT_FOUND.
        let body = app
            .gql(
                Some(&eve),
                r#"{ room(name: "secret") { name } rooms { edges { node { name } } } }"#,
            )
            .await;
        assert_eq!(body["data"]["room"], Value::Null, "{body}");
        assert!(!body.to_string().contains("secret"), "{body}");
        let body = app
            .gql(
                Some(&eve),
                r#"mutation { sendMessage(room: "secret", body: "hi") { id } }"#,
            )
            .await;
        assert_eq!(error_code(&body), "NOT_FOUND");
        let body = app
            .gql(
                Some(&ada),
                r#"{ room(name: "secret") { visibility messages { messages { body seq } } } }"#,
            )
            .await;
        assert_eq!(body["data"]["room"]["visibility"], "PRIVATE", "{body}");
        assert_eq!(
            body["data"]["room"]["messages"]["messages"][0],
            json!({"body": "for members only", "seq": 1})
        );
        // A GraphQL subscription to it is refused too.
        let Connect::Open(mut sub, _) = app.ws_connect("/graphql", &["graphql-transport-ws"]).await
        else {
            panic!("subscription upgrade refused")
        };
        sub.send_json(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {eve}")}}))
            .await;
        sub.expect("connection_ack").await;
        sub.send_json(json!({"id": "s", "type": "subscribe", "payload": {
            "query": "subscription { messageAdded(room: \"secret\") { body } }"}}))
            .await;
        // The resolver's error, as graphql-transport-ws sends execution errors: `next` with
        // `errors` and no data, then `complete`.
        let refused = sub.expect("next").await;
        assert_eq!(refused["payload"]["data"], Value::Null, "{refused}");
        assert_eq!(
            refused["payload"]["errors"][0]["extensions"]["code"],
            "NOT_FOUND"
        );
        sub.expect("complete").await;
    }
);

api_test!(
    owners_manage_members_and_a_removed_member_leaves_at_once,
    |app| {
        let (_, ada) = app.user("ada@example.com").await;
        let (bob_id, bob) = app.user("bob@example.com").await;
        let (_, eve) = app.user("eve@example.com").await;
        private_room(&app, &ada, "team").await;

        // Only the owner (or an admin) adds members; a stranger does not even see the room.
        app.put(&format!("/api/v1/rooms/team/members/{bob_id}"))
            .bearer(&eve)
            .send()
            .await
            .problem(404);
        let r = app
            .put(&format!("/api/v1/rooms/team/members/{bob_id}"))
            .bearer(&ada)
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let again = app
            .put(&format!("/api/v1/rooms/team/members/{bob_id}"))
            .bearer(&ada)
            .send()
            .await;
        assert_eq!(again.status, 204, "adding twice changes nothing");
        app.put("/api/v1/rooms/team/members/999999")
            .bearer(&ada)
            .send()
            .await
            .problem(404);
        // A member may look but not manage.
        let members = app
            .get("/api/v1/rooms/team/members")
            .bearer(&bob)
            .send()
            .await;
        assert_eq!(members.status, 200);
        let ids: Vec<i64> = members.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user"]["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&bob_id));
        app.put(&format!("/api/v1/rooms/team/members/{bob_id}"))
            .bearer(&bob)
            .send()
            .await
            .problem(403);

        let mut ada_ws = app.chat(&ada).await;
        ada_ws.join("team").await;
        let mut bob_ws = app.chat(&bob).await;
        bob_ws.join("team").await;
        ada_ws.until("presence").await;
        bob_ws.say("team", "hello team", "b1").await;
        assert_eq!(ada_ws.until("message").await["body"], "hello team");

        // Removal: Bob's socket leaves the room at once, with the reason.
        let r = app
            .delete(&format!("/api/v1/rooms/team/members/{bob_id}"))
            .bearer(&ada)
            .send()
            .await;
        assert_eq!(r.status, 204);
        let left = bob_ws.until("left").await;
        assert_eq!(
            left,
            json!({"type": "left", "room": "team", "reason": "removed"})
        );
        assert_eq!(ada_ws.until("presence").await["left"]["id"], bob_id);
        bob_ws.say("team", "still here?", "b2").await;
        assert_eq!(bob_ws.expect("error").await["code"], "NOT_A_MEMBER");
        bob_ws
            .send_json(json!({"type": "join", "room": "team"}))
            .await;
        assert_eq!(bob_ws.expect("error").await["code"], "NOT_FOUND");
        app.get("/api/v1/rooms/team")
            .bearer(&bob)
            .send()
            .await
            .problem(404);
        app.delete(&format!("/api/v1/rooms/team/members/{bob_id}"))
            .bearer(&ada)
            .send()
            .await
            .problem(404);
    }
);

api_test!(
    a_member_may_leave_a_private_room_and_graphql_manages_members_too,
    |app| {
        let (_, ada) = app.user("ada@example.com").await;
        let (bob_id, bob) = app.user("bob@example.com").await;
        let body = app
            .gql(
                Some(&ada),
                r#"mutation { createRoom(input: {name: "gqlroom", visibility: PRIVATE}) { name visibility ownerId } }"#,
            )
            .await;
        assert_eq!(
            body["data"]["createRoom"]["visibility"], "PRIVATE",
            "{body}"
        );
        let body = app
            .gql(Some(&bob), r#"{ room(name: "gqlroom") { name } }"#)
            .await;
        assert_eq!(body["data"]["room"], Value::Null);
        let add = format!(r#"mutation {{ addRoomMember(room: "gqlroom", userId: "{bob_id}") }}"#);
        assert_eq!(error_code(&app.gql(Some(&bob), &add).await), "NOT_FOUND");
        assert_eq!(
            app.gql(Some(&ada), &add).await["data"]["addRoomMember"],
            true
        );
        assert_eq!(
            app.gql(Some(&ada), &add).await["data"]["addRoomMember"],
            false
        );
        let body = app
            .gql(
                Some(&bob),
                r#"mutation { sendMessage(room: "gqlroom", body: "via graphql", clientId: "g1") { seq body user { name } } }"#,
            )
            .await;
        assert_eq!(body["data"]["sendMessage"]["seq"], 1, "{body}");
        let body = app
            .gql(Some(&bob), r#"{ room(name: "gqlroom") { members { user { id } } messages { messages { body } } } }"#)
            .await;
        assert_eq!(
            body["data"]["room"]["members"].as_array().unwrap().len(),
            2,
            "{body}"
        );
        // The member removes themself (REST), and the room is gone for them.
        let r = app
            .delete(&format!("/api/v1/rooms/gqlroom/members/{bob_id}"))
            .bearer(&bob)
            .send()
            .await;
        assert_eq!(r.status, 204);
        let body = app
            .gql(Some(&bob), r#"{ room(name: "gqlroom") { name } }"#)
            .await;
        assert_eq!(body["data"]["room"], Value::Null);
    }
);

api_test!(
    moderators_delete_messages_and_members_sockets_are_told,
    |app| {
        let (_, ada) = app.user("ada@example.com").await;
        let (_, bob) = app.user("bob@example.com").await;
        let (_, admin) = app.admin().await;
        let r = app
            .post("/api/v1/rooms")
            .bearer(&ada)
            .json(&json!({"name": "modded"}))
            .send()
            .await;
        assert_eq!(r.status, 201);
        assert_eq!(r.json()["visibility"], "public");
        let mut bob_ws = app.chat(&bob).await;
        bob_ws.join("modded").await;
        bob_ws.say("modded", "spam", "b1").await;
        let spam = bob_ws.until("message").await;
        bob_ws.say("modded", "fine", "b2").await;
        let fine = bob_ws.until("message").await;
        let spam_id = spam["id"].as_i64().unwrap();

        // The author is no moderator; the owner and admins are.
        app.delete(&format!("/api/v1/rooms/modded/messages/{spam_id}"))
            .bearer(&bob)
            .send()
            .await
            .problem(403);
        let r = app
            .delete(&format!("/api/v1/rooms/modded/messages/{spam_id}"))
            .bearer(&ada)
            .send()
            .await;
        assert_eq!(r.status, 204);
        assert_eq!(
            bob_ws.until("deleted").await,
            json!({"type": "deleted", "room": "modded", "id": spam_id})
        );
        app.get(&format!("/api/v1/rooms/modded/messages/{spam_id}"))
            .bearer(&bob)
            .send()
            .await
            .problem(404);
        let history = app
            .get("/api/v1/rooms/modded/messages")
            .bearer(&bob)
            .send()
            .await
            .json();
        assert_eq!(history["data"].as_array().unwrap().len(), 1);
        assert_eq!(history["data"][0]["id"], fine["id"]);
        let fine_id = fine["id"].as_i64().unwrap();
        let body = app
            .gql(
                Some(&admin),
                &format!(r#"mutation {{ deleteMessage(room: "modded", id: "{fine_id}") }}"#),
            )
            .await;
        assert_eq!(body["data"]["deleteMessage"], fine_id.to_string(), "{body}");
        assert_eq!(bob_ws.until("deleted").await["id"], fine_id);
    }
);

api_test!(
    posting_over_rest_is_broadcast_and_an_idempotency_key_makes_a_retry_safe,
    |app| {
        let (_, ada) = app.user("ada@example.com").await;
        let (_, bob) = app.user("bob@example.com").await;
        let mut bob_ws = app.chat(&bob).await;
        bob_ws.join("hooks").await;
        let post = |key: Option<&'static str>, body: &'static str| {
            let mut req = app
                .post("/api/v1/rooms/hooks/messages")
                .bearer(&ada)
                .json(&json!({"body": body}));
            if let Some(key) = key {
                req = req.header("idempotency-key", key);
            }
            req.send()
        };
        let first = post(Some("deploy-42"), "deployed v42").await;
        assert_eq!(
            first.status,
            201,
            "{}",
            String::from_utf8_lossy(&first.body)
        );
        let message = first.json();
        assert_eq!(message["seq"], 1);
        assert_eq!(
            first.header("location").unwrap(),
            format!("/api/v1/rooms/hooks/messages/{}", message["id"])
        );
        assert!(first.header("idempotent-replayed").is_none());
        let live = bob_ws.until("message").await;
        assert_eq!(live["id"], message["id"]);
        assert_eq!(live["body"], "deployed v42");

        // The retry stores nothing and answers with the original.
        let retry = post(Some("deploy-42"), "deployed v42").await;
        assert_eq!(retry.status, 201);
        assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
        assert_eq!(retry.json(), message);
        // Another key is another message, and the broadcast continues in seq order.
        let second = post(None, "second").await.json();
        assert_eq!(second["seq"], 2);
        let live = bob_ws.until("message").await;
        assert_eq!(live["seq"], 2, "the retry was not broadcast: {live}");
        let history = app
            .get("/api/v1/rooms/hooks/messages")
            .bearer(&bob)
            .send()
            .await
            .json();
        assert_eq!(history["data"].as_array().unwrap().len(), 2);

        // Bad input changes nothing.
        post(None, "   ").await.problem(400);
        app.post("/api/v1/rooms/hooks/messages")
            .bearer(&ada)
            .header("idempotency-key", &"k".repeat(65))
            .json(&json!({"body": "x"}))
            .send()
            .await
            .problem(400);
        app.post("/api/v1/rooms/hooks/messages")
            .bearer(&ada)
            .json(&json!({"body": "x", "extra": 1}))
            .send()
            .await
            .problem(400);
        let room = app
            .get("/api/v1/rooms/hooks")
            .bearer(&ada)
            .send()
            .await
            .json();
        assert_eq!(room["last_seq"], 2);
    }
);

api_test!(
    leaving_over_websocket_ends_a_public_membership_but_not_a_private_one,
    |app| {
        let (ada_id, ada) = app.user("ada@example.com").await;
        let (bob_id, bob) = app.user("bob@example.com").await;
        private_room(&app, &ada, "quiet").await;
        let r = app
            .put(&format!("/api/v1/rooms/quiet/members/{bob_id}"))
            .bearer(&ada)
            .send()
            .await;
        assert_eq!(r.status, 201);
        let mut bob_ws = app.chat(&bob).await;
        bob_ws.join("quiet").await;
        bob_ws.join("open").await;
        for room in ["quiet", "open"] {
            bob_ws
                .send_json(json!({"type": "leave", "room": room}))
                .await;
            assert_eq!(bob_ws.until("left").await["room"], room);
        }
        let members = |room: &'static str| {
            let app = &app;
            let ada = ada.clone();
            async move {
                app.get(&format!("/api/v1/rooms/{room}/members"))
                    .bearer(&ada)
                    .send()
                    .await
                    .json()["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["user"]["id"].as_i64().unwrap())
                    .collect::<Vec<_>>()
            }
        };
        // The private room's membership is its access list: a WebSocket leave keeps it.
        assert_eq!(members("quiet").await, vec![ada_id, bob_id]);
        bob_ws.join("quiet").await;
        // A public room's membership only means "notify me": leaving ends it.
        assert!(!members("open").await.contains(&bob_id));
    }
);

/// Room search is one rule for both transports (services::rooms::list): text, not controls.
#[actix_web::test]
async fn room_search_refuses_control_characters_over_rest_and_graphql() {
    let app = crate::helpers::spawn_app().await;
    let (_, ada) = app.user("ada@example.com").await;
    app.get("/api/v1/rooms?q=a%01b")
        .bearer(&ada)
        .send()
        .await
        .problem(400);
    let body = app
        .gql(Some(&ada), r#"{ rooms(q: "a\u0001b") { totalCount } }"#)
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let fine = app
        .gql(Some(&ada), r#"{ rooms(q: "  ") { totalCount } }"#)
        .await;
    assert!(fine["errors"].is_null(), "{fine}");
}
