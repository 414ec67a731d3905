//! The router without a socket (`oneshot`): error shape, authentication,
//! roles, body limits and the public read path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;
use writ_authority::{Authority, Config, home};
use writ_core::trust::{Role, key_entry};
use writ_core::{SigningKey, TrustRoot};
use writ_server::{AppState, httpsig, router};

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn app() -> (tempfile::TempDir, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("alice", vec![Role::Requester], vec!["dev".into()], &key(1).public())).unwrap();
    trust.add(key_entry("gate", vec![Role::Gate], vec![], &key(3).public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let a = Authority::open(&Config::new(&h)).unwrap();
    (dir, router(AppState::new(Arc::new(a))))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn signed(k: &SigningKey, method: &str, path: &str, body: &[u8], created: i64, nonce: &str) -> Request<Body> {
    let h = httpsig::sign(k, method, path, "", body, created, nonce);
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("content-digest", h.content_digest)
        .header("signature-input", h.signature_input)
        .header("signature", h.signature)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn errors_have_one_shape_and_auth_is_enforced() {
    let (_d, app) = app();
    let (s, v) = call(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, v) = call(&app, Request::post("/v1/requests").body(Body::from("{}")).unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let body = br#"{"target":{"action":"tool","name":"search"},"duration_secs":60}"#;
    // stale signature
    let (s, v) = call(&app, signed(&key(1), "POST", "/v1/requests", body, now() - 3600, "0123456789abcdef0")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("stale_signature")));
    // unknown key
    let (s, v) = call(&app, signed(&key(9), "POST", "/v1/requests", body, now(), "0123456789abcdef1")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_key")));
    // wrong role
    let (s, v) = call(&app, signed(&key(3), "POST", "/v1/requests", body, now(), "0123456789abcdef2")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    // a tool request the default policies deny (their tool example is commented out)
    let (s, v) = call(&app, signed(&key(1), "POST", "/v1/requests", body, now(), "0123456789abcdef3")).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["status"], "denied");
    // the same signed request again
    let (s, v) = call(&app, signed(&key(1), "POST", "/v1/requests", body, now(), "0123456789abcdef3")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("replayed_signature")));
    // an unknown writ's status
    let p = "/v1/writs/01234567-89ab-7def-8123-456789abcdef/status";
    let (s, v) = call(&app, signed(&key(3), "POST", p, b"{\"consume\":true}", now(), "0123456789abcdef4")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_writ")));
    // records: a non-gate kind is refused
    let entry = writ_core::entry::Entry::Revocation(writ_core::entry::Revocation {
        time: writ_core::Timestamp(1),
        request_id: "r".into(),
        writ_id: "w".into(),
        revoked_by: "x".into(),
        reason: "y".into(),
    })
    .encode()
    .unwrap();
    let b = serde_json::json!({"entry": writ_core::b64::encode(&entry)}).to_string();
    let (s, v) = call(&app, signed(&key(3), "POST", "/v1/records", b.as_bytes(), now(), "0123456789abcdef5")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

#[tokio::test]
async fn public_read_path() {
    let (_d, app) = app();
    let (s, v) = call(&app, Request::get("/v1/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["paths"]["/v1/requests"].is_object());
    let resp = app.clone().oneshot(Request::get("/v1/log/checkpoint").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app.clone().oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (s, v) = call(&app, Request::get("/v1/log/entries").body(Body::empty()).unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

#[tokio::test]
async fn every_failure_has_the_json_error_shape() {
    let (_d, app) = app();
    // Bad path parameters (regression: axum answered text/plain 400).
    for (path, code) in [
        ("/v1/log/proof/abc", "malformed"),
        ("/v1/log/proof/-1", "malformed"),
        ("/v1/log/proof/99999999999999999999999", "malformed"),
        ("/v1/log/entries/1.5", "malformed"),
        ("/v1/log/proof/999999", "not_found"),
    ] {
        let (s, v) = call(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(v["error"]["code"].as_str(), Some(code), "{path}: {s} {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}");
    }
    let (s, v) = call(&app, signed(&key(1), "GET", "/v1/requests/a%20b", b"", now(), "0123456789abcdef9")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{v}");
    // Unknown route, unknown method.
    let (s, v) = call(&app, Request::get("/v2/anything").body(Body::empty()).unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, v) = call(&app, Request::delete("/v1/requests").body(Body::empty()).unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    let (s, v) = call(&app, Request::put("/v1/log/checkpoint").body(Body::empty()).unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    // A query that does not parse.
    let (s, v) =
        call(&app, Request::get("/v1/log/entries?request_id=a&request_id=b").body(Body::empty()).unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{v}");
    // A bad idempotency key.
    let body = br#"{"target":{"action":"tool","name":"search"},"duration_secs":60}"#;
    let mut req = signed(&key(1), "POST", "/v1/requests", body, now(), "0123456789abcdefa");
    req.headers_mut().insert("idempotency-key", "short".parse().unwrap());
    let (s, v) = call(&app, req).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{v}");
}

#[tokio::test]
async fn extreme_signature_times_are_refused_not_a_panic() {
    // Regression: `created=i64::MIN` overflowed `created - now` before authentication.
    let (_d, app) = app();
    for (i, created) in [i64::MIN, i64::MIN + 1, i64::MAX, -1].into_iter().enumerate() {
        let (s, v) =
            call(&app, signed(&key(1), "GET", "/v1/requests", b"", created, &format!("0123456789abcdef-x{i}"))).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("stale_signature")), "{created}");
    }
    // The server still answers afterwards.
    let resp = app.clone().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn duplicate_env_names_are_refused() {
    let (_d, app) = app();
    let body = br#"{"target":{"action":"tool","name":"search"},"duration_secs":60,"env":{"A":"1","A":"2"}}"#;
    let (s, v) = call(&app, signed(&key(1), "POST", "/v1/requests", body, now(), "0123456789abcdefb")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("duplicate key"), "{v}");
}

/// Regression (found by schemathesis): `POST /v1/nonces` answered 201 to any
/// signed body — none, `{"x":1}`, `not json`. Its body is exactly `{}`.
#[tokio::test]
async fn a_nonce_request_takes_exactly_an_empty_object() {
    let (_d, app) = app();
    for (i, bad) in [&b""[..], b"{\"x\":1}", b"[1,2]", b"not json"].into_iter().enumerate() {
        let n = format!("0123456789abcd{i:02}n");
        let (s, v) = call(&app, signed(&key(1), "POST", "/v1/nonces", bad, now(), &n)).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{bad:?}");
    }
    let (s, v) = call(&app, signed(&key(1), "POST", "/v1/nonces", b"{}", now(), "0123456789abcdefnn")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["nonce"].is_string());
}
