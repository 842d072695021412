//! Security hardening seen from outside: response headers, CORS, request budgets, HTTPS,
//! and object-level authorization (no IDOR) on every resource.

use std::process::Command;

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, Backend, TestApp};

async fn status_from(app: &TestApp, ip: &str) -> u16 {
    app.get("/api/v1/products")
        .header("x-forwarded-for", ip)
        .send()
        .await
        .status
}

async fn limited(tweak: impl FnOnce(&mut switchboard::config::RateLimitArgs)) -> TestApp {
    spawn_with(Backend::Sqlite, |a| tweak(&mut a.limits))
        .await
        .unwrap()
}

#[actix_web::test]
async fn every_response_carries_the_security_headers_and_pages_a_strict_csp() {
    let app = spawn_app().await;
    for path in ["/api/v1/products", "/healthz", "/no-such-page", "/chat"] {
        let r = app.get(path).send().await;
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.header("x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
        assert_eq!(
            r.header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
        assert!(
            r.header("strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );
    }
    let csp = app
        .get("/chat")
        .send()
        .await
        .header("content-security-policy")
        .unwrap();
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("font-src"), "{csp}");
    // GraphiQL's relaxation is its page's alone, and it is still no inline code or eval.
    let graphiql = app
        .get("/graphiql")
        .send()
        .await
        .header("content-security-policy")
        .unwrap();
    assert!(graphiql.contains("font-src 'self' data:"), "{graphiql}");
    for forbidden in ["unsafe-inline", "unsafe-eval"] {
        assert!(!graphiql.contains(forbidden), "{graphiql}");
    }
    assert!(graphiql.contains("frame-ancestors 'none'"));
}

#[actix_web::test]
async fn cors_answers_allowed_origins_only_and_exposes_what_apps_need() {
    let app = spawn_with(Backend::Sqlite, |a| {
        a.cors_origins = vec!["https://app.example.com".into()];
        a.limits.rate_limit = 1;
        a.limits.rate_limit_burst = 2;
    })
    .await
    .unwrap();
    let preflight = |origin: &'static str| {
        app.request(awc::http::Method::OPTIONS, "/api/v1/products")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
    };
    let ok = preflight("https://app.example.com").send().await;
    assert!(ok.status < 300, "{}", ok.status);
    assert_eq!(
        ok.header("access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(ok.header("access-control-max-age").is_some());
    assert!(ok.header("access-control-allow-credentials").is_none());
    let refused = preflight("https://evil.example.com").send().await;
    assert!(refused.header("access-control-allow-origin").is_none());

    // Preflights are not counted: the two-request budget is still whole.
    for _ in 0..5 {
        preflight("https://app.example.com").send().await;
    }
    let r = app
        .get("/api/v1/products")
        .header("origin", "https://app.example.com")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining").as_deref(), Some("1"));
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_lowercase();
    for name in [
        "etag",
        "link",
        "x-total-count",
        "location",
        "x-ratelimit-reset",
        "ratelimit",
        "ratelimit-policy",
        "x-request-id",
    ] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
    let other = app
        .get("/api/v1/products")
        .header("origin", "https://evil.example.com")
        .send()
        .await;
    assert!(other.header("access-control-allow-origin").is_none());
    // A 429 is readable by the allowed app: it carries the CORS headers too.
    let r = app
        .get("/api/v1/products")
        .header("origin", "https://app.example.com")
        .send()
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
}

#[actix_web::test]
async fn the_api_budget_counts_per_client_and_says_so_in_headers() {
    let app = limited(|l| {
        l.rate_limit = 1;
        l.rate_limit_burst = 3;
    })
    .await;
    for remaining in ["2", "1", "0"] {
        let r = app.get("/api/v1/products").send().await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(
            r.header("x-ratelimit-remaining").as_deref(),
            Some(remaining)
        );
        let reset: u64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
        assert!(reset <= 3);
        // The same budget in the IETF fields (draft-ietf-httpapi-ratelimit-headers).
        assert_eq!(
            r.header("ratelimit-policy").as_deref(),
            Some("\"api\";q=3;w=3")
        );
        assert_eq!(
            r.header("ratelimit"),
            Some(format!("\"api\";r={remaining};t={reset}"))
        );
    }
    let r = app.get("/api/v1/products").send().await;
    let body = r.problem(429);
    assert_eq!(body["type"], "/problems/rate-limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(r.header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(r.header("x-ratelimit-reset").as_deref(), Some("3"));
    assert_eq!(r.header("ratelimit").as_deref(), Some("\"api\";r=0;t=3"));
    assert_eq!(
        r.header("ratelimit-policy").as_deref(),
        Some("\"api\";q=3;w=3")
    );
    // GraphQL shares the budget.
    let r = app
        .post("/graphql")
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await;
    assert_eq!(r.status, 429);
}

#[actix_web::test]
async fn a_signed_in_user_has_a_budget_of_their_own() {
    let app = spawn_app().await;
    let (_, ada) = app.user("ada@example.com").await;
    let (_, bob) = app.user("bob@example.com").await;
    drop(app);
    // The tokens stay valid on a second server with the same secret and tight limits.
    let app = limited(|l| {
        l.rate_limit = 1;
        l.rate_limit_burst = 2;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            app.get("/api/v1/products").bearer(&ada).send().await.status,
            200
        );
    }
    assert_eq!(
        app.get("/api/v1/products").bearer(&ada).send().await.status,
        429
    );
    // Bob, from the same address, is unaffected; so is an anonymous caller.
    assert_eq!(
        app.get("/api/v1/products").bearer(&bob).send().await.status,
        200
    );
    assert_eq!(app.get("/api/v1/products").send().await.status, 200);
}

#[actix_web::test]
async fn sign_in_and_registration_have_a_strict_budget_of_their_own() {
    let app = limited(|l| {
        l.auth_rate_limit = 1;
        l.auth_rate_limit_burst = 2;
    })
    .await;
    for _ in 0..2 {
        let r = app.login("nobody@example.com", "wrong password").await;
        assert_eq!(r.status, 400);
        assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("2"));
        // One request a minute, two at once: the whole quota is back within two minutes.
        assert_eq!(
            r.header("ratelimit-policy").as_deref(),
            Some("\"sign-in\";q=2;w=120")
        );
    }
    let r = app.login("nobody@example.com", "wrong password").await;
    r.problem(429);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // Registration shares the guard; the rest of the API does not.
    let r = app
        .post("/api/v1/users")
        .json(&json!({"email": "late@example.com", "name": "Late", "password": "long enough pw"}))
        .send()
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(app.get("/api/v1/products").send().await.status, 200);
}

#[actix_web::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let untrusted = limited(|l| {
        l.rate_limit = 1;
        l.rate_limit_burst = 1;
    })
    .await;
    assert_eq!(status_from(&untrusted, "198.51.100.1").await, 200);
    // A spoofed header does not buy a fresh budget.
    assert_eq!(status_from(&untrusted, "198.51.100.2").await, 429);

    let proxied = limited(|l| {
        l.rate_limit = 1;
        l.rate_limit_burst = 1;
        l.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    assert_eq!(status_from(&proxied, "198.51.100.1").await, 200);
    assert_eq!(status_from(&proxied, "198.51.100.2").await, 200);
    assert_eq!(status_from(&proxied, "198.51.100.1").await, 429);
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl").args(args).output().expect("curl runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[actix_web::test]
async fn dev_tls_serves_https_with_http2_hsts_and_tls12_or_newer_only() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("note: skipped: curl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let redirect_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tls_dir = dir.path().to_owned();
    let app = spawn_with(Backend::Sqlite, move |a| {
        a.tls.dev_tls = true;
        a.tls.dev_tls_dir = tls_dir;
        a.tls.http_redirect_port = Some(redirect_port);
    })
    .await
    .unwrap();
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let cert = dir.path().join("cert.pem");
    let cert = cert.to_str().unwrap().to_owned();
    let url = format!("https://localhost:{port}/healthz");
    let (ok, out) = actix_web::rt::task::spawn_blocking({
        let (cert, url) = (cert.clone(), url.clone());
        move || {
            curl(&[
                "-sS",
                "-i",
                "--http2",
                "--cacert",
                &cert,
                "-w",
                "\nversion=%{http_version}",
                &url,
            ])
        }
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("version=2"), "HTTP/2 by ALPN: {out}");
    assert!(
        out.to_lowercase()
            .contains("strict-transport-security: max-age="),
        "{out}"
    );
    // TLS 1.1 and older are refused.
    let (ok, out) = actix_web::rt::task::spawn_blocking({
        let (cert, url) = (cert.clone(), url.clone());
        move || {
            curl(&[
                "-sS",
                "--tlsv1.0",
                "--tls-max",
                "1.1",
                "--cacert",
                &cert,
                &url,
            ])
        }
    })
    .await
    .unwrap();
    assert!(!ok, "TLS 1.1 was accepted: {out}");
    // Plain HTTP on the redirect port goes to HTTPS, method-preserving.
    let (ok, out) = actix_web::rt::task::spawn_blocking(move || {
        curl(&[
            "-sS",
            "-i",
            &format!("http://localhost:{redirect_port}/api/v1/products?page=2"),
        ])
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert!(out.starts_with("HTTP/1.1 308"), "{out}");
    assert!(
        out.contains(&format!(
            "location: https://localhost:{port}/api/v1/products?page=2"
        )),
        "{out}"
    );
}

/// Changing an id never reaches someone else's data: each resource, each method.
#[actix_web::test]
async fn no_user_can_read_or_change_another_users_objects_by_id() {
    let app = spawn_app().await;
    let (_, admin) = app.admin().await;
    let (ada_id, ada) = app.user("ada@example.com").await;
    let (_, eve) = app.user("eve@example.com").await;
    let product = app.product(&admin, "IDOR-1", 100, 5).await;
    let order = app
        .post("/api/v1/orders")
        .bearer(&ada)
        .json(&json!({"items": [{"product_id": product, "quantity": 1}]}))
        .send()
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let post = app
        .post("/api/v1/posts")
        .bearer(&ada)
        .json(&json!({"title": "Ada's", "body": "mine"}))
        .send()
        .await
        .json()["id"]
        .as_i64()
        .unwrap();

    // Orders: someone else's is 404 for every method (ids reveal nothing).
    let order_path = format!("/api/v1/orders/{order}");
    app.get(&order_path).bearer(&eve).send().await.problem(404);
    app.patch(&order_path)
        .bearer(&eve)
        .merge_patch(&json!({"status": "cancelled"}))
        .send()
        .await
        .problem(404);
    app.delete(&order_path)
        .bearer(&eve)
        .send()
        .await
        .problem(403);
    let list = app.get("/api/v1/orders").bearer(&eve).send().await.json();
    assert_eq!(list["total"], 0);

    // Accounts: private fields hidden, changes forbidden.
    let user_path = format!("/api/v1/users/{ada_id}");
    let seen = app.get(&user_path).bearer(&eve).send().await.json();
    assert!(seen.get("email").is_none(), "{seen}");
    app.patch(&user_path)
        .bearer(&eve)
        .merge_patch(&json!({"name": "Hacked"}))
        .send()
        .await
        .problem(403);
    app.put(&user_path)
        .bearer(&eve)
        .json(&json!({"email": "eve2@example.com", "name": "Hacked"}))
        .send()
        .await
        .problem(403);
    app.delete(&user_path)
        .bearer(&eve)
        .send()
        .await
        .problem(403);
    app.get("/api/v1/users")
        .bearer(&eve)
        .send()
        .await
        .problem(403);

    // Posts: readable by all, changed by the author only.
    let post_path = format!("/api/v1/posts/{post}");
    app.patch(&post_path)
        .bearer(&eve)
        .merge_patch(&json!({"title": "Hacked"}))
        .send()
        .await
        .problem(403);
    app.put(&post_path)
        .bearer(&eve)
        .json(&json!({"title": "x", "body": "y"}))
        .send()
        .await
        .problem(403);
    app.delete(&post_path)
        .bearer(&eve)
        .send()
        .await
        .problem(403);

    // Products: only admins change the catalogue.
    let product_path = format!("/api/v1/products/{product}");
    app.patch(&product_path)
        .bearer(&ada)
        .merge_patch(&json!({"stock": 0}))
        .send()
        .await
        .problem(403);
    app.delete(&product_path)
        .bearer(&ada)
        .send()
        .await
        .problem(403);

    // Nothing changed.
    let mine = app.get(&order_path).bearer(&ada).send().await.json();
    assert_eq!(mine["status"], "pending");
    assert_eq!(
        app.get(&user_path).bearer(&ada).send().await.json()["name"],
        "Test User"
    );
    assert_eq!(app.get(&post_path).send().await.json()["title"], "Ada's");
    assert_eq!(app.get(&product_path).send().await.json()["stock"], 4);
}
