//! `writ proxy` through the real binary, in front of a real (tiny) upstream:
//! only requests whose writ permits method, path and body digest reach it, and
//! each forwarded request is recorded (`exec_start` before, `exec_end` after),
//! each denial too: in the spool offline, in the authority's ledger online.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use writ_core::entry::Entry;

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
    // The gate's key signs its records (issue 9 item 6).
    ok(p, &["keygen", "--out", "gate.key", "--name", "gate1"]);
    ok(p, &["trust", "add", "--trust", "trust.json", "--role", "gate", "--key", "gate.key.pub"]);
    ok(p, &["sign", "--key", "issuer.key", "--predicate", "predicate.json", "--ttl", "600", "--out", "w.writ"]);
    ok(p, &["sign", "--key", "other.key", "--predicate", "predicate.json", "--ttl", "600", "--out", "rogue.writ"]);

    let (up, seen) = upstream();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _proxy = proxy(p, port, up, &["--trust", "trust.json", "--spool", "spool", "--key", "gate.key"]);
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

    // Offline, the records are in the spool: the six denials, then the start
    // (fsynced before forwarding) and the end of the forwarded request.
    let spooled: Vec<Entry> =
        writ_gate::Spool::read(&p.join("spool")).unwrap().entries.iter().map(|b| Entry::decode(b).unwrap()).collect();
    let kinds: Vec<&str> = spooled.iter().map(|e| e.kind().as_str()).collect();
    assert_eq!(kinds, ["denial", "denial", "denial", "denial", "denial", "denial", "exec_start", "exec_end"]);
    let codes: Vec<&str> =
        spooled.iter().filter_map(|e| if let Entry::Denial(d) = e { Some(d.code.as_str()) } else { None }).collect();
    assert_eq!(codes, ["malformed", "malformed", "scope_args", "scope_program", "scope_args", "unknown_key"]);
    let (Entry::ExecStart(start), Entry::ExecEnd(end)) = (&spooled[6], &spooled[7]) else { panic!("{kinds:?}") };
    assert_eq!(start.program_digest, writ_core::Sha256Digest::of(b"hello"), "the request body digest");
    assert_eq!(start.writ_id, end.writ_id);
    assert_eq!(end.exit_code, Some(200));
    assert!(end.outcome.starts_with("responded duration_us="), "{}", end.outcome);
    assert!(end.outcome.ends_with(&format!(" response_sha256={}", writ_core::Sha256Digest::of(b"ok"))));
}

