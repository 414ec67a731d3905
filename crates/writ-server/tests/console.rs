//! The Governance Console's server side with `oneshot`, over a real
//! authority home (SQLite): the page and its headers; passkey sign-in (a
//! software authenticator: `writ_core::webauthn::testing`), the read cookie's
//! flags, challenge replay; the cookie never authorizes a change; passkey
//! votes refused for a wrong challenge, another request, a wrong origin or
//! rp id, and accepted over the right input, so the writ issued after the
//! quorum verifies with `writ_core::verify`; the request card escapes
//! every requester-controlled field; the queue says why one may not vote.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt as _;
use writ_authority::model::{RequestInput, TargetInput};
use writ_authority::{Authority, Config, Identity, Verdict, home};
use writ_core::approval::signing_input;
use writ_core::trust::{Role, TrustedPasskeyFile, key_entry};
use writ_core::webauthn::testing::Authenticator;
use writ_core::webauthn::{Assertion, b64url_encode};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};
use writ_server::{AppState, router};

const POLICIES: &str = r#"
@id("deploy-two-sre")
@approvals("2")
@approver_group("sre")
@allow_env("LD_PRELOAD")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/deploy" };
"#;
const MARKUP: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";
const ORIGIN: &str = "http://localhost:7300";

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

fn now() -> Timestamp {
    Timestamp(
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap(),
    )
}

struct Env {
    _dir: tempfile::TempDir,
    a: Arc<Authority>,
    app: axum::Router,
    erin: Authenticator,
}

fn passkey_entry(a: &Authenticator) -> TrustedPasskeyFile {
    let c = &a.credential;
    TrustedPasskeyFile {
        name: "erin".into(),
        roles: vec![Role::Approver],
        groups: vec!["sre".into()],
        public_key: writ_core::b64::encode(c.public_key()),
        key_id: c.key_id(),
        credential_id: b64url_encode(&c.credential_id),
        rp_id: c.rp_id.clone(),
        user_verification: false,
        not_before: None,
        not_after: None,
        revoked: false,
    }
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h");
    home::init(&h).unwrap();
    std::fs::write(h.join("policies.cedar"), POLICIES).unwrap();
    let tp = h.join("trust.json");
    let mut trust = TrustRoot::from_json(&std::fs::read(&tp).unwrap()).unwrap();
    for (name, n, roles, groups) in [
        ("alice", 1, vec![Role::Requester], vec!["dev"]),
        ("bob", 2, vec![Role::Approver], vec!["sre"]),
        ("dave", 4, vec![Role::Approver], vec!["dba"]),
    ] {
        trust.add(key_entry(name, roles, groups.into_iter().map(String::from).collect(), &key(n).public())).unwrap();
    }
    let erin = Authenticator::new(7, "localhost", false);
    trust.add_passkey(passkey_entry(&erin)).unwrap();
    std::fs::write(&tp, trust.to_json_pretty()).unwrap();
    let a = Arc::new(Authority::open(&Config::new(&h)).unwrap());
    let app = router(AppState::new(a.clone()));
    Env { _dir: dir, a, app, erin }
}

impl Env {
    fn who(&self, n: u8) -> Identity {
        self.a.identify(&key(n).key_id(), now()).unwrap()
    }

    fn submit(&self, reason: &str, argv: &[&str], env: &[(&str, &str)]) -> writ_authority::model::RequestView {
        let mut all = vec!["/usr/bin/deploy".to_string()];
        all.extend(argv.iter().map(|s| s.to_string()));
        let input = RequestInput {
            target: TargetInput::Exec {
                program: "/usr/bin/deploy".into(),
                sha256: Some(Sha256Digest::of(b"deploy").to_hex()),
                argv: all,
            },
            reason: reason.into(),
            duration_secs: 300,
            env: env.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect::<BTreeMap<_, _>>(),
            cwd: Some("/srv/app".into()),
            hosts: None,
            evidence: None,
            boundaries: None,
            uses: None,
            holder: None,
            delegation_depth: None,
        };
        self.a.submit(&self.who(1), input, now()).unwrap()
    }

