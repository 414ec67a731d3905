//! The gateway in front of a Streamable HTTP MCP server.
//!
//! Every `POST` carries one JSON-RPC message. Its writs come from the
//! `Writ` header (repeatable) and from `params._meta`; the message the
//! upstream gets has neither, nor the client's `Authorization` (no token
//! passes through), and its `Mcp-Method`/`Mcp-Name` headers, when the
//! client sent them, are set from the checked message. The upstream's
//! answer (JSON or an SSE stream, read whole) is rewritten only where the
//! gateway must: the tool list filtered, the call's result recorded.
//! `GET` and `DELETE` (the server's stream, ending a session) pass through
//! with the same header rules; `Mcp-Session-Id` passes both ways.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Either, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::Value;

use crate::gateway::{Gateway, HEADER, Inbound, PARSE_ERROR, Pending, Presented, denial_error, error, header_writ};

type Body = Either<Full<Bytes>, Incoming>;

/// Limits of the HTTP gateway.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Largest upstream answer read (JSON or a whole SSE stream), in bytes.
    pub max_response: usize,
    /// Time the upstream has to answer a `POST`, body included.
    pub upstream_timeout: Duration,
    /// Time a client has to send the request head.
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 4 << 20,
            max_response: 64 << 20,
            upstream_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug)]
pub enum HttpError {
    /// The upstream URL is not `http://host:port/path`.
    Upstream(String),
    /// Listening or serving failed.
    Io(std::io::Error),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Upstream(u) => write!(f, "upstream `{u}` must be an `http://host:port/path` URL"),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<std::io::Error> for HttpError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

struct State {
    gateway: Gateway,
    upstream: hyper::Uri,
    authority: HeaderValue,
    limits: Limits,
    client: Client<HttpConnector, Body>,
}

/// A bound HTTP gateway.
pub struct Server {
    listener: std::net::TcpListener,
    state: Arc<State>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("listener", &self.listener).finish_non_exhaustive()
    }
}

const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Whether a client header goes upstream: not hop-by-hop, not the writ,
/// not a credential of the client's.
fn forwarded_request_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    !(HOP_BY_HOP.contains(&n) || n == HEADER || n == "authorization" || n == "cookie")
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(Either::Left(Full::new(Bytes::from(v.to_string()))));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Either::Left(Full::new(Bytes::new())));
    *r.status_mut() = status;
    r
}

impl Server {
    /// Binds `listen` for a gateway in front of `upstream` (the server's
    /// MCP endpoint, e.g. `http://127.0.0.1:8000/mcp`; every request goes there).
    ///
    /// # Errors
    /// A bad upstream URL, or the address cannot be bound.
    pub fn bind(gateway: Gateway, listen: SocketAddr, upstream: &str, limits: Limits) -> Result<Self, HttpError> {
        let bad = || HttpError::Upstream(upstream.to_owned());
        let uri: hyper::Uri = upstream.parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("http") || uri.query().is_some() {
            return Err(bad());
        }
        let authority = uri.authority().ok_or_else(bad)?.as_str().to_owned();
        if authority.contains('@') {
            return Err(bad());
        }
        let authority = HeaderValue::from_str(&authority).map_err(|_| bad())?;
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(limits.upstream_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { listener, state: Arc::new(State { gateway, upstream: uri, authority, limits, client }) })
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// As `TcpListener::local_addr`.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends.
    ///
    /// # Errors
    /// The runtime cannot start, or accepting fails.
    pub fn run(self) -> Result<(), HttpError> {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        rt.block_on(self.serve())
    }

    async fn serve(self) -> Result<(), HttpError> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let header_timeout = self.state.limits.header_read_timeout;
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("writ-gate mcp: warning: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let state = self.state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let s = state.clone();
                    async move { Ok::<_, Infallible>(handle(s, req).await) }
                });
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    }
}

