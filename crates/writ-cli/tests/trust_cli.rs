//! The signed, versioned trust root through the real `writ` binary and a
//! real home (SQLite ledger): `writ trust propose/sign/publish/verify`, hand
//! edits of `trust.json` refused, every version a `key_change` ledger entry
//! before the authority uses it, and the refusals (unsigned, under-signed,
//! foreign keys, rollback, expired) with their codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::path::Path;
use std::process::{Command, Output};

use writ_core::entry::Entry;

fn writ(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(args)
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .output()
        .expect("run writ")
}

fn code(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = writ(dir, args);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = writ(dir, args);
    assert!(
        o.status.success(),
        "writ {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A signed home `h` (signed by `writ init`, or converted with `sign-home`
/// while init does not sign yet).
fn signed_home(dir: &Path) {
    ok(dir, &["init", "--home", "h"]);
    if !dir.join("h/trust/root.pin").exists() {
        ok(dir, &["trust", "sign-home", "--home", "h"]);
    }
    assert!(dir.join("h/root.key").exists());
    assert!(dir.join("h/trust/1.root.json").exists());
}

/// `(index, role, change, key_id)` of every `key_change` entry of the home's ledger.
fn key_changes(dir: &Path) -> Vec<(u64, String, String, String)> {
    let db = rusqlite::Connection::open(dir.join("h/ledger.sqlite")).unwrap();
    let mut st = db.prepare("SELECT idx, data FROM writ_entries ORDER BY idx").unwrap();
    let rows: Vec<(i64, Vec<u8>)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    rows.into_iter()
        .filter_map(|(i, b)| match Entry::decode(&b).unwrap() {
            Entry::KeyChange(k) => Some((i as u64, k.role, k.change, k.key_id)),
            _ => None,
        })
        .collect()
}

/// Index of the first `request` entry of the ledger.
fn first_request(dir: &Path) -> Option<u64> {
    let db = rusqlite::Connection::open(dir.join("h/ledger.sqlite")).unwrap();
    let mut st = db.prepare("SELECT idx, data FROM writ_entries ORDER BY idx").unwrap();
    let rows: Vec<(i64, Vec<u8>)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    rows.into_iter().find(|(_, b)| matches!(Entry::decode(b), Ok(Entry::Request(_)))).map(|(i, _)| i as u64)
}

fn request_echo(dir: &Path, key: &str) -> (i32, String) {
    code(dir, &["request", "--home", "h", "--key", key, "--", "/usr/bin/echo", "hi"])
}

#[test]
fn a_new_version_is_signed_then_logged_as_key_change_before_use() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    signed_home(dir);
    let v1_logged = key_changes(dir);
    assert_eq!((v1_logged[0].1.as_str(), v1_logged[0].2.as_str()), ("trust_root", "version 1"), "{v1_logged:?}");
    ok(dir, &["keygen", "--out", "alice.key", "--name", "alice"]);
    ok(dir, &["keygen", "--out", "mallory.key", "--name", "mallory"]);
    // alice is unknown so far.
    let (c, text) = request_echo(dir, "alice.key");
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("not in the authority's trust root"), "{text}");

    let digest = ok(
        dir,
        &[
            "trust",
            "propose",
            "--home",
            "h",
            "--out",
            "v2.json",
            "--add-key",
            "alice.key.pub",
            "--role",
            "requester",
            "--group",
            "dev",
        ],
    )
    .trim()
    .to_owned();
    // Unsigned: refused, nothing logged, alice still unknown.
    let (c, text) = code(dir, &["trust", "publish", "--home", "h", "v2.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("quorum_not_met"), "{text}");
    // Signed by a key that is no root key of either version: refused.
    ok(dir, &["trust", "sign", "v2.json", "--key", "mallory.key", "--out", "v2-mallory.json"]);
    let (c, text) = code(dir, &["trust", "publish", "--home", "h", "v2-mallory.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("unknown_key"), "{text}");
    assert_eq!(key_changes(dir), v1_logged, "nothing refused reaches the ledger");
    assert_ne!(request_echo(dir, "alice.key").0, 0);

    // Signed by the home's root key: published.
    ok(dir, &["trust", "sign", "v2.json", "--key", "h/root.key"]);
    let show = ok(dir, &["trust", "show", "--trust", "v2.json"]);
    assert!(show.contains("signed trust root version 2") && show.contains("alice"), "{show}");
    let published = ok(dir, &["trust", "publish", "--home", "h", "v2.json"]);
    assert_eq!(published.trim(), digest);
    let kc = key_changes(dir);
    let v2 = kc.iter().find(|k| k.1 == "trust_root" && k.2 == "version 2").expect("version 2 is logged");
    assert_eq!(v2.3, digest);
    assert!(kc.iter().any(|k| k.1 == "requester" && k.2 == "add"), "{kc:?}");

    // Now alice is trusted, and her first request comes after the key_change.
    let (c, text) = request_echo(dir, "alice.key");
    assert_eq!(c, 0, "{text}");
    assert!(v2.0 < first_request(dir).unwrap(), "the version is logged before it is used");

    // The chain verifies from the pin; the served copy matches.
    let pin = std::fs::read_to_string(dir.join("h/trust/root.pin")).unwrap();
    let out = ok(dir, &["trust", "verify", "--pin", pin.trim(), "h/trust/1.root.json", "h/trust/2.root.json"]);
    assert!(out.contains("version 2") && out.contains(&digest), "{out}");
    assert!(ok(dir, &["trust", "verify", "--home", "h"]).contains("version 2"));
    // Out of order: refused.
    let (c, text) = code(dir, &["trust", "verify", "--pin", pin.trim(), "h/trust/2.root.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("pin_mismatch"), "{text}");

    // Rollback: version 1 again.
    let (c, text) = code(dir, &["trust", "publish", "--home", "h", "h/trust/1.root.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("rollback"), "{text}");
    // Publishing version 2 again changes nothing.
    let before = key_changes(dir).len();
    ok(dir, &["trust", "publish", "--home", "h", "v2.json"]);
    assert_eq!(key_changes(dir).len(), before);
}

#[test]
fn editing_trust_json_by_hand_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    signed_home(dir);
    ok(dir, &["keygen", "--out", "eve.key", "--name", "eve"]);
    // Eve adds herself to a copy with the plain-file command, then copies it in.
    std::fs::copy(dir.join("h/trust.json"), dir.join("copy.json")).unwrap();
    ok(dir, &["trust", "add", "--trust", "copy.json", "--role", "requester", "--group", "dev", "--key", "eve.key.pub"]);
    std::fs::copy(dir.join("copy.json"), dir.join("h/trust.json")).unwrap();
    let (c, text) = request_echo(dir, "eve.key");
    assert_ne!(c, 0, "a hand-added requester gets nothing: {text}");
    assert!(text.contains("not in the authority's trust root"), "{text}");
    assert!(text.contains("edited by hand"), "the refusal is loud: {text}");
    assert!(!key_changes(dir).iter().any(|k| k.2 == "version 2"));

    // A signed version dropped into trust/ without the ledger is not used either.
    ok(dir, &["trust", "propose", "--home", "h", "--out", "v2.json", "--document", "copy.json"]);
    ok(dir, &["trust", "sign", "v2.json", "--key", "h/root.key"]);
    std::fs::copy(dir.join("v2.json"), dir.join("h/trust/2.root.json")).unwrap();
    let (c, text) = request_echo(dir, "eve.key");
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("not recorded in the ledger"), "{text}");

    // `writ trust add` on the home's trust.json signs with h/root.key and
    // publishes: a signed, logged version (which also ends the refusal).
    std::fs::remove_file(dir.join("h/trust/2.root.json")).unwrap();
    ok(dir, &["keygen", "--out", "alice.key", "--name", "alice"]);
    ok(
        dir,
        &["trust", "add", "--trust", "h/trust.json", "--role", "requester", "--group", "dev", "--key", "alice.key.pub"],
    );
    assert!(key_changes(dir).iter().any(|k| k.1 == "trust_root" && k.2 == "version 2"));
    let (c, text) = request_echo(dir, "alice.key");
    assert_eq!(c, 0, "{text}");
    assert!(!text.contains("edited by hand"), "{text}");
    assert_ne!(request_echo(dir, "eve.key").0, 0, "eve's hand edit never took effect");

    // Without the root key in the home, `trust add` refuses and says what to do.
    std::fs::rename(dir.join("h/root.key"), dir.join("offline-root.key")).unwrap();
    let (c, text) =
        code(dir, &["trust", "add", "--trust", "h/trust.json", "--role", "requester", "--key", "eve.key.pub"]);
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("writ trust propose"), "{text}");
}

#[test]
fn quorum_and_expiry_are_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    signed_home(dir);
    ok(dir, &["keygen", "--out", "r2.key", "--name", "r2"]);
    ok(dir, &["keygen", "--out", "alice.key", "--name", "alice"]);
    // v2: a second root key and a 2-of-2 quorum; it needs v1's quorum (root)
    // and its own (root + r2).
    ok(
        dir,
        &[
            "trust",
            "propose",
            "--home",
            "h",
            "--out",
            "v2.json",
            "--add-key",
            "r2.key.pub",
            "--role",
            "root",
            "--threshold",
            "2",
        ],
    );
    ok(dir, &["trust", "sign", "v2.json", "--key", "h/root.key"]);
    let (c, text) = code(dir, &["trust", "publish", "--home", "h", "v2.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("quorum_not_met") && text.contains("version 2"), "{text}");
    ok(dir, &["trust", "sign", "v2.json", "--key", "r2.key"]);
    ok(dir, &["trust", "publish", "--home", "h", "v2.json"]);
    // v3 signed by one of the two root keys only: refused.
    ok(
        dir,
        &[
            "trust",
            "propose",
            "--home",
            "h",
            "--out",
            "v3.json",
            "--add-key",
            "alice.key.pub",
            "--role",
            "requester",
            "--group",
            "dev",
        ],
    );
    ok(dir, &["trust", "sign", "v3.json", "--key", "h/root.key"]);
    let (c, text) = code(dir, &["trust", "publish", "--home", "h", "v3.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("quorum_not_met"), "{text}");
    // And `trust add` with the home's root key alone cannot reach the quorum.
    let (c, text) =
        code(dir, &["trust", "add", "--trust", "h/trust.json", "--role", "requester", "--key", "alice.key.pub"]);
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("quorum_not_met"), "{text}");

    // A version that expires in two seconds, published after it expired.
    let soon = {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 2;
        writ_core::Timestamp(secs as i64).to_rfc3339()
    };
    ok(
        dir,
        &[
            "trust",
            "propose",
            "--home",
            "h",
            "--out",
            "v3s.json",
            "--add-key",
            "alice.key.pub",
            "--role",
            "requester",
            "--expires",
            &soon,
        ],
    );
    ok(dir, &["trust", "sign", "v3s.json", "--key", "h/root.key"]);
    ok(dir, &["trust", "sign", "v3s.json", "--key", "r2.key"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (c, text) = code(dir, &["trust", "publish", "--home", "h", "v3s.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("expired"), "{text}");
    // A chain whose last version has expired does not verify.
    let (c, text) = code(dir, &["trust", "verify", "--home", "h", "--now", "2200-01-01T00:00:00Z"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("expired"), "{text}");
    assert!(!key_changes(dir).iter().any(|k| k.2 == "version 3"));
}

#[test]
fn plain_trust_files_are_edited_in_place_as_before() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["keygen", "--out", "gate.key", "--name", "gate1"]);
    let id = ok(dir, &["trust", "add", "--trust", "trust.json", "--role", "gate", "--key", "gate.key.pub"]);
    let show = ok(dir, &["trust", "show", "--trust", "trust.json"]);
    assert!(show.contains(id.trim()) && show.contains("gate1"), "{show}");
    ok(dir, &["trust", "revoke", "--trust", "trust.json", "--key-id", id.trim()]);
    assert!(ok(dir, &["trust", "show", "--trust", "trust.json"]).contains("REVOKED"));
}

struct Server(std::process::Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, stderr: &Path) -> Server {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["serve", "--home", "h", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("address line").to_string();
    Server(child, url)
}

/// The review's case: a requester added to `trust.json` while the server
/// ran was picked up live and got a writ. Now the running server refuses the
/// edit, keeps the signed version and says so on stderr.
#[test]
fn a_running_server_refuses_a_hand_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    signed_home(dir);
    ok(dir, &["keygen", "--out", "alice.key", "--name", "alice"]);
    ok(dir, &["keygen", "--out", "eve.key", "--name", "eve"]);
    ok(
        dir,
        &["trust", "add", "--trust", "h/trust.json", "--role", "requester", "--group", "dev", "--key", "alice.key.pub"],
    );
    let log = dir.join("serve.err");
    let srv = serve(dir, &log);
    let remote = |key: &str| code(dir, &["request", "--authority", &srv.1, "--key", key, "--", "/usr/bin/echo", "hi"]);
    let (c, text) = remote("alice.key");
    assert_eq!(c, 0, "{text}");
    std::fs::copy(dir.join("h/trust.json"), dir.join("copy.json")).unwrap();
    ok(dir, &["trust", "add", "--trust", "copy.json", "--role", "requester", "--group", "dev", "--key", "eve.key.pub"]);
    std::fs::copy(dir.join("copy.json"), dir.join("h/trust.json")).unwrap();
    let (c, text) = remote("eve.key");
    assert_ne!(c, 0, "a requester added by hand gets nothing: {text}");
    assert_eq!(remote("alice.key").0, 0, "the last good version stays in force");
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(err.contains("edited by hand") && err.contains("keeping the last good version"), "{err}");
    assert!(!key_changes(dir).iter().any(|k| k.2 == "version 3"), "the edit is not logged");
}

/// Issue 9 items 1 and 9: `writ trust add --role gate --host H --label L
/// --allow-weaker-isolation` binds a gate key's host facts and isolation mode
/// through the signed path (a new version, logged); without the flags the
/// key entry has none of those members (existing digests stay as they were);
/// on a key without the gate role they are refused.
#[test]
fn gate_keys_are_bound_to_host_facts_through_the_signed_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    signed_home(dir);
    ok(dir, &["keygen", "--out", "gate.key", "--name", "gate-build-01"]);
    ok(dir, &["keygen", "--out", "plain.key", "--name", "gate-plain"]);
    let add = ["trust", "add", "--trust", "h/trust.json", "--role", "gate", "--key"];
    ok(dir, &[&add[..], &["gate.key.pub", "--host", "build-*", "--label", "zone=eu", "--label", "prod"]].concat());
    ok(dir, &[&add[..], &["plain.key.pub", "--allow-weaker-isolation"]].concat());
    assert!(key_changes(dir).iter().any(|k| k.1 == "trust_root" && k.2 == "version 3"), "{:?}", key_changes(dir));
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("h/trust.json")).unwrap()).unwrap();
    let key = |name: &str| t["keys"].as_array().unwrap().iter().find(|k| k["name"] == name).unwrap().clone();
    let bound = key("gate-build-01");
    assert_eq!(bound["hosts"], serde_json::json!(["build-*"]));
    assert_eq!(bound["labels"], serde_json::json!(["zone=eu", "prod"]));
    assert!(bound.get("allow_weaker_isolation").is_none(), "omitted when false: {bound}");
    let plain = key("gate-plain");
    assert_eq!(plain["allow_weaker_isolation"], true);
    assert!(plain.get("hosts").is_none() && plain.get("labels").is_none(), "omitted when empty: {plain}");
    ok(dir, &["keygen", "--out", "dev.key", "--name", "dev"]);
    let (c, text) = code(
        dir,
        &["trust", "add", "--trust", "h/trust.json", "--role", "requester", "--key", "dev.key.pub", "--host", "h"],
    );
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("for gate keys only"), "{text}");
}
