//! The OpenAPI 3.1 document served at `/v1/openapi.json` (prose in
//! `docs/api.md`): every route with its parameters, request body and
//! response schemas, and the one error shape.
//!
//! Checked by `openapi-spec-validator` (tests/openapi.rs) and exercised by
//! schemathesis against a live server (`scripts/schemathesis.sh`).

use serde_json::{Map, Value, json};

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn error_responses(codes: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for c in codes {
        m.insert((*c).into(), json!({"description": "error: see `error.code`", "content": json_content(r("Error"))}));
    }
    m
}

struct Op {
    summary: &'static str,
    id: &'static str,
    auth: bool,
    params: Vec<Value>,
    body: Option<Value>,
    ok: (&'static str, Value),
    errors: &'static [&'static str],
}

impl Op {
    fn build(self) -> Value {
        let mut responses = error_responses(self.errors);
        responses.insert(self.ok.0.into(), self.ok.1);
        if self.auth {
            responses.extend(error_responses(&["401"]));
        }
        responses.insert(
            "default".into(),
            json!({"description": "any other failure, same shape", "content": json_content(r("Error"))}),
        );
        let mut o = Map::new();
        o.insert("summary".into(), self.summary.into());
        o.insert("operationId".into(), self.id.into());
        if !self.params.is_empty() {
            o.insert("parameters".into(), Value::Array(self.params));
        }
        if let Some(b) = self.body {
            o.insert("requestBody".into(), json!({"required": true, "content": json_content(b)}));
        }
        o.insert("responses".into(), Value::Object(responses));
        if self.auth {
            o.insert("security".into(), json!([{"httpSignature": []}]));
        }
        Value::Object(o)
    }
}

fn ok_json(status: &'static str, schema: Value) -> (&'static str, Value) {
    (status, json!({"description": "success", "content": json_content(schema)}))
}

fn ok_text(desc: &str) -> (&'static str, Value) {
    ("200", json!({"description": desc, "content": {"text/plain": {"schema": {"type": "string"}}}}))
}

