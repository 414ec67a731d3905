//! Passkey enrolment from the console (`/console/enrol`).
//!
//! A new approver's page creates a credential (`navigator.credentials.create`)
//! and sends its public key, credential id and relying-party id here. The
//! server turns it into a **pending proposal**: the next trust-root version
//! (the version in force plus this one passkey, [`trust_chain::propose`]),
//! unsigned. The enrolment grants nothing: the console's passkey sign-in,
//! votes and revocations look only at the trust root in force, and a
//! proposal is put in force only when a quorum of the version in force's
//! root keys has signed it — in the console (an admin loads a root key file
//! into the page's memory; the page checks that the proposal is the pinned
//! trust root plus this passkey and nothing else, and signs its DSSE
//! signing input), or offline with the CLI (download it, `writ trust sign`,
//! `writ trust publish` or POST it to `/v1/trust`). Each root signature is
//! checked here against the version in force; when they reach its root
//! threshold, the version is published like every other
//! ([`writ_authority::Authority::publish_trust`]: verified, logged as
//! `key_change`, then in force). No route here rides on a session: what
//! authorizes the change is the root signatures inside the envelope.
//!
//! Pending proposals live in this process's memory (at most
//! [`MAX_ENROLMENTS`], each for [`ENROLMENT_SECS`]); a proposal whose
//! previous version is no longer in force is stale and refused.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use writ_api::ApiErrorCode;
use writ_core::trust::TrustedPasskeyFile;
use writ_core::trust_chain::{self, RootErrorCode, TRUST_ROOT_PAYLOAD_TYPE};
use writ_core::{KeyId, Role};

use super::console::{C, err};
use super::html::{self, NOSCRIPT, Nav};
use crate::ApiError;

/// Most pending enrolments kept (beyond, new ones are refused).
pub const MAX_ENROLMENTS: usize = 64;
/// How long a pending enrolment is kept, in seconds.
pub const ENROLMENT_SECS: i64 = 86_400;
/// DER prefix of a P-256 SubjectPublicKeyInfo (what `getPublicKey()` returns).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// One pending enrolment.
#[derive(Debug, Clone)]
pub(crate) struct Enrolment {
    passkey: TrustedPasskeyFile,
    created: i64,
    /// The proposal, with the root signatures collected so far.
    envelope: Vec<u8>,
    /// Published: (version, ledger index of its record).
    published: Option<(u64, u64)>,
}

/// The pending enrolments, by id.
#[derive(Debug, Default)]
pub(crate) struct Enrolments(BTreeMap<String, Enrolment>);

type R = Result<Response, ApiError>;

fn b64(bytes: &[u8]) -> String {
    writ_core::b64::encode(bytes)
}

fn unb64(field: &str, s: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    let url = s.replace('-', "+").replace('_', "/");
    let padded = format!("{}{}", url.trim_end_matches('='), "=".repeat((4 - url.trim_end_matches('=').len() % 4) % 4));
    writ_core::b64::decode(&padded, max).map_err(|e| err(ApiErrorCode::Malformed, format!("`{field}`: {e}")))
}

/// `GET /console/enrol`.
pub(crate) async fn page() -> Response {
    let main = format!(
        "<h1>Enrol a passkey</h1>\n{NOSCRIPT}\n\
<p class=\"lead\">A new approver creates a passkey here. That files a <b>pending</b> change of the trust root which grants \
nothing until a quorum of root keys signs it; then the passkey can sign in, vote and revoke.</p>\n\
<section id=\"trust\" aria-labelledby=\"trust-h\"><h2 id=\"trust-h\">Trust root</h2>\
<p id=\"trust-status\">Loading…</p><div id=\"trust-controls\"></div></section>\n\
<section id=\"create\" aria-labelledby=\"create-h\"><h2 id=\"create-h\">1. Create your passkey</h2>\
<form id=\"enrol-form\" class=\"form\">\
<label for=\"e-name\">Your name in the trust root</label><input id=\"e-name\" required maxlength=\"64\" pattern=\"[A-Za-z0-9._\\-]+\" placeholder=\"erin\">\
<label for=\"e-groups\">Approver groups, comma-separated</label><input id=\"e-groups\" placeholder=\"sre\">\
<button type=\"submit\" id=\"e-create\">Create passkey and file the enrolment</button></form>\
<p id=\"enrol-status\" role=\"status\"></p></section>\n\
<section id=\"pending\" aria-labelledby=\"pending-h\"><h2 id=\"pending-h\">2. Pending enrolments (signed by root keys)</h2>\
<div id=\"pending-body\"><p class=\"muted\">Loading…</p></div>\
<div class=\"card\"><h3>Sign as a root key holder</h3><p>An Ed25519 root key file (<code>root.key</code>). It is read into this \
page's memory and never uploaded; the page checks that a proposal is your pinned trust root plus that one passkey before it signs.</p>\
<label for=\"root-key\">Root key file</label> <input type=\"file\" id=\"root-key\"><p id=\"root-status\" role=\"status\"></p></div>\
<p class=\"hint\">Or offline: download the proposal, then <code>writ trust sign next.json --key ROOT.key</code> (by a quorum of root keys) \
and <code>writ trust publish --home HOME next.json</code>.</p></section>\n\
<p><a href=\"/console\">Back to the console</a></p>"
    );
    super::pages::html_response(html::page("Enrol a passkey", Nav::Console, &main, &["enrol.js"]))
}

