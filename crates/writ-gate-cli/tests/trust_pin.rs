//! `writ-gate trust pin` / `trust update` against a real `writ serve` on
//! loopback (issue 10 item 2): the gate pins a root by digest and accepts
//! only signed successors; a wrong digest, another authority's root, a
//! rollback and another root's successor are refused with their codes and
//! exit 77, and the held root stays as it was.
//!
//! Needs the `writ` binary next to `writ-gate` (`cargo build -p writ-cli`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use writ_core::Sha256Digest;
use writ_gate_cli::config::GateConfig;
use writ_gate_cli::trust::load_for_gate;

fn writ_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_writ-gate")).with_file_name("writ");
    assert!(p.exists(), "`{}` is missing: run `cargo build -p writ-cli` first", p.display());
    p
}

fn writ(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(writ_bin()).args(args).current_dir(dir).env_remove("WRIT_HOME").output().unwrap();
    assert!(
        o.status.success(),
        "writ {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn gate(dir: &Path, args: &[&str]) -> (i32, String) {
    let o: Output = Command::new(env!("CARGO_BIN_EXE_writ-gate")).args(args).current_dir(dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), text)
}

/// A signed home `dir/name`.
fn home(dir: &Path, name: &str) -> String {
    writ(dir, &["init", "--home", name]);
    if !dir.join(name).join("trust/root.pin").exists() {
        writ(dir, &["trust", "sign-home", "--home", name]);
    }
    std::fs::read_to_string(dir.join(name).join("trust/root.pin")).unwrap().trim().to_string()
}

