//! The web pages and the public read API behind them.
//!
//! - `/proofs`: the Proof Viewer. Opens a writ by id, by ledger index, or
//!   from files the user drops, and verifies it in the page with writ-core
//!   compiled to WebAssembly (`/web/assets/writ_wasm_bg.wasm`, built by
//!   `scripts/build-web.sh` and committed) against the trust root the user
//!   pinned by digest.
//! - `/lineage`: the Lineage Explorer. Search, focus views (layered layout
//!   computed in Rust, drawn as SVG), impact queries and the gap report.
//! - `/v1/public/...`: JSON over the ledger (decoded entry, search,
//!   neighbourhood, bundle, consistency proof, impact, gaps).
//!
//! Everything here is read from the ledger through an in-memory
//! [`index::Index`] that catches up with the ledger on each call; the
//! authority's state database is used for one thing only, the writ
//! envelope of an issuance, and only after its digest matched the ledger's
//! issuance entry. Pages are server-rendered HTML with no inline script or
//! style; every response carries [`SECURITY_HEADERS`].

mod api;
mod assets;
mod console;
mod console_enrol;
mod console_history;
pub mod console_hook;
mod console_view;
pub mod demo;
pub mod export;
mod graph;
mod health;
mod html;
mod index;
mod pages;

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use writ_core::Sha256Digest;
use writ_core::entry::Entry;

use crate::AppState;
pub use console::{revoke_input as console_revoke_input, why_not as console_why_not};
pub use console_hook::Webhooks;
pub use demo::DemoFeed;

/// The Content-Security-Policy of every page: scripts, styles, images and
/// connections from this origin only, no inline script (WebAssembly may be
/// compiled: `'wasm-unsafe-eval'`), no frames, no plugins, forms post here.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Headers added to every response of this module.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// State of the web routes: the authority and the lineage index.
#[derive(Debug)]
pub(crate) struct Web {
    app: Arc<AppState>,
    index: Mutex<index::Index>,
}

type W = axum::extract::State<Arc<Web>>;

/// An error page or JSON error of this module.
#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl WebError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        eprintln!("writ-server: web: {e}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the ledger cannot be read now; see the authority's log",
        )
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

/// Error rendered as a page (for the HTML routes).
pub(crate) struct PageError(WebError);

impl From<WebError> for PageError {
    fn from(e: WebError) -> Self {
        Self(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = html::page(
            "Error",
            html::Nav::Proofs,
            &format!(
                "<h1>{}</h1><p class=\"notice bad\">{}</p><p><a href=\"/proofs\">Proof Viewer</a> · <a href=\"/lineage\">Lineage Explorer</a></p>",
                self.0.status.as_u16(),
                html::esc(&self.0.message)
            ),
            &[],
        );
        (self.0.status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body)
            .into_response()
    }
}

impl Web {
    /// Runs `f` on the index after catching it up with the ledger, off the
    /// async runtime.
    async fn with_index<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&index::Index, &AppState) -> Result<T, WebError> + Send + 'static,
    ) -> Result<T, WebError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut ix = me.index.lock().unwrap_or_else(PoisonError::into_inner);
            ix.catch_up(me.app.authority.ledger()).map_err(WebError::internal)?;
            f(&ix, &me.app)
        })
        .await
        .map_err(WebError::internal)?
    }
}

/// The envelope of an issued writ, if the authority still holds it and its
/// digest is the one the ledger recorded (the state database is not trusted
/// for anything else).
fn envelope_for(app: &AppState, issuance: &Entry) -> Option<(String, String)> {
    let (writ_id, digest) = match issuance {
        Entry::Issuance(is) => (&is.writ_id, is.envelope_digest),
        // A recorded delegated writ: the child's envelope and the receipt
        // of its `delegation` entry.
        Entry::Delegation(d) => (&d.writ_id, d.envelope_digest),
        _ => return None,
    };
    let v = app.authority.writ(writ_id).ok()?;
    (Sha256Digest::of(v.writ.as_bytes()) == digest).then_some((v.writ, v.receipt))
}

/// The quorum a writ's envelope demands (`governance.approvals_required`),
/// when the envelope is known and matches the ledger.
fn quorum_for(app: &AppState, issuance: &Entry) -> Option<u32> {
    let (env, _) = envelope_for(app, issuance)?;
    let d = writ_core::dsse::decode(env.as_bytes()).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&d.payload).ok()?;
    v.pointer("/predicate/governance/approvals_required")?.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// A ledger entry as JSON (see [`writ_core::entry::Entry::to_json`]).
