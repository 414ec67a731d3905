//! writ-client against a real `writ_server` on loopback sockets (plain and
//! TLS): every `GateApi` / `OperatorApi` call, the error codes, TLS
//! verification, idempotent retries, and a plain-text 2xx that must never
//! count as a recorded entry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use writ_api::wire::{RequestInput, TargetInput};
use writ_api::{ApiErrorCode, GateApi, IdempotencyKey, OperatorApi, approval};
use writ_authority::{Authority, Config, home};
use writ_client::{Client, Options};
use writ_core::approval::Verdict;
use writ_core::trust::{Role, key_entry};
use writ_core::{SigningKey, TrustRoot};

const POLICIES: &str = r#"
@id("echo-at-once")
@max_duration("300")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };

@id("uname-one-sre")
@approvals("1")
@approver_group("sre")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/uname" };
"#;

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

struct Served {
    _dir: tempfile::TempDir,
    http: String,
    https: String,
    ca_pem: Vec<u8>,
    _rt: tokio::runtime::Runtime,
}

fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    for (name, n, roles, groups) in [
        ("alice", 1, vec![Role::Requester], vec!["dev"]),
        ("bob", 2, vec![Role::Approver], vec!["sre"]),
        ("carol", 3, vec![Role::Approver], vec!["sre"]),
        ("gate1", 4, vec![Role::Gate], vec![]),
        ("mallory", 5, vec![Role::Requester], vec!["dev"]),
    ] {
        trust.add(key_entry(name, roles, groups.into_iter().map(String::from).collect(), &key(n).public())).unwrap();
    }
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let state = writ_server::AppState::new(Arc::new(Authority::open(&Config::new(&h)).unwrap()));

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let ca_pem = cert.cert.pem().into_bytes();
    let identity =
        writ_server::TlsIdentity::from_pem(cert.cert.pem().as_bytes(), cert.key_pair.serialize_pem().as_bytes())
            .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tls = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (pa, ta) = (plain.local_addr().unwrap(), tls.local_addr().unwrap());
    plain.set_nonblocking(true).unwrap();
    tls.set_nonblocking(true).unwrap();
    let (s1, s2) = (state.clone(), state);
    rt.spawn(async move {
        let l = tokio::net::TcpListener::from_std(plain).unwrap();
        writ_server::serve(l, s1).await.unwrap();
    });
    rt.spawn(async move { writ_server::serve_tls(tls, s2, identity).await.unwrap() });
    Served {
        _dir: dir,
        http: format!("http://{pa}"),
        https: format!("https://localhost:{}", ta.port()),
        ca_pem,
        _rt: rt,
    }
}

fn echo() -> RequestInput {
    RequestInput {
        target: TargetInput::Exec {
            program: "/usr/bin/echo".into(),
            sha256: Some("ab".repeat(32)),
            argv: vec!["/usr/bin/echo".into(), "hi".into()],
        },
        reason: "test".into(),
        duration_secs: 60,
        env: Default::default(),
        cwd: None,
        hosts: None,
        evidence: None,
        boundaries: None,
        uses: None,
        holder: None,
        delegation_depth: None,
    }
}

fn idem() -> IdempotencyKey {
    IdempotencyKey::random().unwrap()
}

