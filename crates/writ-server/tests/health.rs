//! The Infrastructure Health Dashboard and self-verification, over a real
//! authority home (SQLite ledger): a tampered checkpoint, a tampered
//! inclusion proof and a forked checkpoint (signed with the ledger's own
//! key) each make the self-verification failure counter nonzero, on
//! `/metrics` and on `/health`; a log that only grows keeps it at 0; the
//! page's figures are the ones `/metrics` renders; `/demo` without a demo.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;
use writ_authority::{Authority, Config, home};
use writ_core::entry::{Denial, Entry, ExecStart};
use writ_core::{Sha256Digest, Timestamp};
use writ_ledger::writ_tlog::checkpoint::Checkpoint;
use writ_server::selfcheck::Sample;
use writ_server::{AppState, router};

struct Home {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    state: Arc<AppState>,
}

fn now() -> Timestamp {
    Timestamp(
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap(),
    )
}

fn append_records(a: &Authority, n: usize) {
    for i in 0..n {
        let e = if i % 2 == 0 {
            Entry::ExecStart(ExecStart {
                time: now(),
                request_id: format!("req-{i}"),
                writ_id: format!("writ-{i}"),
                host: "gate-a".into(),
                program_digest: Sha256Digest([1; 32]),
                argv_digest: Sha256Digest([2; 32]),
            })
        } else {
            Entry::Denial(Denial {
                time: now(),
                request_id: None,
                writ_id: Some(format!("writ-{i}")),
                code: "scope_args".into(),
                detail: "another argument".into(),
                host: Some("gate-a".into()),
            })
        };
        a.ledger().append(e.encode().unwrap()).unwrap();
    }
}

fn home_with_history() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h");
    home::init(&path).unwrap();
    let a = Arc::new(Authority::open(&Config::new(&path)).unwrap());
    append_records(&a, 6);
    Home { _dir: dir, path, state: AppState::new(a) }
}

