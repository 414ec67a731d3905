//! The OpenAPI 3.1 document served at `/v1/openapi.json` (prose in `docs/api.md`).

use serde_json::{Value, json};

fn op(summary: &str, auth: bool, ok: &str) -> Value {
    let mut v = json!({
        "summary": summary,
        "responses": {
            ok: {"description": "success"},
            "default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
    });
    if auth && let Some(o) = v.as_object_mut() {
        o.insert("security".into(), json!([{"httpSignature": []}]));
    }
    v
}

/// The document.
#[must_use]
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "writ authority", "version": "1", "description": "See docs/api.md. Authenticated routes need an RFC 9421 Ed25519 HTTP message signature."},
        "paths": {
            "/v1/requests": {"post": op("submit a request for a writ", true, "201"), "get": op("list pending requests (approvers)", true, "200")},
            "/v1/requests/{id}": {"get": op("one request (with its writ once issued, for the requester)", true, "200")},
            "/v1/requests/{id}/approvals": {"post": op("approve or deny, signed over the request digest", true, "200")},
            "/v1/writs/{id}": {"get": op("a writ's state", true, "200")},
            "/v1/writs/{id}/revoke": {"post": op("revoke a writ", true, "200")},
            "/v1/writs/{id}/status": {"post": op("signed status; consume one use atomically", true, "200")},
            "/v1/nonces": {"post": op("a fresh runtime-evidence nonce", true, "201")},
            "/v1/records": {"post": op("record a gate's exec_start / exec_end / denial entry", true, "201")},
            "/v1/log/checkpoint": {"get": op("latest signed checkpoint (C2SP)", false, "200")},
            "/v1/log/tile/{path}": {"get": op("C2SP tlog-tiles", false, "200")},
            "/v1/log/proof/{index}": {"get": op("C2SP tlog-proof of one entry", false, "200")},
            "/v1/log/entries/{index}": {"get": op("one entry's bytes", false, "200")},
            "/v1/log/entries": {"get": op("entries by request_id or writ_id", false, "200")},
            "/v1/trust": {"get": op("the trust root", false, "200")},
            "/healthz": {"get": op("liveness", false, "200")},
            "/readyz": {"get": op("readiness: keys, policy, database and ledger usable", false, "200")},
            "/metrics": {"get": op("Prometheus metrics", false, "200")}
        },
        "components": {
            "securitySchemes": {"httpSignature": {"type": "apiKey", "in": "header", "name": "Signature", "description": "RFC 9421, label sig1, components (\"@method\" \"@path\" \"@query\" \"content-digest\"), params created;keyid;alg=\"ed25519\";nonce"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}
        }
    })
}