fn proxy(dir: &Path, port: u16, upstream: u16, args: &[&str]) -> Running {
    let child = Running(
        Command::new(env!("CARGO_BIN_EXE_writ"))
            .args([
                "proxy",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--upstream",
                &format!("http://127.0.0.1:{upstream}"),
            ])
            .args(args)
            .current_dir(dir)
            .env_remove("WRIT_SPOOL")
            .spawn()
            .unwrap(),
    );
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// POSTs `body` to the proxy at `port` with `Authorization: auth`: (status, body).
fn post(port: u16, path: &str, auth: Option<&str>, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.post(&format!("http://127.0.0.1:{port}{path}"));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let mut resp = req.send(body).unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

fn denied_code(r: &(u16, String)) -> String {
    assert_eq!(r.0, 403, "{r:?}");
    serde_json::from_str::<serde_json::Value>(&r.1).unwrap()["error"]["code"].as_str().unwrap().to_string()
}

// ---- online: writs issued by a real embedded authority ----

/// An authority home (`writ init`) with a `dev` requester, a `gate` key and
/// policies that let dev call `POST /v1/things/1` (any number of times) and
/// `POST /v1/once` (single use).
struct Home {
    dir: tempfile::TempDir,
    dev: String,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let dev = common::home_with_dev_and_gate(p);
        common::add_policies(
            p,
            concat!(
                "\n@id(\"test-http\")\n@max_duration(\"300\")\n",
                "permit (principal in Writ::Group::\"dev\", action == Writ::Action::\"http\", resource)\n",
                "when { resource.method == \"POST\" && resource.path == \"/v1/things/1\" };\n",
                "\n@id(\"test-http-once\")\n@max_duration(\"300\")\n@single_use(\"true\")\n",
                "permit (principal in Writ::Group::\"dev\", action == Writ::Action::\"http\", resource)\n",
                "when { resource.method == \"POST\" && resource.path == \"/v1/once\" };\n",
            ),
        );
        Self { dir, dev }
    }

    fn p(&self) -> &Path {
        self.dir.path()
    }

    fn authority(&self) -> writ_authority::Authority {
        writ_authority::Authority::open(&writ_authority::Config::new(self.p().join("h"))).unwrap()
    }

    /// dev asks the embedded authority for an `http` writ (`writ request` has
    /// no flag for HTTP targets; the authority does): (writ id, header value).
    fn issue(&self, method: &str, path: &str) -> (String, String) {
        let a = self.authority();
        let now = writ_core::Timestamp(
            i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
                .unwrap(),
        );
        let me = a.identify(&writ_core::KeyId::parse(&self.dev).unwrap(), now).unwrap();
        let input = writ_authority::model::RequestInput {
            target: writ_authority::model::TargetInput::Http { method: method.into(), path: path.into() },
            reason: "proxy test".into(),
            duration_secs: 300,
            env: Default::default(),
            cwd: None,
            hosts: None,
            evidence: None,
            boundaries: None,
            uses: None,
            holder: None,
            delegation_depth: None,
        };
        let view = a.submit(&me, input, now).unwrap();
        assert_eq!(view.status, "issued", "{view:?}");
        let (writ, receipt) = (view.writ.unwrap(), view.receipt.unwrap());
        let b64 = |b: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        (view.writ_id.unwrap(), format!("Writ {}.{}", b64(&writ), b64(&receipt)))
    }

    /// The ledger entries of writ `id`: (kind, entry), in ledger order.
    fn ledger(&self, id: &str) -> Vec<(String, Entry)> {
        self.authority()
            .entries_for(None, Some(id))
            .unwrap()
            .into_iter()
            .map(|(_, kind, bytes)| (kind, Entry::decode(&bytes).unwrap()))
            .collect()
    }
}

fn kinds(l: &[(String, Entry)]) -> Vec<&str> {
    l.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn online_a_forwarded_request_is_recorded_start_and_end_and_a_denial_is_recorded_unforwarded() {
    let h = Home::new();
    let (id, auth) = h.issue("POST", "/v1/things/1");
    let (up, seen) = upstream();
    let port = free_port();
    let _proxy = proxy(h.p(), port, up, &["--home", "h", "--key", "gate.key", "--spool", "spool"]);

    // Denied: another path. Never forwarded; the denial is in the ledger, linked to the writ.
    assert_eq!(denied_code(&post(port, "/v1/things/2", Some(&auth), b"hello")), "scope_program");
    assert_eq!(seen.lock().unwrap().len(), 0, "a denied request reached the upstream");
    let l = h.ledger(&id);
    let Some((_, Entry::Denial(d))) = l.last() else { panic!("{:?}", kinds(&l)) };
    assert_eq!(d.code, "scope_program");
    assert!(!kinds(&l).contains(&"exec_start"));

    // Permitted: forwarded, with exec_start before and exec_end after.
    assert_eq!(post(port, "/v1/things/1", Some(&auth), b"hello"), (200, "ok".to_string()));
    assert_eq!(seen.lock().unwrap().len(), 1);
    let l = h.ledger(&id);
    assert!(kinds(&l).ends_with(&["denial", "exec_start", "exec_end"]), "{:?}", kinds(&l));
    let n = l.len();
    let (Entry::ExecStart(start), Entry::ExecEnd(end)) = (&l[n - 2].1, &l[n - 1].1) else { panic!("{:?}", kinds(&l)) };
    assert_eq!((start.writ_id.as_str(), end.writ_id.as_str()), (id.as_str(), id.as_str()));
    assert_eq!(start.request_id, end.request_id);
    assert_eq!(start.program_digest, writ_core::Sha256Digest::of(b"hello"));
    assert_eq!(end.exit_code, Some(200));
    assert!(end.outcome.starts_with("responded duration_us="), "{}", end.outcome);
    assert!(end.outcome.ends_with(&format!(" response_sha256={}", writ_core::Sha256Digest::of(b"ok"))));

    // A request without a writ is never forwarded either.
    assert_eq!(denied_code(&post(port, "/v1/things/1", None, b"hello")), "malformed");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn online_a_single_use_writs_second_request_is_replayed() {
    let h = Home::new();
    let (id, auth) = h.issue("POST", "/v1/once");
    let (up, seen) = upstream();
    let port = free_port();
    let _proxy = proxy(h.p(), port, up, &["--home", "h", "--key", "gate.key", "--spool", "spool"]);
    assert_eq!(post(port, "/v1/once", Some(&auth), b"").0, 200);
    assert_eq!(denied_code(&post(port, "/v1/once", Some(&auth), b"")), "replayed");
    assert_eq!(seen.lock().unwrap().len(), 1, "the second use reached the upstream");
    let l = h.ledger(&id);
    assert_eq!(kinds(&l).iter().filter(|k| **k == "exec_start").count(), 1, "{:?}", kinds(&l));
    let Some((_, Entry::Denial(d))) = l.last() else { panic!("{:?}", kinds(&l)) };
    assert_eq!(d.code, "replayed");
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `writ serve --home h` on a free port: (process, `host:port`).
fn authority_server(dir: &Path) -> (Server, String) {
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
    let url = line.trim().strip_prefix("listening on http://").expect("address line").to_string();
    (Server(child), url)
}

/// A relay in front of the authority at `target` that passes every request
/// but those to the ledger (`/v1/records`), whose connections it closes
/// unanswered: the authority answers status, its ledger is unreachable.
/// Returns the relay's port and how many record requests it dropped.
fn relay_without_ledger(target: String) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let (target, d) = (target.clone(), d.clone());
            std::thread::spawn(move || relay_one(conn, &target, &d));
        }
    });
    (port, dropped)
}

