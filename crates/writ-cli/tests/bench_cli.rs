//! `writ bench` against a real `writ serve` (SQLite): every prepared,
//! pre-signed request is accepted and issued; a key the authority does not
//! trust gets only errors (counted, the first one kept, exit status 1); the
//! load leaves a ledger that audits clean.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

#[allow(dead_code, reason = "shared helpers, not all used here")]
mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{home_with_dev_and_gate, writ_ok};

fn writ(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_writ"));
    c.current_dir(dir).env_remove("WRIT_HOME");
    c
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> (Server, String) {
    let mut child = writ(dir)
        .args(["serve", "--home", "h", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let u = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("no server: {line}")).to_string();
    (Server(child), u)
}

fn bench(dir: &Path, url: &str, key: &str) -> (bool, serde_json::Value) {
    let o = writ(dir)
        .args(["bench", "--authority", url, "--key", key, "--requests", "60", "--concurrency", "4", "--json"])
        .output()
        .unwrap();
    (o.status.success(), serde_json::from_slice(&o.stdout).unwrap())
}

#[test]
fn bench_issues_every_prepared_request_and_counts_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A requester `dev` in group `dev`, whom the default policy lets run
    // /usr/bin/true at once; and a key the trust root does not hold.
    home_with_dev_and_gate(dir);
    writ_ok(dir, &["keygen", "--out", "stranger.key", "--name", "stranger"]);
    let (srv, url) = serve(dir);

    let (success, r) = bench(dir, &url, "dev.key");
    assert!(success, "{r}");
    assert_eq!(r["mode"], "http1-prepared", "{r}");
    assert_eq!(r["ok"], 60, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["prepared"], 60, "{r}");

    // Not in the trust root: every request is refused, and counted.
    let (success, r) = bench(dir, &url, "stranger.key");
    assert!(!success, "{r}");
    assert_eq!(r["ok"], 0, "{r}");
    assert_eq!(r["errors"], 60, "{r}");
    let first = r["first_error"].as_str().unwrap();
    assert!(first.starts_with("401 unknown_key"), "{first}");

    drop(srv);
    writ_ok(dir, &["audit", "--home", "h"]);
}
