//! `writ monitor URL` and `writ audit --remote URL`, through real processes:
//! a real `writ serve` log followed from its tiles; and logs built here with
//! the writ-tlog primitives (entries signed into checkpoints by a test
//! ledger key), served by a small HTTP server of this test on loopback, to
//! show a rollback and a fork detected, a semantic fault found from tiles
//! alone, and a watched identity reported on stdout and to a webhook.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "tests")]

mod served;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use served::{run, serve};
use writ_core::entry::{Entry, ExecStart, Request};
use writ_core::tlog::checkpoint::Checkpoint;
use writ_core::tlog::note::NoteSigner;
use writ_core::tlog::tile::{self, TILE_WIDTH};
use writ_core::tlog::tree::Frontier;
use writ_core::trust::{Role, key_entry};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};

const ORIGIN: &str = "monitor-test.writ.example/log";

/// A loopback HTTP server: GET answers from `files` (swappable), POST
/// bodies are kept in `posts`.
struct Http {
    url: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    posts: Arc<Mutex<Vec<String>>>,
}

fn http() -> Http {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let posts: Arc<Mutex<Vec<String>>> = Arc::default();
    let (f, p) = (files.clone(), posts.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            reader.read_line(&mut head).unwrap();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut parts = head.split(' ');
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("").to_string());
            let (status, body) = if method == "POST" {
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                p.lock().unwrap().push(String::from_utf8(body).unwrap());
                ("200 OK", Vec::new())
            } else {
                match f.lock().unwrap().get(&path) {
                    Some(b) => ("200 OK", b.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                }
            };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(&body);
        }
    });
    Http { url, files, posts }
}

fn ledger_key() -> SigningKey {
    SigningKey::from_seed(&[0x51; 32])
}

/// The files of a log of `entries` under `/v1/log/`: entry bundles and the
/// checkpoint signed by the test ledger key.
fn log_files(entries: &[Vec<u8>]) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    let size = entries.len() as u64;
    for t in tile::tiles_for_size(None, 0, size) {
        let start = usize::try_from(t.index * TILE_WIDTH).unwrap();
        let bundle =
            tile::encode_bundle(entries[start..start + usize::from(t.width)].iter().map(Vec::as_slice)).unwrap();
        out.insert(format!("/v1/log/{}", t.path()), bundle);
    }
    let mut f = Frontier::new();
    for e in entries {
        f.append_entry(e);
    }
    let signer = NoteSigner::new(ORIGIN, ledger_key().as_dalek().clone()).unwrap();
    let note = Checkpoint::new(ORIGIN, size, f.root()).sign(&signer).unwrap();
    out.insert("/v1/log/checkpoint".into(), note.into_bytes());
    out
}

fn write_trust(dir: &Path) {
    let mut t = TrustRoot::empty();
    t.add(key_entry(ORIGIN, vec![Role::Ledger], Vec::new(), &ledger_key().public())).unwrap();
    std::fs::write(dir.join("trust.json"), t.to_json_pretty()).unwrap();
}

fn request(n: u32, requester: &str) -> Vec<u8> {
    Entry::Request(Request {
        time: Timestamp(1_767_225_600 + i64::from(n)),
        request_id: format!("req-{n}"),
        requester: requester.into(),
        action: "exec".into(),
        resource: "/usr/bin/deploy".into(),
        request_digest: Sha256Digest::of(&n.to_be_bytes()),
        reason: None,
    })
    .encode()
    .unwrap()
}

/// `writ monitor … --once --json`: exit code and the events.
fn monitor(dir: &Path, url: &str, extra: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let mut args = vec!["monitor", url, "--trust", "trust.json", "--state", "state", "--once", "--json"];
    args.extend_from_slice(extra);
    let (code, text) = run(dir, &args);
    let events = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (code, events, text)
}

