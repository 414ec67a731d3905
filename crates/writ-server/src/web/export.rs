//! `writ proofs export`: one self-contained HTML file that verifies a proof
//! bundle with no server at all (opened from `file://`, offline).
//!
//! Browsers refuse to load module scripts or `fetch` files from a `file://`
//! page, so everything is inline: the stylesheet, the wasm-bindgen glue, the
//! verification code shared with the Proof Viewer, the WebAssembly module
//! (base64) and the bundle (a JSON data block). The page's own
//! Content-Security-Policy allows exactly that script and that style, by
//! their SHA-256, and nothing else.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::assets;
use super::html::esc;

/// File name of the page inside the export directory.
pub const PAGE_FILE: &str = "index.html";
/// File name of the bundle beside it.
pub const BUNDLE_FILE: &str = "bundle.json";

fn csp_hash(s: &str) -> String {
    format!("'sha256-{}'", STANDARD.encode(Sha256::digest(s.as_bytes())))
}

/// The offline page for `bundle` (the JSON text of a proof bundle with a
/// `trust` member: the trust root the page verifies against, pinned by the
/// digest printed on it), titled `title`.
#[must_use]
pub fn offline_page(bundle: &str, title: &str) -> String {
    let script = format!(
        "{}\n{}\nconst WASM_B64 = \"{}\";\n{}\n",
        assets::WASM_JS,
        assets::VERIFY_JS,
        STANDARD.encode(assets::WASM),
        assets::OFFLINE_JS
    );
    // INVARIANT: the data block cannot end the script element early: every
    // `<` of the JSON text is written as its JSON escape.
    let data = bundle.replace('<', "\\u003c");
    let csp = format!(
        "default-src 'none'; script-src {} 'wasm-unsafe-eval'; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(&script),
        csp_hash(assets::STYLE_CSS)
    );
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{t} · writ offline proof</title>\n\
         <style>{css}</style>\n</head>\n<body>\n<header class=\"top\"><span class=\"brand\">writ</span><nav aria-label=\"Main\"><span>Offline proof</span></nav></header>\n\
         <main id=\"main\">\n<h1>Offline proof: {t}</h1>\n\
         <noscript><p class=\"notice warn\">Verification needs JavaScript: the checks run in this page with writ-core compiled to WebAssembly.</p></noscript>\n\
         <p class=\"lede\">This file verifies the writ and its ledger receipt below with no server: writ-core runs in this page, against the trust root \
         embedded in the bundle. Compare that trust root's digest (shown below) with the one you trust before believing a green result.</p>\n\
         <section class=\"card\" id=\"trust\"><h2>Trust root</h2><p id=\"trust-status\" role=\"status\">Loading…</p></section>\n\
         <section id=\"result\" aria-live=\"polite\"></section>\n\
         </main>\n<script type=\"application/json\" id=\"bundle\">{data}</script>\n<script type=\"module\">{script}</script>\n</body>\n</html>\n",
        t = esc(title),
        css = assets::STYLE_CSS,
    )
}
