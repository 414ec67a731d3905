//! writ-server: the HTTP face of the writ authority.
//!
//! [`router`] builds the axum [`Router`] of the `/v1` JSON API described in
//! `docs/api.md`: requests, approvals, revocation, signed status and use
//! consumption for gates, runtime-evidence nonces, execution records, the
//! public ledger read path (checkpoint, C2SP tiles, proofs, entries by request
//! or writ), `/healthz`, `/readyz`, `/metrics` and `/v1/openapi.json`.
//!
//! Every `/v1` call that changes or reads private state is authenticated with
//! an RFC 9421 HTTP Message Signature by the caller's Ed25519 key
//! ([`httpsig`]), with a created-time window and a nonce replay cache. Errors
//! have one JSON shape, `{"error": {"code", "message"}}`, and internal
//! details never reach clients. Every route has a body limit and a timeout.
#![forbid(unsafe_code)]

pub mod client;
pub mod httpsig;
mod metrics;
mod openapi;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use writ_authority::model::RequestInput;
use writ_authority::{Authority, AuthorityError, ErrorKind, Identity, Verdict};
use writ_core::Timestamp;

pub use metrics::Metrics;

/// Largest request body.
pub const MAX_BODY: usize = 64 * 1024;
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
}

impl AppState {
    /// Wrap an authority.
    #[must_use]
    pub fn new(authority: Arc<Authority>) -> Arc<Self> {
        Arc::new(Self { authority, nonces: Mutex::new(HashMap::new()), metrics: Metrics::default() })
    }
}

/// The stable error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<AuthorityError> for ApiError {
    fn from(e: AuthorityError) -> Self {
        let status = match e.kind() {
            ErrorKind::BadInput => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match e.kind() {
            ErrorKind::Unavailable | ErrorKind::Internal => {
                eprintln!("writ-server: {} error: {e}", e.code());
                match e.code() {
                    "busy" => "the authority is busy; retry shortly".to_string(),
                    "internal" => "internal error; see the authority's log".to_string(),
                    _ => {
                        "the authority cannot serve this now (ledger or database); see its log and /readyz".to_string()
                    }
                }
            }
            _ => e.to_string(),
        };
        Self { status, code: e.code(), message }
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn now() -> ApiResult<Timestamp> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "clock error"))?
        .as_secs();
    Ok(Timestamp(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// A request whose RFC 9421 signature checked out: the authenticated caller
/// and the exact body bytes the signature covers. Every authenticated route
/// takes one, so no handler can forget to authenticate.
struct Signed {
    who: Identity,
    body: Bytes,
}

impl FromRequest<Arc<AppState>> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &Arc<AppState>) -> Result<Self, ApiError> {
        let (method, uri, headers) = (req.method().clone(), req.uri().clone(), req.headers().clone());
        let body = body_bytes(Bytes::from_request(req, st).await)?;
        let who = authenticate(st, &method, &uri, &headers, &body).await?;
        Ok(Self { who, body })
    }
}

fn body_bytes(b: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    b.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is larger than {MAX_BODY} bytes"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("cannot read the body: {r}"))
        }
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    writ_core::json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("body: {e}")))
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> ApiResult<Option<&'a str>> {
    let mut all = h.get_all(name).iter();
    let Some(v) = all.next() else { return Ok(None) };
    if all.next().is_some() {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", format!("header `{name}` is repeated")));
    }
    v.to_str()
        .map(Some)
        .map_err(|_| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", format!("header `{name}` is not text")))
}