#[test]
fn operator_and_gate_calls_over_http_and_tls() {
    let s = serve();
    let tls = |n: u8| {
        Client::with_options(&s.https, key(n), &Options { ca_pem: Some(s.ca_pem.clone()), ..Options::default() })
            .unwrap()
    };
    let alice = tls(1);

    // Issued at once, over TLS verified against the given CA.
    let v = alice.submit(&echo(), &idem()).unwrap();
    assert_eq!(v.status, "issued", "{v:?}");
    let wid = v.writ_id.clone().unwrap();
    assert!(v.writ.is_some() && v.receipt.is_some());

    // An idempotent retry returns the first outcome, not a second request.
    let k = idem();
    let first = alice.submit(&echo(), &k).unwrap();
    let again = alice.submit(&echo(), &k).unwrap();
    assert_eq!(first.request_id, again.request_id);
    assert_eq!(first.writ_id, again.writ_id);

    // The writ: its requester reads it; an approver who did not vote on it and
    // another requester may not (a writ is a bearer artifact).
    assert_eq!(alice.writ(&wid).unwrap().writ_id, wid);
    assert_eq!(tls(2).writ(&wid).unwrap_err().code, ApiErrorCode::Forbidden);
    assert_eq!(tls(5).writ(&wid).unwrap_err().code, ApiErrorCode::Forbidden);
    assert_eq!(alice.writ("01234567-89ab-7def-8123-456789abcdef").unwrap_err().code, ApiErrorCode::UnknownWrit);

    // A request that needs one approval: bob signs what he was shown.
    let mut uname = echo();
    uname.target = TargetInput::Exec {
        program: "/usr/bin/uname".into(),
        sha256: Some("cd".repeat(32)),
        argv: vec!["/usr/bin/uname".into()],
    };
    let p = alice.submit(&uname, &idem()).unwrap();
    assert_eq!(p.status, "pending");
    let bob = tls(2);
    let pending = bob.pending().unwrap();
    assert!(pending.iter().any(|r| r.request_id == p.request_id));
    let view = bob.request(&p.request_id).unwrap();
    let (doc, _) = approval::document(&view).unwrap();
    assert_eq!(doc.id, p.request_id);
    // a self-approval attempt by alice's key is refused with its code
    let signed_at = writ_core::Timestamp(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64,
    );
    let self_vote = approval::sign(&key(1), &view, Verdict::Approve, None, signed_at).unwrap();
    assert_eq!(alice.vote(&p.request_id, &self_vote, &idem()).unwrap_err().code, ApiErrorCode::Forbidden);
    // a signature by another key than the caller's does not verify
    let carols = approval::sign(&key(3), &view, Verdict::Approve, None, signed_at).unwrap();
    assert_eq!(bob.vote(&p.request_id, &carols, &idem()).unwrap_err().code, ApiErrorCode::BadSignature);
    let vote = approval::sign(&key(2), &view, Verdict::Approve, None, signed_at).unwrap();
    let done = bob.vote(&p.request_id, &vote, &idem()).unwrap();
    assert_eq!(done.status, "issued");
    let uwid = done.writ_id.clone().unwrap();
    // now bob voted on it: he may read that writ
    assert_eq!(bob.writ(&uwid).unwrap().writ_id, uwid);
    assert_eq!(bob.vote(&p.request_id, &vote, &idem()).unwrap_err().code, ApiErrorCode::RequestNotPending);

    // Gate: signed status with a use consumed, a record with its receipt.
    let gate = tls(4);
    let st = GateApi::status(&gate, &wid, true, "gate-nonce-0001").unwrap();
    assert!(std::str::from_utf8(&st).unwrap().contains("payloadType"));
    let entry = writ_core::entry::Entry::Denial(writ_core::entry::Denial {
        time: writ_core::Timestamp(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64,
        ),
        request_id: None,
        writ_id: Some(wid.clone()),
        code: "scope_program".into(),
        detail: "test".into(),
        host: Some("host1".into()),
    });
    // Gate records are signed by the gate key (issue 9 item 6).
    let entry = writ_core::gate_record::GateRecord::sign(entry, vec![], &key(4)).unwrap();
    let ack = gate.record(&entry).unwrap();
    assert!(ack.receipt.starts_with(b"c2sp.org/tlog-proof@v1"), "{}", String::from_utf8_lossy(&ack.receipt));
    assert!(ack.index > 0);
    assert_eq!(alice.record(&entry).unwrap_err().code, ApiErrorCode::Forbidden);

    // Revoke (the requester may), then status says so.
    let w = alice.revoke(&wid, "done", &idem()).unwrap();
    assert_eq!(w.state, "revoked");
    assert_eq!(alice.revoke(&wid, "again", &idem()).unwrap_err().code, ApiErrorCode::AlreadyRevoked);
    assert!(OperatorApi::status(&alice, &wid, Some("n-1")).is_ok());
    assert!(alice.nonce().unwrap().nonce.len() >= 32);

    // Plain HTTP to the same authority works too (loopback).
    let plain = Client::new(&s.http, key(1)).unwrap();
    assert_eq!(plain.writ(&wid).unwrap().state, "revoked");
    // An unknown key is refused with its code.
    assert_eq!(Client::new(&s.http, key(9)).unwrap().pending().unwrap_err().code, ApiErrorCode::UnknownKey);
}

