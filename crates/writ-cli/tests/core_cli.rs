//! The writ-core CLI contract, driven through the real `writ` binary:
//! keygen → trust add → sign → verify, and each denial with its own code
//! and exit status 77.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn writ(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ")).args(args).current_dir(dir).output().expect("run writ")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = writ(dir, args);
    assert!(
        out.status.success(),
        "writ {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The example predicate as `writ sign` takes it for these tests: its
/// issuer and validity left for `--key` and `--ttl` to fill in, its action
/// `echo hello world` with `TZ=UTC` only.
fn echo_predicate(dir: &Path) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(examples().join("predicate.json")).unwrap()).unwrap();
    for k in ["issuer", "issued_at", "validity"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v["scope"]["environment"] = serde_json::json!({"env": {"TZ": "UTC"}});
    v["scope"]["actions"] =
        serde_json::json!([{"exec": {"program": "/usr/bin/echo", "args": [{"exact": "hello"}, {"exact": "world"}]}}]);
    let path = dir.join("echo-predicate.json");
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples")
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        ok(p, &["keygen", "--out", "issuer.key", "--name", "authority"]);
        ok(p, &["trust", "add", "--trust", "trust.json", "--role", "issuer", "--key", "issuer.key.pub"]);
        let predicate = echo_predicate(p);
        ok(
            p,
            &[
                "sign",
                "--key",
                "issuer.key",
                "--predicate",
                predicate.to_str().unwrap(),
                "--subject",
                "/usr/bin/echo",
                "--out",
                "w.writ",
            ],
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `writ verify --json` and returns (exit code, JSON verdict).
    fn verify(&self, file: &str, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["verify", file, "--trust", "trust.json", "--json"];
        args.extend_from_slice(extra);
        let out = writ(self.path(), &args);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("not JSON: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        });
        (out.status.code().unwrap(), v)
    }

    fn assert_denied(&self, file: &str, extra: &[&str], code: &str) {
        let (status, v) = self.verify(file, extra);
        assert_eq!(status, 77, "{v}");
        assert_eq!(v["verdict"], "deny");
        assert_eq!(v["code"], code, "{v}");
    }
}

#[test]
fn round_trip_allows_the_permitted_invocation() {
    let s = Setup::new();
    let (status, v) = s.verify("w.writ", &[]);
    assert_eq!(status, 0, "{v}");
    assert_eq!(v["verdict"], "allow");
    assert!(v["writ_id"].as_str().unwrap().len() == 36);
    let (status, v) = s.verify("w.writ", &["--env", "TZ=UTC", "--", "echo", "hello", "world"]);
    assert_eq!(status, 0, "{v}");
    // The human form names the writ and says allow.
    let out = ok(s.path(), &["verify", "w.writ", "--trust", "trust.json"]);
    assert!(out.starts_with("allow: writ "), "{out}");
}

#[test]
fn private_key_is_0600_and_never_overwritten() {
    let s = Setup::new();
    let mode = std::fs::metadata(s.path().join("issuer.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let before = std::fs::read(s.path().join("issuer.key")).unwrap();
    let out = writ(s.path(), &["keygen", "--out", "issuer.key"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(s.path().join("issuer.key")).unwrap(), before);
}

#[test]
fn each_kind_of_wrong_writ_has_its_own_code() {
    let s = Setup::new();
    let p = s.path();
    // tampered: change one character of the signed payload
    let env: serde_json::Value = serde_json::from_slice(&std::fs::read(p.join("w.writ")).unwrap()).unwrap();
    let mut payload = base64_decode(env["payload"].as_str().unwrap());
    let i = payload.windows(5).position(|w| w == b"world").unwrap();
    payload[i] = b'W';
    let mut tampered = env.clone();
    tampered["payload"] = base64_encode(&payload).into();
    std::fs::write(p.join("tampered.writ"), serde_json::to_vec(&tampered).unwrap()).unwrap();
    s.assert_denied("tampered.writ", &[], "bad_signature");

    s.assert_denied("w.writ", &["--now", "2100-01-01T00:00:00Z"], "expired");
    s.assert_denied("w.writ", &["--now", "2000-01-01T00:00:00Z"], "not_yet_valid");
    s.assert_denied("w.writ", &["--", "true"], "scope_program");
    s.assert_denied("w.writ", &["--", "echo", "hello", "attacker"], "scope_args");
    s.assert_denied("w.writ", &["--", "echo", "world", "hello"], "scope_args");
    s.assert_denied("w.writ", &["--env", "LD_PRELOAD=/tmp/x.so", "--", "echo", "hello", "world"], "scope_env");
    s.assert_denied("w.writ", &["--env", "TZ=CET", "--", "echo", "hello", "world"], "scope_env");

    // wrong key: signed by a key the trust root does not list
    ok(p, &["keygen", "--out", "rogue.key", "--name", "rogue"]);
    let predicate = echo_predicate(p);
    ok(
        p,
        &[
            "sign",
            "--key",
            "rogue.key",
            "--predicate",
            predicate.to_str().unwrap(),
            "--subject",
            "/usr/bin/echo",
            "--out",
            "rogue.writ",
        ],
    );
    s.assert_denied("rogue.writ", &[], "unknown_key");

    // revoked key
    let key_id = ok(p, &["trust", "add", "--trust", "trust.json", "--role", "approver", "--key", "rogue.key.pub"]);
    assert_eq!(key_id.trim().len(), 64);
    let issuer_id = s.verify("w.writ", &[]).1;
    assert_eq!(issuer_id["verdict"], "allow");
    let trust: serde_json::Value = serde_json::from_slice(&std::fs::read(p.join("trust.json")).unwrap()).unwrap();
    let issuer = trust["keys"][0]["key_id"].as_str().unwrap().to_owned();
    ok(p, &["trust", "revoke", "--trust", "trust.json", "--key-id", &issuer]);
    s.assert_denied("w.writ", &[], "key_revoked");

    // malformed input
    std::fs::write(p.join("junk.writ"), b"{not json").unwrap();
    s.assert_denied("junk.writ", &[], "malformed");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(writ(dir.path(), &["verify"]).status.code(), Some(2));
    assert_eq!(writ(dir.path(), &["verify", "x", "--trust", "t", "--now", "yesterday"]).status.code(), Some(2));
    assert_eq!(writ(dir.path(), &["no-such-command"]).status.code(), Some(2));
    ok(dir.path(), &["keygen", "--out", "k"]);
    let out =
        writ(dir.path(), &["trust", "add", "--trust", "t.json", "--role", "boss", "--key", "k.pub", "--name", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role `boss`"));
    assert!(!dir.path().join("t.json").exists(), "a refused command must not write the trust root");
}

#[test]
fn inspect_labels_output_unverified() {
    let s = Setup::new();
    let out = ok(s.path(), &["inspect", "w.writ"]);
    assert!(out.starts_with("UNVERIFIED"), "{out}");
    assert!(out.contains("https://writ.dev/authorization/v1"));
}

#[test]
fn example_trust_root_is_accepted() {
    let out = ok(Path::new("."), &["trust", "show", "--trust", examples().join("trust.json").to_str().unwrap()]);
    assert!(out.contains("authority"), "{out}");
}

/// A writ from `writ sign` verifies with securesystemslib's DSSE
/// implementation given only the issuer's public key (and a tampered one
/// does not). Needs `pip install securesystemslib[crypto]` (done by .ci/run).
#[test]
fn standard_dsse_implementation_accepts_the_envelope() {
    let s = Setup::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/dsse_verify.py");
    let run = |writ: &str| {
        Command::new("python3")
            .arg(&script)
            .arg(s.path().join(writ))
            .arg(s.path().join("issuer.key.pub"))
            .output()
            .expect("python3 must be installed")
    };
    let out = run("w.writ");
    assert!(
        out.status.success(),
        "securesystemslib rejected the writ (is it installed? `pip install securesystemslib[crypto]`): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("https://writ.dev/authorization/v1"));
    let mut env: serde_json::Value = serde_json::from_slice(&std::fs::read(s.path().join("w.writ")).unwrap()).unwrap();
    env["payloadType"] = "application/json".into();
    std::fs::write(s.path().join("t.writ"), serde_json::to_vec(&env).unwrap()).unwrap();
    assert_eq!(run("t.writ").status.code(), Some(1));
}

fn base64_decode(s: &str) -> Vec<u8> {
    writ_core::b64::decode(s, 1 << 20).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    writ_core::b64::encode(b)
}

/// The predicate JSON Schema accepts every allowed vector's predicate and
/// rejects broken ones (checked with the reference `jsonschema` package).
#[test]
fn json_schema_matches_the_vectors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .arg(root.join("tests/interop/schema_check.py"))
        .arg(&root)
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "schema check failed (is `jsonschema` installed?): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