async fn get(state: &Arc<AppState>, uri: &str) -> (StatusCode, String) {
    let r = router(state.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = r.status();
    let b = axum::body::to_bytes(r.into_body(), 1 << 22).await.unwrap();
    (status, String::from_utf8(b.to_vec()).unwrap())
}

fn metric(text: &str, series: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')).map(str::to_owned))
}

fn failures(h: &Home, check: &str) -> u64 {
    h.state.selfcheck.view().failures.get(check).copied().unwrap_or(0)
}

fn trust(h: &Home) -> writ_core::TrustRoot {
    (*h.state.authority.trust()).clone()
}

#[tokio::test]
async fn a_tampered_checkpoint_makes_the_failure_counter_nonzero() {
    let h = home_with_history();
    let ledger = h.state.authority.ledger();
    let good = Sample::gather(ledger, None, 3).unwrap();
    h.state.selfcheck.verify(&trust(&h), &good, now());
    assert_eq!(h.state.selfcheck.view().total_failures(), 0, "{:?}", h.state.selfcheck.view());
    let (_, m) = get(&h.state, "/metrics").await;
    assert_eq!(metric(&m, "writ_selfcheck_failures_total{check=\"checkpoint\"}").as_deref(), Some("0"), "{m}");

    // One byte of the size line changed: the signature no longer verifies.
    let mut bad = good.clone();
    let text = String::from_utf8(bad.note.clone()).unwrap();
    let size = ledger.size().to_string();
    bad.note = text.replacen(&format!("\n{size}\n"), &format!("\n{}\n", ledger.size() + 1), 1).into_bytes();
    assert_ne!(bad.note, good.note);
    h.state.selfcheck.verify(&trust(&h), &bad, now());
    assert_eq!(failures(&h, "checkpoint"), 1);

    let (_, m) = get(&h.state, "/metrics").await;
    assert_eq!(metric(&m, "writ_selfcheck_failures_total{check=\"checkpoint\"}").as_deref(), Some("1"), "{m}");
    let (status, page) = get(&h.state, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("class=\"selfcheck bad\""), "{page}");
    assert!(page.contains("1 FAILURES"), "{page}");
    assert!(
        page.contains(
            "data-metric=\"writ_selfcheck_failures_total\" data-labels=\"check=checkpoint\" data-value=\"1\">1<"
        ),
        "{page}"
    );
    assert!(page.contains("id=\"selfcheck-failure\""), "the last failure is shown");
}

#[tokio::test]
async fn a_tampered_inclusion_proof_is_counted() {
    let h = home_with_history();
    let mut s = Sample::gather(h.state.authority.ledger(), None, 2).unwrap();
    assert_eq!(s.inclusions.len(), 2, "the newest entry and one walked to");
    s.inclusions[1].proof.hashes[0][0] ^= 1;
    h.state.selfcheck.verify(&trust(&h), &s, now());
    assert_eq!(failures(&h, "inclusion"), 1);
    assert_eq!(failures(&h, "checkpoint"), 0);
    // An entry the store changed: its leaf is not the one the tree holds.
    let mut s = Sample::gather(h.state.authority.ledger(), None, 2).unwrap();
    s.inclusions[0].entry.push(0);
    h.state.selfcheck.verify(&trust(&h), &s, now());
    assert_eq!(failures(&h, "inclusion"), 2);
}

#[tokio::test]
async fn a_fork_signed_with_the_ledger_key_fails_consistency() {
    let h = home_with_history();
    let ledger = h.state.authority.ledger();
    h.state.selfcheck.run(ledger, &trust(&h), now());
    assert_eq!(h.state.selfcheck.view().total_failures(), 0);
    // A second checkpoint of the same size with another root, properly
    // signed by the ledger's key (a stolen key, or a log that forked).
    let signer = writ_ledger::key::load(&h.path.join(home::LEDGER_KEY)).unwrap();
    let cp = ledger.latest_checkpoint();
    let mut root = cp.checkpoint.root;
    root[0] ^= 0xff;
    let forked = Checkpoint::new(&cp.checkpoint.origin, cp.checkpoint.size, root).sign(&signer).unwrap();
    let mut s = Sample::gather(ledger, Some(cp.checkpoint.size), 0).unwrap();
    s.note = forked.into_bytes();
    h.state.selfcheck.verify(&trust(&h), &s, now());
    let v = h.state.selfcheck.view();
    assert_eq!(v.failures.get("checkpoint"), None, "the signature is good");
    assert_eq!(v.failures.get("consistency"), Some(&1), "{v:?}");
    assert!(v.last_failure.unwrap().2.contains("fork"));
}

#[tokio::test]
async fn a_growing_log_keeps_the_counter_at_zero() {
    let h = home_with_history();
    let a = h.state.authority.clone();
    for round in 0..5 {
        h.state.selfcheck.run(a.ledger(), &trust(&h), now());
        append_records(&a, round + 1);
    }
    h.state.selfcheck.run(a.ledger(), &trust(&h), now());
    let v = h.state.selfcheck.view();
    assert_eq!(v.total_failures(), 0, "{v:?}");
    assert_eq!(v.runs.get("consistency"), Some(&5), "each round after the first checks consistency");
    assert_eq!(v.verified_size, Some(a.ledger().size()));
}

#[tokio::test]
async fn the_page_shows_the_figures_of_metrics() {
    let h = home_with_history();
    h.state.selfcheck.run(h.state.authority.ledger(), &trust(&h), now());
    let (status, page) = get(&h.state, "/health?refresh=0").await;
    assert_eq!(status, StatusCode::OK);
    let (_, m) = get(&h.state, "/metrics").await;
    for (series, labels) in [
        ("writ_ledger_size", ""),
        ("writ_denials_total", "code=scope_args"),
        ("writ_gate_records_total", "gate=gate-a"),
        ("writ_trust_version", ""),
        ("writ_selfcheck_failures_total", "check=inclusion"),
        ("writ_replicas", ""),
    ] {
        let labels_attr = if labels.is_empty() { String::new() } else { format!(" data-labels=\"{labels}\"") };
        let prom = if labels.is_empty() {
            series.to_string()
        } else {
            let (k, v) = labels.split_once('=').unwrap();
            format!("{series}{{{k}=\"{v}\"}}")
        };
        let want = metric(&m, &prom).unwrap_or_else(|| panic!("{prom} not in /metrics:\n{m}"));
        let needle = format!("data-metric=\"{series}\"{labels_attr} data-value=\"{want}\">");
        assert!(page.contains(&needle), "{needle} not on the page");
    }
    assert_eq!(metric(&m, "writ_denials_total{code=\"scope_args\"}").as_deref(), Some("3"));
    assert_eq!(metric(&m, "writ_gate_records_total{gate=\"gate-a\"}").as_deref(), Some("6"));
    assert!(!page.contains("http-equiv=\"refresh\""), "refresh=0 turns it off");
    let (_, refreshing) = get(&h.state, "/health").await;
    assert!(refreshing.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    let (status, _) = get(&h.state, "/health?refresh=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn demo_routes_without_a_demo_say_how_to_start_one() {
    let h = home_with_history();
    let (status, page) = get(&h.state, "/demo").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("writ demo"), "{page}");
    let (status, body) = get(&h.state, "/demo/steps.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"not_found\""), "{body}");
    let feed = Arc::new(writ_server::web::DemoFeed::new("t", &[("one <b>", "story", "allowed")]));
    h.state.demo.set(feed).unwrap();
    let (status, page) = get(&h.state, "/demo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("one &lt;b&gt;") && page.contains("/web/assets/demo.js"), "{page}");
    let (_, body) = get(&h.state, "/demo/steps.json").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["steps"][0]["state"], "pending");
}
