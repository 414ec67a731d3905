//! The Lineage Explorer shows delegation (issue 14 item 2): a recorded
//! child writ's `delegation` entry hangs off its parent's issuance (the edge
//! parent → child), its runs hang off the delegation, a grandchild hangs off
//! the child, and the page draws and names the delegated writ.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;
use writ_authority::{Authority, Config, home};
use writ_core::entry::{Decision, Delegation, Entry, ExecStart, Issuance, Request as Req};
use writ_core::{Sha256Digest, Timestamp};
use writ_server::{AppState, router};

fn d(n: u8) -> Sha256Digest {
    Sha256Digest([n; 32])
}

fn t(s: i64) -> Timestamp {
    Timestamp(1_800_000_000 + s)
}

fn delegation(s: i64, child: &str, parent: &str, depth: i64) -> Entry {
    Entry::Delegation(Delegation {
        time: t(s),
        request_id: "req-1".into(),
        writ_id: child.into(),
        envelope_digest: d(20 + u8::try_from(depth).unwrap()),
        holder: "holder-key".into(),
        parent_writ_id: parent.into(),
        parent_digest: d(9),
        root_writ_id: "W1".into(),
        not_before: t(s),
        not_after: t(500),
        depth,
        uses: Some(1),
        recorded_by: "orchestrator".into(),
    })
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let resp = app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let s = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 8 << 20).await.unwrap();
    (s, String::from_utf8_lossy(&bytes).into_owned())
}

fn edges(v: &serde_json::Value) -> Vec<(u64, u64)> {
    v["edges"].as_array().unwrap().iter().map(|e| (e[0].as_u64().unwrap(), e[1].as_u64().unwrap())).collect()
}

#[tokio::test]
async fn the_explorer_draws_the_delegation_edge() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    let a = Arc::new(Authority::open(&Config::new(&h)).unwrap());
    let b = a.ledger().size();
    let entries = [
        Entry::Request(Req {
            time: t(0),
            request_id: "req-1".into(),
            requester: "orchestrator-key".into(),
            action: "tool".into(),
            resource: "deploy".into(),
            request_digest: d(1),
            reason: None,
        }),
        Entry::Decision(Decision {
            time: t(1),
            request_id: "req-1".into(),
            allow: true,
            policy_id: "p".into(),
            policy_digest: d(2),
            determining: vec!["orchestrate".into()],
        }),
        Entry::Issuance(Issuance {
            time: t(2),
            request_id: "req-1".into(),
            writ_id: "W1".into(),
            envelope_digest: d(9),
            issuer: "issuer-key".into(),
            not_before: t(2),
            not_after: t(1000),
            parent_writ_id: None,
            parent_digest: None,
        }),
        delegation(3, "C1", "W1", 1),
        Entry::ExecStart(ExecStart {
            time: t(4),
            request_id: "req-1".into(),
            writ_id: "C1".into(),
            host: "gate-1".into(),
            program_digest: d(7),
            argv_digest: d(6),
        }),
        delegation(5, "C2", "C1", 2),
    ];
    a.ledger().append_many(entries.iter().map(|e| e.encode().unwrap()).collect()).unwrap();
    let app = router(AppState::new(a.clone()));
    let (iss, del, run, grand) = (b + 2, b + 3, b + 4, b + 5);

    // Around the parent's issuance: the edge parent → child.
    let (st, body) = get(&app, &format!("/v1/public/lineage/{iss}?hops=1")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(edges(&v).contains(&(iss, del)), "{v}");
    // Around the delegation: its parent, its run, its own child.
    let (_, body) = get(&app, &format!("/v1/public/lineage/{del}?hops=1")).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let e = edges(&v);
    for want in [(iss, del), (del, run), (del, grand)] {
        assert!(e.contains(&want), "edge {want:?} missing from {e:?}");
    }
    assert!(e.iter().all(|(x, y)| x < y));
    // A denial-free history: the child's run is not a "run without issuance".
    let (_, body) = get(&app, "/v1/public/gaps").await;
    assert!(!body.contains("run_without_issuance"), "{body}");
    // The page draws the node and names it.
    let (st, page) = get(&app, &format!("/lineage?focus={del}&hops=1")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("class=\"node delegation focus\""), "{page}");
    assert!(page.contains("delegated writ (depth 1)"), "{page}");
    assert!(page.contains("delegated from writ"), "{page}");
    // Searching by kind finds both delegations.
    let (st, body) = get(&app, "/v1/public/search?kind=delegation").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 2, "{v}");
}
