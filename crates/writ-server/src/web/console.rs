//! The Governance Console (`/console`): a queue of pending requests, the
//! full request card, votes, revocation and a request form.
//!
//! Nothing here trusts a session for a change of state:
//!
//! - Ed25519 keys: the page holds the key file in memory and signs every
//!   call with RFC 9421 exactly as `writ` does (`writ_api::httpsig`); it
//!   reads through the console routes below and changes state through the
//!   `/v1` API (vote, revoke, file a request).
//! - Passkeys: a vote is the WebAuthn assertion itself, whose challenge is
//!   the approval's signing input ([`writ_core::webauthn`]); a revocation is
//!   an assertion over [`revoke_input`]. Each is verified here against the
//!   trust root's passkey before the authority acts. Reading uses a sign-in
//!   assertion over a fresh challenge, which sets a read-only cookie
//!   (`HttpOnly; Secure; SameSite=Strict`): no route that changes state
//!   looks at it.
//!
//! Every answer is JSON with the `{"error": {"code", "message"}}` shape of
//! the API; the request card's HTML is rendered here ([`super::console_view`]),
//! every requester-controlled value escaped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use writ_api::ApiErrorCode;
use writ_api::wire::RequestView;
use writ_authority::{CallOptions, Identity, Verdict, VoteSignature};
use writ_core::webauthn::{Assertion, AssertionParts};
use writ_core::{KeyId, Role, Timestamp};

use super::console_view;
use super::html::{self, Nav};
use crate::{ApiError, AppState};

/// Name of the read-only cookie a passkey sign-in sets.
pub const COOKIE: &str = "writ_console";
/// How long a passkey sign-in lets the page read, in seconds.
pub const SESSION_SECS: i64 = 3600;
/// How long a sign-in challenge may be answered, in seconds.
pub const CHALLENGE_SECS: i64 = 300;
/// How far a passkey revocation's signed time may be from the server's clock.
pub const REVOKE_WINDOW_SECS: i64 = crate::SIGNATURE_WINDOW_SECS;
/// Prefix of a sign-in challenge (so it is never an approval's signing input).
pub const SIGNIN_PREFIX: &str = "writ-console-signin-v1:";
/// Payload type of a passkey revocation's signing input.
pub const REVOKE_PAYLOAD_TYPE: &str = "application/vnd.writ.console-revoke.v1";
/// Most outstanding challenges and sessions kept (beyond, new ones are refused).
const MAX_PENDING: usize = 10_000;

/// State of the console routes.
#[derive(Debug)]
pub(crate) struct Console {
    pub(super) app: Arc<AppState>,
    pub(super) web: Arc<super::Web>,
    pub(super) enrolments: Mutex<super::console_enrol::Enrolments>,
    challenges: Mutex<HashMap<String, i64>>,
    sessions: Mutex<HashMap<String, (KeyId, i64)>>,
}

pub(super) type C = State<Arc<Console>>;
type R = Result<Response, ApiError>;

pub(super) fn err(code: ApiErrorCode, m: impl Into<String>) -> ApiError {
    ApiError(writ_api::ApiError::new(code, m))
}

