//! writ-server: the HTTP face of the writ authority.
//!
//! [`router`] builds the axum [`Router`] of the `/v1` JSON API described in
//! `docs/api.md`: requests, approvals, revocation, signed status and use
//! consumption for gates, runtime-evidence nonces, execution records, the
//! public ledger read path (checkpoint, C2SP tiles, proofs, entries by request
//! or writ), the signed, versioned trust root (`/v1/trust`: served, its
//! versions, publication of a signed successor), `/healthz`, `/readyz` (with
//! the trust root's state), `/metrics` and `/v1/openapi.json`.
//!
//! Every `/v1` call that changes or reads private state is authenticated with
//! an RFC 9421 HTTP Message Signature by the caller's Ed25519 key
//! ([`httpsig`], the profile of `writ_api::httpsig`), with a created-time
//! window and a nonce replay cache. Every failure — a refusal, a bad path
//! parameter, an unknown route or method, a body too large, a timeout — has
//! one JSON shape, `{"error": {"code", "message"}}`, whose `code` is a
//! [`writ_api::ApiErrorCode`] and whose HTTP status is that code's; internal
//! details never reach clients. Every route has a body limit and a timeout.
//! [`serve_tls`] speaks TLS (rustls), optionally asking gates for client
//! certificates ([`tls`]).
#![forbid(unsafe_code)]

pub mod httpsig;
pub mod metrics;
pub mod openapi;
pub mod selfcheck;
pub mod tls;
pub mod web;
pub mod witnessing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use writ_api::wire::{
    RecordInput, RecordView, RequestInput, RevokeInput, StartInput, StartView, StatusInput, VoteInput,
};
use writ_api::{ApiErrorCode, IDEMPOTENCY_HEADER, IdempotencyKey};
use writ_authority::{Authority, AuthorityError, CallOptions, Identity};
use writ_core::Timestamp;

pub use metrics::{Metrics, TrustGauges};
pub use tls::{ClientAuth, ClientCertificate, TlsError, TlsIdentity};

/// Largest request body: a request may carry a host-evidence envelope of
/// the format's largest size ([`writ_core::limits::MAX_ENVELOPE_BYTES`]),
/// JSON-escaped, beside its own fields (each bounded by the format, see
/// `writ_api::wire`).
pub const MAX_BODY: usize = 2 * writ_core::limits::MAX_ENVELOPE_BYTES + 64 * 1024;
/// Per-request timeout.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Accepted clock skew of a signature's `created`, in seconds.
pub const SIGNATURE_WINDOW_SECS: i64 = 300;
/// Most nonces remembered (beyond it, new requests are refused, not the cache trimmed).
const MAX_NONCES: usize = 1_000_000;

/// Shared state of the router.
#[derive(Debug)]
pub struct AppState {
    /// The authority.
    pub authority: Arc<Authority>,
    nonces: Mutex<HashMap<String, i64>>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// The self-verification counters (see [`selfcheck`]).
    pub selfcheck: selfcheck::SelfCheck,
    /// The scripted demo this server shows at `/demo`, when `writ demo` runs it.
    pub demo: OnceLock<Arc<web::DemoFeed>>,
    /// Signed webhooks on pending requests and decisions (`writ serve --webhook`).
    pub webhooks: OnceLock<web::Webhooks>,
}

impl AppState {
    /// Wrap an authority.
    #[must_use]
    pub fn new(authority: Arc<Authority>) -> Arc<Self> {
        witnessing::install(&authority);
        Arc::new_cyclic(|me: &std::sync::Weak<Self>| {
            // Integration latency is timed in the ledger: from entering the
            // sequencer queue to the covering signed checkpoint, for every
            // append (gate records, requests, votes, revocations).
            let me = me.clone();
            authority.ledger().set_integration_observer(Some(Arc::new(move |took| {
                if let Some(st) = me.upgrade() {
                    st.metrics.integrated(took);
                }
            })));
            Self {
                authority,
                nonces: Mutex::new(HashMap::new()),
                metrics: Metrics::default(),
                selfcheck: selfcheck::SelfCheck::default(),
                demo: OnceLock::new(),
                webhooks: OnceLock::new(),
            }
        })
    }
}