#[must_use]
pub(crate) fn entry_json(e: &Entry) -> Value {
    e.to_json()
}

/// Gate hosts the trust root knows: the names of its keys with role `gate`.
fn gate_names(app: &AppState) -> Vec<String> {
    app.authority
        .trust()
        .keys()
        .iter()
        .filter(|k| k.has_role(writ_core::Role::Gate))
        .map(|k| k.entry.name.clone())
        .collect()
}

async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (k, v) in SECURITY_HEADERS {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    resp
}

/// The web routes, with their own state; merge into the API router.
pub fn routes<S: Clone + Send + Sync + 'static>(app: Arc<AppState>) -> Router<S> {
    let web = Arc::new(Web { app, index: Mutex::new(index::Index::default()) });
    Router::new()
        .route("/proofs", get(pages::proofs))
        .route("/lineage", get(pages::lineage))
        .route("/lineage/impact", get(pages::impact))
        .route("/lineage/gaps", get(pages::gaps))
        .route("/health", get(health::health))
        .route("/demo", get(demo::page))
        .route("/demo/steps.json", get(demo::steps))
        .route("/web/assets/{name}", get(assets::asset))
        .merge(console::routes(web.clone()))
        .route("/v1/public/entries/{index}", get(api::entry))
        .route("/v1/public/search", get(api::search))
        .route("/v1/public/lineage/{index}", get(api::lineage))
        .route("/v1/public/bundle/{index}", get(api::bundle))
        .route("/v1/public/writs/{id}/bundle", get(api::writ_bundle))
        .route("/v1/public/consistency", get(api::consistency))
        .route("/v1/public/impact", get(api::impact))
        .route("/v1/public/gaps", get(api::gaps))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(web)
}

/// OpenAPI 3.1 path items of the public read API (`/v1/public/...`), for
/// `openapi::document()` to merge into its `paths` (their errors use the
/// document's `#/components/schemas/Error`). Pages and assets are not API.
#[must_use]
pub fn openapi_paths() -> Value {
    let err = json!({"description": "error: see `error.code`", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let obj = json!({"application/json": {"schema": {"type": "object"}}});
    let q = |name: &str, ty: &str, desc: &str| json!({"name": name, "in": "query", "required": false, "description": desc, "schema": {"type": ty, "minimum": 0}});
    let qs = |name: &str, desc: &str| json!({"name": name, "in": "query", "required": false, "description": desc, "schema": {"type": "string"}});
    let index = json!({"name": "index", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}});
    let op = |id: &str, summary: &str, params: Vec<Value>| {
        json!({"get": {"operationId": id, "summary": summary, "parameters": params,
            "responses": {"200": {"description": "OK", "content": obj.clone()}, "400": err.clone(), "404": err.clone(), "default": err.clone()}}})
    };
    let page = q("page", "integer", "page number, from 0 (50 rows a page)");
    json!({
        "/v1/public/entries/{index}": op("publicEntry", "One ledger entry, decoded", vec![index.clone()]),
        "/v1/public/search": op("publicSearch", "Search the ledger: writ id, request id, requester, approver, program digest or key id; kind; time range", vec![
            qs("q", "exact id, name or digest"), qs("kind", "entry kind"), qs("from", "YYYY-MM-DD or RFC 3339"), qs("to", "YYYY-MM-DD or RFC 3339"), page.clone()]),
        "/v1/public/lineage/{index}": op("publicLineage", "Lineage neighbourhood of an entry, laid out in layers", vec![index.clone(), q("hops", "integer", "hops from the entry (at most 6)")]),
        "/v1/public/bundle/{index}": op("publicBundle", "Proof bundle of an entry: entry, inclusion proof (tlog-proof) against the latest checkpoint; for an issuance also the writ and its receipt", vec![index]),
        "/v1/public/writs/{id}/bundle": op("publicWritBundle", "Proof bundle of a writ's issuance", vec![json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})]),
        "/v1/public/consistency": op("publicConsistency", "RFC 9162 consistency proof between two tree sizes", vec![
            json!({"name": "old", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 0}}),
            json!({"name": "new", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 0}})]),
        "/v1/public/impact": op("publicImpact", "Impact of a key (every writ it issued or approved and every run under them) or of a writ (its runs and children)", vec![qs("key", "key id"), qs("writ", "writ id"), page.clone()]),
        "/v1/public/gaps": op("publicGaps", "Gap report over the whole ledger", vec![page]),
    })
}