fn random_hex() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| err(ApiErrorCode::Internal, format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// The bytes a passkey signs to revoke writ `writ_id` at `time` for `reason`:
/// `PAE(REVOKE_PAYLOAD_TYPE, "revoke <writ id> <time, RFC 3339> sha256:<hex of the reason>")`.
#[must_use]
pub fn revoke_input(writ_id: &str, time: Timestamp, reason: &str) -> Vec<u8> {
    let body =
        format!("revoke {writ_id} {} sha256:{}", time.to_rfc3339(), writ_core::Sha256Digest::of(reason.as_bytes()));
    writ_core::dsse::pae(REVOKE_PAYLOAD_TYPE, body.as_bytes())
}

/// The passkey identity of `key_id` at `now`: its name, groups and roles.
fn passkey_identity(app: &AppState, key_id: &KeyId, now: Timestamp) -> Result<Identity, ApiError> {
    let trust = app.authority.trust();
    match trust.passkey(key_id) {
        Some(p) if !p.entry.revoked && p.valid_at(now) => Ok(Identity {
            key_id: *key_id,
            name: p.entry.name.clone(),
            roles: p.entry.roles.clone(),
            groups: p.entry.groups.clone(),
        }),
        _ => Err(err(
            ApiErrorCode::UnknownKey,
            format!("{key_id} is not a passkey of the trust root in force (or it is revoked or outside its window)"),
        )),
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')).map(str::to_string))
}

impl Console {
    /// Who reads: an RFC 9421 signature (Ed25519 key) when the request
    /// carries one, else the passkey sign-in cookie.
    pub(super) async fn reader(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Identity, ApiError> {
        if headers.contains_key("signature-input") {
            return crate::authenticate(&self.app, method, uri, headers, body).await;
        }
        let now = crate::now()?;
        let token = cookie_token(headers).ok_or_else(|| {
            err(ApiErrorCode::Unauthenticated, "sign in: sign this request with your key, or sign in with a passkey")
        })?;
        let key = {
            let mut s = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            s.retain(|_, (_, exp)| *exp > now.unix());
            s.get(&token).map(|(k, _)| *k)
        };
        let key =
            key.ok_or_else(|| err(ApiErrorCode::Unauthenticated, "the passkey sign-in expired; sign in again"))?;
        passkey_identity(&self.app, &key, now)
    }
}

/// The console routes, with their own state (merged into the web routes).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(web: Arc<super::Web>) -> Router<S> {
    let c = Arc::new(Console {
        app: web.app.clone(),
        web,
        enrolments: Mutex::default(),
        challenges: Mutex::default(),
        sessions: Mutex::default(),
    });
    Router::new()
        .route("/console", get(page))
        .route("/console/requests/{id}", get(request_page))
        .route("/console/session/challenge", post(challenge))
        .route("/console/session", post(sign_in).delete(sign_out))
        .route("/console/api/me", get(me))
        .route("/console/api/queue", get(queue))
        .route("/console/api/history", get(history))
        .route("/console/enrol", get(super::console_enrol::page))
        .route("/console/api/enrolments", get(super::console_enrol::list).post(super::console_enrol::create))
        .route("/console/api/enrolments/{id}", get(super::console_enrol::proposal))
        .route("/console/api/enrolments/{id}/signatures", post(super::console_enrol::add_signature))
        .route("/console/api/requests/{id}", get(request))
        .route("/console/api/requests/{id}/passkey-vote", post(passkey_vote))
        .route("/console/api/writs/{id}/passkey-revoke", post(passkey_revoke))
        .with_state(c)
}

fn shell(title: &str, request: Option<&str>) -> Response {
    let main = console_view::shell(request);
    let body = html::page(title, Nav::Console, &main, &["console.js"]);
    super::pages::html_response(body)
}

async fn page() -> Response {
    shell("Governance Console", None)
}

async fn request_page(crate::Id(id): crate::Id) -> Response {
    shell(&format!("Request {id}"), Some(&id))
}

async fn challenge(State(c): C) -> R {
    let now = crate::now()?;
    let text = format!("{SIGNIN_PREFIX}{}", random_hex()?);
    let mut ch = c.challenges.lock().unwrap_or_else(PoisonError::into_inner);
    ch.retain(|_, exp| *exp > now.unix());
    if ch.len() >= MAX_PENDING {
        return Err(err(ApiErrorCode::Busy, "too many sign-ins in progress; retry shortly"));
    }
    ch.insert(text.clone(), now.unix() + CHALLENGE_SECS);
    Ok(axum::Json(serde_json::json!({
        "challenge": writ_core::webauthn::b64url_encode(text.as_bytes()),
        "expires_in": CHALLENGE_SECS,
    }))
    .into_response())
}

/// A passkey's WebAuthn assertion as the page sends it (standard base64).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssertionInput {
    key_id: String,
    authenticator_data: String,
    client_data_json: String,
    signature: String,
}

impl AssertionInput {
    fn decode(&self) -> Result<(KeyId, Assertion), ApiError> {
        let key = KeyId::parse(&self.key_id).map_err(|e| err(ApiErrorCode::Malformed, format!("`key_id`: {e}")))?;
        let parts = AssertionParts {
            authenticator_data: self.authenticator_data.clone(),
            client_data_json: self.client_data_json.clone(),
        };
        let a = Assertion::decode(&parts, &self.signature).map_err(|e| err(ApiErrorCode::Malformed, e.to_string()))?;
        Ok((key, a))
    }
}

fn verify_passkey(app: &AppState, key: &KeyId, challenge: &[u8], a: &Assertion) -> Result<(), ApiError> {
    let trust = app.authority.trust();
    let pk = trust
        .passkey(key)
        .ok_or_else(|| err(ApiErrorCode::UnknownKey, format!("{key} is not a passkey of the trust root")))?;
    writ_core::webauthn::verify_assertion(&pk.credential, challenge, a)
        .map_err(|e| err(ApiErrorCode::BadSignature, format!("the passkey assertion is refused: {e}")))
}

async fn sign_in(State(c): C, body: Bytes) -> R {
    let input: AssertionInput = crate::parse_json(&body)?;
    let (key, a) = input.decode()?;
    let now = crate::now()?;
    let id = passkey_identity(&c.app, &key, now)?;
    // The challenge is the one this server handed out, unexpired, used once.
    let challenge = {
        let cd: serde_json::Value = serde_json::from_slice(&a.client_data_json)
            .map_err(|_| err(ApiErrorCode::Malformed, "clientDataJSON is not JSON"))?;
        let ch = cd.get("challenge").and_then(serde_json::Value::as_str).unwrap_or_default();
        let raw = writ_core::webauthn::b64url_decode(ch, 256)
            .map_err(|e| err(ApiErrorCode::Malformed, format!("clientDataJSON.challenge: {e}")))?;
        String::from_utf8(raw).map_err(|_| err(ApiErrorCode::BadSignature, "not a sign-in challenge of this server"))?
    };
    let fresh = {
        let mut ch = c.challenges.lock().unwrap_or_else(PoisonError::into_inner);
        ch.remove(&challenge).is_some_and(|exp| exp > now.unix())
    };
    if !fresh {
        return Err(err(
            ApiErrorCode::ReplayedSignature,
            "this sign-in challenge is unknown, expired or already used; ask for a new one",
        ));
    }
    verify_passkey(&c.app, &key, challenge.as_bytes(), &a)?;
    let token = random_hex()?;
    {
        let mut s = c.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        s.retain(|_, (_, exp)| *exp > now.unix());
        if s.len() >= MAX_PENDING {
            return Err(err(ApiErrorCode::Busy, "too many sessions; retry shortly"));
        }
        s.insert(token.clone(), (key, now.unix() + SESSION_SECS));
    }
    let cookie = format!("{COOKIE}={token}; Path=/console; Max-Age={SESSION_SECS}; HttpOnly; Secure; SameSite=Strict");
    let mut resp = axum::Json(me_json(&id)).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| err(ApiErrorCode::Internal, e.to_string()))?,
    );
    Ok(resp)
}