async fn handle(s: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    match parts.method {
        Method::POST => {}
        Method::GET | Method::DELETE => return pass(&s, &parts.method, &parts.headers, None).await,
        _ => return status_only(StatusCode::METHOD_NOT_ALLOWED),
    }
    let body = match Limited::new(body, s.limits.max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let e =
                error(&Value::Null, PARSE_ERROR, &format!("the body is larger than {} bytes", s.limits.max_body), None);
            return json_response(StatusCode::PAYLOAD_TOO_LARGE, &e);
        }
    };
    let msg: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &error(&Value::Null, PARSE_ERROR, &format!("not JSON: {e}"), None),
            );
        }
    };
    let mut writs: Vec<Presented> = Vec::new();
    for v in parts.headers.get_all(HEADER) {
        match header_writ(v.as_bytes()) {
            Ok(p) => writs.push(p),
            Err(d) => {
                return json_response(StatusCode::OK, &denial_error(msg.get("id").unwrap_or(&Value::Null), &d, None));
            }
        }
    }
    let id = msg.get("id").cloned();
    let st = s.clone();
    let decided = tokio::task::spawn_blocking(move || st.gateway.inbound(msg, &writs)).await;
    match decided {
        Ok(Inbound::Reply(v)) => json_response(StatusCode::OK, &v),
        Ok(Inbound::Drop) => status_only(StatusCode::ACCEPTED),
        Ok(Inbound::Forward { message, pending }) => forward(&s, &parts.headers, message, pending).await,
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error(&id.unwrap_or(Value::Null), -32603, "the gateway failed while deciding", None),
        ),
    }
}

fn upstream_request(s: &State, method: &Method, headers: &HeaderMap, body: Option<Bytes>) -> Option<Request<Body>> {
    let mut req = Request::builder().method(method.clone()).uri(s.upstream.clone());
    for (k, v) in headers {
        if forwarded_request_header(k) {
            req = req.header(k, v);
        }
    }
    req = req.header(header::HOST, s.authority.clone());
    let body = Either::Left(Full::new(body.unwrap_or_default()));
    req.body(body).ok()
}

fn copy_response_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (k, v) in from {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            to.append(k.clone(), v.clone());
        }
    }
}