/// The stable error answer: a [`writ_api::ApiError`] on the wire, as
/// `{"error": {"code", "message"}}` with the code's HTTP status.
#[derive(Debug)]
pub struct ApiError(pub writ_api::ApiError);

impl ApiError {
    fn new(code: ApiErrorCode, message: impl Into<String>) -> Self {
        Self(writ_api::ApiError::new(code, message))
    }
}

fn error_response(code: ApiErrorCode, message: String) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = writ_api::wire::ErrorBody::from(&writ_api::ApiError::new(code, message));
    let mut resp = (status, axum::Json(body)).into_response();
    // For `track`, which counts refusals by code.
    resp.extensions_mut().insert(code);
    if code == ApiErrorCode::Busy {
        // Back-pressure: tell the client when to try again.
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// Most submissions the server works on at once. Beyond it a submission is
/// answered `busy` (503, `Retry-After`) at once: work waits in a bounded
/// pool, never in an unbounded queue.
pub const MAX_SUBMITS_IN_FLIGHT: usize = 1024;

static SUBMITS_IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A place in the submit pool, given back when dropped.
struct SubmitSlot;

impl SubmitSlot {
    fn take() -> ApiResult<Self> {
        use std::sync::atomic::Ordering;
        if SUBMITS_IN_FLIGHT.fetch_add(1, Ordering::AcqRel) >= MAX_SUBMITS_IN_FLIGHT {
            SUBMITS_IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::new(ApiErrorCode::Busy, "too many submissions in flight"));
        }
        Ok(Self)
    }
}

impl Drop for SubmitSlot {
    fn drop(&mut self) {
        SUBMITS_IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let writ_api::ApiError { code, message } = self.0;
        // INVARIANT: internals never reach clients: the failures of the
        // authority itself are logged here and answered with a fixed text.
        let message = match code {
            ApiErrorCode::Busy => "the authority is busy; retry shortly".to_string(),
            ApiErrorCode::Internal => {
                eprintln!("writ-server: internal error: {message}");
                "internal error; see the authority's log".to_string()
            }
            ApiErrorCode::Unavailable => {
                eprintln!("writ-server: unavailable: {message}");
                "the authority cannot serve this now (ledger or database); see its log and /readyz".to_string()
            }
            _ => message,
        };
        error_response(code, message)
    }
}

impl From<writ_api::ApiError> for ApiError {
    fn from(e: writ_api::ApiError) -> Self {
        Self(e)
    }
}

impl From<AuthorityError> for ApiError {
    fn from(e: AuthorityError) -> Self {
        Self(e.into())
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn now() -> ApiResult<Timestamp> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ApiError::new(ApiErrorCode::Internal, "clock error"))?
        .as_secs();
    Ok(Timestamp(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// A request whose RFC 9421 signature checked out: the authenticated caller
/// and the exact body bytes the signature covers. Every authenticated route
/// takes one, so no handler can forget to authenticate.
struct Signed {
    who: Identity,
    body: Bytes,
    idempotency: Option<IdempotencyKey>,
}

impl FromRequest<Arc<AppState>> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &Arc<AppState>) -> Result<Self, ApiError> {
        let (method, uri, headers) = (req.method().clone(), req.uri().clone(), req.headers().clone());
        let body = body_bytes(Bytes::from_request(req, st).await)?;
        let who = authenticate(st, &method, &uri, &headers, &body).await?;
        let idempotency = match header_str(&headers, IDEMPOTENCY_HEADER)? {
            Some(k) => Some(IdempotencyKey::new(k)?),
            None => None,
        };
        Ok(Self { who, body, idempotency })
    }
}

fn body_bytes(b: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    b.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ApiErrorCode::TooLarge, format!("the body is larger than {MAX_BODY} bytes"))
        } else {
            ApiError::new(ApiErrorCode::Malformed, format!("cannot read the body: {r}"))
        }
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    writ_core::json::from_slice(body).map_err(|e| ApiError::new(ApiErrorCode::Malformed, format!("body: {e}")))
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> ApiResult<Option<&'a str>> {
    let mut all = h.get_all(name).iter();
    let Some(v) = all.next() else { return Ok(None) };
    if all.next().is_some() {
        return Err(ApiError::new(ApiErrorCode::Unauthenticated, format!("header `{name}` is repeated")));
    }
    v.to_str()
        .map(Some)
        .map_err(|_| ApiError::new(ApiErrorCode::Unauthenticated, format!("header `{name}` is not text")))
}

