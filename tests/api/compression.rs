//! Response compression: gzip, brotli and zstd as the client asks, for text formats over
//! the threshold only, with validators that stay right (an ETag per encoding that still
//! validates the resource, `Vary: Accept-Encoding`).

use std::io::Read;

use serde_json::json;

use crate::helpers::{spawn_app, Resp, TestApp};

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
        "br" => brotli::Decompressor::new(body, 4096).read_to_end(&mut out),
        "zstd" => zstd::stream::read::Decoder::new(body)
            .unwrap()
            .read_to_end(&mut out),
        other => panic!("no decoder for {other}"),
    }
    .unwrap_or_else(|e| panic!("{coding} body does not decode: {e}"));
    out
}

fn varies_by_encoding(r: &Resp) -> bool {
    r.headers
        .get_all("vary")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"))
}

/// A product list well over the 1 KiB threshold.
async fn catalogue(app: &TestApp) -> String {
    let (_, admin) = app.admin().await;
    for i in 0..20 {
        app.product(&admin, &format!("ZIP-{i:03}"), 100 + i, 1)
            .await;
    }
    admin
}

#[actix_web::test]
async fn large_json_comes_in_the_coding_the_client_prefers_and_decodes_to_the_same_bytes() {
    let app = spawn_app().await;
    catalogue(&app).await;
    let path = "/api/v1/products?limit=20";
    let plain = app.get(path).send().await;
    assert_eq!(plain.status, 200);
    assert!(plain.body.len() > 2048, "{} bytes", plain.body.len());
    assert!(plain.header("content-encoding").is_none());
    // Another client could have been sent a compressed copy: caches must know.
    assert!(varies_by_encoding(&plain));
    let tag = plain.header("etag").unwrap();
    for (accept, coding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip;q=0.5, br;q=0.9, identity;q=0.1", "br"),
    ] {
        let r = app.get(path).header("accept-encoding", accept).send().await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-encoding").as_deref(),
            Some(coding),
            "{accept}"
        );
        assert!(varies_by_encoding(&r));
        assert!(
            r.body.len() * 2 < plain.body.len(),
            "{coding}: {} bytes",
            r.body.len()
        );
        assert_eq!(decode(coding, &r.body), plain.body);
        // A strong tag names exact bytes, so the encoded copy has a tag of its own...
        let encoded_tag = r.header("etag").unwrap();
        assert_eq!(
            encoded_tag,
            format!("{}-{coding}\"", tag.trim_end_matches('"'))
        );
        // ...which revalidates, and the 304 names what the client holds.
        let again = app
            .get(path)
            .header("accept-encoding", accept)
            .header("if-none-match", &encoded_tag)
            .send()
            .await;
        assert_eq!(again.status, 304, "{coding}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag").as_deref(), Some(encoded_tag.as_str()));
        // A client that changed its mind (or a cache without the coding) still gets 304.
        let plain_again = app
            .get(path)
            .header("if-none-match", &encoded_tag)
            .send()
            .await;
        assert_eq!(plain_again.status, 304);
    }
}

#[actix_web::test]
async fn an_etag_from_a_compressed_copy_is_good_for_if_match() {
    let app = spawn_app().await;
    let admin = catalogue(&app).await;
    // One product is under the threshold; pages and lists are over it. Use a long
    // description so the single resource is compressed too.
    let r = app
        .post("/api/v1/products")
        .bearer(&admin)
        .json(&json!({"sku": "ZIP-LONG", "name": "Long", "description": "words ".repeat(400), "price_cents": 5, "stock": 1}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let location = r.header("location").unwrap();
    let got = app
        .get(&location)
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(got.header("content-encoding").as_deref(), Some("gzip"));
    let tag = got.header("etag").unwrap();
    assert!(tag.ends_with("-gzip\""), "{tag}");
    let patched = app
        .patch(&location)
        .bearer(&admin)
        .header("if-match", &tag)
        .merge_patch(&json!({"stock": 2}))
        .send()
        .await;
    assert_eq!(
        patched.status,
        200,
        "{}",
        String::from_utf8_lossy(&patched.body)
    );
    // The representation changed: the old tag, in either form, no longer matches.
    let stale = app
        .patch(&location)
        .bearer(&admin)
        .header("if-match", &tag)
        .merge_patch(&json!({"stock": 3}))
        .send()
        .await;
    stale.problem(412);
}

#[actix_web::test]
async fn small_bodies_and_errors_are_left_alone_and_pages_are_compressed() {
    let app = spawn_app().await;
    let tiny = app
        .get("/healthz")
        .header("accept-encoding", "gzip, br")
        .send()
        .await;
    assert_eq!(tiny.status, 200);
    assert!(tiny.header("content-encoding").is_none());
    assert!(tiny.body.len() < 1024);
    let problem = app
        .get("/api/v1/products/999999")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    problem.problem(404);
    assert!(problem.header("content-encoding").is_none());
    // Pages, scripts and styles are compressed.
    for path in ["/chat", "/static/chat.js", "/static/app.css"] {
        let r = app.get(path).header("accept-encoding", "gzip").send().await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.header("content-encoding").as_deref(),
            Some("gzip"),
            "{path}"
        );
    }
}
