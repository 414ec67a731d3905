//! The signed, versioned trust root over HTTP (`oneshot`, a real home with a
//! SQLite ledger): `GET /v1/trust` and `/v1/trust/versions/{n}` serve the
//! versions byte for byte and they verify from the home's pin; a hand edit
//! of `trust.json` shows in `/readyz` and `/metrics` while the last good
//! version stays in force; `POST /v1/trust` puts a properly signed successor
//! in force after logging it as `key_change`, and refuses an under-signed
//! one (or one signed by a key that is not a root key) with nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;
use writ_authority::{Authority, Config, home, trust_store};
use writ_core::entry::Entry;
use writ_core::trust::{Role, key_entry};
use writ_core::trust_chain;
use writ_core::{SigningKey, Timestamp, TrustRoot};
use writ_server::{AppState, httpsig, router};

const VND: &str = "application/vnd.writ.trust-root+json";

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn now() -> Timestamp {
    Timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64)
}

struct Home {
    _dir: tempfile::TempDir,
    path: PathBuf,
    authority: Arc<Authority>,
    app: axum::Router,
}

/// A home with `alice` (requester, key 1); signed (version 1, pinned,
/// logged) unless `legacy`. The authority is reopened after signing, as
/// `writ serve` opens a home `writ init` signed.
fn setup(legacy: bool) -> Home {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("alice", vec![Role::Requester], vec!["dev".into()], &key(1).public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    if !legacy && !trust_store::is_signed_home(&h) {
        let a = Authority::open(&Config::new(&h)).unwrap();
        let s = a.sign_trust_home(now()).unwrap();
        assert_eq!(s.pin, trust_store::read_pin(&h).unwrap());
    }
    assert_eq!(trust_store::is_signed_home(&h), !legacy);
    let authority = Arc::new(Authority::open(&Config::new(&h)).unwrap());
    let app = router(AppState::new(authority.clone()));
    Home { _dir: dir, path: h, authority, app }
}

fn signed(k: &SigningKey, method: &str, path: &str, body: &[u8]) -> Request<Body> {
    let mut nonce = [0u8; 16];
    getrandom::getrandom(&mut nonce).unwrap();
    let h = httpsig::sign(k, method, path, "", body, now().0, &hex::encode(nonce));
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", VND)
        .header("content-digest", h.content_digest)
        .header("signature-input", h.signature_input)
        .header("signature", h.signature)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

async fn raw(app: &axum::Router, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), 4 << 20).await.unwrap();
    (status, ctype, bytes.to_vec())
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String, Vec<u8>) {
    raw(app, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let (s, _, b) = raw(app, req).await;
    (s, serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null))
}

async fn ready(app: &axum::Router) -> serde_json::Value {
    let (s, ctype, b) = get(app, "/readyz").await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["status"], "ready");
    v["trust"].clone()
}

