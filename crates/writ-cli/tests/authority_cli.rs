//! The authority end to end through the real `writ` binary: `writ init`,
//! the embedded flow (`--home`), then `writ serve` on a real socket with the
//! remote flow (`--authority`, RFC 9421-signed), bad HTTP input and the
//! public ledger read path; `writ audit` passes afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

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

const POLICIES: &str = r#"
@id("echo-at-once")
@max_duration("300")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };

@id("uname-two-sre")
@approvals("2")
@approver_group("sre")
@single_use("true")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/uname" };

@id("forbid-rm")
forbid (principal, action == Writ::Action::"exec", resource) when { resource.path like "*/rm" };
"#;

fn setup(dir: &Path) {
    let out = ok(dir, &["init", "--home", "h"]);
    assert!(out.contains("initialized writ home"));
    let (c, text) = code(dir, &["init", "--home", "h"]);
    assert_eq!(c, 1, "init refuses to overwrite: {text}");
    assert!(text.contains("refusing to overwrite"));
    std::fs::write(dir.join("h/policies.cedar"), POLICIES).unwrap();
    for (name, roles, groups) in [
        ("alice", "requester", "dev"),
        ("bob", "approver", "sre"),
        ("carol", "approver", "sre"),
        ("erin", "approver", "dba"),
        ("gate1", "gate", "prod"),
    ] {
        ok(dir, &["keygen", "--out", &format!("{name}.key"), "--name", name]);
        ok(
            dir,
            &[
                "trust",
                "add",
                "--trust",
                "h/trust.json",
                "--name",
                name,
                "--role",
                roles,
                "--group",
                groups,
                "--key",
                &format!("{name}.key.pub"),
            ],
        );
    }
    ok(dir, &["keygen", "--out", "mallory.key", "--name", "mallory"]);
}

fn flow(dir: &Path, conn: &[&str], tag: &str) {
    let with = |extra: &[&str]| -> Vec<String> { conn.iter().chain(extra).map(|s| s.to_string()).collect() };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        code(dir, &a)
    };
    // allowed at once: writ + receipt verify offline
    let out = format!("{tag}-hi.writ");
    let mut a = vec!["request".to_string()];
    a.extend(with(&["--key", "alice.key", "--out", &out, "--", "/usr/bin/echo", "hi"]));
    let (c, text) = run(a);
    assert_eq!(c, 0, "{text}");
    ok(
        dir,
        &[
            "verify",
            &out,
            "--trust",
            "h/trust.json",
            "--receipt",
            &format!("{out}.receipt"),
            "--",
            "/usr/bin/echo",
            "hi",
        ],
    );

    // denied by policy: exit 77, no writ
    let mut a = vec!["request".to_string()];
    a.extend(with(&["--key", "alice.key", "--json", "--", "/usr/bin/rm", "-rf", "/tmp/x"]));
    let (c, text) = run(a);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("\"status\":\"denied\""), "{text}");

    // two approvals of group sre
    let mut a = vec!["request".to_string()];
    a.extend(with(&["--key", "alice.key", "--reason", "kernel", "--", "/usr/bin/uname", "-a"]));
    let (c, text) = run(a);
    assert_eq!(c, 0, "{text}");
    let rid = text.lines().next().unwrap().trim().to_string();
    let mut a = vec!["pending".to_string()];
    a.extend(with(&["--key", "bob.key", "--json"]));
    let (c, text) = run(a);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains(&rid));
    for (who, want, want_code) in [
        ("alice.key", "forbidden", 77),
        ("erin.key", "not_in_group", 77),
        ("bob.key", "pending", 0),
        ("bob.key", "already_voted", 77),
    ] {
        let mut a = vec!["approve".to_string()];
        a.extend(with(&["--key", who, "--json", "--yes", &rid]));
        let (c, text) = run(a);
        assert_eq!(c, want_code, "{who}: {text}");
        assert!(text.contains(want), "{who}: {text}");
    }
    let out = format!("{tag}-uname.writ");
    let mut a = vec!["request".to_string()];
    a.extend(with(&["--key", "alice.key", "--fetch", &rid, "--out", &out]));
    let (c, _) = run(a);
    assert_eq!(c, 0);
    assert!(!dir.join(&out).exists(), "no writ before quorum");
    let mut a = vec!["approve".to_string()];
    a.extend(with(&["--key", "carol.key", "--yes", &rid]));
    let (c, text) = run(a);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("issued"));
    let mut a = vec!["request".to_string()];
    a.extend(with(&["--key", "alice.key", "--fetch", &rid, "--out", &out, "--json"]));
    let (c, text) = run(a);
    assert_eq!(c, 0, "{text}");
    ok(
        dir,
        &[
            "verify",
            &out,
            "--trust",
            "h/trust.json",
            "--receipt",
            &format!("{out}.receipt"),
            "--",
            "/usr/bin/uname",
            "-a",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let wid = v["writ_id"].as_str().unwrap().to_string();

    // revoke, status
    let mut a = vec!["status".to_string()];
    a.extend(with(&["--key", "bob.key", &wid]));
    assert_eq!(run(a).0, 0);
    let mut a = vec!["revoke".to_string()];
    a.extend(with(&["--key", "bob.key", "--reason", "done", &wid]));
    let (c, text) = run(a);
    assert_eq!(c, 0, "{text}");
    let mut a = vec!["revoke".to_string()];
    a.extend(with(&["--key", "bob.key", "--reason", "again", "--json", &wid]));
    let (c, text) = run(a);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("already_revoked"));
    let mut a = vec!["revoke".to_string()];
    a.extend(with(&["--key", "bob.key", "--reason", "x", "--json", "01234567-89ab-7def-8123-456789abcdef"]));
    let (c, text) = run(a);
    assert_eq!(c, 1, "{text}");
    assert!(text.contains("unknown_writ"));
    let mut a = vec!["status".to_string()];
    a.extend(with(&["--key", "bob.key", "--json", &wid]));
    let (c, text) = run(a);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("\"state\":\"revoked\""));
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["serve", "--home", "h", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("address line").to_string();
    Server(child, url)
}