fn codes(events: &[serde_json::Value]) -> Vec<String> {
    events.iter().map(|e| e["code"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_real_served_log_is_followed_from_its_tiles() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert_eq!(run(d, &["init", "--home", "h"]).0, 0);
    let srv = serve(d, &[]);
    std::fs::copy(d.join("h/trust.json"), d.join("trust.json")).unwrap();
    let (code, events, text) = monitor(d, &srv.url, &[]);
    assert_eq!(code, 0, "{text}");
    let cp = events.iter().find(|e| e["code"] == "checkpoint").unwrap_or_else(|| panic!("{text}"));
    let size = cp["tree_size"].as_u64().unwrap();
    assert!(size > 0, "writ init logs the trust root: {text}");
    assert!(d.join("state/state.json").exists());
    // Nothing new: a clean second pass that reads nothing.
    let (code, events, text) = monitor(d, &srv.url, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(events.is_empty(), "{text}");
    // The one-shot audit from tiles agrees.
    let (code, text) = run(d, &["audit", "--remote", &srv.url, "--trust", "trust.json", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("\"tree_size\":{size}")), "{text}");
}

#[test]
fn a_rollback_and_a_fork_are_alerts_and_the_state_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_trust(d);
    let srv = http();
    let entries: Vec<Vec<u8>> = (0..300).map(|n| request(n, "alice")).collect();
    *srv.files.lock().unwrap() = log_files(&entries);
    let (code, events, text) = monitor(d, &srv.url, &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(events.last().unwrap()["tree_size"], 300, "{text}");

    // The same URL now serves an older tree: a rollback.
    *srv.files.lock().unwrap() = log_files(&entries[..200]);
    let (code, events, text) = monitor(d, &srv.url, &[]);
    assert_eq!(code, 78, "{text}");
    assert_eq!(codes(&events), ["rollback"], "{text}");

    // A fork: the same size with another history, then a longer tree whose
    // old part was rewritten (its tiles extend another tree).
    let mut forked = entries.clone();
    forked[10] = request(1001, "mallory");
    *srv.files.lock().unwrap() = log_files(&forked);
    let (code, events, text) = monitor(d, &srv.url, &[]);
    assert_eq!((code, codes(&events)), (78, vec!["fork".to_string()]), "{text}");
    forked.push(request(1002, "alice"));
    *srv.files.lock().unwrap() = log_files(&forked);
    let (code, events, text) = monitor(d, &srv.url, &[]);
    assert_eq!((code, codes(&events)), (78, vec!["fork".to_string()]), "{text}");

    // A checkpoint signed by another key is an alert too.
    let mut files = log_files(&entries);
    let other = NoteSigner::new(ORIGIN, SigningKey::from_seed(&[0x52; 32]).as_dalek().clone()).unwrap();
    let text_only = String::from_utf8(files["/v1/log/checkpoint"].clone()).unwrap();
    let body = text_only.split_once("\n\n").unwrap().0.to_string() + "\n";
    files.insert("/v1/log/checkpoint".into(), other.sign(&body).unwrap().into_bytes());
    *srv.files.lock().unwrap() = files;
    let (code, events, text) = monitor(d, &srv.url, &[]);
    assert_eq!((code, codes(&events)), (78, vec!["bad_checkpoint".to_string()]), "{text}");

    // The state still holds the 300 verified entries: the honest log
    // growing on is accepted again.
    let mut grown = entries.clone();
    grown.push(request(1003, "alice"));
    *srv.files.lock().unwrap() = log_files(&grown);
    let (code, events, text) = monitor(d, &srv.url, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(events.iter().any(|e| e["code"] == "checkpoint" && e["tree_size"] == 301), "{text}");
}

#[test]
fn a_semantic_fault_is_found_from_tiles_alone_and_a_watch_reaches_the_webhook() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_trust(d);
    let srv = http();
    let hook = http();
    let program = Sha256Digest::of(b"#!/bin/sh\nrm -rf /\n");
    let exec = Entry::ExecStart(ExecStart {
        time: Timestamp(1_767_225_700),
        request_id: "req-1".into(),
        writ_id: "01940000-0000-7000-8000-00000000dead".into(),
        host: "build-7.example.com".into(),
        program_digest: program,
        argv_digest: Sha256Digest::of(b"argv"),
    })
    .encode()
    .unwrap();
    let entries = vec![request(0, "alice"), request(1, "mallory"), exec];
    *srv.files.lock().unwrap() = log_files(&entries);
    let webhook = format!("{}/hook", hook.url);
    let (code, events, text) = monitor(
        d,
        &srv.url,
        &[
            "--watch",
            "requester=mallory",
            "--watch",
            &format!("program=sha256:{}", program.to_hex()),
            "--webhook",
            &webhook,
        ],
    );
    assert_eq!(code, 77, "a semantic fault is exit 77: {text}");
    let unknown = events.iter().find(|e| e["code"] == "exec_unknown_writ").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(unknown["index"], 2);
    assert_eq!(unknown["level"], "fault");
    let watched: Vec<_> =
        events.iter().filter(|e| e["code"] == "watch").map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(watched, [1, 2], "{text}");
    let posts = hook.posts.lock().unwrap().clone();
    let posted: Vec<serde_json::Value> = posts.iter().map(|p| serde_json::from_str(p).unwrap()).collect();
    assert!(posted.iter().any(|p| p["code"] == "watch" && p["index"] == 1), "{posts:?}");
    assert!(posted.iter().any(|p| p["code"] == "exec_unknown_writ"), "{posts:?}");
    assert!(posted.iter().all(|p| p["level"] != "info"), "info events are not posted: {posts:?}");

    // Only a watch (no fault among the new entries): exit 3.
    let mut more = entries.clone();
    more.push(request(3, "mallory"));
    *srv.files.lock().unwrap() = log_files(&more);
    let (code, events, text) = monitor(d, &srv.url, &["--watch", "requester=mallory"]);
    assert_eq!(code, 3, "{text}");
    assert!(events.iter().any(|e| e["code"] == "watch" && e["index"] == 3), "{text}");
    assert!(!events.iter().any(|e| e["code"] == "exec_unknown_writ"), "old findings are not repeated: {text}");

    // The one-shot audit from tiles finds the fault too; a bad watch is a
    // usage error.
    let (code, text) = run(d, &["audit", "--remote", &srv.url, "--trust", "trust.json", "--json"]);
    assert_eq!(code, 77, "{text}");
    assert!(text.contains("exec_unknown_writ"), "{text}");
    let (code, text) =
        run(d, &["monitor", &srv.url, "--trust", "trust.json", "--state", "s2", "--watch", "colour=red"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("requester, approver, key, program"), "{text}");
}