/// Authenticate a request by its RFC 9421 signature.
async fn authenticate(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Identity> {
    let unauth = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m);
    let (Some(si), Some(sig), Some(cd)) = (
        header_str(headers, "signature-input")?,
        header_str(headers, "signature")?,
        header_str(headers, "content-digest")?,
    ) else {
        return Err(unauth(httpsig::HttpSigError::Missing.to_string()));
    };
    let parsed = httpsig::parse(si, sig).map_err(|e| unauth(e.to_string()))?;
    let now = now()?;
    if (parsed.created - now.unix()).abs() > SIGNATURE_WINDOW_SECS {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "stale_signature",
            format!(
                "the signature was created {} s away from the authority's clock; the window is ±{SIGNATURE_WINDOW_SECS} s",
                parsed.created - now.unix()
            ),
        ));
    }
    let identity = st.authority.identify(&parsed.keyid, now)?;
    let key = st
        .authority
        .trust()
        .key(&parsed.keyid)
        .map(|k| k.key)
        .ok_or_else(|| ApiError::from(AuthorityError::UnknownKey(parsed.keyid.to_string())))?;
    httpsig::verify(&parsed, &key, method.as_str(), uri.path(), uri.query().unwrap_or(""), cd, body)
        .map_err(|e| unauth(e.to_string()))?;
    // INVARIANT: a signed request is accepted once. The nonce is remembered
    // for as long as its `created` is inside the window: in the shared
    // database when replicas share one, else in this process.
    let k = format!("{}:{}", parsed.keyid, parsed.nonce);
    if st.authority.shared_nonces() {
        let a = st.authority.clone();
        let (kk, created, cutoff) = (k.clone(), parsed.created, now.unix() - 2 * SIGNATURE_WINDOW_SECS);
        if !blocking(move || a.claim_nonce(&kk, created, cutoff)).await? {
            return Err(replayed());
        }
        return Ok(identity);
    }
    let mut nonces = st.nonces.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let cutoff = now.unix() - SIGNATURE_WINDOW_SECS;
    if nonces.len() >= MAX_NONCES / 2 {
        nonces.retain(|_, created| *created >= cutoff);
    }
    if nonces.len() >= MAX_NONCES {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many signed requests in the window; retry shortly",
        ));
    }
    if nonces.contains_key(&k) {
        return Err(replayed());
    }
    nonces.insert(k, parsed.created);
    Ok(identity)
}

fn replayed() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "replayed_signature",
        "this signed request was already received; sign each request with a fresh nonce",
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, AuthorityError> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("task failed: {e}")))?
        .map_err(ApiError::from)
}

fn json<T: serde::Serialize>(status: StatusCode, v: &T) -> Response {
    (status, axum::Json(v)).into_response()
}

type S = State<Arc<AppState>>;

async fn submit(State(st): S, Signed { who, body: b }: Signed) -> ApiResult<Response> {
    let input: RequestInput = parse_json(&b)?;
    let a = st.authority.clone();
    let t0 = Instant::now();
    let now = now()?;
    let v = blocking(move || a.submit(&who, input, now)).await?;
    st.metrics.decision(&v.decision.outcome);
    if v.status == "issued" {
        st.metrics.issued(t0.elapsed());
    }
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
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.body_text()))?;
    if q.status.as_deref().is_some_and(|s| s != "pending") {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", "only `status=pending` can be listed"));
    }
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.pending(&who, now)).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "requests": v })))
}

async fn get_request(State(st): S, Path(id): Path<String>, Signed { who, .. }: Signed) -> ApiResult<Response> {
    let a = st.authority.clone();
    let v = blocking(move || a.request(&who, &id)).await?;
    Ok(json(StatusCode::OK, &v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    verdict: String,
    signature: String,
}

async fn vote(State(st): S, Path(id): Path<String>, Signed { who, body: b }: Signed) -> ApiResult<Response> {
    let body: VoteBody = parse_json(&b)?;
    let verdict = match body.verdict.as_str() {
        "approve" => Verdict::Approve,
        "deny" => Verdict::Deny,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("verdict `{other}` must be `approve` or `deny`"),
            ));
        }
    };
    let sig = writ_core::b64::decode(&body.signature, 64)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("`signature`: {e}")))?;
    if sig.len() != 64 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "`signature` must be a 64-byte Ed25519 signature in base64",
        ));
    }
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.vote(&who, &id, verdict, &sig, now)).await?;
    st.metrics.approval(&body.verdict);
    Ok(json(StatusCode::OK, &v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
}

async fn revoke(State(st): S, Path(id): Path<String>, Signed { who, body: b }: Signed) -> ApiResult<Response> {
    let body: RevokeBody = parse_json(&b)?;
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.revoke(&who, &id, &body.reason, now)).await?;
    Ok(json(StatusCode::OK, &v))
}