fn ok_bytes(desc: &str) -> (&'static str, Value) {
    (
        "200",
        json!({"description": desc, "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}),
    )
}

fn id_param(what: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": format!("{what} id (a UUID)"),
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$"}})
}

fn index_param() -> Value {
    json!({"name": "index", "in": "path", "required": true, "description": "ledger index",
           "schema": {"type": "integer", "minimum": 0, "maximum": 9_223_372_036_854_775_807_i64}})
}

fn idem_param() -> Value {
    json!({"name": "Idempotency-Key", "in": "header", "required": false,
           "description": "client-chosen key; a retry with the same key returns the first outcome",
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}})
}

const AUTH_ERRORS: &[&str] = &["400", "403", "413"];

fn paths() -> Value {
    let mut p = Map::new();
    let mut add = |path: &str, method: &str, op: Op| {
        let entry = p.entry(path.to_string()).or_insert_with(|| json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.insert(method.into(), op.build());
        }
    };
    add(
        "/v1/requests",
        "post",
        Op {
            summary: "submit a request for a writ",
            id: "submitRequest",
            auth: true,
            params: vec![idem_param()],
            body: Some(r("RequestInput")),
            ok: ok_json("201", r("RequestView")),
            errors: AUTH_ERRORS,
        },
    );
    add(
        "/v1/requests",
        "get",
        Op {
            summary: "list pending requests (approvers and operators)",
            id: "listPending",
            auth: true,
            params: vec![
                json!({"name": "status", "in": "query", "required": false, "schema": {"type": "string", "enum": ["pending"]}}),
            ],
            body: None,
            ok: ok_json("200", r("PendingList")),
            errors: AUTH_ERRORS,
        },
    );
    add(
        "/v1/requests/{id}",
        "get",
        Op {
            summary: "one request (with its writ once issued, for the requester)",
            id: "getRequest",
            auth: true,
            params: vec![id_param("request")],
            body: None,
            ok: ok_json("200", r("RequestView")),
            errors: &["400", "403", "404"],
        },
    );
    add(
        "/v1/requests/{id}/approvals",
        "post",
        Op {
            summary: "approve or deny, signed over the request digest",
            id: "vote",
            auth: true,
            params: vec![id_param("request"), idem_param()],
            body: Some(r("VoteInput")),
            ok: ok_json("200", r("RequestView")),
            errors: &["400", "403", "404", "409", "413"],
        },
    );
    add(
        "/v1/writs/{id}",
        "get",
        Op {
            summary: "a writ's state and envelope (its requester, the request's approvers, operators)",
            id: "getWrit",
            auth: true,
            params: vec![id_param("writ")],
            body: None,
            ok: ok_json("200", r("WritView")),
            errors: &["400", "403", "404"],
        },
    );
    add(
        "/v1/writs/{id}/revoke",
        "post",
        Op {
            summary: "revoke a writ",
            id: "revoke",
            auth: true,
            params: vec![id_param("writ"), idem_param()],
            body: Some(r("RevokeInput")),
            ok: ok_json("200", r("WritView")),
            errors: &["400", "403", "404", "409", "413"],
        },
    );
    add(
        "/v1/writs/{id}/status",
        "post",
        Op {
            summary: "signed status (a DSSE envelope); consume one use atomically (gates)",
            id: "status",
            auth: true,
            params: vec![id_param("writ")],
            body: Some(r("StatusInput")),
            ok: ok_json("200", r("Envelope")),
            errors: &["400", "403", "404", "409", "413"],
        },
    );
    add(
        "/v1/writs/{id}/start",
        "post",
        Op {
            summary: "a gate's start: the writ's signed status and its exec_start in one transaction \
                      (refused when the writ is revoked or used up)",
            id: "start",
            auth: true,
            params: vec![id_param("writ")],
            body: Some(r("StartInput")),
            ok: ok_json("201", r("StartView")),
            errors: &["400", "403", "404", "409", "413"],
        },
    );
    add(
        "/v1/nonces",
        "post",
        Op {
            summary: "a fresh runtime-evidence nonce",
            id: "newNonce",
            auth: true,
            params: vec![],
            body: Some(json!({"type": "object", "additionalProperties": false})),
            ok: ok_json("201", r("NonceView")),
            errors: AUTH_ERRORS,
        },
    );
    add(
        "/v1/records",
        "post",
        Op {
            summary: "record a gate's exec_start / exec_end / denial entry",
            id: "record",
            auth: true,
            params: vec![],
            body: Some(r("RecordInput")),
            ok: ok_json("201", r("RecordView")),
            errors: AUTH_ERRORS,
        },
    );
    add(
        "/v1/delegations",
        "post",
        Op {
            summary: "record a delegated writ (signed by its parent's holder key) with its chain; \
                      its status and uses are then answered and counted against its ancestors",
            id: "recordDelegation",
            auth: true,
            params: vec![],
            body: Some(r("DelegationInput")),
            ok: ok_json("201", r("DelegationView")),
            errors: AUTH_ERRORS,
        },
    );
    add(
        "/v1/delegations/{id}",
        "get",
        Op {
            summary: "a recorded delegated writ",
            id: "getDelegation",
            auth: true,
            params: vec![id_param("writ")],
            body: None,
            ok: ok_json("200", r("DelegationView")),
            errors: &["400", "403", "404"],
        },
    );
    add(
        "/v1/log/checkpoint",
        "get",
        Op {
            summary: "latest signed checkpoint (C2SP signed note)",
            id: "checkpoint",
            auth: false,
            params: vec![],
            body: None,
            ok: ok_text("a C2SP signed note"),
            errors: &["503"],
        },
    );
    add(
        "/v1/log/witnessed-checkpoint",
        "get",
        Op {
            summary: "latest checkpoint cosigned by a quorum of the trust root's witnesses (C2SP signed note with cosignature lines)",
            id: "witnessedCheckpoint",
            auth: false,
            params: vec![],
            body: None,
            ok: ok_text("a C2SP signed note with tlog-cosignature lines"),
            errors: &["404", "503"],
        },
    );
    add(
        "/v1/log/tile/{path}",
        "get",
        Op {
            summary: "C2SP tlog-tiles (the path after `tile/`, e.g. `0/000` or `entries/000.p/5`)",
            id: "tile",
            auth: false,
            params: vec![json!({"name": "path", "in": "path", "required": true, "schema": {"type": "string"}})],
            body: None,
            ok: ok_bytes("tile bytes"),
            errors: &["400", "404"],
        },
    );
    add(
        "/v1/log/proof/{index}",
        "get",
        Op {
            summary: "C2SP tlog-proof of one entry",
            id: "proof",
            auth: false,
            params: vec![index_param()],
            body: None,
            ok: ok_text("a C2SP tlog-proof"),
            errors: &["400", "404"],
        },
    );
    add(
        "/v1/log/entries/{index}",
        "get",
        Op {
            summary: "one entry's bytes",
            id: "entry",
            auth: false,
            params: vec![index_param()],
            body: None,
            ok: ok_bytes("the entry bytes"),
            errors: &["400", "404"],
        },
    );
    add(
        "/v1/log/entries",
        "get",
        Op {
            summary: "entries of one request or writ (exactly one of the two parameters)",
            id: "entries",
            auth: false,
            params: vec![
                json!({"name": "request_id", "in": "query", "required": false, "schema": {"type": "string"}}),
                json!({"name": "writ_id", "in": "query", "required": false, "schema": {"type": "string"}}),
            ],
            body: None,
            ok: ok_json("200", r("EntryList")),
            errors: &["400"],
        },
    );
    add(
        "/v1/trust",
        "get",
        Op {
            summary: "the signed trust-root version in force (a legacy, unsigned home: its trust.json document)",
            id: "trust",
            auth: false,
            params: vec![],
            body: None,
            ok: (
                "200",
                json!({"description": "the signed version in force, byte for byte (check it with `trust_chain::verify_pinned` \
                                       or `verify_successor`); `application/json` only from a legacy home",
                       "content": {TRUST_ROOT_TYPE: {"schema": r("TrustRootVersion")},
                                   "application/json": {"schema": r("TrustDocument")}}}),
            ),
            errors: &["503"],
        },
    );
    add(
        "/v1/trust",
        "post",
        Op {
            summary: "publish the signed successor of the trust-root version in force (any trusted key; \
                      the envelope's quorum of root signatures authorizes it)",
            id: "publishTrust",
            auth: true,
            params: vec![],
            body: Some(r("TrustRootVersion")),
            ok: ok_json("200", r("PublishedTrust")),
            errors: &["400", "403", "413"],
        },
    );
    add(
        "/v1/trust/document",
        "get",
        Op {
            summary: "the trust document in force (unsigned JSON, for readers that pin a document)",
            id: "trustDocument",
            auth: false,
            params: vec![],
            body: None,
            ok: ok_json("200", r("TrustDocument")),
            errors: &["503"],
        },
    );
    add(
        "/v1/trust/versions/{n}",
        "get",
        Op {
            summary: "trust-root version n, if it is in force or older (gates walk the chain from their pin)",
            id: "trustVersion",
            auth: false,
            params: vec![json!({"name": "n", "in": "path", "required": true, "description": "version number",
                                "schema": {"type": "integer", "minimum": 1, "maximum": 9_223_372_036_854_775_807_i64}})],
            body: None,
            ok: (
                "200",
                json!({"description": "the signed version, byte for byte as published",
                       "content": {TRUST_ROOT_TYPE: {"schema": r("TrustRootVersion")}}}),
            ),
            errors: &["400", "404"],
        },
    );
    add(
        "/v1/openapi.json",
        "get",
        Op {
            summary: "this document",
            id: "openapi",
            auth: false,
            params: vec![],
            body: None,
            ok: ok_json("200", json!({"type": "object"})),
            errors: &[],
        },
    );
    add(
        "/healthz",
        "get",
        Op {
            summary: "liveness",
            id: "healthz",
            auth: false,
            params: vec![],
            body: None,
            ok: ok_text("`ok`"),
            errors: &[],
        },
    );
    add(
        "/readyz",
        "get",
        Op {
            summary: "readiness: keys, policy, database and ledger usable; the trust root's state",
            id: "readyz",
            auth: false,
            params: vec![],
            body: None,
            ok: ok_json("200", r("Readiness")),
            errors: &["503"],
        },
    );
    add(
        "/metrics",
        "get",
        Op {
            summary: "Prometheus metrics",
            id: "metrics",
            auth: false,
            params: vec![],
            body: None,
            ok: ok_text("Prometheus text exposition"),
            errors: &[],
        },
    );
    // A trust-root version is sent as its own media type or as JSON.
    if let Some(c) =
        p.get_mut("/v1/trust").and_then(|i| i.pointer_mut("/post/requestBody/content")).and_then(Value::as_object_mut)
    {
        c.insert(TRUST_ROOT_TYPE.into(), json!({"schema": r("TrustRootVersion")}));
    }
    Value::Object(p)
}

/// Media type of a signed trust-root version.
const TRUST_ROOT_TYPE: &str = writ_core::trust_chain::TRUST_ROOT_PAYLOAD_TYPE;

fn schemas() -> Value {
    let s = |t: &str| json!({"type": t});
    let opt_s = json!({"type": ["string", "null"]});
    let str_list = json!({"type": "array", "items": {"type": "string"}});
    let boundaries = json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "wall_clock_secs": {"type": "integer", "minimum": 0}, "cpu_secs": {"type": "integer", "minimum": 0},
            "memory_bytes": {"type": "integer", "minimum": 0}, "processes": {"type": "integer", "minimum": 0},
            "open_files": {"type": "integer", "minimum": 0}, "file_size_bytes": {"type": "integer", "minimum": 0},
            "network": {"type": "boolean"}, "fs_read": str_list, "fs_write": str_list
        }
    });
    json!({
        "Error": {
            "type": "object", "required": ["error"], "additionalProperties": false,
            "properties": {"error": {"type": "object", "required": ["code", "message"], "additionalProperties": false,
                "properties": {
                    "code": {"type": "string", "description": "a stable code (docs/api.md)", "enum": writ_api::ApiErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                    "message": s("string")
                }}}
        },
        "TargetInput": {
            "oneOf": [
                {"type": "object", "required": ["action", "program", "argv"], "additionalProperties": false,
                 "properties": {"action": {"const": "exec"}, "program": s("string"),
                                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                "argv": {"type": "array", "items": s("string"), "maxItems": writ_api::wire::MAX_ARGV}}},
                {"type": "object", "required": ["action", "method", "path"], "additionalProperties": false,
                 "properties": {"action": {"const": "http"}, "method": s("string"), "path": s("string")}},
                {"type": "object", "required": ["action", "name"], "additionalProperties": false,
                 "properties": {"action": {"const": "tool"}, "name": s("string")}}
            ]
        },
        "Boundaries": boundaries,
        "RequestInput": {
            "type": "object", "required": ["target", "duration_secs"], "additionalProperties": false,
            "properties": {
                "target": r("TargetInput"),
                "reason": {"type": "string", "maxLength": writ_api::wire::MAX_REASON},
                "duration_secs": {"type": "integer", "minimum": 1, "maximum": writ_api::wire::MAX_DURATION_SECS},
                "env": {"type": "object", "additionalProperties": s("string"), "maxProperties": writ_api::wire::MAX_ENV},
                "cwd": s("string"),
                "hosts": {"type": "array", "items": s("string"), "maxItems": writ_api::wire::MAX_HOSTS},
                "evidence": {"type": "string", "description": "a gate-signed host evidence envelope (DSSE JSON text)"},
                "boundaries": r("Boundaries"),
                "uses": {"type": "integer", "minimum": 1},
                "holder": {"type": "string", "description": "standard base64 of the Ed25519 public key that may delegate the writ (docs/format.md §18); only where policy says @delegation"},
                "delegation_depth": {"type": "integer", "minimum": 1, "maximum": writ_core::limits::MAX_DEPTH, "description": "levels of delegation below the writ (default 1; with holder)"}
            }
        },
        "DecisionView": {
            "type": "object", "required": ["outcome", "determining_policies", "reasons", "approvals_required", "policy_digest"],
            "properties": {
                "outcome": {"type": "string", "enum": ["allow", "needs_approval", "deny"]},
                "determining_policies": str_list, "reasons": str_list,
                "approvals_required": {"type": "integer", "minimum": 0}, "approver_group": opt_s,
                "policy_digest": s("string")
            }
        },
        "VoteView": {
            "type": "object", "required": ["approver", "name", "verdict", "time"],
            "properties": {"approver": s("string"), "name": s("string"), "verdict": {"type": "string", "enum": ["approve", "deny"]}, "time": s("string"),
                           "reason": {"type": "string", "maxLength": writ_api::wire::MAX_REASON}}
        },
        "RequestView": {
            "type": "object",
            "required": ["request_id", "status", "requester", "requester_name", "document", "request_digest", "summary",
                         "reason", "created_at", "expires_at", "approvals_required", "approvals", "decision"],
            "properties": {
                "request_id": s("string"), "status": {"type": "string", "enum": ["pending", "issued", "denied", "expired"]},
                "requester": s("string"), "requester_name": s("string"),
                "document": {"type": "string", "description": "base64 of the exact request document bytes"},
                "request_digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "summary": s("string"), "reason": s("string"), "created_at": s("string"), "expires_at": s("string"),
                "approvals_required": {"type": "integer", "minimum": 0}, "approver_group": opt_s,
                "approvals": {"type": "array", "items": r("VoteView")}, "decision": r("DecisionView"),
                "writ_id": opt_s, "writ": s("string"), "receipt": s("string")
            }
        },
        "PendingList": {"type": "object", "required": ["requests"], "properties": {"requests": {"type": "array", "items": r("RequestView")}}},
        "VoteInput": {
            "type": "object", "required": ["verdict", "signature", "time"], "additionalProperties": false,
            "properties": {"verdict": {"type": "string", "enum": ["approve", "deny"]},
                           "signature": {"type": "string", "description": "base64 Ed25519 signature over the approval input (docs/api.md)"},
                           "time": {"type": "string", "description": "when the approver signed, RFC 3339 UTC (signed; the approval's time in the writ)"},
                           "reason": {"type": "string", "maxLength": writ_api::wire::MAX_REASON}}
        },
        "RevokeInput": {"type": "object", "required": ["reason"], "additionalProperties": false,
                        "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": writ_api::wire::MAX_REASON}}},
        "StatusInput": {"type": "object", "additionalProperties": false,
                        "properties": {"consume": {"type": "boolean"}, "nonce": {"type": ["string", "null"], "minLength": 1, "maxLength": 128}}},
        "WritView": {
            "type": "object", "required": ["writ_id", "request_id", "state", "used", "not_after", "writ", "receipt"],
            "properties": {"writ_id": s("string"), "request_id": s("string"), "state": {"type": "string", "enum": ["valid", "revoked"]},
                           "uses": {"type": ["integer", "null"], "minimum": 0}, "used": {"type": "integer", "minimum": 0},
                           "not_after": s("string"), "revoked_at": opt_s, "reason": opt_s, "writ": s("string"), "receipt": s("string")}
        },
        "NonceView": {"type": "object", "required": ["nonce", "expires_at"], "properties": {"nonce": s("string"), "expires_at": s("string")}},
        "RecordInput": {"type": "object", "required": ["entry"], "additionalProperties": false,
                        "properties": {"entry": {"type": "string", "description": "base64 of the entry bytes"}}},
        "RecordView": {"type": "object", "required": ["index", "receipt"], "additionalProperties": false,
                       "properties": {"index": {"type": "integer", "minimum": 0}, "receipt": {"type": "string", "description": "C2SP tlog-proof text"}}},
        "StartInput": {"type": "object", "required": ["entry", "nonce"], "additionalProperties": false,
                       "properties": {"entry": {"type": "string", "description": "base64 of the signed exec_start gate record of the writ"},
                                      "nonce": {"type": "string", "minLength": 1, "maxLength": 128},
                                      "consume": {"type": "boolean"}}},
        "StartView": {"type": "object", "required": ["status", "index", "receipt"], "additionalProperties": false,
                      "properties": {"status": {"type": "string", "description": "the signed status response (DSSE envelope JSON text) bound to the nonce"},
                                     "index": {"type": "integer", "minimum": 0},
                                     "receipt": {"type": "string", "description": "C2SP tlog-proof text of the exec_start"}}},
        "DelegationInput": {"type": "object", "required": ["writ", "ancestors"], "additionalProperties": false,
                            "properties": {"writ": {"type": "string", "description": "the child writ: its DSSE envelope JSON text, signed by the parent's holder key"},
                                           "ancestors": {"type": "array", "minItems": 1, "maxItems": writ_core::limits::MAX_DEPTH,
                                                         "items": {"type": "string", "description": "standard base64 of an ancestor's envelope bytes, parent first (the WRIT.chain file)"}}}},
        "DelegationView": {
            "type": "object", "additionalProperties": false,
            "required": ["writ_id", "parent_writ_id", "root_writ_id", "request_id", "holder", "depth", "state", "used", "not_after", "index", "receipt"],
            "properties": {"writ_id": s("string"), "parent_writ_id": s("string"), "root_writ_id": s("string"), "request_id": s("string"),
                           "holder": {"type": "string", "description": "key id of the holder that signed the child"},
                           "depth": {"type": "integer", "minimum": 1}, "state": {"type": "string", "enum": ["valid", "revoked"]},
                           "uses": {"type": ["integer", "null"], "minimum": 0}, "used": {"type": "integer", "minimum": 0},
                           "not_after": s("string"), "index": {"type": "integer", "minimum": 0},
                           "receipt": {"type": "string", "description": "C2SP tlog-proof text of the delegation entry"}}
        },
        "EntryList": {"type": "object", "required": ["entries"], "properties": {"entries": {"type": "array", "items": {
            "type": "object", "required": ["index", "kind", "entry"],
            "properties": {"index": {"type": "integer", "minimum": 0}, "kind": s("string"), "entry": s("string")}}}}},
        "TrustRootVersion": {
            "type": "object", "required": ["payloadType", "payload", "signatures"], "additionalProperties": false,
            "description": "a signed trust-root version (docs/format.md §16): a DSSE envelope whose payload is \
                            {_type, version, previous, expires, root_threshold, trust}",
            "properties": {
                "payloadType": {"const": TRUST_ROOT_TYPE},
                "payload": {"type": "string", "description": "base64 of the version's payload; its SHA-256 is the version's digest"},
                "signatures": {"type": "array", "maxItems": writ_core::trust_chain::MAX_ROOT_SIGNATURES, "items": {
                    "type": "object", "required": ["keyid", "sig"], "additionalProperties": false,
                    "properties": {"keyid": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "sig": s("string")}}}
            }
        },
        "TrustDocument": {"type": "object", "required": ["version", "keys"], "description": "a trust root document (docs/format.md §6, trust.json)",
                          "properties": {"keys": {"type": "array", "items": {"type": "object"}}}},
        "PublishedTrust": {
            "type": "object", "required": ["version", "digest", "ledger_index", "entries"], "additionalProperties": false,
            "properties": {
                "version": {"type": "integer", "minimum": 1},
                "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "ledger_index": {"type": "integer", "minimum": 0, "description": "index of the version's `key_change` entry"},
                "entries": {"type": "integer", "minimum": 0, "description": "`key_change` entries appended; 0 when the version was in force already"}
            }
        },
        "TrustStatus": {
            "type": "object", "required": ["signed", "version", "digest", "expires", "expired", "refused", "healthy", "summary"],
            "additionalProperties": false,
            "properties": {
                "signed": {"type": "boolean", "description": "a signed, versioned trust root (false: a legacy home)"},
                "version": {"type": ["integer", "null"], "minimum": 1},
                "digest": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
                "expires": opt_s,
                "expired": {"type": "boolean"},
                "refused": {"type": ["string", "null"], "description": "why the trust root on disk is not in force (the last good version is)"},
                "healthy": {"type": "boolean", "description": "signed, not expired, nothing refused"},
                "summary": s("string")
            }
        },
        "Readiness": {
            "type": "object", "required": ["status", "trust"], "additionalProperties": false,
            "properties": {"status": {"const": "ready"}, "trust": r("TrustStatus")}
        },
        "Envelope": {"type": "object", "required": ["payloadType", "payload", "signatures"], "description": "a DSSE envelope",
                     "properties": {"payloadType": s("string"), "payload": s("string"), "signatures": {"type": "array", "items": {
                         "type": "object", "required": ["sig"], "properties": {"keyid": s("string"), "sig": s("string")}}}}}
    })
}

/// The document.
#[must_use]
pub fn document() -> Value {
    let mut paths = paths();
    // The public read API behind the web pages (Proof Viewer, Lineage Explorer).
    if let (Some(all), Value::Object(public)) = (paths.as_object_mut(), crate::web::openapi_paths()) {
        all.extend(public);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "writ authority", "version": "1",
                 "description": "See docs/api.md. Authenticated routes need an RFC 9421 Ed25519 HTTP message signature; every failure is `{\"error\": {\"code\", \"message\"}}`."},
        "paths": paths,
        "components": {
            "securitySchemes": {"httpSignature": {"type": "apiKey", "in": "header", "name": "Signature", "description": "RFC 9421, label sig1, components (\"@method\" \"@path\" \"@query\" \"content-digest\"), params created;keyid;alg=\"ed25519\";nonce; with `Signature-Input` and `Content-Digest`"}},
            "schemas": schemas()
        }
    })
}