/// What the enrolling page sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolInput {
    name: String,
    #[serde(default)]
    groups: Vec<String>,
    /// `getPublicKey()`: SPKI DER (or the 65-byte point), base64.
    public_key: String,
    /// base64url.
    credential_id: String,
    rp_id: String,
    #[serde(default)]
    user_verification: bool,
    /// The credential's clientDataJSON, base64: `type` must be
    /// `webauthn.create` and its origin's host the rp id.
    client_data_json: String,
}

fn view(id: &str, e: &Enrolment, app: &crate::AppState) -> serde_json::Value {
    let cur = app.authority.trust_store().signed(app.authority.ledger());
    let parsed = trust_chain::parse(&e.envelope).ok();
    let (state, needs) = match (&e.published, &parsed, &cur) {
        (Some(_), _, _) => ("published", 0),
        (None, Some(p), Some(c)) if p.previous() == Some(c.digest()) => ("pending", c.root_threshold()),
        _ => ("stale", 0),
    };
    serde_json::json!({
        "id": id,
        "state": state,
        "name": e.passkey.name,
        "groups": e.passkey.groups,
        "key_id": e.passkey.key_id.to_string(),
        "credential_id": e.passkey.credential_id,
        "rp_id": e.passkey.rp_id,
        "passkey": e.passkey,
        "version": parsed.as_ref().map(trust_chain::UnverifiedTrustRoot::version),
        "digest": parsed.as_ref().map(|p| p.digest().to_hex()),
        "signers": parsed.as_ref().map(|p| p.claimed_signers().iter().map(ToString::to_string).collect::<Vec<_>>()).unwrap_or_default(),
        "root_keys": cur.as_ref().map(|c| c.root_keys().iter().map(ToString::to_string).collect::<Vec<_>>()).unwrap_or_default(),
        "signatures_needed": needs,
        "published": e.published.map(|(v, i)| serde_json::json!({"version": v, "ledger_index": i})),
        "envelope": String::from_utf8_lossy(&e.envelope),
        "payload": parsed.as_ref().map(|p| b64(p.payload())),
        "payload_type": TRUST_ROOT_PAYLOAD_TYPE,
    })
}

fn sweep(g: &mut Enrolments, now: i64) {
    g.0.retain(|_, e| e.created + ENROLMENT_SECS > now);
}