/// `GET`/`DELETE`: passed through, the answer streamed back.
async fn pass(s: &State, method: &Method, headers: &HeaderMap, body: Option<Bytes>) -> Response<Body> {
    let Some(req) = upstream_request(s, method, headers, body) else {
        return status_only(StatusCode::BAD_REQUEST);
    };
    match s.client.request(req).await {
        Ok(resp) => {
            let (parts, incoming) = resp.into_parts();
            let mut r = Response::new(Either::Right(incoming));
            *r.status_mut() = parts.status;
            copy_response_headers(&parts.headers, r.headers_mut());
            r
        }
        Err(e) => {
            let mut r = json_response(StatusCode::BAD_GATEWAY, &Value::String(format!("upstream: {e}")));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
    }
}

/// The checked message upstream; its answer through [`Gateway::outbound`].
async fn forward(s: &Arc<State>, headers: &HeaderMap, message: Value, pending: Pending) -> Response<Body> {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let mut headers = headers.clone();
    // Routing headers say what was checked, never what the client claimed.
    if headers.contains_key("mcp-method")
        && let Some(Ok(v)) = message.get("method").and_then(Value::as_str).map(HeaderValue::from_str)
    {
        headers.insert("mcp-method", v);
    }
    if headers.contains_key("mcp-name")
        && let Some(Ok(v)) =
            message.get("params").and_then(|p| p.get("name")).and_then(Value::as_str).map(HeaderValue::from_str)
    {
        headers.insert("mcp-name", v);
    }
    let Some(req) = upstream_request(s, &Method::POST, &headers, Some(Bytes::from(message.to_string()))) else {
        let st = s.clone();
        let e = tokio::task::spawn_blocking(move || st.gateway.upstream_failed(pending, &id, "bad request head")).await;
        return json_response(StatusCode::BAD_GATEWAY, &e.unwrap_or(Value::Null));
    };
    let call = async {
        let resp = s.client.request(req).await.map_err(|e| format!("upstream: {e}"))?;
        let (parts, incoming) = resp.into_parts();
        match Limited::new(incoming, s.limits.max_response).collect().await {
            Ok(b) => Ok((parts, b.to_bytes())),
            Err(e) => Err(format!("upstream answer: {e}")),
        }
    };
    let answer = match tokio::time::timeout(s.limits.upstream_timeout, call).await {
        Ok(Ok(a)) => a,
        Ok(Err(why)) => return failed(s, pending, id, why).await,
        Err(_) => {
            let why = format!("no answer within {} s", s.limits.upstream_timeout.as_secs());
            return failed(s, pending, id, why).await;
        }
    };
    let (parts, bytes) = answer;
    if matches!(pending, Pending::Pass) || !parts.status.is_success() {
        if !matches!(pending, Pending::Pass) {
            let why = format!("HTTP {}", parts.status);
            let st = s.clone();
            let (p, i) = (pending, id);
            let _ = tokio::task::spawn_blocking(move || st.gateway.upstream_failed(p, &i, &why)).await;
        }
        let mut r = Response::new(Either::Left(Full::new(bytes)));
        *r.status_mut() = parts.status;
        copy_response_headers(&parts.headers, r.headers_mut());
        return r;
    }
    let sse = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let st = s.clone();
    let rewritten = tokio::task::spawn_blocking(move || {
        if sse {
            rewrite_sse(&st.gateway, &bytes, &id, pending)
        } else {
            rewrite_json(&st.gateway, &bytes, &id, pending)
        }
    })
    .await
    .unwrap_or_default();
    let mut r = Response::new(Either::Left(Full::new(Bytes::from(rewritten))));
    *r.status_mut() = parts.status;
    copy_response_headers(&parts.headers, r.headers_mut());
    r
}

async fn failed(s: &Arc<State>, pending: Pending, id: Value, why: String) -> Response<Body> {
    let st = s.clone();
    let e = tokio::task::spawn_blocking(move || st.gateway.upstream_failed(pending, &id, &why)).await;
    json_response(StatusCode::BAD_GATEWAY, &e.unwrap_or(Value::Null))
}

fn rewrite_json(gw: &Gateway, bytes: &[u8], id: &Value, pending: Pending) -> Vec<u8> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) if v.get("id") == Some(id) => gw.outbound(pending, v).to_string().into_bytes(),
        _ => gw
            .upstream_failed(pending, id, "its answer is not the JSON-RPC response to the request")
            .to_string()
            .into_bytes(),
    }
}

/// Rewrites the SSE stream of a `POST`: the event carrying the response to
/// `id` goes through [`Gateway::outbound`]; other events (notifications,
/// the server's requests) pass unchanged.
fn rewrite_sse(gw: &Gateway, bytes: &[u8], id: &Value, pending: Pending) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let mut pending = Some(pending);
    let mut out = String::with_capacity(text.len());
    for event in text.split_inclusive("\n\n") {
        let data: String = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:").map(|d| d.strip_prefix(' ').unwrap_or(d)))
            .collect::<Vec<_>>()
            .join("\n");
        let parsed = serde_json::from_str::<Value>(&data).ok();
        let is_answer = parsed.as_ref().is_some_and(|v| {
            v.get("method").is_none()
                && v.get("id") == Some(id)
                && (v.get("result").is_some() || v.get("error").is_some())
        });
        match (parsed, is_answer, pending.take()) {
            (Some(v), true, Some(p)) => {
                for l in event.lines().filter(|l| !l.starts_with("data:") && !l.is_empty()) {
                    out.push_str(l);
                    out.push('\n');
                }
                out.push_str("data: ");
                out.push_str(&gw.outbound(p, v).to_string());
                out.push_str("\n\n");
            }
            (parsed, _, p) => {
                pending = p;
                if let Some(v) = &parsed {
                    gw.observe(v);
                }
                out.push_str(event);
            }
        }
    }
    if let Some(p) = pending {
        let e = gw.upstream_failed(p, id, "its event stream ended without the response");
        out.push_str("event: message\ndata: ");
        out.push_str(&e.to_string());
        out.push_str("\n\n");
    }
    out.into_bytes()
}
