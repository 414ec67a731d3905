//! The proxy library through real sockets, in front of real upstreams (a
//! stock `python3 -m http.server`, and a tiny recording upstream): what is
//! forwarded is exactly what was checked (issue 9 item 8).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use writ_core::entry::Entry;
use writ_core::fixtures;
use writ_core::model::{Action, HttpAction};
use writ_core::{HostFacts, Timestamp};
use writ_gate::{Recorder, Spool};
use writ_proxy::{Limits, ProxyConfig, Server};

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// An offline writ for `method path-pattern`.
fn writ(method: &str, path: &str) -> Vec<u8> {
    let mut p = fixtures::predicate();
    let t = now();
    (p.issued_at, p.validity.not_before, p.validity.not_after) =
        (Timestamp(t - 5), Timestamp(t - 5), Timestamp(t + 300));
    p.scope.actions = vec![Action::Http(HttpAction { method: method.into(), path: path.into(), body_sha256: None })];
    p.scope.environment = Default::default();
    p.scope.boundaries = Default::default();
    p.scope.uses = None;
    p.scope.offline = true;
    fixtures::sign(p)
}

fn auth(w: &[u8]) -> String {
    format!("Writ {}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(w))
}

/// Starts a proxy on a free port in front of `upstream`; returns its address.
fn proxy(upstream: &str, spool: &Path, limits: Limits) -> SocketAddr {
    let server = Server::bind(ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: upstream.to_owned(),
        trust: fixtures::trust_root(false),
        host: HostFacts::default(),
        online: None,
        // The gate's key signs every record (issue 9 item 6).
        recorder: Recorder::offline(Spool::open(spool).unwrap()).signed_by(Arc::new(fixtures::key(0x47))),
        limits,
    })
    .unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || server.run());
    addr
}

/// Sends `head` (request line and headers, without the blank line) and
/// `body` raw, so that no client library normalizes the target; returns
/// (status, body).
fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!("{head}\r\nhost: proxy\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body_at = out.windows(4).position(|w| w == b"\r\n\r\n").map_or(out.len(), |i| i + 4);
    (status, out[body_at..].to_vec())
}

fn code(r: &(u16, Vec<u8>)) -> String {
    assert_eq!(r.0, 403, "{}", String::from_utf8_lossy(&r.1));
    let v: serde_json::Value = serde_json::from_slice(&r.1).unwrap();
    v["error"]["code"].as_str().unwrap().to_string()
}

fn spooled(path: &Path) -> Vec<Entry> {
    Spool::read(path).unwrap().entries.iter().map(|b| Entry::decode(b).unwrap()).collect()
}

struct Python(Child);
impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `python3 -m http.server` serving `dir` on a free port; its request log
/// goes to `log`.
fn python_upstream(dir: &Path, log: &Path) -> (Python, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("python3");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "python3 -m http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Python(child), port)
}

/// Regression (issue 9): `GET /public/%2e%2e/secret.txt` passed a
/// `GET /public/**` writ and a stock `python3 -m http.server` served the
/// file outside `/public`.
#[test]
fn traversal_through_a_real_python_upstream_is_refused_and_never_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    std::fs::create_dir_all(root.join("public")).unwrap();
    std::fs::write(root.join("public/a.txt"), "public data").unwrap();
    std::fs::write(root.join("secret.txt"), "TOP SECRET").unwrap();
    let log = dir.path().join("python.log");
    let (_py, port) = python_upstream(&root, &log);
    let spool = dir.path().join("spool");
    let addr = proxy(&format!("http://127.0.0.1:{port}"), &spool, Limits::default());
    let a = auth(&writ("GET", "/public/**"));
    let get = |target: &str| raw(addr, &format!("GET {target} HTTP/1.1\r\nauthorization: {a}"), b"");

    let ok = get("/public/a.txt");
    assert_eq!((ok.0, ok.1.as_slice()), (200, b"public data".as_slice()));
    for target in [
        "/public/%2e%2e/secret.txt",
        "/public/%2E%2E/secret.txt",
        "/public/.%2e/secret.txt",
        "/public/..%2fsecret.txt",
        "/public%2f..%2fsecret.txt",
        "/public/..%5csecret.txt",
        "/public/..\\secret.txt",
        "/public/..;/secret.txt",
        "/public//../secret.txt",
        "/public/%252e%252e/secret.txt",
    ] {
        let r = get(target);
        assert!(!String::from_utf8_lossy(&r.1).contains("TOP SECRET"), "{target} leaked the secret");
        assert_eq!(code(&r), "malformed", "{target}");
    }
    // A plain dot segment normalizes to a path outside the writ: refused by scope.
    let r = get("/public/../secret.txt");
    assert!(!String::from_utf8_lossy(&r.1).contains("TOP SECRET"));
    assert_eq!(code(&r), "scope_program");
    // Absolute form is refused too.
    assert_eq!(code(&get(&format!("http://127.0.0.1:{port}/secret.txt"))), "malformed");
    // The upstream saw exactly one request: the permitted one.
    std::thread::sleep(Duration::from_millis(200));
    let seen = std::fs::read_to_string(&log).unwrap();
    let requests: Vec<&str> = seen.lines().filter(|l| l.contains("\"GET ")).collect();
    assert_eq!(requests.len(), 1, "{seen}");
    assert!(requests[0].contains("\"GET /public/a.txt HTTP/1.1\""), "{seen}");
    // And the ledger-to-be says so: 12 denials, one start and one end.
    let kinds: Vec<&str> = spooled(&spool).iter().map(|e| e.kind().as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "denial").count(), 12, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "exec_start").count(), 1, "{kinds:?}");
}

