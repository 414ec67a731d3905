//! writ-core for the browser and Node.js.
//!
//! The functions here take and return JSON text so that JavaScript needs no
//! knowledge of Rust types; they call exactly the same [`writ_core::verify`]
//! as the gate and the CLI, which is what makes a verdict in the browser the
//! verdict of the gate. `tests/wasm/` runs the `testdata/` vectors through
//! the compiled module under Node.js and `tests/browser/` in Chromium, and
//! both demand the native verdicts.
//!
//! [`Verifier`] holds a parsed trust root: the Proof Viewer and the Lineage
//! Explorer parse the pinned root once and verify many writs and proofs
//! against it (re-parsing the root and its keys on every call was a large
//! part of the WebAssembly build's overhead; see `docs/performance.md`).
#![forbid(unsafe_code)]

use serde_json::{Value, json};
use wasm_bindgen::prelude::wasm_bindgen;
use writ_core::entry::Entry;
use writ_core::spec::ContextSpec;
use writ_core::tlog::checkpoint::Checkpoint;
use writ_core::tlog::note::VerifierKey;
use writ_core::tlog::tlog_proof::TlogProof;
use writ_core::{Context, DenialCode, Role, Sha256Digest, Timestamp, TrustRoot, verify};

/// Verifies `envelope` against a trust root (JSON text) and a context (JSON,
/// see `docs/format.md`, "Context files"); returns a JSON verdict
/// `{"verdict": "allow"|"deny", "code": …, "detail": …, "writ_id": …}`.
#[wasm_bindgen(js_name = verify)]
#[must_use]
pub fn verify_json(envelope: &[u8], trust_json: &str, context_json: &str) -> String {
    // The trust root is parsed once per distinct text, not once per call:
    // parsing it (and decompressing every key's curve point) cost about as
    // much as verifying one signature. See `docs/performance.md`.
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.as_ref().is_none_or(|(text, _)| text != trust_json) {
            match Verifier::new(trust_json) {
                Ok(v) => *last = Some((trust_json.to_string(), v)),
                Err(e) => return deny(DenialCode::Internal, &e, None),
            }
        }
        match last.as_ref() {
            Some((_, v)) => v.verify(envelope, context_json),
            None => deny(DenialCode::Internal, "trust root cache is empty", None),
        }
    })
}

std::thread_local! {
    /// The last trust root [`verify_json`] parsed, with its text.
    static LAST: core::cell::RefCell<Option<(String, Verifier)>> = const { core::cell::RefCell::new(None) };
}

fn deny(code: DenialCode, detail: &str, writ_id: Option<&str>) -> String {
    json!({"verdict": "deny", "code": code.as_str(), "detail": detail, "writ_id": writ_id}).to_string()
}

/// Every denial code with its hint, as JSON (for the console's legend).
#[wasm_bindgen(js_name = denialCodes)]
#[must_use]
pub fn denial_codes() -> String {
    let codes: Vec<_> = DenialCode::ALL.iter().map(|c| json!({"code": c.as_str(), "hint": c.hint()})).collect();
    Value::Array(codes).to_string()
}

/// Hex SHA-256 of `bytes` (the trust root is pinned by the digest of its file).
#[wasm_bindgen(js_name = sha256Hex)]
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256Digest::of(bytes).to_string()
}

/// Decodes a ledger entry into JSON (`{"ok": true, "entry": {...}}` or
/// `{"ok": false, "error": …}`). Decoding is display only: nothing is trusted
/// until [`Verifier::verify_entry`] proved the entry is in the log.
#[wasm_bindgen(js_name = decodeEntry)]
#[must_use]
pub fn decode_entry(bytes: &[u8]) -> String {
    match Entry::decode(bytes) {
        Ok(e) => json!({"ok": true, "entry": entry_json(&e)}).to_string(),
        Err(e) => json!({"ok": false, "error": e.to_string()}).to_string(),
    }
}

/// A ledger entry as JSON (see [`writ_core::entry::Entry::to_json`]).
#[must_use]
pub fn entry_json(e: &Entry) -> Value {
    e.to_json()
}

/// A trust root parsed once, with the ledger's checkpoint verifier keys
/// derived once, for many verifications.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Verifier {
    trust: TrustRoot,
    ledger: Vec<VerifierKey>,
    digest: String,
}

#[wasm_bindgen]
impl Verifier {
    /// Parses a trust root (the JSON text of `trust.json`).
    ///
    /// # Errors
    /// A message when the trust root does not parse.
    #[wasm_bindgen(constructor)]
    pub fn new(trust_json: &str) -> Result<Verifier, String> {
        let trust = TrustRoot::from_json(trust_json.as_bytes()).map_err(|e| format!("trust root: {e}"))?;
        let ledger = trust
            .keys()
            .iter()
            .filter(|k| k.has_role(Role::Ledger) && !k.entry.revoked)
            .filter_map(|k| k.note_verifier().ok())
            .collect();
        Ok(Self { trust, ledger, digest: sha256_hex(trust_json.as_bytes()) })
    }

