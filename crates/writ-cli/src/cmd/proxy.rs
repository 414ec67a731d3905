//! `writ proxy`: the gate in front of an HTTP service. Every request must
//! carry a writ whose `http` action permits its method, path and body digest;
//! otherwise it gets `403` with the reason code and is never forwarded.
//!
//! Authorization scheme (see `docs/gate.md`):
//!
//! ```text
//! Authorization: Writ <base64url, no padding, of the DSSE envelope bytes>
//! ```
//!
//! The writ covers the method, the path and the body's SHA-256. What it does
//! not cover is refused or removed rather than forwarded: a request with a
//! query string is denied `scope_args`; `Authorization`, hop-by-hop headers
//! and method-override headers are not forwarded.
//!
//! Records, like `writ exec` (see `docs/gate.md`): each permitted request gets
//! an `exec_start` entry before it is forwarded (online: taken by the
//! authority, or the request is denied `record_failed` and not forwarded;
//! offline: appended to the spool and fsynced) and an `exec_end` entry once the
//! upstream answered; each denial a `denial` entry. Online (`--home DIR` or
//! `--authority URL` with `--key`), every request also needs the writ's signed
//! status, which consumes one use of a limited-use writ.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest as _, Sha256};
use writ_core::entry::{Entry, ExecEnd, ExecStart};
use writ_core::scope::{Attempt, HostFacts, HttpAttempt};
use writ_core::{Denial, DenialCode, Mode, Sha256Digest, TrustRoot};
use writ_gate::{Evidence, Gate, Permit, timestamp_now};

use crate::files;
use crate::gatekit::{GateArgs, Online, Sink, denial_entry, fetch_status, open_spool};

/// Put the gate in front of an HTTP service: forward only requests whose writ
/// permits them, answer the rest `403` with the reason code.
#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on, e.g. `127.0.0.1:7400`.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The service to forward to, e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Trust root, online or offline, spool.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Host labels this host carries (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_body: usize,
    /// Largest upstream response body passed on, in bytes: the proxy reads
    /// the whole body to record its SHA-256 before answering; a larger one
    /// is answered `502` (and recorded as `upstream_error`).
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub max_response: usize,
}

/// The `Authorization` scheme name.
pub const SCHEME: &str = "Writ";

struct Proxy {
    /// Offline: the gate (mode offline). Online: the authenticity and scope
    /// pre-check (mode check), so that a bad writ consumes no use.
    gate: Gate,
    /// Online: the authority, and the gate that checks with its status.
    online: Option<(Arc<dyn Online>, Gate, TrustRoot)>,
    /// Where records go.
    sink: Arc<Sink>,
    spool: PathBuf,
    hostname: String,
    upstream: String,
    max_body: usize,
    max_response: usize,
    client: Client<HttpConnector, Full<axum::body::Bytes>>,
}

fn deny(d: &Denial) -> Response {
    let body = serde_json::json!({"error": {"code": d.code.as_str(), "message": d.detail}}).to_string();
    (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
        .into_response()
}

/// Runs blocking gate I/O (ledger, spool fsync, authority) off the reactor.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Denial> {
    tokio::task::spawn_blocking(f).await.map_err(|_| Denial::new(DenialCode::Internal, "the gate panicked"))
}

/// Records the denial (authority when online, else or as a fallback the
/// spool; best effort: the request is denied either way), then answers 403.
async fn refuse(p: &Arc<Proxy>, d: Denial, writ: &[u8]) -> Response {
    let entry = denial_entry(&d, writ, &p.hostname);
    let q = p.clone();
    match blocking(move || q.sink.record_or_spool(&entry, &q.spool)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("writ proxy: warning: denial not recorded with the authority: {e}"),
        Err(e) => eprintln!("writ proxy: warning: denial not recorded: {}", e.detail),
    }
    deny(&d)
}

