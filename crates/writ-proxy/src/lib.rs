//! writ-proxy: the gate in front of an HTTP service. Every request must carry
//! a writ whose `http` action permits its method, path and body digest;
//! otherwise it gets `403` with the reason code and is never forwarded.
//!
//! ```text
//! Authorization: Writ <base64url(envelope)>[.<base64url(receipt)>]
//! ```
//!
//! (base64url without padding; the optional part after the `.` is the
//! writ's ledger receipt, needed when the trust root requires receipts).
//!
//! # What is forwarded is what was checked
//!
//! - The path is normalized per RFC 3986 ([`path::normalize`]) before it is
//!   matched, and forms whose meaning depends on the upstream (encoded dots,
//!   slashes or backslashes, `;` parameters, `//`) are refused `malformed`.
//!   The request sent upstream is built from the [`writ_gate::Permit`]: the
//!   checked method and the normalized path, never the raw request line.
//! - A query string is refused `scope_args` (writs do not cover queries); an
//!   absolute-form target (`GET http://…`) is refused `malformed`.
//! - Headers that rewrite path, host or method at an upstream are stripped:
//!   `X-Original-URL`, `X-Rewrite-URL`, `X-Forwarded-*`, `Forwarded`,
//!   `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`,
//!   `X-Original-Host`, `X-Host`, and every header whose name holds an
//!   underscore (CGI-style upstreams read `X_Original_URL` as
//!   `X-Original-URL`). `Authorization`, `Host`, hop-by-hop headers and
//!   `Content-Length` are not forwarded either (`Host` is the upstream's).
//!
//! # Limits (each a field of [`Limits`])
//!
//! | limit | default | when exceeded |
//! |---|---|---|
//! | header read timeout | 10 s | the connection is closed |
//! | request body | 1 MiB | `403 too_large`, recorded |
//! | upstream timeout (answer and body) | 30 s | `504`, `exec_end` `upstream_error` |
//! | upstream response body | 64 MiB | `502`, `exec_end` `upstream_error` |
//! | concurrent connections | 256 | `503` and the connection is closed |
//!
//! # Records
//!
//! Like `exec` (see `docs/gate.md`): each permitted request gets an
//! `exec_start` before it is forwarded (online: in the ledger with a verified
//! acknowledgement, or the request is denied `record_failed` and not
//! forwarded; offline: fsynced in the spool) and an `exec_end` once the
//! upstream answered; each denial a `denial` entry. `program_digest` is the
//! SHA-256 of the body, `argv_digest` the [`writ_gate::list_digest`] of
//! `[method, path]`.

pub mod path;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use writ_api::GateApi;
use writ_core::entry::{Entry, ExecEnd, ExecStart};
use writ_core::scope::{Attempt, HostFacts, HttpAttempt};
use writ_core::{Denial, DenialCode, Mode, Sha256Digest, TrustRoot};
use writ_gate::watch::fetch_status;
use writ_gate::{Durability, Evidence, Gate, Permit, Recorder, denial_entry, list_digest, timestamp_now};

/// The `Authorization` scheme name.
pub const SCHEME: &str = "Writ";

/// The proxy's limits (see the crate docs for what each does).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Largest upstream response body passed on, in bytes.
    pub max_response: usize,
    /// Time a client has to send the request head.
    pub header_read_timeout: Duration,
    /// Time the upstream has to answer, body included.
    pub upstream_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 1 << 20,
            max_response: 64 << 20,
            header_read_timeout: Duration::from_secs(10),
            upstream_timeout: Duration::from_secs(30),
            max_connections: 256,
        }
    }
}

/// Everything a proxy needs.
pub struct ProxyConfig {
    /// Where to listen (port 0: any free port, see [`Server::local_addr`]).
    pub listen: SocketAddr,
    /// The service to forward to, e.g. `http://127.0.0.1:8080`.
    pub upstream: String,
    /// The trust root.
    pub trust: TrustRoot,
    /// This host's facts (from the gate configuration).
    pub host: HostFacts,
    /// Online: the authority (signed status for every request).
    pub online: Option<Arc<dyn GateApi>>,
    /// Where records go.
    pub recorder: Recorder,
    /// Limits.
    pub limits: Limits,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("listen", &self.listen)
            .field("upstream", &self.upstream)
            .field("online", &self.online.is_some())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Why the proxy could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream URL is not `http://host[:port][/prefix]`.
    #[error("upstream `{0}` must be an `http://host:port` URL")]
    Upstream(String),
    /// Listening or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

struct Proxy {
    /// Offline: the gate (mode offline). Online: the authenticity and scope
    /// pre-check (mode check), so that a bad writ consumes no use.
    gate: Gate,
    /// Online: the authority, and the gate that checks with its status.
    online: Option<(Arc<dyn GateApi>, Gate, TrustRoot)>,
    recorder: Arc<Recorder>,
    hostname: String,
    upstream: String,
    upstream_authority: HeaderValue,
    limits: Limits,
    client: Client<HttpConnector, Full<Bytes>>,
}

fn json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn deny(d: &Denial) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"error": {"code": d.code.as_str(), "message": d.detail}}).to_string();
    json_response(StatusCode::FORBIDDEN, body)
}

