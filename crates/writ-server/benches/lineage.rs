//! Benchmark: the lineage neighbourhood query on a 100,000-entry ledger,
//! server time (goal ≤ 100 ms; `docs/performance.md`). It writes 100,000
//! entries to a temporary SQLite ledger, so it is a bench, not a test:
//! `cargo bench -p writ-server --bench lineage`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "benchmark"
)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;
use writ_authority::{Authority, Config, home};
use writ_core::entry::{Approval, Decision, Entry, ExecEnd, ExecStart, Issuance, Request as Req};
use writ_core::{Sha256Digest, Timestamp};
use writ_server::{AppState, router};

/// One request's flow: request, decision, approval, issuance, start, end, and
/// every tenth writ a child writ (8 entries) — 100,000 entries in total.
fn flow(n: u64) -> Vec<Entry> {
    let t = Timestamp(1_800_000_000 + i64::try_from(n).unwrap());
    let (r, w) = (format!("req-{n}"), format!("writ-{n}"));
    let d = Sha256Digest([u8::try_from(n % 251).unwrap(); 32]);
    let mut v = vec![
        Entry::Request(Req {
            time: t,
            request_id: r.clone(),
            requester: format!("user-{}", n % 50),
            action: "exec".into(),
            resource: "/usr/bin/deploy".into(),
            request_digest: d,
            reason: Some("load".into()),
        }),
        Entry::Decision(Decision {
            time: t,
            request_id: r.clone(),
            allow: true,
            policy_id: "p".into(),
            policy_digest: d,
            determining: vec!["x".into()],
        }),
        Entry::Approval(Approval {
            time: t,
            request_id: r.clone(),
            approver: format!("approver-{}", n % 7),
            request_digest: d,
            approval_digest: d,
        }),
        Entry::Issuance(Issuance {
            time: t,
            request_id: r.clone(),
            writ_id: w.clone(),
            envelope_digest: d,
            issuer: "issuer".into(),
            not_before: t,
            not_after: Timestamp(t.0 + 600),
            parent_writ_id: None,
            parent_digest: None,
        }),
        Entry::ExecStart(ExecStart {
            time: t,
            request_id: r.clone(),
            writ_id: w.clone(),
            host: "gate-1".into(),
            program_digest: d,
            argv_digest: d,
        }),
        Entry::ExecEnd(ExecEnd {
            time: t,
            request_id: r.clone(),
            writ_id: w.clone(),
            host: "gate-1".into(),
            outcome: "exited".into(),
            exit_code: Some(0),
        }),
    ];
    let child = format!("{w}-child");
    v.push(Entry::Issuance(Issuance {
        time: t,
        request_id: r.clone(),
        writ_id: child.clone(),
        envelope_digest: d,
        issuer: "issuer".into(),
        not_before: t,
        not_after: Timestamp(t.0 + 600),
        parent_writ_id: Some(w),
        parent_digest: Some(d),
    }));
    v.push(Entry::ExecStart(ExecStart {
        time: t,
        request_id: r,
        writ_id: child,
        host: "gate-1".into(),
        program_digest: d,
        argv_digest: d,
    }));
    v
}

async fn timed(app: &axum::Router, uri: &str) -> f64 {
    let t0 = Instant::now();
    let resp = app.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{uri}");
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
    assert!(!body.is_empty());
    t0.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(neighbourhood_on_100k_entries());
}

async fn neighbourhood_on_100k_entries() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    let a = Arc::new(Authority::open(&Config::new(&h)).unwrap());
    let t0 = Instant::now();
    let mut batch = Vec::new();
    for n in 0..12_500 {
        batch.extend(flow(n).iter().map(|e| e.encode().unwrap()));
        if batch.len() >= 4000 {
            a.ledger().append_many(std::mem::take(&mut batch)).unwrap();
        }
    }
    a.ledger().append_many(batch).unwrap();
    let size = a.ledger().size();
    assert!(size >= 100_000);
    println!("wrote {size} entries in {:.1} s", t0.elapsed().as_secs_f64());
    let app = router(AppState::new(a));
    println!("first query (indexes the whole ledger): {:.0} ms", timed(&app, "/v1/public/lineage/3?hops=2").await);
    let mut worst: f64 = 0.0;
    for focus in [3u64, 50_003, 99_995, 77_779] {
        for hops in [2u32, 4] {
            let ms = timed(&app, &format!("/v1/public/lineage/{focus}?hops={hops}")).await;
            worst = worst.max(ms);
            println!("neighbourhood #{focus} ±{hops}: {ms:.2} ms");
        }
    }
    for uri in [
        "/lineage?focus=50003&hops=3",
        "/v1/public/search?q=user-7",
        "/v1/public/search?q=approver-3&page=20",
        "/v1/public/impact?key=approver-3",
        "/lineage?q=writ-9000",
    ] {
        println!("{uri}: {:.2} ms", timed(&app, uri).await);
    }
    println!(
        "worst neighbourhood query: {worst:.2} ms (goal ≤ 100 ms: {})",
        if worst <= 100.0 { "met" } else { "NOT met" }
    );
}