    /// Hex SHA-256 of the trust root's bytes: the pin.
    #[must_use]
    pub fn digest(&self) -> String {
        self.digest.clone()
    }

    /// The trust root's keys (name, id, roles, revoked) as JSON, for display.
    #[must_use]
    pub fn keys(&self) -> String {
        let keys: Vec<_> = self
            .trust
            .keys()
            .iter()
            .map(|k| {
                json!({"name": k.entry.name, "id": k.key.key_id().to_string(), "roles": k.entry.roles,
                    "revoked": k.entry.revoked})
            })
            .collect();
        Value::Array(keys).to_string()
    }

    /// As the free function [`verify_json`], against this trust root.
    #[must_use]
    pub fn verify(&self, envelope: &[u8], context_json: &str) -> String {
        let ctx = match serde_json::from_str::<ContextSpec>(context_json)
            .map_err(|e| e.to_string())
            .and_then(|s| s.to_context())
        {
            Ok(c) => c,
            Err(e) => return deny(DenialCode::Internal, &format!("context: {e}"), None),
        };
        match verify(envelope, &self.trust, &ctx) {
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

    /// Verifies a writ and (optionally) its receipt the way `writ verify`
    /// does (check mode, at `now_unix`), and reports each step: the verdict
    /// and code of the core, the signer and counted approvers, the validity
    /// window, the scope, and what the receipt proved (index, checkpoint
    /// origin, size and root, so the page can check consistency with the
    /// checkpoints it saw before).
    #[wasm_bindgen(js_name = verifyWrit)]
    #[must_use]
    pub fn verify_writ(&self, envelope: &[u8], receipt: &[u8], now_unix: f64) -> String {
        // INVARIANT: the page's clock comes in as an argument; a NaN or
        // out-of-range time is refused rather than clamped.
        if !now_unix.is_finite() || now_unix.abs() > 1e15 {
            return deny(DenialCode::Internal, "the browser's clock is not a valid time", None);
        }
        #[expect(clippy::cast_possible_truncation, reason = "finite and bounded above")]
        let now = Timestamp(now_unix as i64);
        let mut ctx = Context::check_at(now);
        if !receipt.is_empty() {
            ctx.receipt = Some(receipt.to_vec());
        }
        let receipt_view = if receipt.is_empty() { Value::Null } else { self.receipt_view(receipt) };
        match verify(envelope, &self.trust, &ctx) {
            Ok(v) => {
                let name = |id: &writ_core::KeyId| self.trust.key(id).map(|k| k.entry.name.clone());
                let p = v.predicate();
                json!({
                    "verdict": "allow",
                    "code": null,
                    "writ_id": v.id(),
                    "envelope_sha256": v.envelope_digest().to_string(),
                    "signer": {"id": v.signer().to_string(), "name": name(&v.signer())},
                    "approvers": v.approvers().iter().map(|a| json!({"id": a.to_string(), "name": name(a)})).collect::<Vec<_>>(),
                    "approvals_required": p.governance.approvals_required,
                    "approver_group": p.governance.approver_group,
                    "validity": {"not_before": p.validity.not_before.to_string(), "not_after": p.validity.not_after.to_string()},
                    "statement": v.statement(),
                    "receipt": receipt_view,
                })
                .to_string()
            }
            Err(d) => json!({"verdict": "deny", "code": d.code.as_str(), "detail": d.detail,
                "hint": d.code.hint(), "receipt": receipt_view})
            .to_string(),
        }
    }

    /// Verifies that `entry` is in the log: the checkpoint of `proof` (a
    /// C2SP tlog-proof) is signed by a ledger key of this trust root and the
    /// inclusion proof leads from the entry's leaf hash to its root. Returns
    /// `{"ok": true, "index", "size", "origin", "root"}` or
    /// `{"ok": false, "error"}`.
    #[wasm_bindgen(js_name = verifyEntry)]
    #[must_use]
    pub fn verify_entry(&self, entry: &[u8], proof: &[u8]) -> String {
        let p = match TlogProof::parse(proof) {
            Ok(p) => p,
            Err(e) => return json!({"ok": false, "error": format!("proof does not parse: {e}")}).to_string(),
        };
        let mut err = String::from("the trust root lists no ledger key");
        for k in &self.ledger {
            match p.verify_entry(entry, k.name(), k) {
                Ok(v) => {
                    return json!({"ok": true, "index": v.index, "size": v.checkpoint.size,
                        "origin": v.checkpoint.origin, "root": b64(&v.checkpoint.root)})
                    .to_string();
                }
                Err(e) => err = e.to_string(),
            }
        }
        json!({"ok": false, "error": err}).to_string()
    }

    /// Opens a signed checkpoint note with the trust root's ledger keys:
    /// `{"ok": true, "origin", "size", "root"}` or `{"ok": false, "error"}`.
    #[wasm_bindgen(js_name = openCheckpoint)]
    #[must_use]
    pub fn open_checkpoint(&self, note: &[u8]) -> String {
        match self.open(note) {
            Ok(c) => json!({"ok": true, "origin": c.origin, "size": c.size, "root": b64(&c.root)}).to_string(),
            Err(e) => json!({"ok": false, "error": e}).to_string(),
        }
    }

    /// Checks that the checkpoint this browser saw before (`old_size`,
    /// `old_root_b64`) is a prefix of `new_note` (a signed checkpoint note,
    /// opened with the trust root's ledger keys) by the RFC 9162 consistency
    /// proof `proof_b64` (base64 hashes, one a line). Returns
    /// `{"ok": true, "relation": "same"|"extends"}`, or `{"ok": false,
    /// "relation": "rollback"|"fork"|"unverified", "error"}`: a newer
    /// checkpoint smaller than the one seen is a rollback; the same size with
    /// another root, or a proof that fails, is a fork.
    #[wasm_bindgen(js_name = checkConsistency)]
    #[must_use]
    pub fn check_consistency(&self, old_size: f64, old_root_b64: &str, new_note: &[u8], proof_b64: &str) -> String {
        let fail =
            |relation: &str, error: String| json!({"ok": false, "relation": relation, "error": error}).to_string();
        let Some(old_size) = as_u64(old_size) else {
            return fail("unverified", "the remembered size is invalid".into());
        };
        let Some(old_root) = unb64_hash(old_root_b64) else {
            return fail("unverified", "the remembered root is not a base64 SHA-256 hash".into());
        };
        let new = match self.open(new_note) {
            Ok(c) => c,
            Err(e) => return fail("unverified", e),
        };
        if new.size < old_size {
            return fail(
                "rollback",
                format!("the log now shows size {} but this browser saw size {old_size} before", new.size),
            );
        }
        if new.size == old_size {
            return if new.root == old_root {
                json!({"ok": true, "relation": "same"}).to_string()
            } else {
                fail("fork", format!("two different roots for size {old_size}: the log shows different views"))
            };
        }
        let mut hashes = Vec::new();
        for line in proof_b64.lines().filter(|l| !l.is_empty()) {
            let Some(h) = unb64_hash(line) else { return fail("fork", "consistency proof hash is not valid".into()) };
            hashes.push(h);
        }
        match writ_core::tlog::proof::verify_consistency(old_size, new.size, &hashes, &old_root, &new.root) {
            Ok(()) => json!({"ok": true, "relation": "extends"}).to_string(),
            Err(e) => fail(
                "fork",
                format!("checkpoint of size {} does not extend the one of size {old_size} seen before: {e}", new.size),
            ),
        }
    }
}

impl Verifier {
    fn open(&self, note: &[u8]) -> Result<Checkpoint, String> {
        let mut err = String::from("the trust root lists no ledger key");
        for k in &self.ledger {
            match writ_core::tlog::checkpoint::open(note, k.name(), k) {
                Ok(c) => return Ok(c),
                Err(e) => err = e.to_string(),
            }
        }
        Err(format!("checkpoint: {err}"))
    }

    fn receipt_view(&self, receipt: &[u8]) -> Value {
        let Ok(p) = TlogProof::parse(receipt) else { return json!({"parsed": false}) };
        let checkpoint = core::str::from_utf8(&p.checkpoint).ok().and_then(|s| s.split("\n\n").next());
        let cp = checkpoint.and_then(|t| Checkpoint::parse(&format!("{t}\n")).ok());
        let signed = self.open(&p.checkpoint).is_ok();
        json!({
            "parsed": true,
            "index": p.index,
            "hashes": p.hashes.len(),
            "checkpoint_signed": signed,
            "checkpoint": cp.map(|c| json!({"origin": c.origin, "size": c.size, "root": b64(&c.root)})),
            "checkpoint_note": String::from_utf8_lossy(&p.checkpoint),
            "entry": p.extra.as_deref().and_then(|e| Entry::decode(e).ok()).map(|e| entry_json(&e)),
        })
    }
}

fn as_u64(v: f64) -> Option<u64> {
    // 2^53: the largest integer a JavaScript number holds exactly.
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0 {
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked integral and in range")]
        Some(v as u64)
    } else {
        None
    }
}

fn b64(h: &[u8]) -> String {
    writ_core::b64::encode(h)
}

fn unb64_hash(s: &str) -> Option<[u8; 32]> {
    writ_core::b64::decode(s.trim(), 32).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use writ_core::fixtures;

    #[test]
    fn json_verdicts_match_native_verify() {
        let trust = fixtures::trust_root(false).to_json_pretty();
        for v in fixtures::vectors().into_iter().filter(|v| v.trust == "trust.json") {
            let out: Value =
                serde_json::from_str(&verify_json(&v.envelope, &trust, &serde_json::to_string(&v.context).unwrap()))
                    .unwrap();
            assert_eq!(out["code"].as_str(), v.expected.map(|c| c.as_str()), "{}", v.name);
        }
    }

    #[test]
    fn as_u64_refuses_what_is_not_an_exact_size() {
        assert_eq!(as_u64(3.0), Some(3));
        assert_eq!(as_u64(-1.0), None);
        assert_eq!(as_u64(1.5), None);
        assert_eq!(as_u64(f64::NAN), None);
    }
}
