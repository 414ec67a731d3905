//! `writ proxy` through the real binary, in front of a real (tiny) upstream:
//! only requests whose writ permits method, path and body digest reach it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

/// Every request the upstream received: (request line, headers lowercased, body).
type Seen = Arc<Mutex<Vec<(String, Vec<String>, Vec<u8>)>>>;

fn upstream() -> (u16, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let s = s.clone();
            std::thread::spawn(move || serve(conn, &s));
        }
    });
    (port, seen)
}

fn serve(conn: TcpStream, seen: &Seen) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            headers.push(h);
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        seen.lock().unwrap().push((line.trim_end().to_string(), headers, body));
        w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-upstream: yes\r\n\r\nok").unwrap();
    }
}

fn ok(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_writ")).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "writ {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn writ_header(dir: &Path, name: &str) -> String {
    let bytes = std::fs::read(dir.join(name)).unwrap();
    format!("Writ {}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[test]
fn only_permitted_requests_reach_the_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let body_digest = writ_core::Sha256Digest::of(b"hello").to_string();
    let d = writ_core::Sha256Digest::of(b"x").to_string();
    let predicate = serde_json::json!({
        "request": {"id": "01940000-0000-7000-8000-000000000001",
                    "requester": "0000000000000000000000000000000000000000000000000000000000000000",
                    "requester_name": "agent", "reason": "test", "digest": {"sha256": d}},
        "policy": {"id": "p", "digest": {"sha256": d}, "decision": "allow", "determining_policies": ["a"]},
        "scope": {"actions": [{"http": {"method": "POST", "path": "/v1/things/*", "body_sha256": body_digest}}],
                  "offline": true}
    });
    std::fs::write(p.join("predicate.json"), predicate.to_string()).unwrap();
    ok(p, &["keygen", "--out", "issuer.key", "--name", "authority"]);
    ok(p, &["keygen", "--out", "other.key", "--name", "other"]);
    ok(p, &["trust", "add", "--trust", "trust.json", "--role", "issuer", "--key", "issuer.key.pub"]);
    ok(p, &["sign", "--key", "issuer.key", "--predicate", "predicate.json", "--ttl", "600", "--out", "w.writ"]);
    ok(p, &["sign", "--key", "other.key", "--predicate", "predicate.json", "--ttl", "600", "--out", "rogue.writ"]);

    let (up, seen) = upstream();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _proxy = Running(
        Command::new(env!("CARGO_BIN_EXE_writ"))
            .args(["proxy", "--listen", &format!("127.0.0.1:{port}"), "--upstream", &format!("http://127.0.0.1:{up}")])
            .args(["--trust", "trust.json"])
            .current_dir(p)
            .spawn()
            .unwrap(),
    );
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let send = |path: &str, auth: Option<&str>, body: &[u8]| -> (u16, String) {
        let mut req = agent.post(&format!("http://127.0.0.1:{port}{path}")).header("x-trace", "1");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let mut resp = req.send(body).unwrap();
        (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
    };
    let good = writ_header(p, "w.writ");
    let code = |r: &(u16, String)| -> String {
        assert_eq!(r.0, 403, "{r:?}");
        serde_json::from_str::<serde_json::Value>(&r.1).unwrap()["error"]["code"].as_str().unwrap().to_string()
    };

    assert_eq!(code(&send("/v1/things/1", None, b"hello")), "malformed");
    assert_eq!(code(&send("/v1/things/1", Some("Bearer abc"), b"hello")), "malformed");
    assert_eq!(code(&send("/v1/things/1", Some(&good), b"hello!")), "scope_args", "another body");
    assert_eq!(code(&send("/v1/other/1", Some(&good), b"hello")), "scope_program", "another path");
    assert_eq!(code(&send("/v1/things/1?delete=all", Some(&good), b"hello")), "scope_args", "a query");
    assert_eq!(code(&send("/v1/things/1", Some(&writ_header(p, "rogue.writ")), b"hello")), "unknown_key");
    assert!(seen.lock().unwrap().is_empty(), "a denied request reached the upstream");

    let r = send("/v1/things/1", Some(&good), b"hello");
    assert_eq!(r, (200, "ok".to_string()));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (line, headers, body) = &seen[0];
    assert_eq!(line, "POST /v1/things/1 HTTP/1.1");
    assert_eq!(body, b"hello");
    assert!(headers.iter().any(|h| h == "x-trace: 1"), "{headers:?}");
    assert!(!headers.iter().any(|h| h.starts_with("authorization")), "the writ is not forwarded: {headers:?}");
}
