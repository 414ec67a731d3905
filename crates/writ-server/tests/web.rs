//! The web pages and the public read API with `oneshot`, over a real
//! authority home whose ledger holds a scripted history with seeded faults:
//! every page route, the security headers, HTML escaping of user-controlled
//! fields, the lineage graph, impact queries and the gap report.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;
use writ_authority::{Authority, Config, home};
use writ_core::entry::{
    Approval, Decision, Entry, ExecEnd, ExecStart, Issuance, KeyChange, Request as Req, Revocation,
};
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};
use writ_server::{AppState, router};

const MARKUP: &str = "<script>alert(\"x\")</script><img src=x onerror=alert(1)>&amp;";

struct Seeded {
    _dir: tempfile::TempDir,
    app: axum::Router,
    base: u64,
    authority: Arc<Authority>,
}

fn d(n: u8) -> Sha256Digest {
    Sha256Digest([n; 32])
}

fn t(s: i64) -> Timestamp {
    Timestamp(1_800_000_000 + s)
}

/// A home with a gate key named `gate-1`, and in its ledger: key change →
/// request (reason with markup) → decision → approval → writ W1 → run on
/// gate-1 (start, end) → child writ W2 → run on an unknown host without end;
/// W1 revoked, then a run after the revocation; W3 issued without request or
/// decision; a run after W3's expiry; a run under a writ never issued.
fn seeded() -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    trust.add(key_entry("gate-1", vec![Role::Gate], vec![], &SigningKey::from_seed(&[3; 32]).public())).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let a = Arc::new(Authority::open(&Config::new(&h)).unwrap());
    let base = a.ledger().size();
    let iss = |s, w: &str, r: &str, parent: Option<&str>, until| {
        Entry::Issuance(Issuance {
            time: t(s),
            request_id: r.into(),
            writ_id: w.into(),
            envelope_digest: d(9),
            issuer: "issuer-key".into(),
            not_before: t(s),
            not_after: t(until),
            parent_writ_id: parent.map(Into::into),
            parent_digest: parent.map(|_| d(8)),
        })
    };
    let start = |s, w: &str, host: &str| {
        Entry::ExecStart(ExecStart {
            time: t(s),
            request_id: "req-1".into(),
            writ_id: w.into(),
            host: host.into(),
            program_digest: d(7),
            argv_digest: d(6),
        })
    };
    let entries = vec![
        Entry::KeyChange(KeyChange {
            time: t(0),
            key_id: "issuer-key".into(),
            role: "issuer".into(),
            change: "add".into(),
            actor: "root".into(),
        }),
        Entry::Request(Req {
            time: t(1),
            request_id: "req-1".into(),
            requester: "alice".into(),
            action: "exec".into(),
            resource: "/usr/bin/deploy".into(),
            request_digest: d(1),
            reason: Some(MARKUP.into()),
        }),
        Entry::Decision(Decision {
            time: t(2),
            request_id: "req-1".into(),
            allow: true,
            policy_id: "default".into(),
            policy_digest: d(2),
            determining: vec!["p1".into()],
        }),
        Entry::Approval(Approval {
            time: t(3),
            request_id: "req-1".into(),
            approver: "bob-key".into(),
            request_digest: d(1),
            approval_digest: d(3),
        }),
        iss(4, "W1", "req-1", None, 1000),
        start(5, "W1", "gate-1"),
        Entry::ExecEnd(ExecEnd {
            time: t(6),
            request_id: "req-1".into(),
            writ_id: "W1".into(),
            host: "gate-1".into(),
            outcome: "exited".into(),
            exit_code: Some(0),
        }),
        iss(7, "W2", "req-1", Some("W1"), 1000),
        start(8, "W2", "rogue-host"),
        Entry::Revocation(Revocation {
            time: t(9),
            request_id: "req-1".into(),
            writ_id: "W1".into(),
            revoked_by: "carol".into(),
            reason: MARKUP.into(),
        }),
        start(10, "W1", "gate-1"),
        iss(11, "W3", "req-9", None, 12),
        start(20, "W3", "gate-1"),
        start(21, "NEVER", "gate-1"),
    ];
    a.ledger().append_many(entries.iter().map(|e| e.encode().unwrap()).collect()).unwrap();
    let app = router(AppState::new(a.clone()));
    Seeded { _dir: dir, app, base, authority: a }
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let (s, h) = (resp.status(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), 8 << 20).await.unwrap();
    (s, h, String::from_utf8_lossy(&bytes).into_owned())
}

async fn json(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let (s, _, b) = get(app, uri).await;
    (s, serde_json::from_str(&b).unwrap_or(serde_json::Value::Null))
}

fn assert_page(uri: &str, s: StatusCode, h: &axum::http::HeaderMap, body: &str) {
    assert_eq!(s, StatusCode::OK, "{uri}: {body}");
    assert_eq!(h["content-type"], "text/html; charset=utf-8", "{uri}");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"), "{uri}: {csp}");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{uri}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(body.starts_with("<!doctype html>"), "{uri}");
    // No inline script: every <script> element has a src.
    for (i, _) in body.match_indices("<script") {
        let tag = &body[i..i + body[i..].find('>').unwrap()];
        assert!(tag.contains(" src=\"/web/assets/"), "{uri}: inline script `{tag}`");
    }
    assert!(!body.contains(" style=\""), "{uri}: inline style");
    assert!(!body.contains("<img src=x"), "{uri}: markup from the ledger rendered as HTML");
}