async fn get_writ(State(st): S, Path(id): Path<String>, _: Signed) -> ApiResult<Response> {
    let a = st.authority.clone();
    let v = blocking(move || a.writ(&id)).await?;
    Ok(json(StatusCode::OK, &v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    #[serde(default)]
    consume: bool,
    #[serde(default)]
    nonce: Option<String>,
}

async fn status(State(st): S, Path(id): Path<String>, Signed { who, body: b }: Signed) -> ApiResult<Response> {
    let body: StatusBody = if b.is_empty() { StatusBody { consume: false, nonce: None } } else { parse_json(&b)? };
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.status(&who, &id, body.consume, body.nonce, now)).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], v).into_response())
}

async fn nonce(State(st): S, Signed { who, .. }: Signed) -> ApiResult<Response> {
    let a = st.authority.clone();
    let now = now()?;
    let v = blocking(move || a.new_nonce(&who, now)).await?;
    Ok(json(StatusCode::CREATED, &v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordBody {
    entry: String,
}

async fn record(State(st): S, Signed { who, body: b }: Signed) -> ApiResult<Response> {
    let body: RecordBody = parse_json(&b)?;
    let entry = writ_core::b64::decode(&body.entry, writ_core::entry::MAX_ENTRY_BYTES)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", format!("`entry`: {e}")))?;
    let a = st.authority.clone();
    let (index, receipt) = blocking(move || a.record(&who, &entry)).await?;
    Ok(json(StatusCode::CREATED, &serde_json::json!({"index": index, "receipt": String::from_utf8_lossy(&receipt)})))
}

// ---- public ledger read path ----

fn ledger_err(e: writ_ledger::LedgerError) -> ApiError {
    match e {
        writ_ledger::LedgerError::OutOfRange { .. } | writ_ledger::LedgerError::Tlog(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
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

async fn tile(State(st): S, Path(path): Path<String>) -> ApiResult<Response> {
    let a = st.authority.clone();
    let p = format!("tile/{path}");
    let bytes = tokio::task::spawn_blocking(move || a.ledger().read_tile(&p))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(ledger_err)?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], bytes).into_response())
}

async fn proof(State(st): S, Path(index): Path<u64>) -> ApiResult<Response> {
    let a = st.authority.clone();
    let p = tokio::task::spawn_blocking(move || a.ledger().prove(index))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(ledger_err)?;
    Ok(text(p.to_bytes(), "no-cache"))
}

async fn entry(State(st): S, Path(index): Path<u64>) -> ApiResult<Response> {
    let a = st.authority.clone();
    let e = tokio::task::spawn_blocking(move || a.ledger().entry(index))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
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
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.body_text()))?;
    if q.request_id.is_none() == q.writ_id.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "give exactly one of `request_id` or `writ_id`",
        ));
    }
    let a = st.authority.clone();
    let rows = blocking(move || a.entries_for(q.request_id.as_deref(), q.writ_id.as_deref())).await?;
    let list: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(i, k, e)| serde_json::json!({"index": i, "kind": k, "entry": writ_core::b64::encode(&e)}))
        .collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "entries": list })))
}

async fn trust(State(st): S) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], st.authority.trust().to_json_pretty())
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(st): S) -> ApiResult<&'static str> {
    let a = st.authority.clone();
    blocking(move || a.ready()).await?;
    Ok("ready\n")
}

async fn metrics_route(State(st): S) -> Response {
    let cp = st.authority.ledger().latest_checkpoint();
    let size = cp.checkpoint.size;
    let body = st.metrics.render(size);
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], body).into_response()
}

async fn openapi_route() -> Response {
    json(StatusCode::OK, &openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route; see /v1/openapi.json")
}

async fn track(State(st): S, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let resp = next.run(req).await;
    st.metrics.http(&route, resp.status().as_u16());
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
        .route("/v1/nonces", post(nonce))
        .route("/v1/records", post(record))
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/tile/{*path}", get(tile))
        .route("/v1/log/proof/{index}", get(proof))
        .route("/v1/log/entries/{index}", get(entry))
        .route("/v1/log/entries", get(entries))
        .route("/v1/trust", get(trust))
        .route("/v1/openapi.json", get(openapi_route))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_route))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, TIMEOUT))
        .with_state(state)
}

/// Serve `router` on `listener` until the process ends.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<AppState>) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}