/// Authenticate a request by its RFC 9421 signature.
async fn authenticate(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Identity> {
    let unauth = |m: String| ApiError::new(ApiErrorCode::Unauthenticated, m);
    let (Some(si), Some(sig), Some(cd)) = (
        header_str(headers, "signature-input")?,
        header_str(headers, "signature")?,
        header_str(headers, "content-digest")?,
    ) else {
        return Err(unauth(httpsig::HttpSigError::Missing.to_string()));
    };
    let parsed = httpsig::parse(si, sig).map_err(|e| unauth(e.to_string()))?;
    let now = now()?;
    httpsig::check_created(parsed.created, now.unix(), SIGNATURE_WINDOW_SECS)
        .map_err(|e| ApiError::new(ApiErrorCode::StaleSignature, e.to_string()))?;
    let (identity, key) = st.authority.identify_with_key(&parsed.keyid, now)?;
    httpsig::verify(&parsed, &key, method.as_str(), uri.path(), uri.query().unwrap_or(""), cd, body)
        .map_err(|e| unauth(e.to_string()))?;
    // INVARIANT: a signed request is accepted once. The nonce is remembered
    // for as long as its `created` is inside the window: in the shared
    // database when replicas share one, else in this process.
    let k = format!("{}:{}", parsed.keyid, parsed.nonce);
    if st.authority.shared_nonces() {
        let a = st.authority.clone();
        let (kk, created, cutoff) = (k.clone(), parsed.created, now.unix().saturating_sub(2 * SIGNATURE_WINDOW_SECS));
        if !blocking(move || a.claim_nonce(&kk, created, cutoff)).await? {
            return Err(replayed());
        }
        return Ok(identity);
    }
    let mut nonces = st.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cutoff = now.unix().saturating_sub(SIGNATURE_WINDOW_SECS);
    if nonces.len() >= MAX_NONCES / 2 {
        nonces.retain(|_, created| *created >= cutoff);
    }
    if nonces.len() >= MAX_NONCES {
        return Err(ApiError::new(ApiErrorCode::Busy, "too many signed requests in the window; retry shortly"));
    }
    if nonces.contains_key(&k) {
        return Err(replayed());
    }
    nonces.insert(k, parsed.created);
    Ok(identity)
}

fn replayed() -> ApiError {
    ApiError::new(
        ApiErrorCode::ReplayedSignature,
        "this signed request was already received; sign each request with a fresh nonce",
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, AuthorityError> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(ApiErrorCode::Internal, format!("task failed: {e}")))?
        .map_err(ApiError::from)
}

fn json<T: serde::Serialize>(status: StatusCode, v: &T) -> Response {
    (status, axum::Json(v)).into_response()
}

type S = State<Arc<AppState>>;

/// The authority's options for a mutating call: the client's idempotency key
/// and a deadline a little inside the route's timeout, so work that would
/// outlive the answer is rolled back, never finished after a `timeout`.
fn call_options(idempotency: Option<&IdempotencyKey>) -> CallOptions {
    CallOptions {
        idempotency_key: idempotency.map(|k| k.as_str().to_string()),
        deadline: Some(Instant::now() + TIMEOUT.saturating_sub(Duration::from_millis(500))),
    }
}

/// A request or writ id from the path: UUID-like characters only; anything
/// else is the JSON `malformed` error, never axum's plain-text rejection.
struct Id(String);

impl<St: Send + Sync> FromRequestParts<St> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &St) -> Result<Self, ApiError> {
        let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, st)
            .await
            .map_err(|e| ApiError::new(ApiErrorCode::Malformed, format!("path: {}", e.body_text())))?;
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ApiError::new(
                ApiErrorCode::Malformed,
                "a request or writ id is 1 to 64 characters of letters, digits and `-`",
            ));
        }
        Ok(Self(id))
    }
}

/// A ledger index from the path.
struct Index(u64);

impl<St: Send + Sync> FromRequestParts<St> for Index {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &St) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, st)
            .await
            .map_err(|e| ApiError::new(ApiErrorCode::Malformed, format!("path: {}", e.body_text())))?;
        if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::new(ApiErrorCode::Malformed, "a ledger index is a decimal number"));
        }
        raw.parse::<u64>()
            .map(Self)
            .map_err(|_| ApiError::new(ApiErrorCode::Malformed, "a ledger index is a decimal number below 2^64"))
    }
}

