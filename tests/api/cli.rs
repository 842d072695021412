//! The binary as a user runs it: `seed`, `migrate`, `serve` and its shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn run(args: &[&str], db: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["--database-url", db])
        .env_remove("DATABASE_URL")
        .output()
        .expect("binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn seed_prints_a_generated_admin_password_once_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db").to_string_lossy().into_owned();
    let (ok, out) = run(
        &[
            "seed",
            "--products",
            "3",
            "--users",
            "2",
            "--posts-per-user",
            "1",
        ],
        &db,
    );
    assert!(ok, "{out}");
    assert!(out.contains("seeded 3 products, 2 users"), "{out}");
    assert!(out.contains("generated password"), "{out}");
    let (ok, again) = run(&["seed"], &db);
    assert!(ok, "{again}");
    assert!(again.contains("nothing changed"), "{again}");
    assert!(!again.contains("generated password"));
}

#[test]
fn seed_refuses_a_database_that_already_has_other_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db").to_string_lossy().into_owned();
    let (ok, _) = run(&["migrate"], &db);
    assert!(ok);
    let mut conn = <diesel::SqliteConnection as diesel::Connection>::establish(&db).unwrap();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO users (email, name, password_hash, role, created_at, updated_at) \
             VALUES ('x@example.com', 'X', 'h', 'user', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        ),
        &mut conn,
    )
    .unwrap();
    let (ok, out) = run(&["seed", "--admin-password", "adminpass123"], &db);
    assert!(!ok, "{out}");
    assert!(out.contains("fresh database"), "{out}");
}

#[actix_web::test]
async fn seed_bench_makes_the_documented_data_set() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db").to_string_lossy().into_owned();
    let (ok, out) = run(
        &["seed", "--bench", "--admin-password", "adminpass123"],
        &db,
    );
    assert!(ok, "{out}");
    assert!(out.contains("seeded 10000 products, 1000 users"), "{out}");

    let app = crate::helpers::spawn_with(crate::helpers::Backend::Sqlite, |args| {
        args.database.database_url = db.clone();
    })
    .await
    .unwrap();
    let p = app.get("/api/v1/products/10000").send().await.json();
    assert_eq!(p["sku"], "SKU-10000");
    assert_eq!(
        app.get("/api/v1/products/1").send().await.json()["sku"],
        "SKU-00001"
    );
    assert_eq!(
        app.get("/api/v1/products").send().await.json()["total"],
        10000
    );
    let user = app.get("/api/v1/users/1").send().await.json();
    assert_eq!(user["name"], "User 1");
    let posts = app
        .get("/api/v1/users/1000/posts?sort=id")
        .send()
        .await
        .json();
    assert_eq!(posts["total"], 5);
    assert_eq!(posts["data"][4]["title"], "Post 5 by user 1000");
    let token = app.login("user1@example.com", "switchboard").await;
    assert_eq!(token.status, 200);
    let admin = app.login("admin@example.com", "adminpass123").await;
    assert_eq!(admin.status, 200);
}

#[actix_web::test]
async fn serve_logs_where_it_listens_answers_and_on_sigterm_says_going_away_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db").to_string_lossy().into_owned();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--port",
            "0",
            "--database-url",
            &db,
            "--shutdown-timeout",
            "2",
        ])
        .env_remove("SWITCHBOARD_JWT_SECRET")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let mut port = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
            port = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse::<u16>().ok());
            break;
        }
    }
    let port = port.unwrap_or_else(|| panic!("no listen line in {seen:?}"));
    assert!(
        seen.iter().any(|l| l.contains("generated a random one")),
        "{seen:?}"
    );

    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // A chat client, to see it told "going away" (1001) when the server stops.
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::default();
    let registered = client
        .post(format!("{base}/api/v1/users"))
        .send_json(&serde_json::json!({"email": "sig@example.com", "name": "Sig", "password": "password123"}))
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    let mut token = client
        .post(format!("{base}/api/v1/auth/token"))
        .send_form(&[
            ("grant_type", "password"),
            ("username", "sig@example.com"),
            ("password", "password123"),
        ])
        .await
        .unwrap();
    let token: serde_json::Value = token.json().await.unwrap();
    let access = token["access_token"].as_str().unwrap();
    let (_, mut chat) = client
        .ws(format!("ws://127.0.0.1:{port}/ws/chat"))
        .protocols(["bearer", access])
        .connect()
        .await
        .unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let close = actix_web::rt::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = futures_util::StreamExt::next(&mut chat).await {
            if let Ok(awc::ws::Frame::Close(reason)) = frame {
                return reason.map(|r| r.code);
            }
        }
        None
    })
    .await
    .expect("the chat connection was closed in time");
    assert_eq!(close, Some(awc::ws::CloseCode::Away));
    let started = std::time::Instant::now();
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "exit status {exit:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// libpq and OpenSSL are built into the binary (pq-sys and openssl-sys, vendored), so it
/// starts on a machine without PostgreSQL's client library: `ldd` lists neither, and the
/// binary still speaks to PostgreSQL (the `*_postgres` tests use the same build).
#[test]
fn the_binary_needs_no_system_libpq_or_openssl() {
    let out = Command::new("ldd").arg(BIN).output().expect("ldd runs");
    let libraries = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ldd failed: {libraries}");
    for forbidden in ["libpq", "libssl", "libcrypto"] {
        assert!(
            !libraries.contains(forbidden),
            "the binary links {forbidden} dynamically:\n{libraries}"
        );
    }
}