#[tokio::test]
async fn every_page_route_renders_with_strict_headers() {
    let s = seeded();
    let b = s.base;
    let w1 = b + 4;
    for uri in [
        "/proofs".to_string(),
        "/proofs?writ=W1".into(),
        format!("/proofs?index={}", b + 1),
        "/proofs?writ=nope".into(),
        "/lineage".into(),
        "/lineage?q=req-1".into(),
        "/lineage?q=alice&kind=request".into(),
        "/lineage?from=2027-01-15&to=2027-01-15".into(),
        format!("/lineage?focus={w1}&hops=2"),
        format!("/lineage?focus={}&hops=1", b),
        "/lineage/impact?key=issuer-key".into(),
        "/lineage/impact?writ=W1".into(),
        "/lineage/gaps".into(),
    ] {
        let (st, h, body) = get(&s.app, &uri).await;
        assert_page(&uri, st, &h, &body);
    }
    let (st, h, body) = get(&s.app, "/proofs?writ=nope").await;
    assert_page("/proofs?writ=nope", st, &h, &body);
    assert!(body.contains("The ledger has no record for writ `nope`"));
}

#[tokio::test]
async fn user_controlled_fields_render_as_text() {
    let s = seeded();
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&amp;amp;";
    for uri in
        ["/lineage?q=req-1".to_string(), format!("/proofs?index={}", s.base + 1), "/lineage/impact?writ=W1".into()]
    {
        let (_, _, body) = get(&s.app, &uri).await;
        assert!(body.contains(escaped), "{uri}: reason not shown escaped");
        assert!(!body.contains(MARKUP), "{uri}: reason rendered as markup");
    }
    // A search term with markup is echoed escaped in the form.
    let (st, h, body) = get(&s.app, "/lineage?q=%3Cb%3Ex%22%3E").await;
    assert_page("/lineage?q=<b>x\">", st, &h, &body);
    assert!(body.contains("value=\"&lt;b&gt;x&quot;&gt;\"") && !body.contains("<b>x\">"));
    let (_, _, body) = get(&s.app, "/proofs?writ=%3Csvg%20onload%3Dalert(1)%3E").await;
    assert!(body.contains("&lt;svg onload=alert(1)&gt;") && !body.contains("<svg onload"));
}