/// The tile path after `/v1/log/tile/`.
struct TilePath(String);

impl<St: Send + Sync> FromRequestParts<St> for TilePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &St) -> Result<Self, ApiError> {
        let axum::extract::Path(p) = axum::extract::Path::<String>::from_request_parts(parts, st)
            .await
            .map_err(|e| ApiError::new(ApiErrorCode::Malformed, format!("path: {}", e.body_text())))?;
        Ok(Self(p))
    }
}

async fn submit(State(st): S, Signed { who, body: b, idempotency }: Signed) -> ApiResult<Response> {
    let input: RequestInput = parse_json(&b)?;
    let _slot = SubmitSlot::take()?;
    let _in_flight = st.metrics.in_flight();
    let opts = call_options(idempotency.as_ref());
    let a = st.authority.clone();
    let t0 = Instant::now();
    let now = now()?;
    let v = blocking(move || a.submit_with(&who, input, &opts, now)).await?;
    st.metrics.decision(&v.decision.outcome);
    if v.status == "issued" {
        st.metrics.issued(t0.elapsed());
    }
    web::console_hook::after_submit(&st, &v);
    Ok(json(StatusCode::CREATED, &v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
}

async fn list(
    State(st): S,
    m: Method,
    uri: Uri,
    h: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let b = body_bytes(b)?;
    let who = authenticate(&st, &m, &uri, &h, &b).await?;
    let Query(q) = q.map_err(|e| ApiError::new(ApiErrorCode::Malformed, e.body_text()))?;
    if q.status.as_deref().is_some_and(|s| s != "pending") {
        return Err(ApiError::new(ApiErrorCode::InvalidRequest, "only `status=pending` can be listed"));
    }
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.pending(&who, now)).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "requests": v })))
}

async fn get_request(State(st): S, Id(id): Id, Signed { who, .. }: Signed) -> ApiResult<Response> {
    let a = st.authority.clone();
    let v = blocking(move || a.request(&who, &id)).await?;
    Ok(json(StatusCode::OK, &v))
}

async fn vote(State(st): S, Id(id): Id, Signed { who, body: b, idempotency }: Signed) -> ApiResult<Response> {
    let body: VoteInput = parse_json(&b)?;
    let (verdict, sig, signed_at) = writ_api::approval::decode(&body)?;
    let _in_flight = st.metrics.in_flight();
    let opts = call_options(idempotency.as_ref());
    let a = st.authority.clone();
    let now = now()?;
    let reason = body.reason.clone();
    let v = blocking(move || a.vote_with(&who, &id, verdict, &sig, signed_at, reason.as_deref(), &opts, now)).await?;
    st.metrics.approval(body.verdict.as_str());
    web::console_hook::after_vote(&st, &v);
    Ok(json(StatusCode::OK, &v))
}

async fn revoke(State(st): S, Id(id): Id, Signed { who, body: b, idempotency }: Signed) -> ApiResult<Response> {
    let body: RevokeInput = parse_json(&b)?;
    let _in_flight = st.metrics.in_flight();
    let opts = call_options(idempotency.as_ref());
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.revoke_with(&who, &id, &body.reason, &opts, now)).await?;
    Ok(json(StatusCode::OK, &v))
}

async fn get_writ(State(st): S, Id(id): Id, Signed { who, .. }: Signed) -> ApiResult<Response> {
    let a = st.authority.clone();
    let v = blocking(move || writ_authority::api::writ_for(&a, &who, &id)).await?;
    Ok(json(StatusCode::OK, &v))
}

async fn status(State(st): S, Id(id): Id, Signed { who, body: b, .. }: Signed) -> ApiResult<Response> {
    let body: StatusInput = if b.is_empty() { StatusInput::default() } else { parse_json(&b)? };
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.status(&who, &id, body.consume, body.nonce, now)).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], v).into_response())
}

/// The body of `POST /v1/nonces`: exactly `{}` (strict, like every body).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NonceInput {}

async fn nonce(State(st): S, Signed { who, body: b, .. }: Signed) -> ApiResult<Response> {
    let NonceInput {} = parse_json(&b)?;
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.new_nonce(&who, now)).await?;
    Ok(json(StatusCode::CREATED, &v))
}

