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

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use writ_core::scope::{Attempt, HostFacts, HttpAttempt};
use writ_core::{Denial, DenialCode, Mode, Sha256Digest};
use writ_gate::{Gate, Permit};

use crate::files;

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
    /// The trust root writs are verified against.
    #[arg(long, value_name = "FILE")]
    pub trust: PathBuf,
    /// Host labels this host carries (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_body: usize,
}

/// The `Authorization` scheme name.
pub const SCHEME: &str = "Writ";

struct Proxy {
    gate: Gate,
    upstream: String,
    max_body: usize,
    client: Client<HttpConnector, Full<axum::body::Bytes>>,
}

fn deny(d: &Denial) -> Response {
    let body = serde_json::json!({"error": {"code": d.code.as_str(), "message": d.detail}}).to_string();
    (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
        .into_response()
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

/// Sends the permitted request upstream. Takes the [`Permit`]: nothing is
/// forwarded without one, and method and path come from what was checked.
async fn forward(p: &Proxy, permit: Permit, headers: &HeaderMap, body: axum::body::Bytes) -> Response {
    let Attempt::Http(a) = permit.attempt() else {
        return deny(&Denial::new(DenialCode::ScopeAction, "this permit is not for an HTTP request"));
    };
    let mut req = axum::http::Request::builder().method(a.method.as_str()).uri(format!("{}{}", p.upstream, a.path));
    for (k, v) in headers {
        if forwarded(k) {
            req = req.header(k, v);
        }
    }
    let req = match req.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return deny(&Denial::new(DenialCode::Internal, format!("cannot build the upstream request: {e}"))),
    };
    match p.client.request(req).await {
        Ok(resp) => {
            let (mut parts, incoming) = resp.into_parts();
            let drop: Vec<HeaderName> = parts.headers.keys().filter(|k| !forwarded(k)).cloned().collect();
            for k in drop {
                parts.headers.remove(k);
            }
            Response::from_parts(parts, Body::new(incoming))
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response(),
    }
}

async fn handle(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, p.max_body).await else {
        return deny(&Denial::new(DenialCode::TooLarge, format!("the body is larger than {} bytes", p.max_body)));
    };
    if parts.uri.query().is_some() {
        return deny(&Denial::new(DenialCode::ScopeArgs, "query strings are not covered by writs; send none"));
    }
    let writ = match writ_from(&parts.headers) {
        Ok(w) => w,
        Err(d) => return deny(&d),
    };
    let attempt = Attempt::Http(HttpAttempt {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        body_sha256: Sha256Digest::of(&body),
    });
    let permit = match p.gate.check(&writ, &attempt) {
        Ok(permit) => permit,
        Err(d) => return deny(&d),
    };
    forward(&p, permit, &parts.headers, body).await
}

pub fn run(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    let trust = files::read_trust(&args.trust)?;
    let host = HostFacts { hostname: crate::cmd::verify::hostname(), labels: args.labels.iter().cloned().collect() };
    let proxy = Arc::new(Proxy {
        gate: Gate::new(trust, host).with_mode(Mode::Offline).with_memo(),
        upstream: args.upstream.trim_end_matches('/').to_owned(),
        max_body: args.max_body,
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
