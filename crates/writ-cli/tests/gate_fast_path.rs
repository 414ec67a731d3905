//! The online gate's fast path (issue 11 item 3) against a real `writ serve`
//! child process: status and the durable `exec_start` in one round trip
//! (`POST /v1/writs/{id}/start`), refused in that one round trip when the
//! writ is revoked or used up, and denied when the authority is down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

#[allow(dead_code, reason = "shared helpers, not all used here")]
mod common;
#[allow(dead_code, reason = "shared helpers, not all used here")]
mod served;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;

use served::{run, serve};

const CURL_POLICY: &str = "\n@id(\"test-curl\")\n@max_duration(\"300\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen { resource.path == \"/usr/bin/curl\" };\n";

fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::home_with_dev_and_gate(dir.path());
    common::add_policies(dir.path(), CURL_POLICY);
    dir
}

/// One plain HTTP/1.1 GET; the body.
fn get(url: &str, path: &str) -> String {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").map(|x| x.1.to_owned()).unwrap_or_default()
}

/// The kinds of the ledger entries of request `rid`, in ledger order.
fn kinds(url: &str, rid: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&get(url, &format!("/v1/log/entries?request_id={rid}"))).unwrap();
    v["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

/// `writ_http_requests_total` of `route` answered with `status`.
fn served_count(url: &str, route: &str, status: u16) -> u64 {
    let m = get(url, "/metrics");
    let needle = format!("writ_http_requests_total{{route=\"{route}\",status=\"{status}\"}} ");
    m.lines().find_map(|l| l.strip_prefix(needle.as_str())).map_or(0, |n| n.trim().parse().unwrap())
}

/// Requests a writ for `invocation` from the served authority; `(writ id, request id)`.
fn request(d: &Path, url: &str, name: &str, extra: &[&str], invocation: &[&str]) -> (String, String) {
    let out = format!("{name}.writ");
    let mut args = vec!["request", "--authority", url, "--key", "dev.key", "--json", "--out", &out];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(invocation);
    let (c, text) = run(d, &args);
    assert_eq!(c, 0, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    (v["writ_id"].as_str().unwrap().to_owned(), v["request_id"].as_str().unwrap().to_owned())
}

/// `writ exec --authority URL` of `name.writ`: exit code, stdout, stderr.
fn exec(d: &Path, url: &str, name: &str, invocation: &[&str]) -> (i32, String, String) {
    let file = format!("{name}.writ");
    let mut args = vec!["exec", "--writ", &file, "--trust", "h/trust.json", "--authority", url, "--key", "gate.key"];
    args.extend_from_slice(&["--spool", "spool", "--json", "--"]);
    args.extend_from_slice(invocation);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(&args)
        .current_dir(d)
        .env_remove("WRIT_HOME")
        .env_remove("WRIT_AUTHORITY")
        .env_remove("WRIT_KEY")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The program itself reads the ledger of its own request while it runs:
/// the `exec_start` is there (durable and indexed) before it started, and
/// no `exec_end` yet; it got there in the one start round trip, with no
/// status call and no separate record before the launch.
#[test]
fn online_the_exec_start_is_in_the_ledger_before_the_program_runs() {
    let tmp = home();
    let d = tmp.path();
    let srv = serve(d, &[]);
    let url = srv.url.clone();
    // The program prints the ledger's latest checkpoint: its tree size says
    // whether the exec_start was in the ledger when the program ran.
    let probe = format!("{url}/v1/log/checkpoint");
    let (wid, rid) = request(d, &url, "c", &[], &["/usr/bin/curl", "-sf", &probe]);
    let before: u64 = get(&url, "/v1/log/checkpoint").lines().nth(1).unwrap().parse().unwrap();
    let (c, out, err) = exec(d, &url, "c", &["/usr/bin/curl", "-sf", &probe]);
    assert_eq!(c, 0, "{out}{err}");
    // What the program saw: a checkpoint that already covers the exec_start,
    // the one entry appended since the writ was issued.
    let seen: u64 = out.lines().nth(1).unwrap_or_else(|| panic!("no checkpoint printed: {out}{err}")).parse().unwrap();
    assert_eq!(seen, before + 1, "the program saw a ledger of {seen} entries, {before} before the run: {out}");
    let v: serde_json::Value =
        serde_json::from_str(get(&url, &format!("/v1/log/entries?writ_id={wid}")).as_str()).unwrap();
    let entries = v["entries"].as_array().unwrap();
    let start = entries.iter().find(|e| e["kind"] == "exec_start").expect("an exec_start");
    assert_eq!(start["index"].as_u64().unwrap(), before, "the exec_start is the entry the program saw");
    let k = kinds(&url, &rid);
    assert_eq!(k.iter().filter(|k| *k == "exec_start").count(), 1, "{k:?}");
    assert_eq!(k.last().map(String::as_str), Some("exec_end"), "{k:?}");
    // One start round trip, no status call and one record (the exec_end).
    assert_eq!(served_count(&url, "/v1/writs/{id}/start", 201), 1);
    assert_eq!(served_count(&url, "/v1/writs/{id}/status", 200), 0);
    assert_eq!(served_count(&url, "/v1/records", 201), 1);
}

/// A revoked writ is refused by the start itself: nothing is logged for it,
/// the denial is `revoked`, and no status call was needed to find out.
#[test]
fn online_a_revoked_writ_is_refused_in_the_one_start_round_trip() {
    let tmp = home();
    let d = tmp.path();
    let srv = serve(d, &[]);
    let url = srv.url.clone();
    let (wid, rid) = request(d, &url, "r", &[], &["/usr/bin/echo", "hi"]);
    let (c, text) = run(d, &["revoke", "--authority", &url, "--key", "dev.key", "--reason", "test", &wid]);
    assert_eq!(c, 0, "{text}");
    let (c, out, err) = exec(d, &url, "r", &["/usr/bin/echo", "hi"]);
    assert_eq!(c, 77, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(v["code"], "revoked", "{v}");
    assert!(!out.contains("hi\n"), "the program ran: {out}");
    let k = kinds(&url, &rid);
    assert!(!k.contains(&"exec_start".to_owned()), "{k:?}");
    assert_eq!(served_count(&url, "/v1/writs/{id}/start", 409), 1);
    assert_eq!(served_count(&url, "/v1/writs/{id}/status", 200), 0);
}

/// A single-use writ runs once; the second start is refused `replayed`
/// with nothing logged, in the same one round trip.
#[test]
fn online_a_single_use_writ_starts_once() {
    let tmp = home();
    let d = tmp.path();
    let srv = serve(d, &[]);
    let url = srv.url.clone();
    let (_, rid) = request(d, &url, "o", &["--uses", "1"], &["/usr/bin/echo", "once"]);
    let (c, out, err) = exec(d, &url, "o", &["/usr/bin/echo", "once"]);
    assert_eq!((c, out.as_str()), (0, "once\n"), "{err}");
    let (c, out, err) = exec(d, &url, "o", &["/usr/bin/echo", "once"]);
    assert_eq!(c, 77, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(v["code"], "replayed", "{v}");
    let k = kinds(&url, &rid);
    assert_eq!(k.iter().filter(|k| *k == "exec_start").count(), 1, "{k:?}");
    assert_eq!(served_count(&url, "/v1/writs/{id}/start", 409), 1);
}

/// With the authority gone, the gate runs nothing: `status_unknown`.
#[test]
fn online_an_authority_that_is_down_denies() {
    let tmp = home();
    let d = tmp.path();
    let srv = serve(d, &[]);
    let url = srv.url.clone();
    request(d, &url, "e", &[], &["/usr/bin/echo", "hi"]);
    drop(srv);
    let (c, out, err) = exec(d, &url, "e", &["/usr/bin/echo", "hi"]);
    assert_eq!(c, 77, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(v["code"], "status_unknown", "{v}");
    assert!(!out.contains("hi\n"), "the program ran: {out}");
}