async fn sign_out(State(c): C, headers: HeaderMap) -> Response {
    if let Some(t) = cookie_token(&headers) {
        c.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(&t);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("writ_console=; Path=/console; Max-Age=0; HttpOnly; Secure; SameSite=Strict"),
    );
    resp
}

fn me_json(id: &Identity) -> serde_json::Value {
    let roles: Vec<&str> = id
        .roles
        .iter()
        .map(|r| match r {
            Role::Issuer => "issuer",
            Role::Approver => "approver",
            Role::Requester => "requester",
            Role::Gate => "gate",
            Role::Ledger => "ledger",
            Role::Root => "root",
        })
        .collect();
    serde_json::json!({"key_id": id.key_id.to_string(), "name": id.name, "roles": roles, "groups": id.groups})
}

async fn me(State(c): C, m: Method, uri: Uri, h: HeaderMap, b: Bytes) -> R {
    let who = c.reader(&m, &uri, &h, &b).await?;
    Ok(axum::Json(me_json(&who)).into_response())
}

/// Why `who` may not vote on `v` (`None`: they may).
#[must_use]
pub fn why_not(who: &Identity, v: &RequestView) -> Option<String> {
    if !who.has(Role::Approver) {
        return Some("you hold no approver key".into());
    }
    if v.status != "pending" {
        return Some(format!("the request is {}", v.status));
    }
    if v.requester == who.key_id.to_string() || v.requester_name == who.name {
        return Some(format!("you (`{}`) filed it: nobody approves their own request", who.name));
    }
    if let Some(g) = &v.approver_group
        && !who.groups.iter().any(|x| x == g)
    {
        return Some(format!("it needs an approver of group `{g}`; yours: {}", groups(&who.groups)));
    }
    if let Some(vote) = v.approvals.iter().find(|a| a.approver == who.key_id.to_string() || a.name == who.name) {
        return Some(format!("you already voted ({} at {})", vote.verdict, vote.time));
    }
    None
}