/// One raw HTTP/1.1 exchange; returns (status, body).
fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1.to_string()).unwrap_or_default();
    (status, body)
}

fn signed(key_file: &Path, method: &str, path: &str, body: &[u8]) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(key_file).unwrap();
    let seed = base64_seed(text.trim().strip_prefix("ed25519-secret ").unwrap());
    let key = writ_core::SigningKey::from_seed(&seed);
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nonce = format!("test-{}-{n:016x}", std::process::id());
    let h = writ_api::httpsig::sign(&key, method, p, q, body, now, &nonce);
    vec![
        ("content-digest".into(), h.content_digest),
        ("signature-input".into(), h.signature_input),
        ("signature".into(), h.signature),
        ("content-type".into(), "application/json".into()),
    ]
}

fn base64_seed(b64: &str) -> [u8; 32] {
    writ_core::b64::decode(b64, 32).unwrap().try_into().unwrap()
}

fn err_code(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not the error shape: {body}"));
    v["error"]["code"].as_str().unwrap().to_string()
}

#[test]
fn embedded_and_served_authority_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    flow(dir, &["--home", "h"], "embedded");

    let srv = serve(dir);
    let url = srv.1.clone();
    flow(dir, &["--authority", &url], "remote");

    // public endpoints
    assert_eq!(http(&url, "GET", "/healthz", &[], b"").0, 200);
    assert_eq!(http(&url, "GET", "/readyz", &[], b"").0, 200);
    let (s, m) = http(&url, "GET", "/metrics", &[], b"");
    assert_eq!(s, 200);
    assert!(m.contains("writ_ledger_size") && m.contains("writ_decisions_total{outcome=\"allow\"}"), "{m}");
    let (s, o) = http(&url, "GET", "/v1/openapi.json", &[], b"");
    assert_eq!(s, 200);
    assert!(o.contains("\"openapi\":\"3.1.0\""));
    let (s, cp) = http(&url, "GET", "/v1/log/checkpoint", &[], b"");
    assert_eq!(s, 200);
    assert!(cp.starts_with("writ.local/"));
    let (s, p) = http(&url, "GET", "/v1/log/proof/0", &[], b"");
    assert_eq!(s, 200);
    assert!(p.starts_with("c2sp.org/tlog-proof@v1"));
    assert_eq!(err_code(&http(&url, "GET", "/v1/log/proof/999999", &[], b"").1), "not_found");
    assert_eq!(http(&url, "GET", "/v1/log/tile/0/000.p/1", &[], b"").0, 200);

    // bad input over HTTP: each answered with its code
    let alice = dir.join("alice.key");
    let sign = |k: &str, m: &str, p: &str, b: &[u8]| signed(&dir.join(k), m, p, b);
    let send = |h: &[(String, String)], m: &str, p: &str, b: &[u8]| {
        let hv: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        http(&url, m, p, &hv, b)
    };
    let before = http(&url, "GET", "/v1/log/checkpoint", &[], b"").1;
    let good =
        br#"{"target":{"action":"exec","program":"/usr/bin/echo","argv":["/usr/bin/echo","x"]},"duration_secs":60}"#;
    // unsigned
    let (s, b) = http(&url, "POST", "/v1/requests", &[("content-type", "application/json")], good);
    assert_eq!((s, err_code(&b).as_str()), (401, "unauthenticated"));
    // unknown key
    let (s, b) = send(&sign("mallory.key", "POST", "/v1/requests", good), "POST", "/v1/requests", good);
    assert_eq!((s, err_code(&b).as_str()), (401, "unknown_key"));
    // wrong role
    let (s, b) = send(&sign("gate1.key", "POST", "/v1/requests", good), "POST", "/v1/requests", good);
    assert_eq!((s, err_code(&b).as_str()), (403, "forbidden"));
    // signature over another body
    let h = sign("alice.key", "POST", "/v1/requests", b"{}");
    let (s, b) = send(&h, "POST", "/v1/requests", good);
    assert_eq!((s, err_code(&b).as_str()), (401, "unauthenticated"));
    // malformed JSON, unknown field, duplicate key, oversized
    for (body, status, code) in [
        (&b"{not json"[..], 400, "malformed"),
        (&br#"{"target":{"action":"exec","program":"/usr/bin/echo","argv":["/usr/bin/echo"]},"duration_secs":60,"admin":true}"#[..], 400, "malformed"),
        (&br#"{"duration_secs":60,"duration_secs":61,"target":{"action":"tool","name":"x"}}"#[..], 400, "malformed"),
        (&br#"{"target":{"action":"exec","program":"/usr/bin/echo","argv":[]},"duration_secs":60}"#[..], 400, "invalid_request"),
    ] {
        let (s, b) = send(&sign("alice.key", "POST", "/v1/requests", body), "POST", "/v1/requests", body);
        assert_eq!((s, err_code(&b)), (status, code.to_string()), "{}", String::from_utf8_lossy(body));
    }
    let big = vec![b' '; writ_server::MAX_BODY + 1];
    let (s, b) = send(&sign("alice.key", "POST", "/v1/requests", &big), "POST", "/v1/requests", &big);
    assert_eq!((s, err_code(&b).as_str()), (413, "too_large"));
    // a replayed signed request
    let h = sign("bob.key", "GET", "/v1/requests?status=pending", b"");
    assert_eq!(send(&h, "GET", "/v1/requests?status=pending", b"").0, 200);
    let (s, b) = send(&h, "GET", "/v1/requests?status=pending", b"");
    assert_eq!((s, err_code(&b).as_str()), (401, "replayed_signature"));
    // approving with a bad signature
    let vote = br#"{"verdict":"approve","signature":"AAAA"}"#;
    let p = "/v1/requests/01234567-89ab-7def-8123-456789abcdef/approvals";
    let (s, b) = send(&sign("bob.key", "POST", p, vote), "POST", p, vote);
    assert_eq!((s, err_code(&b).as_str()), (400, "malformed"));
    // nothing of the above reached the ledger
    assert_eq!(before, http(&url, "GET", "/v1/log/checkpoint", &[], b"").1);
    let _ = alice;

    // a single-use writ: a gate consumes it once; the second use is `replayed`
    let (c, text) =
        code(dir, &["request", "--authority", &url, "--key", "alice.key", "--json", "--", "/usr/bin/uname"]);
    assert_eq!(c, 0, "{text}");
    let rid = serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap()).unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(dir, &["approve", "--authority", &url, "--key", "bob.key", "--yes", &rid]);
    ok(dir, &["approve", "--authority", &url, "--key", "carol.key", "--yes", &rid]);
    let (c, text) = code(
        dir,
        &["request", "--authority", &url, "--key", "alice.key", "--fetch", &rid, "--out", "one.writ", "--json"],
    );
    assert_eq!(c, 0, "{text}");
    let wid = serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap()).unwrap()["writ_id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = format!("/v1/writs/{wid}/status");
    let body = br#"{"consume":true,"nonce":"gate-nonce-1"}"#;
    let (s, st) = send(&sign("gate1.key", "POST", &p, body), "POST", &p, body);
    assert_eq!(s, 200, "{st}");
    let trust = writ_core::TrustRoot::from_json(&std::fs::read(dir.join("h/trust.json")).unwrap()).unwrap();
    let env = std::fs::read(dir.join("one.writ")).unwrap();
    let checked = writ_core::status::open(
        st.as_bytes(),
        &trust,
        &trust.keys().iter().find(|k| k.has_role(writ_core::Role::Issuer)).unwrap().entry.key_id,
        &wid,
        &writ_core::Sha256Digest::of(&env),
        Some("gate-nonce-1"),
    )
    .unwrap();
    assert_eq!(checked.use_count, Some(1));
    let body2 = br#"{"consume":true,"nonce":"gate-nonce-2"}"#;
    let (s, b) = send(&sign("gate1.key", "POST", &p, body2), "POST", &p, body2);
    assert_eq!((s, err_code(&b).as_str()), (409, "replayed"));

    // a gate records its execution through the client helpers
    let text = std::fs::read_to_string(dir.join("gate1.key")).unwrap();
    let seed = base64_seed(text.trim().strip_prefix("ed25519-secret ").unwrap());
    let gate = writ_client::Client::new(&url, writ_core::SigningKey::from_seed(&seed)).unwrap();
    let start = writ_core::entry::Entry::ExecStart(writ_core::entry::ExecStart {
        time: writ_core::Timestamp(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64,
        ),
        request_id: rid.clone(),
        writ_id: wid.clone(),
        host: "host1".into(),
        program_digest: writ_core::Sha256Digest::of(b"uname"),
        argv_digest: writ_core::Sha256Digest::of(b"argv"),
    });
    // signed by the gate key (issue 9 item 6)
    let start =
        writ_core::gate_record::GateRecord::sign(start, vec![], &writ_core::SigningKey::from_seed(&seed)).unwrap();
    let ack = writ_api::GateApi::record(&gate, &start).unwrap();
    assert!(ack.receipt.starts_with(b"c2sp.org/tlog-proof@v1"));
    assert_eq!(
        writ_api::GateApi::status(&gate, &wid, true, "gate-nonce-3").unwrap_err().code,
        writ_api::ApiErrorCode::Replayed
    );
    assert!(writ_api::OperatorApi::nonce(&gate).unwrap().nonce.len() >= 32);

    // entries by request id
    let (s, e) = http(&url, "GET", &format!("/v1/log/entries?request_id={rid}"), &[], b"");
    assert_eq!(s, 200);
    let kinds: Vec<String> = serde_json::from_str::<serde_json::Value>(&e).unwrap()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["request", "decision", "approval", "approval", "issuance", "exec_start"]);
    drop(srv);

    let (c, text) = code(dir, &["audit", "--home", "h"]);
    assert_eq!(c, 0, "{text}");
}