/// The writ from `Authorization: Writ <base64url>`.
fn writ_from(headers: &HeaderMap) -> Result<Vec<u8>, Denial> {
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
    if cred.len() > writ_core::limits::MAX_ENVELOPE_BYTES.saturating_mul(4) / 3 + 4 {
        return Err(Denial::new(DenialCode::TooLarge, "the writ in the Authorization header is too large"));
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cred.trim())
        .map_err(|_| malformed("the writ in the Authorization header is not base64url without padding"))
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
const NOT_FORWARDED: [&str; 4] = ["authorization", "x-http-method-override", "x-method-override", "x-http-method"];

fn forwarded(name: &HeaderName) -> bool {
    let n = name.as_str();
    !HOP_BY_HOP.contains(&n) && !NOT_FORWARDED.contains(&n) && n != "content-length"
}

/// SHA-256 over `items`, each as `len:u32be ‖ bytes` (the encoding of the
/// `argv_digest` of `writ exec`'s `exec_start`).
fn list_digest(items: &[&str]) -> Sha256Digest {
    let mut h = Sha256::new();
    for item in items {
        h.update(u32::try_from(item.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(item.as_bytes());
    }
    Sha256Digest(h.finalize().into())
}

/// The `exec_start` entry of a permitted HTTP request: `program_digest` =
/// SHA-256 of the request body, `argv_digest` = the list digest of
/// `[method, path]` (see `docs/gate.md`).
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
fn end_entry(ids: (String, String), host: &str, answer: Option<(u16, &[u8])>, took: std::time::Duration) -> Entry {
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
async fn check(p: &Arc<Proxy>, writ: &[u8], attempt: &Attempt) -> Result<Permit, Denial> {
    // Online: authenticity and scope first, so that a bad writ consumes no use.
    let pre = p.gate.check(writ, attempt)?;
    let Some((online, gate, trust)) = &p.online else { return Ok(pre) };
    let (id, envelope) = (pre.verified().id().to_owned(), pre.verified().envelope_digest());
    let consume = pre.verified().scope().uses.is_some();
    let (o, t) = (online.clone(), trust.clone());
    let checked = blocking(move || fetch_status(o.as_ref(), &t, &id, &envelope, consume)).await??;
    let evidence = Evidence { status: checked.status, use_count: checked.use_count, ..Evidence::default() };
    gate.check_with(writ, attempt, evidence)
}

/// Records `exec_start`, sends the permitted request upstream, records
/// `exec_end`. Takes the [`Permit`]: nothing is forwarded without one, and
/// method and path come from what was checked.
async fn forward(
    p: &Arc<Proxy>,
    permit: Permit,
    headers: &HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Denial> {
    let Attempt::Http(a) = permit.attempt() else {
        return Err(Denial::new(DenialCode::ScopeAction, "this permit is not for an HTTP request"));
    };
    let mut req = axum::http::Request::builder().method(a.method.as_str()).uri(format!("{}{}", p.upstream, a.path));
    for (k, v) in headers {
        if forwarded(k) {
            req = req.header(k, v);
        }
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| Denial::new(DenialCode::Internal, format!("cannot build the upstream request: {e}")))?;
    // INVARIANT: nothing is forwarded unrecorded: exec_start is durable (spooled
    // with fsync, or taken by the authority) before the request leaves.
    let start = start_entry(&permit, a, &p.hostname);
    let q = p.clone();
    blocking(move || q.sink.record(&start))
        .await?
        .map_err(|e| Denial::new(DenialCode::RecordFailed, format!("exec_start not recorded: {e}")))?;
    let ids = permit.ids();
    let began = Instant::now();
    let answer = match p.client.request(req).await {
        Ok(resp) => {
            let (mut parts, incoming) = resp.into_parts();
            let drop: Vec<HeaderName> = parts.headers.keys().filter(|k| !forwarded(k)).cloned().collect();
            for k in drop {
                parts.headers.remove(k);
            }
            match Limited::new(incoming, p.max_response).collect().await {
                Ok(b) => Ok((parts, b.to_bytes())),
                Err(e) => Err(format!("upstream response body: {e}")),
            }
        }
        Err(e) => Err(format!("upstream: {e}")),
    };
    let answered = answer.as_ref().ok().map(|(parts, b)| (parts.status.as_u16(), b.as_ref()));
    let end = end_entry(ids, &p.hostname, answered, began.elapsed());
    let q = p.clone();
    match blocking(move || q.sink.record_or_spool(&end, &q.spool)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("writ proxy: warning: the exec_end record was not taken: {e}"),
        Err(e) => eprintln!("writ proxy: warning: the exec_end record was not written: {}", e.detail),
    }
    Ok(match answer {
        Ok((parts, b)) => Response::from_parts(parts, Body::from(b)),
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
    })
}

async fn handle(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let writ = writ_from(&parts.headers);
    let claimed = writ.as_deref().unwrap_or_default().to_vec();
    let Ok(body) = axum::body::to_bytes(body, p.max_body).await else {
        let d = Denial::new(DenialCode::TooLarge, format!("the body is larger than {} bytes", p.max_body));
        return refuse(&p, d, &claimed).await;
    };
    if parts.uri.query().is_some() {
        let d = Denial::new(DenialCode::ScopeArgs, "query strings are not covered by writs; send none");
        return refuse(&p, d, &claimed).await;
    }
    let writ = match writ {
        Ok(w) => w,
        Err(d) => return refuse(&p, d, &claimed).await,
    };
    let attempt = Attempt::Http(HttpAttempt {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        body_sha256: Sha256Digest::of(&body),
    });
    let result = match check(&p, &writ, &attempt).await {
        Ok(permit) => forward(&p, permit, &parts.headers, body).await,
        Err(d) => Err(d),
    };
    match result {
        Ok(r) => r,
        Err(d) => refuse(&p, d, &writ).await,
    }
}

pub fn run(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    let trust_path = args.gate.trust_path()?;
    let trust = files::read_trust(&trust_path)?;
    let hostname = crate::cmd::verify::hostname();
    let host = HostFacts { hostname: hostname.clone(), labels: args.labels.iter().cloned().collect() };
    let online =
        args.gate.connect().map_err(|d| anyhow::anyhow!("cannot reach the authority ({}): {}", d.code, d.detail))?;
    let (gate, online, sink) = match online {
        None => {
            let spool = open_spool(&args.gate.spool).map_err(|d| anyhow::anyhow!("{}", d.detail))?;
            (Gate::new(trust, host).with_mode(Mode::Offline).with_memo(), None, Sink::Spool(spool))
        }
        Some(o) => {
            let pre = Gate::new(trust.clone(), host.clone()).with_mode(Mode::Check).with_memo();
            let gate = Gate::new(trust.clone(), host).with_mode(Mode::Online);
            (pre, Some((o.clone(), gate, trust)), Sink::Online(o))
        }
    };
    let proxy = Arc::new(Proxy {
        gate,
        online,
        sink: Arc::new(sink),
        spool: args.gate.spool.clone(),
        hostname,
        upstream: args.upstream.trim_end_matches('/').to_owned(),
        max_body: args.max_body,
        max_response: args.max_response,
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    let app = axum::Router::new().fallback(handle).with_state(proxy);
    let rt = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!("writ proxy: {} -> {}", args.listen, args.upstream);
        axum::serve(listener, app).await.context("proxy server")
    })?;
    Ok(ExitCode::SUCCESS)
}