/// `POST /console/api/enrolments`: file a pending enrolment.
pub(crate) async fn create(State(c): C, headers: HeaderMap, body: Bytes) -> R {
    let input: EnrolInput = crate::parse_json(&body)?;
    let now = crate::now()?;
    let name = input.name.trim().to_string();
    if name.is_empty()
        || name.len() > 64
        || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
    {
        return Err(err(ApiErrorCode::InvalidRequest, "a name is 1 to 64 letters, digits, `.`, `_` or `-`"));
    }
    let mut groups = Vec::new();
    for g in input.groups.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
        if g.len() > 64 || !g.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-')) {
            return Err(err(ApiErrorCode::InvalidRequest, "a group is 1 to 64 letters, digits, `.`, `_` or `-`"));
        }
        groups.push(g.to_string());
    }
    // The credential was made by a page of this origin for this rp id.
    let cd: serde_json::Value = serde_json::from_slice(&unb64("client_data_json", &input.client_data_json, 4096)?)
        .map_err(|_| err(ApiErrorCode::Malformed, "`client_data_json` is not JSON"))?;
    if cd.get("type").and_then(serde_json::Value::as_str) != Some("webauthn.create") {
        return Err(err(ApiErrorCode::BadSignature, "clientDataJSON.type is not `webauthn.create`"));
    }
    let origin = cd.get("origin").and_then(serde_json::Value::as_str).unwrap_or_default();
    let origin_host = origin.split("://").nth(1).unwrap_or_default().split(['/', ':']).next().unwrap_or_default();
    if origin_host != input.rp_id {
        return Err(err(
            ApiErrorCode::InvalidRequest,
            format!("the credential was made at `{origin}`, not for rp id `{}`", input.rp_id),
        ));
    }
    if let Some(host) = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok())
        && host.split(':').next() != Some(origin_host)
    {
        return Err(err(
            ApiErrorCode::InvalidRequest,
            format!("the credential was made at `{origin}`, not at this host"),
        ));
    }
    let raw = unb64("public_key", &input.public_key, 256)?;
    let point = match raw.len() {
        65 => raw,
        91 if raw.starts_with(&P256_SPKI_PREFIX) => raw.get(26..).unwrap_or_default().to_vec(),
        n => {
            return Err(err(
                ApiErrorCode::InvalidRequest,
                format!("`public_key` is {n} bytes: give the P-256 SPKI DER of getPublicKey() (ES256 only)"),
            ));
        }
    };
    let cred_id = unb64("credential_id", &input.credential_id, writ_core::webauthn::MAX_CREDENTIAL_ID)?;
    let cred = writ_core::webauthn::Credential::new(&point, cred_id, input.rp_id.clone(), input.user_verification)
        .map_err(|e| err(ApiErrorCode::InvalidRequest, format!("passkey: {e}")))?;
    let passkey = TrustedPasskeyFile {
        name: name.clone(),
        roles: vec![Role::Approver],
        groups,
        public_key: b64(cred.public_key()),
        key_id: cred.key_id(),
        credential_id: writ_core::webauthn::b64url_encode(&cred.credential_id),
        rp_id: cred.rp_id.clone(),
        user_verification: input.user_verification,
        not_before: None,
        not_after: None,
        revoked: false,
    };
    let app = c.app.clone();
    let p = passkey.clone();
    let envelope = crate::blocking(move || {
        let cur = app.authority.trust_store().signed(app.authority.ledger()).ok_or_else(|| {
            writ_authority::AuthorityError::InvalidRequest(
                "this authority's trust root is not signed (a legacy home): enrol with `writ trust add-passkey`".into(),
            )
        })?;
        let trust = cur.trust();
        if trust.keys().iter().any(|k| k.entry.name == p.name)
            || trust.passkeys().iter().any(|k| k.entry.name == p.name)
        {
            return Err(writ_authority::AuthorityError::InvalidRequest(format!(
                "`{}` is a name in the trust root already; choose another",
                p.name
            )));
        }
        let mut doc = trust.clone();
        doc.add_passkey(p).map_err(|e| writ_authority::AuthorityError::InvalidRequest(format!("passkey: {e}")))?;
        trust_chain::propose(
            &cur,
            doc.file().clone(),
            cur.root_threshold(),
            now.plus(writ_authority::trust_store::DEFAULT_ROOT_EXPIRY_SECS),
        )
        .map_err(|e| writ_authority::AuthorityError::InvalidRequest(format!("{}: {}", e.code.as_str(), e.detail)))
    })
    .await?;
    let id = hex::encode(&writ_core::Sha256Digest::of(&envelope).0[..8]);
    let e = Enrolment { passkey, created: now.unix(), envelope, published: None };
    {
        let mut g = c.enrolments.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sweep(&mut g, now.unix());
        if g.0.values().any(|x| x.passkey.key_id == e.passkey.key_id && x.published.is_none()) {
            return Err(err(ApiErrorCode::InvalidRequest, "this passkey has a pending enrolment already"));
        }
        if g.0.len() >= MAX_ENROLMENTS {
            return Err(err(ApiErrorCode::Busy, "too many pending enrolments; ask a root key holder to sign or wait"));
        }
        g.0.insert(id.clone(), e.clone());
    }
    eprintln!(
        "writ-server: passkey enrolment {id} filed for `{name}` ({}): pending, it grants nothing until root keys sign it",
        e.passkey.key_id
    );
    Ok((axum::http::StatusCode::CREATED, axum::Json(view(&id, &e, &c.app))).into_response())
}