const SHOW_POLICY: &str = r#"
@id("env-with-preload")
@approvals("1")
@approver_group("sre")
@allow_env("LD_PRELOAD")
@max_duration("3600")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/env" };
"#;

/// Issue 10 item 4: the request from the review (a loader variable, a cwd, a
/// long duration) shows all of it to the approver, who must confirm.
#[test]
fn approvers_see_what_will_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let mut pol = std::fs::read_to_string(dir.join("h/policies.cedar")).unwrap();
    pol.push_str(SHOW_POLICY);
    std::fs::write(dir.join("h/policies.cedar"), pol).unwrap();
    let h = ["--home", "h"];
    let (c, text) = code(
        dir,
        &[
            "request",
            h[0],
            h[1],
            "--key",
            "alice.key",
            "--env",
            "LD_PRELOAD=/tmp/evil.so",
            "--env",
            "LANG=C",
            "--cwd",
            "/tmp",
            "--duration",
            "3600",
            "--reason",
            "debug the loader",
            "--",
            "/usr/bin/env",
            "X=1",
        ],
    );
    assert_eq!(c, 0, "{text}");
    let rid = text.lines().next().unwrap().trim().to_string();

    let (c, shown) = code(dir, &["show", h[0], h[1], "--key", "bob.key", &rid]);
    assert_eq!(c, 0, "{shown}");
    for want in [
        "program      \"/usr/bin/env\"",
        "sha256       ",
        "argv[0]      \"/usr/bin/env\"",
        "argv[1]      \"X=1\"",
        "env          LD_PRELOAD=\"/tmp/evil.so\"   <-- LOADER/INTERPRETER VARIABLE",
        "env          LANG=\"C\"\n",
        "cwd          \"/tmp\"",
        "duration     3600 s (1h00m00s)",
        "reason       \"debug the loader\"",
        "policy       needs_approval (determining: env-with-preload)",
        "approvals    1 needed from group `sre`, 0 so far",
        "digest       sha256:",
    ] {
        assert!(shown.contains(want), "missing {want:?} in:\n{shown}");
    }
    let (c, j) = code(dir, &["show", h[0], h[1], "--key", "bob.key", "--json", &rid]);
    assert_eq!(c, 0, "{j}");
    let v: serde_json::Value = serde_json::from_str(j.lines().next().unwrap()).unwrap();
    assert_eq!(v["loader_variables"], serde_json::json!(["LD_PRELOAD"]));
    assert_eq!(v["request"]["cwd"], "/tmp");
    assert_eq!(v["request"]["duration_secs"], 3600);
    assert!(v.get("document").is_none());
    let (c, long) = code(dir, &["pending", h[0], h[1], "--key", "bob.key", "--long"]);
    assert_eq!(c, 0, "{long}");
    assert!(long.contains("LOADER/INTERPRETER VARIABLE") && long.contains("cwd          \"/tmp\""), "{long}");

    // No terminal, no --yes: nothing is signed.
    let (c, text) = code(dir, &["approve", h[0], h[1], "--key", "bob.key", &rid]);
    assert_eq!(c, 2, "{text}");
    assert!(text.contains("--yes") && text.contains("writ show"), "{text}");
    let (c, text) = code(dir, &["show", h[0], h[1], "--key", "bob.key", "--json", &rid]);
    assert_eq!(c, 0);
    assert!(text.contains("\"approvals\":[]"), "{text}");
    // A deny reason that could forge a line is refused before anything is sent.
    let (c, text) =
        code(dir, &["deny", h[0], h[1], "--key", "bob.key", "--yes", "--reason", "no\nreason: forged", &rid]);
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("control characters"), "{text}");
    let (c, text) = code(dir, &["approve", h[0], h[1], "--key", "bob.key", "--yes", "--json", &rid]);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("\"status\":\"issued\""), "{text}");
    ok(dir, &["request", h[0], h[1], "--key", "alice.key", "--fetch", &rid, "--out", "env.writ"]);

    // status / revoke take --writ FILE as well as an id.
    let (c, text) = code(dir, &["status", h[0], h[1], "--writ", "env.writ", "--json"]);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("\"state\":\"valid\""), "{text}");
    ok(dir, &["revoke", h[0], h[1], "--writ", "env.writ", "--reason", "done"]);
    let (c, text) = code(dir, &["status", h[0], h[1], "--writ", "env.writ"]);
    assert_eq!((c, text.lines().next()), (77, Some("revoked")), "{text}");
    let (c, text) = code(dir, &["status", h[0], h[1], "--writ", "h/trust.json"]);
    assert_eq!(c, 1, "{text}");
    assert!(text.contains("is not a writ"), "{text}");

    // A deny reason is stored and `writ show` shows it with the vote.
    let (c, text) = code(
        dir,
        &["request", h[0], h[1], "--key", "alice.key", "--env", "LD_PRELOAD=/tmp/evil.so", "--", "/usr/bin/env"],
    );
    assert_eq!(c, 0, "{text}");
    let rid = text.lines().next().unwrap().trim().to_string();
    let (c, text) = code(dir, &["deny", h[0], h[1], "--key", "bob.key", "--yes", "--reason", "not \"today\"", &rid]);
    assert_eq!(c, 0, "{text}");
    let (c, shown) = code(dir, &["show", h[0], h[1], "--key", "alice.key", &rid]);
    assert_eq!(c, 0, "{shown}");
    assert!(shown.contains("  vote         deny by bob ("), "{shown}");
    assert!(shown.contains("               because \"not \\\"today\\\"\"\n"), "{shown}");
    let (c, j) = code(dir, &["show", h[0], h[1], "--key", "alice.key", "--json", &rid]);
    assert_eq!(c, 0, "{j}");
    assert!(j.contains("\"reason\":\"not \\\"today\\\"\""), "{j}");
}