fn plain(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r
}

/// Runs blocking gate I/O (authority, spool fsync) off the reactor.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Denial> {
    tokio::task::spawn_blocking(f).await.map_err(|_| Denial::new(DenialCode::Internal, "the gate panicked"))
}

/// Records the denial (best effort: the request is denied either way), then
/// answers 403.
async fn refuse(p: &Arc<Proxy>, d: Denial, writ: &[u8]) -> Response<Full<Bytes>> {
    let entry = denial_entry(&d, writ, &p.hostname);
    let q = p.clone();
    match blocking(move || q.recorder.record_or_spool(&entry, Durability::Sync)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("writ proxy: warning: denial not recorded: {e}"),
        Err(e) => eprintln!("writ proxy: warning: denial not recorded: {}", e.detail),
    }
    deny(&d)
}

/// The writ (and its ledger receipt, when sent) from
/// `Authorization: Writ <base64url(envelope)>[.<base64url(receipt)>]`.
fn writ_from(headers: &HeaderMap) -> Result<(Vec<u8>, Option<Vec<u8>>), Denial> {
    let malformed = |d: &str| Denial::new(DenialCode::Malformed, d);
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return Err(malformed("send exactly one `Authorization: Writ <base64url(envelope)>` header"));
    };
    let v = v.to_str().map_err(|_| malformed("the Authorization header is not ASCII"))?;
    let (scheme, cred) = v.split_once(' ').ok_or_else(|| malformed("the Authorization header has no credentials"))?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(malformed("the Authorization scheme must be `Writ`"));
    }
    let (envelope, receipt) = match cred.trim().split_once('.') {
        Some((e, r)) => (e, Some(r)),
        None => (cred.trim(), None),
    };
    let b64 = |s: &str, max: usize, what: &str| {
        if s.len() > max.saturating_mul(4) / 3 + 4 {
            return Err(Denial::new(
                DenialCode::TooLarge,
                format!("the {what} in the Authorization header is too large"),
            ));
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| malformed(&format!("the {what} in the Authorization header is not base64url without padding")))
    };
    let writ = b64(envelope, writ_core::limits::MAX_ENVELOPE_BYTES, "writ")?;
    let receipt = receipt.map(|r| b64(r, writ_core::limits::MAX_RECEIPT_BYTES, "receipt")).transpose()?;
    Ok((writ, receipt))
}

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Headers that make an upstream see another path, host or method.
const REWRITING: [&str; 9] = [
    "x-original-url",
    "x-rewrite-url",
    "forwarded",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-host",
    "x-host",
];

/// Whether a request header is forwarded upstream.
pub fn forwarded_request_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    !(n.contains('_')
        || n.starts_with("x-forwarded-")
        || REWRITING.contains(&n.as_str())
        || HOP_BY_HOP.contains(&n.as_str())
        || n == "authorization"
        || n == "content-length")
}

fn forwarded_response_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    !HOP_BY_HOP.contains(&n) && n != "content-length"
}

/// The `exec_start` entry of a permitted HTTP request.
fn start_entry(permit: &Permit, a: &HttpAttempt, host: &str) -> Entry {
    let (request_id, writ_id) = permit.ids();
    Entry::ExecStart(ExecStart {
        time: timestamp_now(),
        request_id,
        writ_id,
        host: host.to_owned(),
        program_digest: a.body_sha256,
        argv_digest: list_digest(&[&a.method, &a.path]),
    })
}

/// The `exec_end` entry once the upstream answered (`exit_code` = the HTTP
/// status) or failed (`exit_code` absent): `outcome` =
/// `responded duration_us=N response_sha256=HEX` or
/// `upstream_error duration_us=N`.
fn end_entry(ids: (String, String), host: &str, answer: Option<(u16, &[u8])>, took: Duration) -> Entry {
    let us = took.as_micros();
    let outcome = match answer {
        Some((_, b)) => format!("responded duration_us={us} response_sha256={}", Sha256Digest::of(b).to_hex()),
        None => format!("upstream_error duration_us={us}"),
    };
    Entry::ExecEnd(ExecEnd {
        time: timestamp_now(),
        request_id: ids.0,
        writ_id: ids.1,
        host: host.to_owned(),
        outcome,
        exit_code: answer.map(|(status, _)| i64::from(status)),
    })
}