fn groups(g: &[String]) -> String {
    if g.is_empty() { "none".into() } else { g.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ") }
}

async fn queue(State(c): C, m: Method, uri: Uri, h: HeaderMap, b: Bytes) -> R {
    let who = c.reader(&m, &uri, &h, &b).await?;
    let now = crate::now()?;
    if !who.has(Role::Approver) && !who.has(Role::Issuer) {
        return Ok(axum::Json(serde_json::json!({
            "me": me_json(&who), "requests": [],
            "html": console_view::queue(&[], Some("You hold no approver key: the queue lists requests for approvers. File a request below; its card opens here.")),
        }))
        .into_response());
    }
    let a = c.app.authority.clone();
    let w = who.clone();
    let views = crate::blocking(move || a.pending(&w, now)).await?;
    let rows: Vec<(RequestView, Option<String>)> = views
        .into_iter()
        .map(|v| {
            let why = why_not(&who, &v);
            (v, why)
        })
        .collect();
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|(v, why)| serde_json::json!({"request_id": v.request_id, "may_vote": why.is_none(), "why_not": why}))
        .collect();
    Ok(axum::Json(serde_json::json!({"me": me_json(&who), "requests": list, "html": console_view::queue(&rows, None)}))
        .into_response())
}

async fn request(State(c): C, crate::Id(id): crate::Id, m: Method, uri: Uri, h: HeaderMap, b: Bytes) -> R {
    let who = c.reader(&m, &uri, &h, &b).await?;
    let a = c.app.authority.clone();
    let w = who.clone();
    let v = crate::blocking(move || a.request(&w, &id)).await?;
    let (doc, digest) = writ_api::approval::document(&v)?;
    let why = why_not(&who, &v);
    let card = console_view::card(&v, &doc, why.as_deref(), &who);
    Ok(axum::Json(serde_json::json!({
        "request_id": v.request_id,
        "status": v.status,
        "request_digest": digest.to_hex(),
        "document": v.document,
        "writ_id": v.writ_id,
        "may_vote": why.is_none(),
        "why_not": why,
        "html": card,
    }))
    .into_response())
}

/// `?page=N` of the history (from 0).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    #[serde(default)]
    page: usize,
}