/// The CLI a new user meets: errors that name the cause, config-file and
/// environment defaults, completions and man pages, TLS.
#[test]
fn cli_contract_for_new_users() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    // A public key passed as --key is told so (not to chmod it).
    let (c, text) = code(dir, &["pending", "--home", "h", "--key", "bob.key.pub"]);
    assert_eq!(c, 1, "{text}");
    assert!(
        text.contains("`bob.key.pub` is a public key") && text.contains("pass the private key `bob.key`"),
        "{text}"
    );
    assert!(!text.contains("chmod"), "{text}");
    // A URL without a scheme.
    let (c, text) = code(dir, &["pending", "--authority", "127.0.0.1:7300", "--key", "bob.key"]);
    assert_eq!(c, 2, "{text}");
    assert!(text.contains("has no scheme") && text.contains("https://127.0.0.1:7300"), "{text}");
    // Both modes at once.
    let (c, text) = code(dir, &["pending", "--home", "h", "--authority", "http://127.0.0.1:1", "--key", "bob.key"]);
    assert_eq!(c, 2, "{text}");
    // Unreachable authority: transport, exit 1, and the idempotency advice.
    let (c, text) =
        code(dir, &["revoke", "--authority", "http://127.0.0.1:1", "--key", "bob.key", "--reason", "x", "abc"]);
    assert_eq!(c, 1, "{text}");
    assert!(text.contains("transport") && text.contains("--idempotency-key"), "{text}");

    // Defaults from the config file ($XDG_CONFIG_HOME/writ/config.toml), paths relative to it.
    let cfg = dir.join("cfg/writ");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.toml"), "home = \"../../h\"\nkey = \"../../alice.key\"\n").unwrap();
    let with_cfg = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_writ"))
            .args(args)
            .current_dir(dir)
            .env_remove("WRIT_HOME")
            .env_remove("WRIT_KEY")
            .env_remove("WRIT_AUTHORITY")
            .env("XDG_CONFIG_HOME", dir.join("cfg"))
            .output()
            .unwrap()
    };
    let o = with_cfg(&["request", "--json", "--", "/usr/bin/echo", "from-config"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"status\":\"issued\""));
    // A broken config file names itself.
    std::fs::write(cfg.join("config.toml"), "hom = 1\n").unwrap();
    let o = with_cfg(&["pending"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("config.toml"), "{}", String::from_utf8_lossy(&o.stderr));

    // Completions and man pages come from the clap definitions.
    let out = ok(dir, &["completions", "bash"]);
    assert!(out.contains("writ") && out.contains("--idempotency-key"), "{out}");
    ok(dir, &["man", "man"]);
    for page in ["writ.1", "writ-approve.1", "writ-show.1", "writ-serve.1"] {
        let text = std::fs::read_to_string(dir.join("man").join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }

    // TLS: `writ serve --tls-cert/--tls-key`, the client verifies with --ca (or WRIT_CA).
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), cert.key_pair.serialize_pem()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(["serve", "--home", "h", "--listen", "127.0.0.1:0", "--tls-cert", "tls.crt", "--tls-key", "tls.key"])
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let srv = Server(child, line.trim().strip_prefix("listening on ").unwrap().to_string());
    assert!(srv.1.starts_with("https://127.0.0.1:"), "{line}");
    let url = srv.1.replace("127.0.0.1", "localhost");
    let (c, text) = code(dir, &["pending", "--authority", &url, "--key", "bob.key", "--ca", "tls.crt", "--json"]);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("\"requests\""), "{text}");
    let (c, text) = code(dir, &["pending", "--authority", &url, "--key", "bob.key"]);
    assert_eq!(c, 1, "unverified server must be refused: {text}");
    assert!(text.contains("transport"), "{text}");
    let (c, text) = code(dir, &["serve", "--home", "h", "--tls-cert", "tls.crt", "--tls-key", "tls.crt"]);
    assert_eq!(c, 2, "{text}");
    drop(srv);
}