async fn record(State(st): S, Signed { who, body: b, .. }: Signed) -> ApiResult<Response> {
    let body: RecordInput = parse_json(&b)?;
    let entry = writ_core::b64::decode(&body.entry, writ_core::entry::MAX_ENTRY_BYTES)
        .map_err(|e| ApiError::new(ApiErrorCode::Malformed, format!("`entry`: {e}")))?;
    let a = st.authority.clone();
    let in_flight = st.metrics.in_flight();
    let (index, receipt) = blocking(move || a.record(&who, &entry)).await?;
    drop(in_flight);
    let receipt = String::from_utf8(receipt)
        .map_err(|_| ApiError::new(ApiErrorCode::Internal, "the receipt is not UTF-8 text"))?;
    Ok(json(StatusCode::CREATED, &RecordView { index, receipt }))
}

/// `POST /v1/delegations`: record a holder-signed child writ with its
/// chain (`Authority::record_delegation`, docs/api.md).
async fn delegate(State(st): S, Signed { who, body: b, .. }: Signed) -> ApiResult<Response> {
    let body: writ_api::delegation::DelegationInput = parse_json(&b)?;
    let a = st.authority.clone();
    let _in_flight = st.metrics.in_flight();
    let now = now()?;
    let v = blocking(move || a.record_delegation(&who, &body, now)).await?;
    Ok(json(StatusCode::CREATED, &v))
}

/// `GET /v1/delegations/{id}`: a recorded delegated writ, for those who may
/// read the writ itself (its chain's requester, its request's approvers,
/// operators).
async fn get_delegation(State(st): S, Id(id): Id, Signed { who, .. }: Signed) -> ApiResult<Response> {
    let a = st.authority.clone();
    let v = blocking(move || {
        let d = a.delegation(&id)?;
        writ_authority::api::writ_for(&a, &who, &id)?;
        Ok(d)
    })
    .await?;
    Ok(json(StatusCode::OK, &v))
}

/// `POST /v1/writs/{id}/start`: status and the durable `exec_start` in one
/// round trip and one transaction (`Authority::start`).
async fn start(State(st): S, Id(id): Id, Signed { who, body: b, .. }: Signed) -> ApiResult<Response> {
    let body: StartInput = parse_json(&b)?;
    let entry = writ_core::b64::decode(&body.entry, writ_core::entry::MAX_ENTRY_BYTES)
        .map_err(|e| ApiError::new(ApiErrorCode::Malformed, format!("`entry`: {e}")))?;
    let a = st.authority.clone();
    let in_flight = st.metrics.in_flight();
    let now = now()?;
    // The ledger's integration observer times the append (as for records).
    let s = blocking(move || a.start(&who, &id, body.consume, &body.nonce, &entry, now)).await?;
    drop(in_flight);
    let text = |b: Vec<u8>, what: &str| {
        String::from_utf8(b).map_err(|_| ApiError::new(ApiErrorCode::Internal, format!("the {what} is not UTF-8 text")))
    };
    let v = StartView { status: text(s.status, "status")?, index: s.index, receipt: text(s.receipt, "receipt")? };
    Ok(json(StatusCode::CREATED, &v))
}

// ---- public ledger read path ----

fn ledger_err(e: writ_ledger::LedgerError) -> ApiError {
    match e {
        writ_ledger::LedgerError::OutOfRange { .. } | writ_ledger::LedgerError::Tlog(_) => {
            ApiError::new(ApiErrorCode::NotFound, e.to_string())
        }
        other => ApiError::from(AuthorityError::Ledger(other)),
    }
}

fn text(body: Vec<u8>, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}

async fn checkpoint(State(st): S) -> Response {
    text(st.authority.ledger().latest_checkpoint().note.clone().into_bytes(), "no-cache")
}

/// `GET /v1/log/witnessed-checkpoint`: the latest checkpoint a quorum of
/// the trust root's witnesses cosigned (the log's signature line, then the
/// cosignature lines); 404 when the log is not witnessed or nothing was
/// cosigned yet.
async fn witnessed_checkpoint(State(st): S) -> ApiResult<Response> {
    match st.authority.ledger().witnessed_checkpoint() {
        Some(cp) => Ok(text(cp.note.clone().into_bytes(), "no-cache")),
        None => Err(ApiError::new(
            ApiErrorCode::NotFound,
            "no witnessed checkpoint: the trust root names no witnesses for this log, or none has cosigned yet",
        )),
    }
}

