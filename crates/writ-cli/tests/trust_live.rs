//! A running `writ serve` and the trust root changed by another process:
//! a version published with `writ trust propose/sign/publish` while the
//! server runs is adopted live (its `key_change` entries are re-read from
//! the ledger), a hand edit of `trust.json` is refused and reported in the
//! server's log, `/readyz` detail and `/metrics`, and the last good version
//! stays in force. Real binary, real SQLite home, real processes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

mod served;

use std::path::Path;

use served::{run, serve};

fn ok(dir: &Path, args: &[&str]) -> String {
    let (c, text) = run(dir, args);
    assert_eq!(c, 0, "writ {args:?}: {text}");
    text
}

fn get(url: &str) -> String {
    ureq::get(url).call().unwrap().body_mut().read_to_string().unwrap()
}

fn readyz(url: &str) -> serde_json::Value {
    serde_json::from_str(&get(&format!("{url}/readyz"))).unwrap()
}

#[test]
fn a_running_server_adopts_a_version_published_by_another_process_and_refuses_a_hand_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["init", "--home", "h"]);
    assert!(d.join("h/trust/root.pin").exists(), "writ init signs the trust root");
    ok(d, &["keygen", "--out", "alice.key", "--name", "alice"]);
    ok(d, &["keygen", "--out", "eve.key", "--name", "eve"]);
    let srv = serve(d, &[]);
    let remote = |key: &str| run(d, &["request", "--authority", &srv.url, "--key", key, "--", "/usr/bin/echo", "hi"]);
    let (c, text) = remote("alice.key");
    assert_ne!(c, 0, "alice is not trusted yet: {text}");
    let version = readyz(&srv.url)["trust"]["version"].as_u64().unwrap();

    // Published by another process while the server runs.
    ok(
        d,
        &[
            "trust",
            "propose",
            "--home",
            "h",
            "--out",
            "next.json",
            "--add-key",
            "alice.key.pub",
            "--role",
            "requester",
            "--group",
            "dev",
        ],
    );
    ok(d, &["trust", "sign", "next.json", "--key", "h/root.key"]);
    ok(d, &["trust", "publish", "--home", "h", "next.json"]);
    let (c, text) = remote("alice.key");
    assert_eq!(c, 0, "the published version is in force without a restart: {text}");
    let r = readyz(&srv.url);
    assert_eq!(r["trust"]["version"].as_u64(), Some(version + 1), "{r}");
    assert_eq!(r["trust"]["healthy"], true, "{r}");
    let log = std::fs::read_to_string(d.join("serve.err")).unwrap();
    assert!(log.contains(&format!("trust root version {} (", version + 1)) && log.contains("is in force"), "{log}");
    assert!(get(&format!("{}/metrics", srv.url)).contains("writ_trust_refused 0"));

    // A hand edit (eve added to a copy, copied in): refused and reported.
    std::fs::copy(d.join("h/trust.json"), d.join("copy.json")).unwrap();
    ok(d, &["trust", "add", "--trust", "copy.json", "--role", "requester", "--group", "dev", "--key", "eve.key.pub"]);
    std::fs::copy(d.join("copy.json"), d.join("h/trust.json")).unwrap();
    let (c, text) = remote("eve.key");
    assert_ne!(c, 0, "a requester added by hand gets nothing: {text}");
    assert_eq!(remote("alice.key").0, 0, "the last good version stays in force");
    let r = readyz(&srv.url);
    assert_eq!(r["trust"]["version"].as_u64(), Some(version + 1), "{r}");
    assert_eq!(r["trust"]["healthy"], false, "{r}");
    assert!(r["trust"]["refused"].as_str().unwrap().contains("edited by hand"), "{r}");
    assert!(get(&format!("{}/metrics", srv.url)).contains("writ_trust_refused 1"));
    let log = std::fs::read_to_string(d.join("serve.err")).unwrap();
    assert!(log.contains("edited by hand") && log.contains("keeping the last good version"), "{log}");

    // A signed version dropped into trust/ without the ledger: not used.
    ok(
        d,
        &[
            "trust",
            "propose",
            "--home",
            "h",
            "--out",
            "unlogged.json",
            "--add-key",
            "eve.key.pub",
            "--role",
            "requester",
            "--group",
            "dev",
        ],
    );
    ok(d, &["trust", "sign", "unlogged.json", "--key", "h/root.key"]);
    std::fs::copy(d.join("unlogged.json"), d.join(format!("h/trust/{}.root.json", version + 2))).unwrap();
    assert_ne!(remote("eve.key").0, 0, "a version the ledger does not record is not in force");
    let r = readyz(&srv.url);
    assert_eq!(r["trust"]["version"].as_u64(), Some(version + 1), "{r}");
    assert!(r["trust"]["refused"].as_str().unwrap().contains("not recorded in the ledger"), "{r}");
}