/// `GET /console/api/enrolments`: the pending (and published) enrolments.
pub(crate) async fn list(State(c): C) -> R {
    let now = crate::now()?;
    let items: Vec<(String, Enrolment)> = {
        let mut g = c.enrolments.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sweep(&mut g, now.unix());
        g.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let app = c.app.clone();
    let list = crate::blocking(move || Ok(items.iter().map(|(id, e)| view(id, e, &app)).collect::<Vec<_>>())).await?;
    Ok(axum::Json(serde_json::json!({"enrolments": list})).into_response())
}

fn get(c: &super::console::Console, id: &str) -> Result<Enrolment, ApiError> {
    c.enrolments.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0.get(id).cloned().ok_or_else(|| {
        err(ApiErrorCode::NotFound, format!("no pending enrolment `{id}` (expired, or the server restarted)"))
    })
}

/// `GET /console/api/enrolments/{id}`: one enrolment with its proposal.
pub(crate) async fn proposal(State(c): C, crate::Id(id): crate::Id) -> R {
    let e = get(&c, &id)?;
    let app = c.app.clone();
    let v = crate::blocking(move || Ok(view(&id, &e, &app))).await?;
    Ok(axum::Json(v).into_response())
}

/// A root key's signature over the proposal's DSSE signing input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureInput {
    key_id: String,
    /// base64 Ed25519 signature over `PAE(payload type, payload)`.
    sig: String,
}

/// `POST /console/api/enrolments/{id}/signatures`: add a root signature;
/// with a quorum, publish the version.
pub(crate) async fn add_signature(State(c): C, crate::Id(id): crate::Id, body: Bytes) -> R {
    let input: SignatureInput = crate::parse_json(&body)?;
    let kid = KeyId::parse(&input.key_id).map_err(|e| err(ApiErrorCode::Malformed, format!("`key_id`: {e}")))?;
    let sig = unb64("sig", &input.sig, 8192)?;
    let e = get(&c, &id)?;
    if e.published.is_some() {
        return Err(err(ApiErrorCode::InvalidRequest, "this enrolment is published already"));
    }
    let now = crate::now()?;
    let app = c.app.clone();
    let (envelope, published) = crate::blocking(move || {
        use writ_authority::AuthorityError as A;
        let cur = app
            .authority
            .trust_store()
            .signed(app.authority.ledger())
            .ok_or_else(|| A::InvalidRequest("this authority's trust root is not signed".into()))?;
        let p = trust_chain::parse(&e.envelope).map_err(|x| A::Internal(x.to_string()))?;
        if p.previous() != Some(cur.digest()) {
            return Err(A::InvalidRequest(format!(
                "stale: this proposal follows another version than the one in force ({}); enrol again",
                cur.version()
            )));
        }
        if !cur.root_keys().contains(&kid) {
            return Err(A::Forbidden(format!("{kid} is not a root key of trust-root version {}", cur.version())));
        }
        if p.claimed_signers().contains(&kid) {
            return Err(A::InvalidRequest(format!("{kid} signed this proposal already")));
        }
        let key = cur.trust().key(&kid).ok_or_else(|| A::Forbidden(format!("{kid} is not in the trust root")))?;
        key.verify_signature(&writ_core::dsse::pae(TRUST_ROOT_PAYLOAD_TYPE, p.payload()), &sig)
            .map_err(|x| A::BadSignature(format!("the root signature over the proposal does not verify: {x:?}")))?;
        let mut env: serde_json::Value =
            serde_json::from_slice(&e.envelope).map_err(|x| A::Internal(format!("stored proposal: {x}")))?;
        let sigs = env
            .get_mut("signatures")
            .and_then(serde_json::Value::as_array_mut)
            .ok_or_else(|| A::Internal("stored proposal has no signatures list".into()))?;
        sigs.push(serde_json::json!({"keyid": kid.0.to_hex(), "sig": b64(&sig)}));
        let bytes = serde_json::to_vec(&env).map_err(|x| A::Internal(x.to_string()))?;
        trust_chain::parse(&bytes).map_err(|x| A::InvalidRequest(format!("{}: {}", x.code.as_str(), x.detail)))?;
        match trust_chain::verify_successor(&cur, &bytes, now) {
            Ok(_) => {
                let pubd = app.authority.publish_trust(&bytes, now)?;
                Ok((bytes, Some((pubd.version, pubd.ledger_index))))
            }
            Err(x) if x.code == RootErrorCode::QuorumNotMet => Ok((bytes, None)),
            Err(x) => Err(A::InvalidRequest(format!("{}: {}", x.code.as_str(), x.detail))),
        }
    })
    .await?;
    let e = {
        let mut g = c.enrolments.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = g.0.get_mut(&id).ok_or_else(|| err(ApiErrorCode::NotFound, "the enrolment expired"))?;
        slot.envelope = envelope;
        slot.published = published;
        slot.clone()
    };
    if let Some((v, i)) = published {
        eprintln!(
            "writ-server: passkey enrolment {id} of `{}` published as trust-root version {v} (ledger entry {i})",
            e.passkey.name
        );
    }
    let app = c.app.clone();
    let v = crate::blocking(move || Ok(view(&id, &e, &app))).await?;
    Ok(axum::Json(v).into_response())
}