async fn history(State(c): C, m: Method, uri: Uri, h: HeaderMap, b: Bytes) -> R {
    let who = c.reader(&m, &uri, &h, &b).await?;
    let axum::extract::Query(q) = axum::extract::Query::<HistoryQuery>::try_from_uri(&uri)
        .map_err(|e| err(ApiErrorCode::Malformed, format!("query: {} (give ?page=N, from 0)", e.body_text())))?;
    let page = q.page.min(1_000_000);
    let (html, pages) = c
        .web
        .with_index(move |ix, app| {
            let trust = app.authority.trust();
            let status = |id: &str| app.authority.request(&who, id).ok().map(|v| v.status);
            Ok(super::console_history::render(ix, &trust, page, &status))
        })
        .await
        .map_err(|e| err(ApiErrorCode::Unavailable, e.message))?;
    Ok(axum::Json(serde_json::json!({"page": page, "pages": pages, "html": html})).into_response())
}

/// A passkey vote: the assertion over the approval's signing input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasskeyVote {
    verdict: writ_api::wire::VerdictName,
    time: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(flatten)]
    assertion: AssertionInput,
}

fn signed_time(t: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse(t).ok().filter(|ts| ts.to_rfc3339() == t).ok_or_else(|| {
        err(ApiErrorCode::Malformed, "`time` is RFC 3339 UTC in whole seconds, e.g. 2026-01-01T00:00:00Z")
    })
}

async fn passkey_vote(State(c): C, crate::Id(id): crate::Id, h: HeaderMap, body: Bytes) -> R {
    let input: PasskeyVote =
        serde_json::from_slice(&body).map_err(|e| err(ApiErrorCode::Malformed, format!("body: {e}")))?;
    let (key, assertion) = input.assertion.decode()?;
    let signed_at = signed_time(&input.time)?;
    let verdict = match input.verdict {
        writ_api::wire::VerdictName::Approve => Verdict::Approve,
        writ_api::wire::VerdictName::Deny => Verdict::Deny,
    };
    let now = crate::now()?;
    let who = passkey_identity(&c.app, &key, now)?;
    let opts = CallOptions {
        idempotency_key: crate::header_str(&h, writ_api::IDEMPOTENCY_HEADER)?.map(str::to_string),
        ..crate::call_options(None)
    };
    let a = c.app.authority.clone();
    let reason = input.reason.clone();
    let v = crate::blocking(move || {
        a.vote_signed(&who, &id, verdict, VoteSignature::Passkey(&assertion), signed_at, reason.as_deref(), &opts, now)
    })
    .await?;
    c.app.metrics.approval(input.verdict.as_str());
    super::console_hook::after_vote(&c.app, &v);
    Ok(axum::Json(v).into_response())
}

/// A passkey revocation: the assertion over [`revoke_input`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasskeyRevoke {
    time: String,
    reason: String,
    #[serde(flatten)]
    assertion: AssertionInput,
}

async fn passkey_revoke(State(c): C, crate::Id(id): crate::Id, body: Bytes) -> R {
    let input: PasskeyRevoke =
        serde_json::from_slice(&body).map_err(|e| err(ApiErrorCode::Malformed, format!("body: {e}")))?;
    let (key, assertion) = input.assertion.decode()?;
    let t = signed_time(&input.time)?;
    let now = crate::now()?;
    crate::httpsig::check_created(t.unix(), now.unix(), REVOKE_WINDOW_SECS)
        .map_err(|e| err(ApiErrorCode::StaleSignature, e.to_string()))?;
    let who = passkey_identity(&c.app, &key, now)?;
    verify_passkey(&c.app, &key, &revoke_input(&id, t, &input.reason), &assertion)?;
    let a = c.app.authority.clone();
    let opts = crate::call_options(None);
    let v = crate::blocking(move || a.revoke_with(&who, &id, &input.reason, &opts, now)).await?;
    Ok(axum::Json(v).into_response())
}