/// Verifies `writ` for `attempt`: offline, or online with the writ's signed
/// status (consuming one use of a limited-use writ).
async fn check(p: &Arc<Proxy>, writ: &[u8], receipt: Option<Vec<u8>>, attempt: &Attempt) -> Result<Permit, Denial> {
    let evidence = || Evidence { receipt: receipt.clone(), ..Evidence::default() };
    let pre = match &receipt {
        None => p.gate.check(writ, attempt)?,
        Some(_) => p.gate.check_with(writ, attempt, evidence())?,
    };
    let Some((online, gate, trust)) = &p.online else { return Ok(pre) };
    let (id, envelope) = (pre.verified().id().to_owned(), pre.verified().envelope_digest());
    let issuer = pre.verified().predicate().issuer;
    let consume = pre.verified().scope().uses.is_some();
    let (o, t) = (online.clone(), trust.clone());
    let checked = blocking(move || fetch_status(o.as_ref(), &t, &issuer, &id, &envelope, consume)).await??;
    let evidence = Evidence { status: checked.status, use_count: checked.use_count, ..evidence() };
    gate.check_with(writ, attempt, evidence)
}

enum Answer {
    Upstream(hyper::http::response::Parts, Bytes),
    Failed(StatusCode, String),
}

/// Records `exec_start`, sends the permitted request upstream, records
/// `exec_end`. Takes the [`Permit`]: method and path come from what was
/// checked.
async fn forward(
    p: &Arc<Proxy>,
    permit: Permit,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Denial> {
    let Attempt::Http(a) = permit.attempt() else {
        return Err(Denial::new(DenialCode::ScopeAction, "this permit is not for an HTTP request"));
    };
    let mut req = Request::builder().method(a.method.as_str()).uri(format!("{}{}", p.upstream, a.path));
    for (k, v) in headers {
        if forwarded_request_header(k.as_str()) {
            req = req.header(k, v);
        }
    }
    req = req.header(header::HOST, p.upstream_authority.clone());
    let req = req
        .body(Full::new(body))
        .map_err(|e| Denial::new(DenialCode::Internal, format!("cannot build the upstream request: {e}")))?;
    // INVARIANT: nothing is forwarded unrecorded: exec_start is durable (spooled
    // with fsync, or in the ledger with a verified acknowledgement) before the
    // request leaves.
    let start = start_entry(&permit, a, &p.hostname);
    let not_recorded =
        |e: writ_gate::RecordError| Denial::new(DenialCode::RecordFailed, format!("exec_start not recorded: {e}"));
    match p.recorder.record_spooled(&start) {
        // Offline: written now, then awaited through the spool's group
        // commit without a blocking-pool thread per request.
        Some(written) => written.map_err(not_recorded)?.await.map_err(not_recorded)?,
        None => {
            let q = p.clone();
            blocking(move || q.recorder.record(&start)).await?.map_err(not_recorded)?
        }
    };
    let ids = permit.ids();
    let began = Instant::now();
    let call = async {
        let resp = p.client.request(req).await.map_err(|e| (StatusCode::BAD_GATEWAY, format!("upstream: {e}")))?;
        let (mut parts, incoming) = resp.into_parts();
        let drop: Vec<HeaderName> = parts.headers.keys().filter(|k| !forwarded_response_header(k)).cloned().collect();
        for k in drop {
            parts.headers.remove(k);
        }
        match Limited::new(incoming, p.limits.max_response).collect().await {
            Ok(b) => Ok((parts, b.to_bytes())),
            Err(e) => Err((StatusCode::BAD_GATEWAY, format!("upstream response body: {e}"))),
        }
    };
    let answer = match tokio::time::timeout(p.limits.upstream_timeout, call).await {
        Ok(Ok((parts, b))) => Answer::Upstream(parts, b),
        Ok(Err((s, e))) => Answer::Failed(s, e),
        Err(_) => Answer::Failed(
            StatusCode::GATEWAY_TIMEOUT,
            format!("the upstream did not answer within {} s", p.limits.upstream_timeout.as_secs()),
        ),
    };
    let answered = match &answer {
        Answer::Upstream(parts, b) => Some((parts.status.as_u16(), b.as_ref())),
        Answer::Failed(..) => None,
    };
    let end = end_entry(ids, &p.hostname, answered, began.elapsed());
    let recorded = if p.recorder.api().is_none() {
        // Offline, the end record is a signature and one `write` without
        // `fdatasync` (Durability::Lazy): done here, which saves a hop to the
        // blocking pool and back for every request.
        Ok(p.recorder.record_or_spool(&end, Durability::Lazy))
    } else {
        let q = p.clone();
        blocking(move || q.recorder.record_or_spool(&end, Durability::Lazy)).await
    };
    match recorded {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("writ proxy: warning: the exec_end record was not taken: {e}"),
        Err(e) => eprintln!("writ proxy: warning: the exec_end record was not written: {}", e.detail),
    }
    Ok(match answer {
        Answer::Upstream(parts, b) => Response::from_parts(parts, Full::new(b)),
        Answer::Failed(s, e) => plain(s, e),
    })
}

async fn handle(p: Arc<Proxy>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let writ = writ_from(&parts.headers);
    let claimed = writ.as_ref().map(|(w, _)| w.clone()).unwrap_or_default();
    let body = match Limited::new(body, p.limits.max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let d = Denial::new(DenialCode::TooLarge, format!("the body is larger than {} bytes", p.limits.max_body));
            return refuse(&p, d, &claimed).await;
        }
    };
    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        let d = Denial::new(DenialCode::Malformed, "absolute-form request targets are not accepted; send a path");
        return refuse(&p, d, &claimed).await;
    }
    if parts.uri.query().is_some() {
        let d = Denial::new(DenialCode::ScopeArgs, "query strings are not covered by writs; send none");
        return refuse(&p, d, &claimed).await;
    }
    let path = match path::normalize(parts.uri.path()) {
        Ok(path) => path,
        Err(d) => return refuse(&p, d, &claimed).await,
    };
    let (writ, receipt) = match writ {
        Ok(w) => w,
        Err(d) => return refuse(&p, d, &claimed).await,
    };
    let attempt = Attempt::Http(HttpAttempt {
        method: parts.method.as_str().to_owned(),
        path,
        body_sha256: Sha256Digest::of(&body),
    });
    let result = match check(&p, &writ, receipt, &attempt).await {
        Ok(permit) => forward(&p, permit, &parts.headers, body).await,
        Err(d) => Err(d),
    };
    match result {
        Ok(r) => r,
        Err(d) => refuse(&p, d, &writ).await,
    }
}