    async fn call(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let r = self.app.clone().oneshot(req).await.unwrap();
        let (s, h) = (r.status(), r.headers().clone());
        (s, h, axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap().to_vec())
    }

    async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
        cookie: Option<&str>,
    ) -> (StatusCode, serde_json::Value) {
        let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        let (s, h, body) = self.call(b.body(Body::from(body.to_string())).unwrap()).await;
        let _ = h;
        (s, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    async fn get(&self, path: &str, cookie: &str) -> (StatusCode, serde_json::Value) {
        let (s, _, body) =
            self.call(Request::get(path).header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await;
        (s, serde_json::from_slice(&body).unwrap())
    }

    fn assertion(
        &self,
        challenge: &[u8],
        f: impl FnOnce(&mut writ_core::webauthn::testing::AssertionSpec<'static>),
    ) -> Assertion {
        let mut spec = self.erin.spec();
        spec.origin = ORIGIN.into();
        f(&mut spec);
        self.erin.assert_with(challenge, &spec)
    }

    fn assertion_json(&self, a: &Assertion) -> serde_json::Value {
        let (parts, sig) = a.encode();
        serde_json::json!({
            "key_id": self.erin.credential.key_id().to_string(),
            "authenticator_data": parts.authenticator_data,
            "client_data_json": parts.client_data_json,
            "signature": sig,
        })
    }

    /// Signs in with the passkey; returns the cookie pair to send back.
    async fn sign_in(&self) -> String {
        let (s, ch) = self.post("/console/session/challenge", &serde_json::json!({}), None).await;
        assert_eq!(s, StatusCode::OK);
        let challenge = writ_core::webauthn::b64url_decode(ch["challenge"].as_str().unwrap(), 256).unwrap();
        let a = self.assertion(&challenge, |_| ());
        let body = self.assertion_json(&a);
        let r = self.call(
            Request::post("/console/session")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        );
        let (s, h, me) = r.await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&me));
        let cookie = h.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
        for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
            assert!(cookie.contains(flag), "{cookie}");
        }
        // The same challenge never signs in twice.
        let (s, again) = self.post("/console/session", &body, None).await;
        assert_eq!(
            (s, again["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("replayed_signature")),
            "{again}"
        );
        cookie.split(';').next().unwrap().to_string()
    }

    fn vote_body(&self, verdict: &str, time: Timestamp, a: &Assertion) -> serde_json::Value {
        let mut v = self.assertion_json(a);
        v["verdict"] = verdict.into();
        v["time"] = time.to_rfc3339().into();
        v
    }
}

#[tokio::test]
async fn the_page_is_served_with_the_security_headers_and_no_inline_script() {
    let e = setup();
    let (s, h, body) = e.call(Request::get("/console").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get("content-security-policy").unwrap().to_str().unwrap().contains("script-src 'self'"));
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<script type=\"module\" src=\"/web/assets/console.js\"></script>"));
    assert_eq!(html.matches("<script").count(), 1, "no inline script");
    assert!(!html.contains("style=\""));
    let (s, _, body) = e.call(Request::get("/console/requests/%3Cscript%3E").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    let (s, _, _) = e.call(Request::get("/web/assets/console.js").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn passkey_sign_in_reads_and_the_cookie_changes_nothing() {
    let e = setup();
    let v = e.submit(MARKUP, &[MARKUP], &[("LD_PRELOAD", MARKUP), ("NOTE", MARKUP)]);
    let (s, anon) = e.get("/console/api/queue", "writ_console=forged").await;
    assert_eq!((s, anon["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let cookie = e.sign_in().await;
    let (s, me) = e.get("/console/api/me", &cookie).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["name"], "erin");

    let (s, q) = e.get("/console/api/queue", &cookie).await;
    assert_eq!(s, StatusCode::OK, "{q}");
    assert_eq!(q["requests"][0]["may_vote"], true);
    let (s, card) = e.get(&format!("/console/api/requests/{}", v.request_id), &cookie).await;
    assert_eq!(s, StatusCode::OK, "{card}");
    let html = card["html"].as_str().unwrap();
    for raw in ["<script", "<img"] {
        assert!(!html.contains(raw), "raw markup `{raw}` in the card: {html}");
    }
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;";
    assert!(html.contains(&format!("<span class=\"reason\">{escaped}</span>")), "reason: {html}");
    assert!(html.contains(&format!("<code class=\"arg\">{escaped}</code>")), "argv: {html}");
    assert!(
        html.contains(&format!("<code class=\"env\">LD_PRELOAD={escaped}</code> <strong class=\"loader-flag")),
        "env: {html}"
    );
    assert!(html.contains(&format!("<code class=\"env\">NOTE={escaped}</code></td>")), "env: {html}");
    assert!(html.contains("deploy-two-sre") && html.contains("0 of 2"), "{html}");
    assert!(!q["html"].as_str().unwrap().contains("<script"), "queue: {}", q["html"]);

    // The read cookie authorizes no change: not a vote, not a request.
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let sig = key(2).sign(&signing_input(&d, Verdict::Approve, now()));
    let vote = serde_json::json!({"verdict": "approve", "signature": writ_core::b64::encode(&sig), "time": now().to_rfc3339()});
    let (s, r) = e.post(&format!("/v1/requests/{}/approvals", v.request_id), &vote, Some(&cookie)).await;
    assert_eq!((s, r["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{r}");
    // A passkey vote without an assertion is malformed, cookie or not.
    let (s, _) = e
        .post(
            &format!("/console/api/requests/{}/passkey-vote", v.request_id),
            &serde_json::json!({"verdict": "approve"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e.a.request(&e.who(2), &v.request_id).unwrap().approvals.is_empty());
}

#[tokio::test]
async fn passkey_votes_are_checked_and_the_issued_writ_verifies() {
    let e = setup();
    let v = e.submit("ship it", &["--env", "staging"], &[]);
    let other = e.submit("another", &["--env", "prod"], &[]);
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let t = now();
    let path = format!("/console/api/requests/{}/passkey-vote", v.request_id);
    let input = signing_input(&d, Verdict::Approve, t);
    let od = Sha256Digest::from_hex(&other.request_digest).unwrap();
    let refused = [
        (e.assertion(&signing_input(&od, Verdict::Approve, t), |_| ()), "webauthn_challenge"),
        (e.assertion(&signing_input(&d, Verdict::Deny, t), |_| ()), "webauthn_challenge"),
        (e.assertion(&input, |s| s.origin = "http://localhost.evil:7300".into()), "webauthn_origin"),
        (e.assertion(&input, |s| s.rp_id = "evil.example".into()), "webauthn_rp_id"),
        (e.assertion(&input, |s| s.flags = 0), "webauthn_user_presence"),
        (e.assertion(&input, |s| s.kind = "webauthn.create"), "webauthn_type"),
        (
            {
                let mut a = e.assertion(&input, |_| ());
                a.authenticator_data[33] ^= 1;
                a
            },
            "webauthn_signature",
        ),
    ];
    for (a, code) in &refused {
        let (s, r) = e.post(&path, &e.vote_body("approve", t, a), None).await;
        assert_eq!((s, r["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_signature")), "{code}: {r}");
        assert!(r["error"]["message"].as_str().unwrap().contains(code), "{code}: {r}");
    }
    assert!(e.a.request(&e.who(2), &v.request_id).unwrap().approvals.is_empty(), "nothing stored");

    // dave (group dba) may not vote, and the queue says why.
    let why = writ_server::web::console_why_not(&e.who(4), &e.a.request(&e.who(4), &v.request_id).unwrap());
    assert!(why.unwrap().contains("group `sre`"));

    let (s, r) = e.post(&path, &e.vote_body("approve", t, &e.assertion(&input, |_| ())), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["approvals"][0]["name"], "erin");
    let (s, r) = e.post(&path, &e.vote_body("approve", t, &e.assertion(&input, |_| ())), None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("already_voted")), "{r}");

    let sig = key(2).sign(&signing_input(&d, Verdict::Approve, t));
    let done = e.a.vote(&e.who(2), &v.request_id, Verdict::Approve, &sig, t, now()).unwrap();
    assert_eq!(done.status, "issued");
    let full = e.a.request(&e.who(1), &v.request_id).unwrap();
    let envelope = full.writ.unwrap();
    let statement: serde_json::Value =
        serde_json::from_slice(&writ_core::dsse::decode(envelope.as_bytes()).unwrap().payload).unwrap();
    let approvals = statement["predicate"]["governance"]["approvals"].as_array().unwrap();
    let pk = approvals.iter().find(|a| a["approver"] == e.erin.credential.key_id().to_string()).unwrap();
    assert!(pk["webauthn"]["client_data_json"].is_string(), "{pk}");
    let trust = e.a.trust();
    let verified = writ_core::verify(envelope.as_bytes(), &trust, &writ_core::Context::check_at(now())).unwrap();
    assert_eq!(verified.approvers().len(), 2);
    assert!(verified.approvers().contains(&e.erin.credential.key_id()));
}

#[tokio::test]
async fn a_passkey_revokes_only_over_its_revocation_input() {
    let e = setup();
    let v = e.submit("ship it", &[], &[]);
    let d = Sha256Digest::from_hex(&v.request_digest).unwrap();
    let t = now();
    let erin_vote = e.assertion(&signing_input(&d, Verdict::Approve, t), |_| ());
    let (s, _) = e
        .post(
            &format!("/console/api/requests/{}/passkey-vote", v.request_id),
            &e.vote_body("approve", t, &erin_vote),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let sig = key(2).sign(&signing_input(&d, Verdict::Approve, t));
    let writ_id = e.a.vote(&e.who(2), &v.request_id, Verdict::Approve, &sig, t, now()).unwrap().writ_id.unwrap();
    let path = format!("/console/api/writs/{writ_id}/passkey-revoke");
    let body = |a: &Assertion, reason: &str, time: Timestamp| {
        let mut b = e.assertion_json(a);
        b["reason"] = reason.into();
        b["time"] = time.to_rfc3339().into();
        b
    };
    // Signed for another reason, or long ago: refused.
    let a = e.assertion(&writ_server::web::console_revoke_input(&writ_id, t, "rolled back"), |_| ());
    let (s, r) = e.post(&path, &body(&a, "something else", t), None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_signature")), "{r}");
    let old = t.plus(-3600);
    let a_old = e.assertion(&writ_server::web::console_revoke_input(&writ_id, old, "rolled back"), |_| ());
    let (s, r) = e.post(&path, &body(&a_old, "rolled back", old), None).await;
    assert_eq!(r["error"]["code"].as_str(), Some("stale_signature"), "{s} {r}");
    let (s, r) = e.post(&path, &body(&a, "rolled back", t), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["state"], "revoked");
}

/// Passkey enrolment from the console: the enrolment is a pending
/// trust-root proposal that grants nothing; only a root key's signature
/// over it (checked against the version in force) puts it in force.
#[tokio::test]
async fn an_enrolled_passkey_is_live_only_once_a_root_key_signs_the_proposal() {
    let e = setup();
    let t = now();
    e.a.sign_trust_home(t).unwrap();
    let root = home::read_private_key(&e.a.home().join("root.key")).unwrap();
    let frank = Authenticator::new(9, "localhost", false);
    let c = &frank.credential;
    let cd = |ty: &str, origin: &str| {
        writ_core::b64::encode(format!(r#"{{"type":"{ty}","challenge":"AAAA","origin":"{origin}"}}"#).as_bytes())
    };
    let body = |name: &str, client: String| {
        serde_json::json!({
            "name": name, "groups": ["sre"], "public_key": writ_core::b64::encode(c.public_key()),
            "credential_id": b64url_encode(&c.credential_id), "rp_id": "localhost", "client_data_json": client,
        })
    };
    let enrol = |b: serde_json::Value| {
        let app = e.app.clone();
        async move {
            let r = app
                .oneshot(
                    Request::post("/console/api/enrolments")
                        .header(header::CONTENT_TYPE, "application/json")
                        .header(header::HOST, "localhost:7300")
                        .body(Body::from(b.to_string()))
                        .unwrap(),
                )
                .await
                .unwrap();
            let s = r.status();
            (
                s,
                serde_json::from_slice::<serde_json::Value>(
                    &axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap(),
                )
                .unwrap(),
            )
        }
    };
    for (b, code) in [
        (body("frank", cd("webauthn.get", ORIGIN)), "bad_signature"),
        (body("frank", cd("webauthn.create", "http://evil.example:7300")), "invalid_request"),
        (body("erin", cd("webauthn.create", ORIGIN)), "invalid_request"),
        (body("<b>x</b>", cd("webauthn.create", ORIGIN)), "invalid_request"),
    ] {
        let (s, r) = enrol(b).await;
        assert_eq!(r["error"]["code"], code, "{s}: {r}");
    }
    let (s, pending) = enrol(body("frank", cd("webauthn.create", ORIGIN))).await;
    assert_eq!(s, StatusCode::CREATED, "{pending}");
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["signatures_needed"], 1);
    let id = pending["id"].as_str().unwrap().to_string();
    // Pending grants nothing: not in the trust root, no sign-in.
    assert!(e.a.trust().passkey(&c.key_id()).is_none());
    let (_, ch) = e.post("/console/session/challenge", &serde_json::json!({}), None).await;
    let challenge = writ_core::webauthn::b64url_decode(ch["challenge"].as_str().unwrap(), 256).unwrap();
    let mut spec = frank.spec();
    spec.origin = ORIGIN.into();
    let a = frank.assert_with(&challenge, &spec);
    let (parts, sig) = a.encode();
    let signin = serde_json::json!({"key_id": c.key_id().to_string(), "authenticator_data": parts.authenticator_data,
        "client_data_json": parts.client_data_json, "signature": sig});
    let (s, r) = e.post("/console/session", &signin, None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_key")), "{r}");
    // Signatures: by a key that is no root key, a wrong one by the root key.
    let payload = writ_core::b64::decode(pending["payload"].as_str().unwrap(), 1 << 20).unwrap();
    let input = writ_core::dsse::pae(writ_core::trust_chain::TRUST_ROOT_PAYLOAD_TYPE, &payload);
    let sigs = format!("/console/api/enrolments/{id}/signatures");
    let by = |k: &SigningKey, msg: &[u8]| serde_json::json!({"key_id": k.key_id().to_string(), "sig": writ_core::b64::encode(&k.sign(msg))});
    let (_, r) = e.post(&sigs, &by(&key(2), &input), None).await;
    assert_eq!(r["error"]["code"], "forbidden", "{r}");
    let (_, r) = e.post(&sigs, &by(&root, b"something else"), None).await;
    assert_eq!(r["error"]["code"], "bad_signature", "{r}");
    assert!(e.a.trust().passkey(&c.key_id()).is_none(), "a refused signature changes nothing");
    // The root key's signature over the proposal: published, in force, live.
    let (s, r) = e.post(&sigs, &by(&root, &input), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["state"], "published", "{r}");
    let p = e.a.trust().passkey(&c.key_id()).cloned().expect("in force");
    assert_eq!((p.entry.name.as_str(), p.entry.roles.as_slice()), ("frank", [Role::Approver].as_slice()));
    let (_, ch) = e.post("/console/session/challenge", &serde_json::json!({}), None).await;
    let challenge = writ_core::webauthn::b64url_decode(ch["challenge"].as_str().unwrap(), 256).unwrap();
    let a = frank.assert_with(&challenge, &spec);
    let (parts, sig) = a.encode();
    let signin = serde_json::json!({"key_id": c.key_id().to_string(), "authenticator_data": parts.authenticator_data,
        "client_data_json": parts.client_data_json, "signature": sig});
    let (s, me) = e.post("/console/session", &signin, None).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["name"], "frank");
    // Signed again after publication: refused.
    let (_, r) = e.post(&sigs, &by(&root, &input), None).await;
    assert_eq!(r["error"]["code"], "invalid_request", "{r}");
}
