//! writ-core for the browser and Node.js.
//!
//! The functions here take and return JSON text so that JavaScript needs no
//! knowledge of Rust types; they call exactly the same [`writ_core::verify`]
//! as the gate and the CLI, which is what makes a verdict in the browser the
//! verdict of the gate. `tests/wasm/` runs the `testdata/` vectors through
//! the compiled module under Node.js and demands the native verdicts.
#![forbid(unsafe_code)]

use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;
use writ_core::spec::ContextSpec;
use writ_core::{DenialCode, TrustRoot, verify};

/// Verifies `envelope` against a trust root (JSON text) and a context (JSON,
/// see `docs/format.md`, "Context files"); returns a JSON verdict
/// `{"verdict": "allow"|"deny", "code": …, "detail": …, "writ_id": …}`.
#[wasm_bindgen(js_name = verify)]
#[must_use]
pub fn verify_json(envelope: &[u8], trust_json: &str, context_json: &str) -> String {
    let trust = match TrustRoot::from_json(trust_json.as_bytes()) {
        Ok(t) => t,
        Err(e) => return deny(DenialCode::Internal, &format!("trust root: {e}"), None),
    };
    let ctx =
        match serde_json::from_str::<ContextSpec>(context_json).map_err(|e| e.to_string()).and_then(|s| s.to_context())
        {
            Ok(c) => c,
            Err(e) => return deny(DenialCode::Internal, &format!("context: {e}"), None),
        };
    match verify(envelope, &trust, &ctx) {
        Ok(v) => json!({
            "verdict": "allow",
            "code": null,
            "writ_id": v.id(),
            "envelope_sha256": v.envelope_digest().to_string(),
            "statement": v.statement(),
        })
        .to_string(),
        Err(d) => deny(d.code, &d.detail, None),
    }
}

fn deny(code: DenialCode, detail: &str, writ_id: Option<&str>) -> String {
    json!({"verdict": "deny", "code": code.as_str(), "detail": detail, "writ_id": writ_id}).to_string()
}

/// Every denial code with its hint, as JSON (for the console's legend).
#[wasm_bindgen(js_name = denialCodes)]
#[must_use]
pub fn denial_codes() -> String {
    let codes: Vec<_> = DenialCode::ALL.iter().map(|c| json!({"code": c.as_str(), "hint": c.hint()})).collect();
    serde_json::Value::Array(codes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use writ_core::fixtures;

    #[test]
    fn json_verdicts_match_native_verify() {
        let trust = fixtures::trust_root(false).to_json_pretty();
        for v in fixtures::vectors().into_iter().filter(|v| v.trust == "trust.json") {
            let out: serde_json::Value =
                serde_json::from_str(&verify_json(&v.envelope, &trust, &serde_json::to_string(&v.context).unwrap()))
                    .unwrap();
            assert_eq!(out["code"].as_str(), v.expected.map(|c| c.as_str()), "{}", v.name);
        }
    }
}