async fn tile(State(st): S, TilePath(path): TilePath) -> ApiResult<Response> {
    let a = st.authority.clone();
    let p = format!("tile/{path}");
    let bytes = tokio::task::spawn_blocking(move || a.ledger().read_tile(&p))
        .await
        .map_err(|e| ApiError::new(ApiErrorCode::Internal, e.to_string()))?
        .map_err(ledger_err)?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], bytes).into_response())
}

async fn proof(State(st): S, Index(index): Index) -> ApiResult<Response> {
    let a = st.authority.clone();
    let p = tokio::task::spawn_blocking(move || a.ledger().prove(index))
        .await
        .map_err(|e| ApiError::new(ApiErrorCode::Internal, e.to_string()))?
        .map_err(ledger_err)?;
    Ok(text(p.to_bytes(), "no-cache"))
}

async fn entry(State(st): S, Index(index): Index) -> ApiResult<Response> {
    let a = st.authority.clone();
    let e = tokio::task::spawn_blocking(move || a.ledger().entry(index))
        .await
        .map_err(|e| ApiError::new(ApiErrorCode::Internal, e.to_string()))?
        .map_err(ledger_err)?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], e).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    request_id: Option<String>,
    writ_id: Option<String>,
}

async fn entries(
    State(st): S,
    q: Result<Query<EntriesQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q.map_err(|e| ApiError::new(ApiErrorCode::Malformed, e.body_text()))?;
    if q.request_id.is_none() == q.writ_id.is_none() {
        return Err(ApiError::new(ApiErrorCode::InvalidRequest, "give exactly one of `request_id` or `writ_id`"));
    }
    let a = st.authority.clone();
    let rows = blocking(move || a.entries_for(q.request_id.as_deref(), q.writ_id.as_deref())).await?;
    let list: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(i, k, e)| serde_json::json!({"index": i, "kind": k, "entry": writ_core::b64::encode(&e)}))
        .collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "entries": list })))
}

// ---- the trust root ----

/// Media type of a signed trust-root version (a DSSE envelope).
const TRUST_ROOT_TYPE: &str = writ_core::trust_chain::TRUST_ROOT_PAYLOAD_TYPE;

fn trust_root_bytes(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(TRUST_ROOT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        bytes,
    )
        .into_response()
}

fn trust_document(trust: &writ_core::TrustRoot) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        trust.to_json_pretty(),
    )
        .into_response()
}

/// `GET /v1/trust`: the signed version in force, byte for byte (gates check
/// it with `trust_chain::verify_pinned` / `verify_successor`); a legacy home
/// (no signed root) serves its `trust.json` document as before.
async fn trust(State(st): S) -> ApiResult<Response> {
    let a = st.authority.clone();
    match blocking(move || Ok(a.signed_trust())).await? {
        Some(bytes) => Ok(trust_root_bytes(bytes)),
        None => Ok(trust_document(&st.authority.trust())),
    }
}

/// `GET /v1/trust/document`: the trust document in force (unsigned JSON,
/// the same on every home), for readers that pin a document rather than a
/// version.
async fn trust_document_route(State(st): S) -> ApiResult<Response> {
    let a = st.authority.clone();
    // `trust()` reads the home again when its files changed: off the runtime.
    let trust = blocking(move || Ok(a.trust())).await?;
    Ok(trust_document(&trust))
}

/// A trust-root version number from the path.
struct Version(u64);

impl<St: Send + Sync> FromRequestParts<St> for Version {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &St) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, st)
            .await
            .map_err(|e| ApiError::new(ApiErrorCode::Malformed, format!("path: {}", e.body_text())))?;
        if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::new(ApiErrorCode::Malformed, "a trust-root version is a decimal number"));
        }
        raw.parse::<u64>()
            .map(Self)
            .map_err(|_| ApiError::new(ApiErrorCode::Malformed, "a trust-root version is a decimal number below 2^64"))
    }
}

