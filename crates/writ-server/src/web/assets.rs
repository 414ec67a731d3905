//! Static assets compiled into the binary: the stylesheet, the page
//! scripts (hand-written ES modules, no build step) and the WebAssembly
//! verifier with its wasm-bindgen glue (built by `scripts/build-web.sh`,
//! committed, rebuilt and diffed in CI).

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The glue module wasm-bindgen writes for `--target web`.
pub const WASM_JS: &str = include_str!("assets/writ_wasm.js");
/// writ-core compiled to WebAssembly.
pub const WASM: &[u8] = include_bytes!("assets/writ_wasm_bg.wasm");
/// The same, gzip-compressed (`gzip -9 -n`), for clients that accept it.
pub const WASM_GZ: &[u8] = include_bytes!("assets/writ_wasm_bg.wasm.gz");
/// Shared page code: loading the verifier, pinning the trust root.
pub const COMMON_JS: &str = include_str!("assets/common.js");
/// Verification and rendering of a writ + receipt (no imports, so the
/// offline export can inline it).
pub const VERIFY_JS: &str = include_str!("assets/verify.js");
/// The Proof Viewer's script.
pub const PROOFS_JS: &str = include_str!("assets/proofs.js");
/// The Lineage Explorer's script (verify badges).
pub const LINEAGE_JS: &str = include_str!("assets/lineage.js");
/// The demo page's script (polls the scenario's steps).
pub const DEMO_JS: &str = include_str!("assets/demo.js");
/// The Governance Console's script (sign-in, signing, votes).
pub const CONSOLE_JS: &str = include_str!("assets/console.js");
/// The passkey enrolment page.
pub const ENROL_JS: &str = include_str!("assets/enrol.js");
/// The offline page's bootstrap (used by `writ proofs export`).
pub const OFFLINE_JS: &str = include_str!("assets/offline.js");
/// The one stylesheet.
pub const STYLE_CSS: &str = include_str!("assets/style.css");

fn find(name: &str) -> Option<(&'static str, &'static [u8])> {
    const JS: &str = "text/javascript; charset=utf-8";
    Some(match name {
        "style.css" => ("text/css; charset=utf-8", STYLE_CSS.as_bytes()),
        "writ_wasm.js" => (JS, WASM_JS.as_bytes()),
        "writ_wasm_bg.wasm" => ("application/wasm", WASM),
        "common.js" => (JS, COMMON_JS.as_bytes()),
        "verify.js" => (JS, VERIFY_JS.as_bytes()),
        "proofs.js" => (JS, PROOFS_JS.as_bytes()),
        "lineage.js" => (JS, LINEAGE_JS.as_bytes()),
        "demo.js" => (JS, DEMO_JS.as_bytes()),
        "console.js" => (JS, CONSOLE_JS.as_bytes()),
        "enrol.js" => (JS, ENROL_JS.as_bytes()),
        _ => return None,
    })
}

pub(crate) async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().split(';').next() == Some("gzip") && !t.contains("q=0"));
    if name == "writ_wasm_bg.wasm" && gzip {
        return (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/wasm")),
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                (header::VARY, HeaderValue::from_static("accept-encoding")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            WASM_GZ,
        )
            .into_response();
    }
    match find(&name) {
        Some((ct, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}