/// Every request the recording upstream received: (request line, headers).
type Seen = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// A tiny upstream that records request lines and headers and answers
/// `ok`, or (with `hang`) never answers.
fn recording_upstream(hang: bool) -> (u16, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let s = s.clone();
            std::thread::spawn(move || {
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
                    s.lock().unwrap().push((line.trim_end().to_string(), headers));
                    if hang {
                        std::thread::sleep(Duration::from_secs(30));
                        return;
                    }
                    w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
                }
            });
        }
    });
    (port, seen)
}

#[test]
fn the_forwarded_request_line_is_the_one_that_matched_and_rewriting_headers_are_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let (up, seen) = recording_upstream(false);
    let addr = proxy(&format!("http://127.0.0.1:{up}"), &dir.path().join("spool"), Limits::default());
    let a = auth(&writ("GET", "/public/**"));
    let head = format!(
        "GET /public/./x/../%61.txt HTTP/1.1\r\nauthorization: {a}\r\nx-original-url: /secret\r\nX_Original_URL: /secret\r\n\
         x-rewrite-url: /secret\r\nx-forwarded-for: 1.2.3.4\r\nx-forwarded-host: evil\r\nx_forwarded_prefix: /admin\r\n\
         forwarded: for=1.2.3.4;host=evil\r\nx-http-method-override: DELETE\r\nx_http_method_override: DELETE\r\n\
         x-method-override: DELETE\r\nx-http-method: DELETE\r\nx-trace: kept"
    );
    let r = raw(addr, &head, b"");
    assert_eq!((r.0, r.1.as_slice()), (200, b"ok".as_slice()));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (line, headers) = &seen[0];
    assert_eq!(line, "GET /public/a.txt HTTP/1.1", "the normalized path that matched is what is forwarded");
    assert!(headers.iter().any(|h| h == "x-trace: kept"), "{headers:?}");
    for h in headers {
        let name = h.split(':').next().unwrap();
        assert!(
            !(name.contains('_')
                || name.starts_with("x-forwarded")
                || [
                    "x-original-url",
                    "x-rewrite-url",
                    "forwarded",
                    "x-http-method-override",
                    "x-method-override",
                    "x-http-method",
                    "authorization"
                ]
                .contains(&name)),
            "`{h}` reached the upstream"
        );
    }
    assert!(headers.iter().any(|h| h == &format!("host: 127.0.0.1:{up}")), "{headers:?}");
}

/// Offline, a request is forwarded only once its `exec_start` is durable in
/// the spool (awaited through the spool's group commit): when the record
/// cannot be written, the request is denied `record_failed` and the upstream
/// never sees it.
#[test]
fn an_unwritable_spool_denies_record_failed_and_nothing_is_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let (up, seen) = recording_upstream(false);
    // The spool's path is a directory: no frame can be appended to it.
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let addr = proxy(&format!("http://127.0.0.1:{up}"), &spool, Limits::default());
    let a = auth(&writ("GET", "/public/**"));
    for _ in 0..3 {
        let r = raw(addr, &format!("GET /public/a.txt HTTP/1.1\r\nauthorization: {a}"), b"");
        assert_eq!(code(&r), "record_failed");
        let v: serde_json::Value = serde_json::from_slice(&r.1).unwrap();
        assert!(v["error"]["message"].as_str().unwrap().contains("exec_start not recorded"), "{v}");
    }
    assert!(seen.lock().unwrap().is_empty(), "a request reached the upstream unrecorded");
}

#[test]
fn body_upstream_header_and_connection_limits_hold() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let (hang, hang_seen) = recording_upstream(true);
    let limits = Limits {
        max_body: 16,
        upstream_timeout: Duration::from_secs(1),
        header_read_timeout: Duration::from_secs(1),
        max_connections: 2,
        ..Limits::default()
    };
    let addr = proxy(&format!("http://127.0.0.1:{hang}"), &spool, limits);
    let a = auth(&writ("POST", "/x"));
    // Body limit: denied, never forwarded.
    assert_eq!(code(&raw(addr, &format!("POST /x HTTP/1.1\r\nauthorization: {a}"), &[b'a'; 17])), "too_large");
    assert!(hang_seen.lock().unwrap().is_empty());
    // Upstream timeout: 504 after about a second, recorded as upstream_error.
    let began = Instant::now();
    let r = raw(addr, &format!("POST /x HTTP/1.1\r\nauthorization: {a}"), b"hi");
    assert_eq!(r.0, 504, "{}", String::from_utf8_lossy(&r.1));
    assert!(began.elapsed() < Duration::from_secs(10));
    let end = spooled(&spool).into_iter().rev().find_map(|e| if let Entry::ExecEnd(e) = e { Some(e) } else { None });
    assert!(end.unwrap().outcome.starts_with("upstream_error"));
    // Header-read timeout: a client that never finishes its head is cut off.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /x HTTP/1.1\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let began = Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    assert!(began.elapsed() < Duration::from_secs(8), "the slow client was not cut off");
    // Connection limit: with two slots taken by idle clients, a third gets 503.
    let mut held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for h in &mut held {
        h.write_all(b"GET /x HTTP/1.1\r\n").unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(addr).unwrap();
    third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = String::new();
    let _ = third.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
}