#[test]
fn tls_verifies_the_server() {
    let s = serve();
    // Not trusted: the system roots do not know this self-signed certificate.
    let e = Client::new(&s.https, key(1)).unwrap().pending().unwrap_err();
    assert_eq!(e.code, ApiErrorCode::Transport, "{e}");
    // Another CA: refused too.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let c = Client::with_options(
        &s.https,
        key(1),
        &Options { ca_pem: Some(other.cert.pem().into_bytes()), ..Options::default() },
    )
    .unwrap();
    assert_eq!(c.pending().unwrap_err().code, ApiErrorCode::Transport);
    // The right CA but the wrong name (127.0.0.1 is not in the certificate).
    let port = s.https.rsplit(':').next().unwrap();
    let c = Client::with_options(
        &format!("https://127.0.0.1:{port}"),
        key(1),
        &Options { ca_pem: Some(s.ca_pem.clone()), ..Options::default() },
    )
    .unwrap();
    assert_eq!(c.pending().unwrap_err().code, ApiErrorCode::Transport);
    // A CA file that is not PEM is refused up front.
    let e = Client::with_options(&s.https, key(1), &Options { ca_pem: Some(b"nope".to_vec()), ..Options::default() })
        .unwrap_err();
    assert_eq!(e.code, ApiErrorCode::InvalidRequest);
}

/// A server that answers every request with `status` and a fixed body.
fn fake(status: &'static str, ctype: &'static str, body: &'static str) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            // Read what is left of the request before closing: closing a
            // socket with unread bytes sends a reset, which the client may
            // see before the answer (a Transport error instead of the
            // answer's).
            let _ = s.shutdown(std::net::Shutdown::Write);
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_plain_text_2xx_is_never_a_recorded_entry() {
    // Regression: a plaintext 201 was taken as proof of recording.
    let url = fake("201 Created", "text/plain", "recorded");
    let e = Client::new(&url, key(4)).unwrap().record(b"entry").unwrap_err();
    assert_eq!(e.code, ApiErrorCode::BadResponse, "{e}");
    // JSON of another shape is not an acknowledgement either.
    let url = fake("201 Created", "application/json", r#"{"index":1}"#);
    assert_eq!(Client::new(&url, key(4)).unwrap().record(b"entry").unwrap_err().code, ApiErrorCode::BadResponse);
    let url = fake("201 Created", "application/json", r#"{"index":1,"receipt":"x","extra":true}"#);
    assert_eq!(Client::new(&url, key(4)).unwrap().record(b"entry").unwrap_err().code, ApiErrorCode::BadResponse);
    // An error answer without the JSON error shape.
    let url = fake("400 Bad Request", "text/plain", "Invalid URL");
    assert_eq!(Client::new(&url, key(4)).unwrap().pending().unwrap_err().code, ApiErrorCode::BadResponse);
    // A redirect is not followed with a signed request.
    let url = fake("307 Temporary Redirect\r\nlocation: http://127.0.0.1:1/", "text/plain", "");
    assert_ne!(Client::new(&url, key(4)).unwrap().pending().map(|_| ()).unwrap_err().code, ApiErrorCode::Transport);
    // Nobody listening.
    let e = Client::new("http://127.0.0.1:1", key(4)).unwrap().pending().unwrap_err();
    assert_eq!(e.code, ApiErrorCode::Transport);
    assert!(e.message.contains("127.0.0.1:1"), "{e}");
}