fn relay_one(conn: TcpStream, target: &str, dropped: &AtomicUsize) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut head = line.clone();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h.trim_end().is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if !lower.starts_with("connection:") {
            head.push_str(&h);
        }
    }
    head.push_str("connection: close\r\n\r\n");
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    if line.contains(" /v1/records") {
        dropped.fetch_add(1, Ordering::SeqCst);
        return; // closed unanswered
    }
    let mut up = TcpStream::connect(target).unwrap();
    up.write_all(head.as_bytes()).unwrap();
    up.write_all(&body).unwrap();
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).unwrap();
    let _ = w.write_all(&resp);
}

#[test]
fn online_an_unreachable_ledger_denies_record_failed_and_nothing_is_forwarded() {
    let h = Home::new();
    let (id, auth) = h.issue("POST", "/v1/things/1");
    let (_server, addr) = authority_server(h.p());
    let (relay, dropped) = relay_without_ledger(addr);
    let (up, seen) = upstream();
    let port = free_port();
    let authority = format!("http://127.0.0.1:{relay}");
    let _proxy = proxy(
        h.p(),
        port,
        up,
        &["--authority", &authority, "--trust", "h/trust.json", "--key", "gate.key", "--spool", "spool"],
    );
    assert_eq!(denied_code(&post(port, "/v1/things/1", Some(&auth), b"hello")), "record_failed");
    assert_eq!(seen.lock().unwrap().len(), 0, "an unrecorded request reached the upstream");
    assert!(dropped.load(Ordering::SeqCst) >= 1, "the ledger was not asked");
    // The denial could not reach the ledger either: it waits in the spool for `writ sync`.
    let spooled = writ_gate::Spool::read(&h.p().join("spool")).unwrap().entries;
    let [e] = spooled.as_slice() else { panic!("{} spooled entries", spooled.len()) };
    let Entry::Denial(d) = Entry::decode(e).unwrap() else { panic!("not a denial") };
    assert_eq!((d.code.as_str(), d.writ_id.as_deref()), ("record_failed", Some(id.as_str())));
}
