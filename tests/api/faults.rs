//! When the database goes away: readiness says so and requests fail cleanly, with nothing
//! internal in the body.

use diesel::{Connection, RunQueryDsl};

use crate::helpers::*;

#[actix_web::test]
async fn losing_the_database_makes_readyz_503_and_requests_fail_without_leaking_internals() {
    let Some(app) = spawn_with(Backend::Postgres, |args| {
        args.database.db_pool_size = Some(2)
    })
    .await
    else {
        return;
    };
    assert_eq!(app.get("/readyz").send().await.status, 200);
    let admin_url = std::env::var("TEST_POSTGRES_URL").unwrap();
    let db_name = app.get("/readyz").send().await;
    assert_eq!(db_name.json()["database"], "postgres");

    // Drop the app's database out from under it, killing its connections.
    let url = app.database_url.clone();
    let name = url.rsplit('/').next().unwrap().to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        let mut conn = diesel::PgConnection::establish(&admin_url).unwrap();
        diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut conn)
            .unwrap();
    })
    .await
    .unwrap();

    let ready = app.get("/readyz").send().await;
    assert_eq!(
        ready.status,
        503,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    let r = app.get("/api/v1/products").send().await;
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    let body = String::from_utf8_lossy(&r.body).to_lowercase();
    for leak in [
        "postgres",
        "database \"",
        "diesel",
        "connection",
        "switchboard_test",
    ] {
        assert!(!body.contains(leak), "{leak} leaked in {body}");
    }
    assert!(r.header("x-request-id").is_some());
}