/// `GET /v1/trust/versions/{n}`: version `n` if it is in force or older.
async fn trust_version(State(st): S, Version(n): Version) -> ApiResult<Response> {
    let a = st.authority.clone();
    let now = now()?;
    let (bytes, status) = blocking(move || {
        let b = a.trust_version(n)?;
        Ok((b, a.trust_status(now)))
    })
    .await?;
    match (bytes, status.version) {
        (Some(b), _) => Ok(trust_root_bytes(b)),
        (None, Some(cur)) => Err(ApiError::new(
            ApiErrorCode::NotFound,
            format!("no trust-root version {n}: versions 1 to {cur} exist (version {cur} is in force)"),
        )),
        (None, None) => Err(ApiError::new(
            ApiErrorCode::NotFound,
            "this authority's trust root is not signed (a legacy home): it has no versions; see `GET /v1/trust`",
        )),
    }
}

/// What `POST /v1/trust` answers.
#[derive(Debug, serde::Serialize)]
struct PublishedView {
    version: u64,
    digest: String,
    ledger_index: u64,
    /// `key_change` entries appended (0: the version was in force already).
    entries: usize,
}

/// `POST /v1/trust`: publish the signed successor of the version in force.
/// Any trusted key may send it: what authorizes the change is the quorum of
/// root signatures inside the envelope, checked by the authority, which
/// logs it as `key_change` before putting it in force.
async fn publish_trust(State(st): S, Signed { who, body, .. }: Signed) -> ApiResult<Response> {
    let a = st.authority.clone();
    let now = now()?;
    let p = blocking(move || {
        if a.signed_trust().is_none() {
            return Err(AuthorityError::InvalidRequest(
                "this authority's trust root is not signed (a legacy home); sign it first with \
                 `writ trust sign-home --home HOME`"
                    .to_owned(),
            ));
        }
        a.publish_trust(&body, now)
    })
    .await?;
    if p.entries > 0 {
        eprintln!(
            "writ-server: trust root version {} ({}) published by `{}` (ledger entry {})",
            p.version, p.digest, who.name, p.ledger_index
        );
    }
    Ok(json(
        StatusCode::OK,
        &PublishedView {
            version: p.version,
            digest: p.digest.to_hex(),
            ledger_index: p.ledger_index,
            entries: p.entries,
        },
    ))
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the keys, policy, database and ledger are
/// usable, with the trust root's state. A refused, expired or unsigned trust
/// root does not make the authority unready (it keeps serving the last good
/// version) but shows here as `trust.healthy: false` with the reason.
async fn readyz(State(st): S) -> ApiResult<Response> {
    let a = st.authority.clone();
    let now = now()?;
    let trust = blocking(move || {
        a.ready()?;
        Ok(a.trust_status(now))
    })
    .await?;
    let mut detail = serde_json::to_value(&trust)
        .map_err(|e| ApiError::new(ApiErrorCode::Internal, format!("trust status: {e}")))?;
    if let Some(o) = detail.as_object_mut() {
        o.insert("healthy".into(), trust.healthy().into());
        o.insert("summary".into(), trust.summary().into());
    }
    Ok(json(StatusCode::OK, &serde_json::json!({"status": "ready", "trust": detail})))
}

async fn metrics_route(State(st): S) -> ApiResult<Response> {
    let now = now()?;
    let s = st.clone();
    let snap = blocking(move || metrics::snapshot(&s, now).map_err(AuthorityError::Ledger)).await?;
    let body = snap.render();
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], body).into_response())
}