struct Server(std::process::Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, name: &str) -> Server {
    use std::io::BufRead as _;
    let mut child = Command::new(writ_bin())
        .args(["serve", "--home", name, "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.join(format!("{name}.serve.err"))).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("address line").to_string();
    Server(child, url)
}

fn now() -> writ_core::Timestamp {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    writ_core::Timestamp(i64::try_from(t).unwrap())
}

fn config(p: &Path, body: &str) -> PathBuf {
    let f = p.join("gate.toml");
    std::fs::write(&f, body).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    f
}

#[test]
fn pin_accepts_only_the_pinned_digest_of_the_authority_root() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pin_a = home(d, "a");
    let pin_b = home(d, "b");
    assert_ne!(pin_a, pin_b);
    let a = serve(d, "a");
    let b = serve(d, "b");

    // A wrong digest is refused: exit 77, the code, nothing held.
    let wrong = Sha256Digest::of(b"not the root").to_hex();
    let (c, text) = gate(d, &["trust", "pin", "--authority", &a.1, "--digest", &wrong, "--out", "held.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("pin_mismatch"), "{text}");
    assert!(!d.join("held.json").exists());

    // A server answering another root (home b) for a's pin is refused too.
    let (c, text) = gate(d, &["trust", "pin", "--authority", &b.1, "--digest", &pin_a, "--out", "held.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("pin_mismatch"), "{text}");
    assert!(!d.join("held.json").exists());

    // Not a digest at all: usage error.
    assert_eq!(gate(d, &["trust", "pin", "--authority", &a.1, "--digest", "xyz", "--out", "held.json"]).0, 2);

    // The right digest: held byte for byte as published.
    let (c, text) = gate(d, &["trust", "pin", "--authority", &a.1, "--digest", &pin_a, "--out", "held.json"]);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("pinned version 1"), "{text}");
    assert_eq!(std::fs::read(d.join("held.json")).unwrap(), std::fs::read(d.join("a/trust/1.root.json")).unwrap());

    // The gate loads it: signed, unexpired, from the pin; the document is a's.
    let pin = Sha256Digest::from_hex(&pin_a).unwrap();
    let t = load_for_gate(&d.join("held.json"), Some(&pin), now()).unwrap();
    assert_eq!(
        t.file(),
        writ_core::TrustRoot::from_json(&std::fs::read(d.join("a/trust.json")).unwrap()).unwrap().file()
    );
    // Another pin, or an expired version, is refused.
    let other = Sha256Digest::from_hex(&pin_b).unwrap();
    assert!(load_for_gate(&d.join("held.json"), Some(&other), now()).is_err());
    let later = writ_core::Timestamp(now().0 + 3 * 365 * 86_400);
    let e = load_for_gate(&d.join("held.json"), Some(&pin), later).unwrap_err();
    assert!(format!("{e:#}").contains("expired"), "{e:#}");
    // A plain trust.json still loads for a local root, but not under a pin.
    assert!(load_for_gate(&d.join("a/trust.json"), None, now()).is_ok());
    assert!(load_for_gate(&d.join("a/trust.json"), Some(&pin), now()).is_err());
    // A byte changed in the held file: refused.
    let mut bytes = std::fs::read(d.join("held.json")).unwrap();
    let i = bytes.iter().rposition(|&c| c == b'A').unwrap();
    bytes[i] = b'B';
    std::fs::write(d.join("forged.json"), &bytes).unwrap();
    assert!(load_for_gate(&d.join("forged.json"), None, now()).is_err());
    assert!(load_for_gate(&d.join("forged.json"), Some(&pin), now()).is_err());

    // gate.toml: `trust_pin` parsed; a malformed one is an error.
    let f = config(d, &format!("trust = \"held.json\"\ntrust_pin = \"{pin_a}\"\n"));
    assert_eq!(GateConfig::load(Some(&f)).unwrap().trust_pin, Some(pin));
    let f = config(d, "trust_pin = \"abc\"\n");
    assert!(GateConfig::load(Some(&f)).is_err());
}

#[test]
fn update_takes_signed_successors_and_refuses_rollbacks_and_foreign_chains() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pin_a = home(d, "a");
    home(d, "b");
    // `old` is a copy of `a` at version 1: an authority rolled back.
    let st = Command::new("cp").args(["-a", "a", "old"]).current_dir(d).status().unwrap();
    assert!(st.success());
    writ(d, &["keygen", "--out", "alice.key", "--name", "alice"]);
    // b moves to its own version 2.
    writ(d, &["trust", "add", "--trust", "b/trust.json", "--role", "requester", "--key", "alice.key.pub"]);
    let a = serve(d, "a");
    let old = serve(d, "old");
    let b = serve(d, "b");

    let (c, text) = gate(d, &["trust", "pin", "--authority", &a.1, "--digest", &pin_a, "--out", "held.json"]);
    assert_eq!(c, 0, "{text}");
    let (c, text) = gate(d, &["trust", "update", "--authority", &a.1, "--trust", "held.json"]);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("up to date"), "{text}");

    // Another root's version 2 does not follow a's version 1.
    let v1 = std::fs::read(d.join("held.json")).unwrap();
    let (c, text) = gate(d, &["trust", "update", "--authority", &b.1, "--trust", "held.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("previous_mismatch"), "{text}");
    assert_eq!(std::fs::read(d.join("held.json")).unwrap(), v1, "the held root is unchanged");

    // A properly signed update (proposed, signed by a's root key, published).
    // (The authority is restarted: a running `writ serve` does not yet see
    // a version another process published.)
    drop(a);
    writ(d, &["trust", "add", "--trust", "a/trust.json", "--role", "requester", "--key", "alice.key.pub"]);
    let a = serve(d, "a");
    let (c, text) = gate(d, &["trust", "update", "--authority", &a.1, "--trust", "held.json"]);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("updated version 1 -> 2"), "{text}");
    let v2 = std::fs::read(d.join("held.json")).unwrap();
    assert_eq!(v2, std::fs::read(d.join("a/trust/2.root.json")).unwrap());
    // Under the pin of version 1, the held chain verifies and has alice.
    let pin = Sha256Digest::from_hex(&pin_a).unwrap();
    let t = load_for_gate(&d.join("held.json"), Some(&pin), now()).unwrap();
    let alice = std::fs::read_to_string(d.join("alice.key.pub")).unwrap();
    let (alice, _) = writ_core::keys::parse_public_key_file(&alice).unwrap();
    assert!(t.key(&alice.key_id()).is_some(), "the new version is in force at the gate");
    // Version 3 adds this gate's key: a gate signs every record it writes,
    // the denial of the junk writ below included.
    drop(a);
    writ(d, &["keygen", "--out", "gate.key", "--name", "gate1"]);
    writ(d, &["trust", "add", "--trust", "a/trust.json", "--role", "gate", "--name", "gate1", "--key", "gate.key.pub"]);
    let a = serve(d, "a");
    let (c, text) = gate(d, &["trust", "update", "--authority", &a.1, "--trust", "held.json"]);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("updated version 2 -> 3"), "{text}");
    let v3 = std::fs::read(d.join("held.json")).unwrap();

    // The gate itself (gate.toml `trust` + `trust_pin`): the held chain loads
    // and the run reaches the writ check (a junk writ is denied malformed);
    // another pin, or a plain trust.json under a pin, stops it before.
    std::fs::write(d.join("x.writ"), "junk").unwrap();
    let run = ["exec", "--config", "gate.toml", "--offline", "--writ", "x.writ", "--", "/usr/bin/true"];
    config(d, &format!("trust = \"held.json\"\ntrust_pin = \"{pin_a}\"\nspool = \"spool\"\nkey = \"gate.key\"\n"));
    let (c, text) = gate(d, &run);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("malformed") && !text.contains("trust root refused"), "{text}");
    let pin_b = std::fs::read_to_string(d.join("b/trust/root.pin")).unwrap();
    config(d, &format!("trust = \"held.json\"\ntrust_pin = \"{}\"\nspool = \"spool\"\n", pin_b.trim()));
    let (c, text) = gate(d, &run);
    assert_eq!(c, 1, "{text}");
    assert!(text.contains("does not lead back to the pinned"), "{text}");
    config(d, &format!("trust = \"a/trust.json\"\ntrust_pin = \"{pin_a}\"\nspool = \"spool\"\n"));
    let (c, text) = gate(d, &run);
    assert_eq!(c, 1, "{text}");
    assert!(text.contains("plain trust.json"), "{text}");

    // The rolled-back authority serves version 1 again: refused, v3 kept.
    let (c, text) = gate(d, &["trust", "update", "--authority", &old.1, "--trust", "held.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("rollback"), "{text}");
    assert!(text.contains("keeping version 3"), "{text}");
    assert_eq!(std::fs::read(d.join("held.json")).unwrap(), v3);

    // A version 2 of another root for the held version 3: refused.
    let (c, text) = gate(d, &["trust", "update", "--authority", &b.1, "--trust", "held.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("rollback"), "{text}");
    assert_eq!(std::fs::read(d.join("held.json")).unwrap(), v3);

    // The history was held: deleting it breaks the chain from the pin.
    std::fs::remove_file(d.join("held.json.versions/1.root.json")).unwrap();
    assert!(load_for_gate(&d.join("held.json"), Some(&pin), now()).is_err());
    // Without a pin the newest version still carries its own quorum.
    assert!(load_for_gate(&d.join("held.json"), None, now()).is_ok());
}

/// A hostile authority: answers `GET path` with the bytes mapped to it,
/// anything else with the API's `not_found`.
fn hostile(routes: Vec<(String, Vec<u8>)>) -> String {
    use std::io::{BufRead as _, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = std::io::BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut h = String::new();
            while r.read_line(&mut h).unwrap() > 2 {
                h.clear();
            }
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            let (status, body) = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, b)) => ("200 OK", b.clone()),
                None => ("404 Not Found", br#"{"error":{"code":"not_found","message":"no such version"}}"#.to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    url
}

#[test]
fn forged_successors_are_refused_and_the_held_root_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pin_a = home(d, "a");
    writ(d, &["keygen", "--out", "eve.key", "--name", "eve"]);
    {
        let a = serve(d, "a");
        let (c, text) = gate(d, &["trust", "pin", "--authority", &a.1, "--digest", &pin_a, "--out", "held.json"]);
        assert_eq!(c, 0, "{text}");
    }
    let v1 = std::fs::read(d.join("held.json")).unwrap();
    // A version 2 built on a's version 1, unsigned, then signed by a key
    // that is not a root key (what someone without a's root key can make).
    writ(d, &["trust", "propose", "--home", "a", "--out", "v2.json", "--add-key", "eve.key.pub", "--role", "issuer"]);
    let unsigned = std::fs::read(d.join("v2.json")).unwrap();
    writ(d, &["trust", "sign", "v2.json", "--key", "eve.key"]);
    let by_eve = std::fs::read(d.join("v2.json")).unwrap();
    for (bytes, code) in [(unsigned, "quorum_not_met"), (by_eve, "unknown_key")] {
        let url = hostile(vec![("/v1/trust".into(), bytes.clone()), ("/v1/trust/versions/2".into(), bytes)]);
        let (c, text) = gate(d, &["trust", "update", "--authority", &url, "--trust", "held.json"]);
        assert_eq!(c, 77, "{text}");
        assert!(text.contains(code), "{code}: {text}");
        assert!(text.contains("keeping version 1"), "{text}");
        assert_eq!(std::fs::read(d.join("held.json")).unwrap(), v1, "the held root is unchanged");
        assert!(!d.join("held.json.versions/2.root.json").exists());
    }
    // An answer that is not a trust-root version: refused as malformed.
    let url = hostile(vec![("/v1/trust".into(), {
        let mut v = serde_json::from_slice::<serde_json::Value>(&v1).unwrap();
        v["payload"] = "not a version".into();
        serde_json::to_vec(&v).unwrap()
    })]);
    let (c, text) = gate(d, &["trust", "update", "--authority", &url, "--trust", "held.json"]);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("malformed"), "{text}");
    assert_eq!(std::fs::read(d.join("held.json")).unwrap(), v1);
}