#[tokio::test]
async fn assets_are_served_with_their_types() {
    let s = seeded();
    for (name, ct) in [
        ("style.css", "text/css; charset=utf-8"),
        ("proofs.js", "text/javascript; charset=utf-8"),
        ("lineage.js", "text/javascript; charset=utf-8"),
        ("common.js", "text/javascript; charset=utf-8"),
        ("verify.js", "text/javascript; charset=utf-8"),
        ("writ_wasm.js", "text/javascript; charset=utf-8"),
        ("writ_wasm_bg.wasm", "application/wasm"),
    ] {
        let (st, h, _) = get(&s.app, &format!("/web/assets/{name}")).await;
        assert_eq!((st, h["content-type"].to_str().unwrap()), (StatusCode::OK, ct), "{name}");
    }
    let resp = s
        .app
        .clone()
        .oneshot(
            Request::get("/web/assets/writ_wasm_bg.wasm")
                .header("accept-encoding", "gzip, br")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let gz = axum::body::to_bytes(resp.into_body(), 8 << 20).await.unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let (st, _, _) = get(&s.app, "/web/assets/../Cargo.toml").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn public_api_reads_the_ledger() {
    let s = seeded();
    let b = s.base;
    let (st, v) = json(&s.app, &format!("/v1/public/entries/{}", b + 1)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (v["kind"].as_str(), v["reason"].as_str(), v["index"].as_u64()),
        (Some("request"), Some(MARKUP), Some(b + 1))
    );
    let (_, v) = json(&s.app, "/v1/public/search?q=W1").await;
    let kinds: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["exec_start", "revocation", "exec_end", "exec_start", "issuance"]);
    let (_, v) = json(&s.app, "/v1/public/search?q=bob-key").await;
    assert_eq!(v["total"], 1);
    let (_, v) =
        json(&s.app, "/v1/public/search?q=0707070707070707070707070707070707070707070707070707070707070707").await;
    assert_eq!(v["total"], 5, "program digest finds every run");
    let (st, v) = json(&s.app, "/v1/public/search?kind=bogus").await;
    assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));

    // The neighbourhood of W1: request → decision → approval → W1 → runs, child, revocation; the key change.
    let (st, v) = json(&s.app, &format!("/v1/public/lineage/{}?hops=1", b + 4)).await;
    assert_eq!(st, StatusCode::OK);
    let nodes: Vec<u64> = v["nodes"].as_array().unwrap().iter().map(|n| n["index"].as_u64().unwrap()).collect();
    for want in [b, b + 3, b + 4, b + 5, b + 7, b + 9, b + 10] {
        assert!(nodes.contains(&want), "node {want} missing from {nodes:?}");
    }
    assert!(!nodes.contains(&(b + 6)), "exec end is two hops away");
    let edges: Vec<(u64, u64)> =
        v["edges"].as_array().unwrap().iter().map(|e| (e[0].as_u64().unwrap(), e[1].as_u64().unwrap())).collect();
    assert!(edges.contains(&(b + 3, b + 4)) && edges.contains(&(b + 4, b + 7)) && edges.contains(&(b, b + 4)));
    assert!(edges.iter().all(|(x, y)| x < y), "edges point forward in the ledger");

    // Bundle: the inclusion proof verifies against the ledger key.
    let (st, v) = json(&s.app, &format!("/v1/public/bundle/{}", b + 4)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let proof = writ_core::tlog::tlog_proof::TlogProof::parse(v["proof"].as_str().unwrap().as_bytes()).unwrap();
    let entry = writ_core::b64::decode(v["entry"].as_str().unwrap(), 1 << 16).unwrap();
    let vk = s.authority.ledger().verifier().clone();
    let ok = proof.verify_entry(&entry, vk.name(), &vk).unwrap();
    assert_eq!(ok.index, b + 4);
    assert!(v["writ"].is_null(), "a seeded issuance has no envelope in the authority");
    let (st, _) = json(&s.app, "/v1/public/writs/W2/bundle").await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = json(&s.app, "/v1/public/writs/nope/bundle").await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Consistency proof between two sizes verifies.
    let size = s.authority.ledger().latest_checkpoint().checkpoint.size;
    let (st, v) = json(&s.app, &format!("/v1/public/consistency?old={}&new={size}", b + 2)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!v["proof"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn impact_queries_follow_keys_and_children() {
    let s = seeded();
    let b = s.base;
    let idx = |v: &serde_json::Value| -> Vec<u64> {
        v["results"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect()
    };
    let (_, v) = json(&s.app, "/v1/public/impact?writ=W1").await;
    assert_eq!(idx(&v), vec![b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10], "W1, its runs, child W2 and its run");
    let (_, v) = json(&s.app, "/v1/public/impact?key=bob-key").await;
    assert_eq!(
        idx(&v),
        vec![b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10],
        "the approval reaches W1 and below"
    );
    let (_, v) = json(&s.app, "/v1/public/impact?key=issuer-key").await;
    assert!(idx(&v).contains(&(b + 11)) && idx(&v).contains(&(b + 12)) && idx(&v).contains(&b));
    let (st, _) = json(&s.app, "/v1/public/impact").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn gap_report_finds_every_seeded_fault() {
    let s = seeded();
    let b = s.base;
    let (_, v) = json(&s.app, "/v1/public/gaps").await;
    let found: Vec<(String, u64)> = v["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["kind"].as_str().unwrap().to_string(), g["index"].as_u64().unwrap()))
        .collect();
    for want in [
        ("run_without_end", b + 8),
        ("unknown_gate", b + 8),
        ("run_after_revocation", b + 10),
        ("run_without_end", b + 10),
        ("issuance_without_request", b + 11),
        ("issuance_without_decision", b + 11),
        ("run_after_expiry", b + 12),
        ("run_without_issuance", b + 13),
    ] {
        assert!(found.contains(&(want.0.to_string(), want.1)), "{want:?} not in {found:?}");
    }
    assert!(!found.contains(&("run_after_revocation".to_string(), b + 8)), "recorded before the revocation");
    for clean in [b + 4, b + 5, b + 7] {
        assert!(!found.iter().any(|(_, i)| *i == clean), "false finding at {clean}: {found:?}");
    }
    let (_, _, body) = get(&s.app, "/lineage/gaps").await;
    assert!(body.contains("run_after_revocation") && body.contains("which no gate key of the trust root names"));
}

#[tokio::test]
async fn unknown_things_are_404_pages() {
    let s = seeded();
    let (st, h, body) = get(&s.app, "/lineage?focus=999999").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert!(body.contains("no decodable entry at index 999999"));
    let (st, _, _) = get(&s.app, "/lineage?page=x").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, v) = json(&s.app, "/v1/public/entries/999999").await;
    assert_eq!((st, v["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn every_documented_public_route_answers_json() {
    let s = seeded();
    let paths = writ_server::web::openapi_paths();
    let paths = paths.as_object().unwrap();
    assert_eq!(paths.len(), 8);
    for p in paths.keys() {
        let uri = p.replace("{index}", &(s.base + 4).to_string()).replace("{id}", "W1");
        let uri = if uri.ends_with("/consistency") { format!("{uri}?old=1&new=2") } else { uri };
        let uri = if uri.ends_with("/impact") { format!("{uri}?writ=W1") } else { uri };
        let (st, v) = json(&s.app, &uri).await;
        assert_eq!(st, StatusCode::OK, "{uri}: {v}");
        assert!(v.is_object(), "{uri}");
    }
}