/// A bound proxy, ready to serve.
pub struct Server {
    listener: std::net::TcpListener,
    proxy: Arc<Proxy>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("listener", &self.listener).finish_non_exhaustive()
    }
}

fn upstream_authority(upstream: &str) -> Result<(String, HeaderValue), ProxyError> {
    let bad = || ProxyError::Upstream(upstream.to_owned());
    let trimmed = upstream.trim_end_matches('/');
    let rest = trimmed.strip_prefix("http://").ok_or_else(bad)?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains(['@', '?', '#']) {
        return Err(bad());
    }
    Ok((trimmed.to_owned(), HeaderValue::from_str(authority).map_err(|_| bad())?))
}

impl Server {
    /// Binds the listener.
    ///
    /// # Errors
    ///
    /// A bad upstream URL, or the address cannot be bound.
    pub fn bind(cfg: ProxyConfig) -> Result<Self, ProxyError> {
        let (upstream, upstream_authority) = upstream_authority(&cfg.upstream)?;
        let (gate, online) = match cfg.online {
            None => (Gate::new(cfg.trust, cfg.host.clone()).with_mode(Mode::Offline).with_memo(), None),
            Some(o) => {
                let pre = Gate::new(cfg.trust.clone(), cfg.host.clone()).with_mode(Mode::Check).with_memo();
                let gate = Gate::new(cfg.trust.clone(), cfg.host.clone()).with_mode(Mode::Online);
                (pre, Some((o, gate, cfg.trust)))
            }
        };
        let listener = std::net::TcpListener::bind(cfg.listen)?;
        listener.set_nonblocking(true)?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(cfg.limits.upstream_timeout));
        let proxy = Arc::new(Proxy {
            gate,
            online,
            recorder: Arc::new(cfg.recorder),
            hostname: cfg.host.hostname,
            upstream,
            upstream_authority,
            limits: cfg.limits,
            client: Client::builder(TokioExecutor::new()).build(connector),
        });
        Ok(Self { listener, proxy })
    }

    /// The address it listens on.
    ///
    /// # Errors
    ///
    /// As `TcpListener::local_addr`.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends.
    ///
    /// # Errors
    ///
    /// The runtime cannot start, or accepting fails.
    pub fn run(self) -> Result<(), ProxyError> {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        rt.block_on(self.serve())
    }

    async fn serve(self) -> Result<(), ProxyError> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let slots = Arc::new(tokio::sync::Semaphore::new(self.proxy.limits.max_connections));
        let header_timeout = self.proxy.limits.header_read_timeout;
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("writ proxy: warning: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt as _;
                    let mut stream = stream;
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
                continue;
            };
            let p = self.proxy.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let p = p.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(p, req).await) }
                });
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                drop(slot);
            });
        }
    }
}