/// The value of an unlabelled metric.
async fn metric(app: &axum::Router, name: &str) -> Option<f64> {
    let (s, _, b) = get(app, "/metrics").await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(b).unwrap();
    let prefix = format!("{name} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap())
}

fn pin(h: &Path) -> writ_core::Sha256Digest {
    trust_store::read_pin(h).unwrap()
}

/// The version in force, as the gate sees it: from `GET /v1/trust`,
/// trusted only through the home's pin.
async fn served_v1(home: &Home) -> (Vec<u8>, trust_chain::SignedTrustRoot) {
    let (s, ctype, body) = get(&home.app, "/v1/trust").await;
    assert_eq!((s, ctype.as_str()), (StatusCode::OK, VND));
    let v1 = trust_chain::verify_pinned(&body, &pin(&home.path)).unwrap();
    (body, v1)
}

/// An unsigned successor of `prev` that adds `name` (key `seed`) as a requester.
fn proposal(prev: &trust_chain::SignedTrustRoot, name: &str, seed: u8, threshold: u32) -> Vec<u8> {
    let mut doc = prev.trust().clone();
    doc.add(key_entry(name, vec![Role::Requester], vec!["dev".into()], &key(seed).public())).unwrap();
    trust_chain::propose(prev, doc.file().clone(), threshold, now().plus(86_400)).unwrap()
}

fn root_key(h: &Path) -> SigningKey {
    home::read_private_key(&h.join(trust_store::ROOT_KEY)).unwrap()
}

fn key_changes(a: &Authority, from: u64) -> Vec<(u64, writ_core::entry::KeyChange)> {
    let l = a.ledger();
    l.entries(from, l.size())
        .unwrap()
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match Entry::decode(b).unwrap() {
            Entry::KeyChange(k) => Some((from + i as u64, k)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_signed_root_is_served_and_verifies_against_the_pin() {
    let home = setup(false);
    let (body, v1) = served_v1(&home).await;
    assert_eq!(v1.version(), 1);
    assert_eq!(v1.digest(), pin(&home.path));
    assert_eq!(body, std::fs::read(trust_store::version_path(&home.path, 1)).unwrap(), "byte for byte");
    assert!(v1.trust().keys().iter().any(|k| k.entry.name == "alice"));
    // A forged pin does not verify what is served (the check can fail).
    let other = writ_core::Sha256Digest::from_hex(&"00".repeat(32)).unwrap();
    assert_eq!(trust_chain::verify_pinned(&body, &other).unwrap_err().code.as_str(), "pin_mismatch");

    // Versions: 1 is served byte for byte; 0 and anything after the one in force are 404.
    let (s, ctype, b) = get(&home.app, "/v1/trust/versions/1").await;
    assert_eq!((s, ctype.as_str(), &b), (StatusCode::OK, VND, &body));
    for n in ["0", "2", "18446744073709551615"] {
        let (s, v) =
            call(&home.app, Request::get(format!("/v1/trust/versions/{n}")).body(Body::empty()).unwrap()).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{n}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("version 1 is in force"), "{v}");
    }
    for n in ["x", "-1", "1.0", "18446744073709551616"] {
        let (s, v) =
            call(&home.app, Request::get(format!("/v1/trust/versions/{n}")).body(Body::empty()).unwrap()).await;
        assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{n}: {v}");
    }
    // The unsigned document in force.
    let (s, ctype, b) = get(&home.app, "/v1/trust/document").await;
    assert_eq!((s, ctype.as_str()), (StatusCode::OK, "application/json"));
    assert_eq!(TrustRoot::from_json(&b).unwrap().file(), v1.trust().file());

    let t = ready(&home.app).await;
    assert_eq!((t["signed"].as_bool(), t["version"].as_u64()), (Some(true), Some(1)), "{t}");
    assert_eq!(t["digest"].as_str(), Some(v1.digest().to_hex().as_str()));
    assert_eq!((t["healthy"].as_bool(), t["expired"].as_bool()), (Some(true), Some(false)), "{t}");
    assert!(t["refused"].is_null(), "{t}");
    assert_eq!(metric(&home.app, "writ_trust_version").await, Some(1.0));
    assert_eq!(metric(&home.app, "writ_trust_signed").await, Some(1.0));
    assert_eq!(metric(&home.app, "writ_trust_refused").await, Some(0.0));
    let left = metric(&home.app, "writ_trust_expires_seconds").await.unwrap();
    let expected = (v1.expires().0 - now().0) as f64;
    assert!((left - expected).abs() <= 5.0 && left > 300.0 * 86_400.0, "{left} vs {expected}");
}

#[tokio::test]
async fn a_legacy_home_serves_its_document_and_says_it_is_unsigned() {
    let home = setup(true);
    let (s, ctype, b) = get(&home.app, "/v1/trust").await;
    assert_eq!((s, ctype.as_str()), (StatusCode::OK, "application/json"));
    let served = TrustRoot::from_json(&b).unwrap();
    assert!(served.keys().iter().any(|k| k.entry.name == "alice"));
    assert!(trust_chain::parse(&b).is_err(), "not a signed version");
    let (s, v) = call(&home.app, Request::get("/v1/trust/versions/1").body(Body::empty()).unwrap()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{v}");
    let t = ready(&home.app).await;
    assert_eq!((t["signed"].as_bool(), t["healthy"].as_bool()), (Some(false), Some(false)), "{t}");
    assert!(t["summary"].as_str().unwrap().contains("sign-home"), "{t}");
    assert_eq!(metric(&home.app, "writ_trust_signed").await, Some(0.0));
    assert_eq!(metric(&home.app, "writ_trust_version").await, Some(0.0));
    assert_eq!(metric(&home.app, "writ_trust_expires_seconds").await, None);
    // Nothing to publish onto: refused with a stable code, nothing logged.
    let size = home.authority.ledger().size();
    let (s, v) = call(&home.app, signed(&key(1), "POST", "/v1/trust", b"{}")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("sign-home"), "{v}");
    assert_eq!(home.authority.ledger().size(), size);
}

#[tokio::test]
async fn a_hand_edit_is_reported_and_the_last_good_version_stays_served() {
    let home = setup(false);
    let (v1_bytes, _) = served_v1(&home).await;
    // Someone adds their own key to trust.json by hand.
    let tp = home.path.join("trust.json");
    let mut doc = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    doc.add(key_entry("mallory", vec![Role::Requester, Role::Approver], vec!["dev".into()], &key(7).public())).unwrap();
    std::fs::write(&tp, doc.to_json_pretty()).unwrap();

    let t = ready(&home.app).await;
    assert_eq!((t["version"].as_u64(), t["healthy"].as_bool()), (Some(1), Some(false)), "{t}");
    assert!(t["refused"].as_str().is_some_and(|r| r.contains("trust.json")), "{t}");
    assert!(t["summary"].as_str().unwrap().contains("refused"), "{t}");
    assert_eq!(metric(&home.app, "writ_trust_refused").await, Some(1.0));
    assert_eq!(metric(&home.app, "writ_trust_version").await, Some(1.0));
    // Still the last good version, byte for byte, and the edit grants nothing.
    let (s, ctype, b) = get(&home.app, "/v1/trust").await;
    assert_eq!((s, ctype.as_str(), &b), (StatusCode::OK, VND, &v1_bytes));
    let (_, _, d) = get(&home.app, "/v1/trust/document").await;
    assert!(!TrustRoot::from_json(&d).unwrap().keys().iter().any(|k| k.entry.name == "mallory"));
    let (s, v) = call(&home.app, signed(&key(7), "POST", "/v1/nonces", b"{}")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_key")), "{v}");
    let (s, _) = call(&home.app, signed(&key(1), "POST", "/v1/nonces", b"{}")).await;
    assert_eq!(s, StatusCode::CREATED, "alice (in version 1) still works");
}

#[tokio::test]
async fn a_properly_signed_v2_is_logged_then_in_force() {
    let home = setup(false);
    let (_, v1) = served_v1(&home).await;
    // bob is not trusted yet.
    let (s, v) = call(&home.app, signed(&key(2), "POST", "/v1/nonces", b"{}")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_key")), "{v}");

    let v2 = trust_chain::sign(&proposal(&v1, "bob", 2, 1), &root_key(&home.path)).unwrap();
    let before = home.authority.ledger().size();
    // Unauthenticated publication is refused before anything is read.
    let req = Request::post("/v1/trust").header("content-type", VND).body(Body::from(v2.clone())).unwrap();
    let (s, v) = call(&home.app, req).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{v}");
    assert_eq!(home.authority.ledger().size(), before);

    // alice (a requester, not a root key) sends it: the envelope's quorum authorizes it.
    let (s, v) = call(&home.app, signed(&key(1), "POST", "/v1/trust", &v2)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let digest = trust_chain::parse(&v2).unwrap().digest().to_hex();
    assert_eq!((v["version"].as_u64(), v["digest"].as_str()), (Some(2), Some(digest.as_str())), "{v}");
    assert_eq!(v["ledger_index"].as_u64(), Some(before), "{v}");
    assert!(v["entries"].as_u64().unwrap() >= 2, "{v}");

    // In the ledger as key_change: the version record, then bob's key.
    let kc = key_changes(&home.authority, before);
    assert_eq!(kc[0].0, before);
    assert_eq!((kc[0].1.role.as_str(), kc[0].1.change.as_str()), ("trust_root", "version 2"), "{:?}", kc[0]);
    assert_eq!(kc[0].1.key_id, digest);
    let bob = key(2).key_id().0.to_hex();
    assert!(kc.iter().any(|(_, k)| k.key_id == bob && k.change == "add"), "{kc:?}");

    // Served, and it verifies as the successor of version 1.
    let (s, ctype, b) = get(&home.app, "/v1/trust").await;
    assert_eq!((s, ctype.as_str(), &b), (StatusCode::OK, VND, &v2));
    let fetched_v1 = get(&home.app, "/v1/trust/versions/1").await.2;
    let v1_again = trust_chain::verify_pinned(&fetched_v1, &pin(&home.path)).unwrap();
    assert_eq!(trust_chain::verify_successor(&v1_again, &b, now()).unwrap().version(), 2);
    assert_eq!(get(&home.app, "/v1/trust/versions/2").await.2, v2);
    let (s, _, _) = get(&home.app, "/v1/trust/versions/3").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // In force: bob authenticates; the status and metrics say version 2.
    let (s, v) = call(&home.app, signed(&key(2), "POST", "/v1/nonces", b"{}")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let t = ready(&home.app).await;
    assert_eq!((t["version"].as_u64(), t["healthy"].as_bool()), (Some(2), Some(true)), "{t}");
    assert_eq!(metric(&home.app, "writ_trust_version").await, Some(2.0));
    assert!(String::from_utf8(std::fs::read(home.path.join("trust.json")).unwrap()).unwrap().contains("bob"));

    // Publishing it again changes nothing.
    let size = home.authority.ledger().size();
    let (s, v) = call(&home.app, signed(&key(2), "POST", "/v1/trust", &v2)).await;
    assert_eq!((s, v["version"].as_u64(), v["entries"].as_u64()), (StatusCode::OK, Some(2), Some(0)), "{v}");
    assert_eq!(home.authority.ledger().size(), size);
    // And version 1 again is a rollback.
    let (s, v) = call(&home.app, signed(&key(2), "POST", "/v1/trust", &fetched_v1)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("(rollback)"), "{v}");
    assert_eq!(home.authority.ledger().size(), size);
}

#[tokio::test]
async fn an_under_signed_v2_is_refused_with_nothing_changed() {
    let home = setup(false);
    let (v1_bytes, v1) = served_v1(&home).await;
    let root = root_key(&home.path);
    let before = home.authority.ledger().size();

    // Version 2 raises the quorum to 2 root keys (adding key 8 as a root
    // key) but carries only the home root key's signature: version 1's
    // quorum is met, its own is not.
    let mut doc = v1.trust().clone();
    doc.add(key_entry("root-2", vec![Role::Root], vec![], &key(8).public())).unwrap();
    let two = trust_chain::propose(&v1, doc.file().clone(), 2, now().plus(86_400)).unwrap();
    let under = trust_chain::sign(&two, &root).unwrap();
    // Unsigned; signed by a key that is no root key (alice's).
    let unsigned = proposal(&v1, "bob", 2, 1);
    let foreign = trust_chain::sign(&unsigned, &key(1)).unwrap();
    // A signature that does not match the payload (another version's).
    let mut env: serde_json::Value = serde_json::from_slice(&trust_chain::sign(&unsigned, &root).unwrap()).unwrap();
    let other: serde_json::Value = serde_json::from_slice(&under).unwrap();
    env["signatures"] = other["signatures"].clone();
    let forged = serde_json::to_vec(&env).unwrap();

    for (what, bytes, status, code, root_code) in [
        ("under-signed", &under, StatusCode::FORBIDDEN, "forbidden", "quorum_not_met"),
        ("unsigned", &unsigned, StatusCode::FORBIDDEN, "forbidden", "quorum_not_met"),
        ("foreign key", &foreign, StatusCode::FORBIDDEN, "forbidden", "unknown_key"),
        ("forged", &forged, StatusCode::BAD_REQUEST, "bad_signature", "bad_signature"),
        ("not a version", &b"{\"payload\": 1}".to_vec(), StatusCode::BAD_REQUEST, "malformed", "malformed"),
    ] {
        let (s, v) = call(&home.app, signed(&key(1), "POST", "/v1/trust", bytes)).await;
        assert_eq!((s, v["error"]["code"].as_str()), (status, Some(code)), "{what}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("({root_code})")), "{what}: {msg}");
    }
    // Nothing changed: no ledger entry, no file, the same version served and healthy.
    assert_eq!(home.authority.ledger().size(), before);
    assert!(!trust_store::version_path(&home.path, 2).exists());
    let (s, _, b) = get(&home.app, "/v1/trust").await;
    assert_eq!((s, &b), (StatusCode::OK, &v1_bytes));
    let (s, _, _) = get(&home.app, "/v1/trust/versions/2").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let t = ready(&home.app).await;
    assert_eq!((t["version"].as_u64(), t["healthy"].as_bool()), (Some(1), Some(true)), "{t}");
    let (s, v) = call(&home.app, signed(&key(2), "POST", "/v1/nonces", b"{}")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_key")), "{v}");

    // With the second root key's signature too it is a quorum and goes in.
    let full = trust_chain::sign(&under, &key(8)).unwrap();
    let (s, v) = call(&home.app, signed(&key(1), "POST", "/v1/trust", &full)).await;
    assert_eq!((s, v["version"].as_u64()), (StatusCode::OK, Some(2)), "{v}");
}

#[tokio::test]
async fn the_trust_route_takes_a_version_of_the_format_s_largest_size() {
    let home = setup(false);
    let size = home.authority.ledger().size();
    // Larger than the other routes' limit, within a version's: read and refused as a version.
    let big = vec![b' '; writ_server::MAX_BODY + 1024];
    let (s, v) = call(&home.app, signed(&key(1), "POST", "/v1/trust", &big)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{v}");
    // Beyond a version's limit: too_large.
    let huge = vec![b' '; trust_chain::MAX_SIGNED_ROOT_BYTES + 1];
    let (s, v) = call(&home.app, signed(&key(1), "POST", "/v1/trust", &huge)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{v}");
    // The other routes keep theirs.
    let (s, v) = call(&home.app, signed(&key(1), "POST", "/v1/nonces", &big)).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{v}");
    assert_eq!(home.authority.ledger().size(), size);
}
