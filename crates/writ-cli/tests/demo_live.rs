//! `writ demo --live`: the browser demo's scenario, played against a real
//! served authority (SQLite), reaches its end with every step's expected
//! verdict, each recorded where the step says (the ledger entry of its
//! lineage link), and the server's self-verification stays at 0 failures.
//! The browser side is `tests/browser/demo-health.test.mjs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_live_demo_plays_every_step_to_its_expected_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["demo", "--live", "--listen", "127.0.0.1:0", "--approve-after", "0", "--pace", "0", "--dir"])
        .arg(dir.path().join("demo"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut base = None;
    while base.is_none() {
        let line = rx.recv_timeout(std::time::Duration::from_secs(300)).expect("the demo prints its URL");
        base = line.strip_prefix("watch it: ").and_then(|u| u.strip_suffix("/demo")).map(str::to_owned);
    }
    let base = base.unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let get = |path: &str| agent.get(&format!("{base}{path}")).call().unwrap().body_mut().read_to_string().unwrap();
    // Poll the page's feed until the scenario ends (each poll 200 ms apart).
    let mut feed = serde_json::Value::Null;
    for _ in 0..1500 {
        feed = serde_json::from_str(&get("/demo/steps.json")).unwrap();
        if feed["finished"] == true {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(feed["finished"], true, "the scenario did not end: {feed}");
    let steps = feed["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 8);
    for s in steps {
        assert_eq!(s["state"], "done", "{s}");
        assert_eq!(s["verdict"], s["expect"], "{s}");
        assert!(s["proof_url"].is_string() && s["lineage_url"].is_string(), "{s}");
        if let Some(i) = s["ledger_index"].as_u64() {
            let e: serde_json::Value = serde_json::from_str(&get(&format!("/v1/public/entries/{i}"))).unwrap();
            let expect = s["expect"].as_str().unwrap();
            match expect.strip_prefix("denied: ") {
                Some(code) => assert_eq!((e["kind"].as_str(), e["code"].as_str()), (Some("denial"), Some(code)), "{s}"),
                None => assert_eq!(e["kind"], "exec_end", "{s}"),
            }
        }
    }
    assert_eq!(feed["ok"], true);
    // The minted writ (stolen key) was never issued, but the gate's signed
    // denial of it is in the ledger, and its links name that entry.
    let minted = &steps[7];
    let i = minted["ledger_index"].as_u64().expect("the stolen-key denial is in the ledger");
    assert_eq!(minted["proof_url"], format!("/proofs?index={i}"));
    assert_eq!(minted["lineage_url"], format!("/lineage?focus={i}"));
    let e: serde_json::Value = serde_json::from_str(&get(&format!("/v1/public/entries/{i}"))).unwrap();
    let w = e["writ_id"].as_str().unwrap();
    let issued = agent.get(&format!("{base}/v1/public/writs/{w}/bundle")).call().unwrap();
    assert_eq!(issued.status(), 404, "the ledger has no issuance of the minted writ");
    // The deploy waited for approvals and got its console link.
    assert!(steps[1]["console_url"].as_str().unwrap().starts_with("/console/requests/"));
    let metrics = get("/metrics");
    for code in ["scope_args", "expired", "replayed", "bad_signature"] {
        assert!(metrics.contains(&format!("writ_denials_total{{code=\"{code}\"}} 1")), "{code}:\n{metrics}");
    }
    assert!(metrics.contains("writ_selfcheck_failures_total{check=\"checkpoint\"} 0"), "{metrics}");
    assert!(metrics.contains("writ_unissued_writs_presented_total 1"), "{metrics}");
}