async fn openapi_route() -> Response {
    json(StatusCode::OK, &openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::new(ApiErrorCode::NotFound, "no such route; see /v1/openapi.json")
}

async fn method_not_allowed(m: Method) -> ApiError {
    ApiError::new(ApiErrorCode::MethodNotAllowed, format!("this route does not take `{m}`; see /v1/openapi.json"))
}

/// The code of an error answer that did not come from a handler (a layer or
/// an extractor of axum's), by its status.
fn code_for_status(status: StatusCode) -> ApiErrorCode {
    match status.as_u16() {
        401 => ApiErrorCode::Unauthenticated,
        403 => ApiErrorCode::Forbidden,
        404 => ApiErrorCode::NotFound,
        405 => ApiErrorCode::MethodNotAllowed,
        408 => ApiErrorCode::Timeout,
        413 => ApiErrorCode::TooLarge,
        429 | 503 => ApiErrorCode::Busy,
        400..=499 => ApiErrorCode::Malformed,
        _ => ApiErrorCode::Internal,
    }
}

/// Metrics, the deadline, and the one error shape for answers that do not
/// come from a handler.
async fn track(State(st): S, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let resp = match tokio::time::timeout(TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => error_response(
            ApiErrorCode::Timeout,
            format!("the call did not finish within {} s; retry it with the same idempotency key", TIMEOUT.as_secs()),
        ),
    };
    // INVARIANT: every failure has the JSON error shape. axum's own
    // rejections (plain text) and empty error answers are rewritten here;
    // HTML error pages of the web console keep their type.
    let status = resp.status();
    let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let resp = if (status.is_client_error() || status.is_server_error())
        && !ctype.starts_with("application/json")
        && !ctype.starts_with("text/html")
    {
        let code = code_for_status(status);
        let bytes = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap_or_default();
        let text: String = String::from_utf8_lossy(&bytes).chars().filter(|c| !c.is_control()).take(300).collect();
        let message = if text.trim().is_empty() { code.as_str().replace('_', " ") } else { text.to_lowercase() };
        error_response(code, message)
    } else {
        resp
    };
    st.metrics.http(&route, resp.status().as_u16());
    if let Some(code) = resp.extensions().get::<ApiErrorCode>() {
        st.metrics.refusal(code.as_str());
    }
    resp
}

/// The authority's HTTP API.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/requests", post(submit).get(list))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/requests/{id}/approvals", post(vote))
        .route("/v1/writs/{id}", get(get_writ))
        .route("/v1/writs/{id}/revoke", post(revoke))
        .route("/v1/writs/{id}/status", post(status))
        .route("/v1/writs/{id}/start", post(start))
        .route("/v1/nonces", post(nonce))
        .route("/v1/records", post(record))
        .route("/v1/delegations", post(delegate))
        .route("/v1/delegations/{id}", get(get_delegation))
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/witnessed-checkpoint", get(witnessed_checkpoint))
        .route("/v1/log/tile/{*path}", get(tile))
        .route("/v1/log/proof/{index}", get(proof))
        .route("/v1/log/entries/{index}", get(entry))
        .route("/v1/log/entries", get(entries))
        .route(
            "/v1/trust",
            get(trust).post(publish_trust).layer(DefaultBodyLimit::max(writ_core::trust_chain::MAX_SIGNED_ROOT_BYTES)),
        )
        .route("/v1/trust/document", get(trust_document_route))
        .route("/v1/trust/versions/{n}", get(trust_version))
        .route("/v1/openapi.json", get(openapi_route))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_route))
        .merge(web::routes(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Serve `router` on `listener` until the process ends.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<AppState>) -> std::io::Result<()> {
    spawn_background(&state);
    axum::serve(listener, router(state)).await
}

/// Serve `router` over TLS on `listener` until the process ends; with a
/// client CA, gates present client certificates (see [`tls`]).
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    identity: TlsIdentity,
) -> std::io::Result<()> {
    spawn_background(&state);
    tls::serve(listener, router(state), identity).await
}

/// Seconds between two rounds of the background task.
pub const BACKGROUND_INTERVAL: Duration = Duration::from_secs(5);

/// Start the server's background task (once per state, on the current
/// tokio runtime): every [`BACKGROUND_INTERVAL`], a self-verification
/// round ([`selfcheck::SelfCheck::run`]) and one sample of the history
/// drawn on `/health`. [`serve`] and [`serve_tls`] call it.
pub fn spawn_background(state: &Arc<AppState>) {
    let st = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(BACKGROUND_INTERVAL);
        loop {
            tick.tick().await;
            let s = st.clone();
            let round = tokio::task::spawn_blocking(move || {
                let Ok(now) = now() else { return };
                s.selfcheck.run(s.authority.ledger(), &s.authority.trust(), now);
                if let Ok(snap) = metrics::snapshot(&s, now) {
                    s.metrics.sample(metrics::Sample {
                        at: now.0,
                        ledger_size: snap.ledger_size,
                        issued: snap.issuance.count,
                        backlog: snap.backlog,
                        selfcheck_failures: snap.selfcheck.total_failures(),
                    });
                }
            });
            if let Err(e) = round.await {
                eprintln!("writ-server: background round failed: {e}");
            }
        }
    });
}
