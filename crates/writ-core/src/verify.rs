//! `verify`: the one function every gate, the authority, the CLI and the
//! browser call. Pure and deterministic: the same bytes, trust root and
//! context give the same verdict everywhere.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use crate::approval::{self, Verdict};
use crate::denial::{Denial, DenialCode};
use crate::digest::Sha256Digest;
use crate::dsse::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::KeyId;
use crate::limits::{MAX_DEPTH, MAX_ENVELOPE_BYTES};
use crate::model::{Action, Boundaries, PREDICATE_TYPE, Predicate, STATEMENT_TYPE, Scope, Statement};
use crate::scope::{self, Attempt, Capabilities, HostFacts};
use crate::time::Timestamp;
use crate::trust::{Role, TrustRoot};

/// How the gate is running the writ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only checking (no execution follows): offline, use-count and status
    /// requirements are not applied, revocation still is when known.
    Check,
    /// Executing without contacting the authority.
    Offline,
    /// Executing with the authority reachable (status and use counts known).
    Online,
}

/// Revocation status as the gate learned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not known.
    Unknown,
    /// The authority said valid at `checked_at`.
    Good {
        /// When the authority signed the status.
        checked_at: Timestamp,
    },
    /// The authority said revoked.
    Revoked {
        /// When it was revoked.
        at: Timestamp,
    },
}

/// Everything `verify` needs besides the writ and the trust root.
#[derive(Clone, Debug)]
pub struct Context {
    /// The current time (the core has no clock).
    pub now: Timestamp,
    /// What is being attempted; `None` checks authenticity and validity only.
    pub attempt: Option<Attempt>,
    /// Facts about this host.
    pub host: Option<HostFacts>,
    /// Which boundaries the enforcing gate can enforce.
    pub capabilities: Capabilities,
    /// Check, offline or online.
    pub mode: Mode,
    /// Revocation status.
    pub status: Status,
    /// Online: the use number the authority assigned to this execution
    /// (1 for the first use), after consuming it atomically.
    pub use_count: Option<u32>,
    /// Envelopes of the ancestors, parent first, for a child writ.
    pub ancestors: Vec<Vec<u8>>,
    /// The ledger receipt presented with the writ.
    pub receipt: Option<Vec<u8>>,
}

impl Context {
    /// A context that only checks authenticity and validity at `now`.
    #[must_use]
    pub fn check_at(now: Timestamp) -> Self {
        Self {
            now,
            attempt: None,
            host: None,
            capabilities: Capabilities::ALL,
            mode: Mode::Check,
            status: Status::Unknown,
            use_count: None,
            ancestors: Vec::new(),
            receipt: None,
        }
    }
}

/// A writ whose every check passed. Only [`verify`] constructs one, so holding
/// a `Verified` proves the checks ran.
#[derive(Clone, Debug)]
pub struct Verified {
    statement: Statement,
    envelope_digest: Sha256Digest,
    payload_digest: LazyDigest,
    signer: KeyId,
    root_issuer: KeyId,
    approvers: Vec<KeyId>,
    matched_action: Option<usize>,
}

impl Verified {
    /// The writ id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.statement.predicate.id
    }
    /// The verified statement.
    #[must_use]
    pub fn statement(&self) -> &Statement {
        &self.statement
    }
    /// The verified predicate.
    #[must_use]
    pub fn predicate(&self) -> &Predicate {
        &self.statement.predicate
    }
    /// The scope.
    #[must_use]
    pub fn scope(&self) -> &Scope {
        &self.statement.predicate.scope
    }
    /// The boundaries the gate must enforce.
    #[must_use]
    pub fn boundaries(&self) -> &Boundaries {
        &self.statement.predicate.scope.boundaries
    }
    /// sha256 of the envelope bytes as presented (the ledger names writs by it).
    #[must_use]
    pub fn envelope_digest(&self) -> Sha256Digest {
        self.envelope_digest
    }
    /// sha256 of the signed payload bytes.
    #[must_use]
    pub fn payload_digest(&self) -> Sha256Digest {
        self.payload_digest.get()
    }
    /// The key that signed it: an issuer key, or for a delegated writ the
    /// parent's holder key.
    #[must_use]
    pub fn signer(&self) -> KeyId {
        self.signer
    }
    /// The issuer key that signed the root of its chain (its own signer for
    /// a writ signed by an issuer key): the key that signs its status.
    #[must_use]
    pub fn root_issuer(&self) -> KeyId {
        self.root_issuer
    }
    /// Approvers whose approvals counted.
    #[must_use]
    pub fn approvers(&self) -> &[KeyId] {
        &self.approvers
    }
    /// The action that matched the attempt, when one was given.
    #[must_use]
    pub fn matched_action(&self) -> Option<&Action> {
        self.matched_action.and_then(|i| self.statement.predicate.scope.actions.get(i))
    }
}

/// The signed payload, hashed only when its digest is asked for (most callers
/// never ask); prints as the digest, as the eager field did.
#[derive(Clone)]
struct LazyDigest(Vec<u8>);

impl LazyDigest {
    fn get(&self) -> Sha256Digest {
        Sha256Digest::of(&self.0)
    }
}

impl core::fmt::Debug for LazyDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.get(), f)
    }
}

fn deny(code: DenialCode, detail: impl Into<String>) -> Denial {
    Denial::new(code, detail)
}

/// Verifies a writ envelope.
///
/// The checks run in a fixed, documented order (`docs/format.md`,
/// "Verification"), and the first failure decides the code.
///
/// # Errors
/// A [`Denial`] with a stable [`DenialCode`].
///
/// # Example
/// ```
/// use writ_core::{verify, Context, DenialCode, Timestamp, TrustRoot};
/// let denial = verify(b"not a writ", &TrustRoot::empty(), &Context::check_at(Timestamp(0))).unwrap_err();
/// assert_eq!(denial.code, DenialCode::Malformed);
/// ```
pub fn verify(bytes: &[u8], trust: &TrustRoot, ctx: &Context) -> Result<Verified, Denial> {
    verify_at_depth(bytes, trust, ctx, 0)
}

fn verify_at_depth(bytes: &[u8], trust: &TrustRoot, ctx: &Context, chain: u32) -> Result<Verified, Denial> {
    // 1. Size, envelope, payload type.
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(deny(
            DenialCode::TooLarge,
            alloc::format!("writ is {} bytes; the limit is {MAX_ENVELOPE_BYTES}", bytes.len()),
        ));
    }
    let env = dsse::decode(bytes).map_err(|e| deny(DenialCode::Malformed, e))?;
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(deny(
            DenialCode::Unsupported,
            alloc::format!("payloadType `{}` is not `{IN_TOTO_PAYLOAD_TYPE}`", env.payload_type),
        ));
    }

    // 2. Signatures: every signature by a trusted issuer key must verify,
    //    and there must be at least one. Signatures by other keys are ignored.
    let input = env.signing_input();
    let mut verified: Vec<KeyId> = Vec::new();
    for (kid, sig) in &env.signatures {
        let Some(key) = trust.key(kid).filter(|k| k.has_role(Role::Issuer)) else { continue };
        if key.entry.revoked {
            return Err(deny(
                DenialCode::KeyRevoked,
                alloc::format!("issuer key `{}` ({kid}) is revoked", key.entry.name),
            ));
        }
        match key.verify_signature(&input, sig) {
            Ok(()) => {}
            Err(crate::hybrid::SignatureFault::SuiteMismatch) => {
                return Err(deny(
                    DenialCode::SuiteMismatch,
                    alloc::format!(
                        "signature by issuer key `{}` is not of the suite the trust root pins ({})",
                        key.entry.name,
                        key.entry.suite.map_or("ed25519", |_| crate::hybrid::SUITE_NAME)
                    ),
                ));
            }
            Err(crate::hybrid::SignatureFault::Invalid) => {
                return Err(deny(
                    DenialCode::BadSignature,
                    alloc::format!("signature by issuer key `{}` does not verify", key.entry.name),
                ));
            }
        }
        verified.push(*kid);
    }
    // 2′. No issuer signature but ancestors presented: a delegated writ,
    //     signed by the holder key its verified parent names (§18).
    let parent = match (verified.is_empty(), ctx.ancestors.split_first()) {
        (true, None) => {
            return Err(deny(DenialCode::UnknownKey, "no signature is by an issuer key of the trust root"));
        }
        (true, Some((parent_bytes, rest))) => {
            let parent = verify_parent(parent_bytes, rest, trust, ctx, chain)?;
            verified.push(holder_signature(&env, &input, parent.predicate())?);
            Some((parent, Sha256Digest::of(parent_bytes)))
        }
        (false, _) => None,
    };

    // 3. The statement, parsed from exactly the signed bytes.
    let statement = parse_statement(&env.payload)?;
    let p = &statement.predicate;
    // Any considered signature may bind the issuer: every one of them verified.
    if !verified.contains(&p.issuer) {
        return Err(deny(DenialCode::Malformed, "`predicate.issuer` is not a key whose signature verified"));
    }
    let signer = p.issuer;
    if parent.is_none() {
        let issuer = trust.key(&signer).ok_or_else(|| deny(DenialCode::Internal, "signer vanished from trust root"))?;
        if !issuer.valid_at(p.issued_at) {
            return Err(deny(
                DenialCode::KeyNotValid,
                alloc::format!("issuer key `{}` was not valid at issuance time {}", issuer.entry.name, p.issued_at),
            ));
        }
    }

    // 4. Validity window and lifetime cap.
    if ctx.now < p.validity.not_before {
        return Err(deny(
            DenialCode::NotYetValid,
            alloc::format!("valid from {}; now is {}", p.validity.not_before, ctx.now),
        ));
    }
    if ctx.now >= p.validity.not_after {
        return Err(deny(
            DenialCode::Expired,
            alloc::format!("expired at {}; now is {}", p.validity.not_after, ctx.now),
        ));
    }
    if let Some(max) = trust.file().max_writ_lifetime_secs {
        let life = p.validity.not_after.unix().saturating_sub(p.issued_at.unix());
        if u64::try_from(life).unwrap_or(u64::MAX) > max {
            return Err(deny(
                DenialCode::LifetimeExceeded,
                alloc::format!("writ lives {life} s; the trust root allows at most {max} s"),
            ));
        }
    }

    // 5.–6. Governance (approvals) and lineage; a delegated writ carries
    //       its verified parent's approvals unchanged (§18).
    let (approvers, root_issuer) = match &parent {
        None => {
            let approvers = check_approvals(p, trust)?;
            check_lineage(p, trust, ctx, chain)?;
            (approvers, signer)
        }
        Some((parent, parent_digest)) => {
            check_parent_ref(p, parent, parent_digest)?;
            crate::delegate::check(parent.predicate(), p)?;
            (parent.approvers.clone(), parent.root_issuer)
        }
    };

    // 7. Ledger receipt.
    let envelope_digest = Sha256Digest::of(bytes);
    match &ctx.receipt {
        Some(r) => {
            crate::receipt::check(r, trust, p, &envelope_digest)?;
        }
        None if trust.file().require_receipt && ctx.mode != Mode::Check => {
            return Err(deny(
                DenialCode::ReceiptMissing,
                "the trust root requires a ledger receipt and none was presented",
            ));
        }
        None => {}
    }

    // 8. Revocation, status, uses, offline.
    check_status(p, trust, ctx)?;

    // 9. Scope.
    let matched_action = match &ctx.attempt {
        Some(a) => Some(scope::check(&p.scope, a, ctx.host.as_ref(), &ctx.capabilities)?),
        None => None,
    };

    Ok(Verified {
        payload_digest: LazyDigest(env.payload),
        envelope_digest,
        signer,
        root_issuer,
        approvers,
        matched_action,
        statement,
    })
}

/// Verifies the parent of a delegated writ: recursively, in check mode, at
/// the same `now`, with no attempt, receipt, use count or status of its own,
/// the remaining ancestors as its own.
fn verify_parent(
    parent_bytes: &[u8],
    rest: &[Vec<u8>],
    trust: &TrustRoot,
    ctx: &Context,
    chain: u32,
) -> Result<Verified, Denial> {
    if chain >= MAX_DEPTH {
        return Err(deny(DenialCode::LineageBroken, "delegation chain is deeper than the format allows"));
    }
    let parent_ctx = Context {
        attempt: None,
        mode: Mode::Check,
        status: Status::Unknown,
        receipt: None,
        use_count: None,
        ancestors: rest.to_vec(),
        ..ctx.clone()
    };
    verify_at_depth(parent_bytes, trust, &parent_ctx, chain + 1).map_err(|d| {
        deny(DenialCode::LineageBroken, alloc::format!("parent writ does not verify: {} ({})", d.code, d.detail))
    })
}

/// The key id of the parent's holder, once every signature by it verified
/// (at least one must be present).
fn holder_signature(env: &dsse::DecodedEnvelope, input: &[u8], parent: &Predicate) -> Result<KeyId, Denial> {
    let Some(holder) = &parent.lineage.holder else {
        return Err(deny(
            DenialCode::DelegationSignature,
            alloc::format!("parent writ {} names no holder: no key may delegate it", parent.id),
        ));
    };
    let key = holder.key().map_err(|e| deny(DenialCode::Internal, e))?;
    let kid = key.key_id();
    let mut found = false;
    for (_, sig) in env.signatures.iter().filter(|(k, _)| *k == kid) {
        if !key.verify_strict(input, sig) {
            return Err(deny(
                DenialCode::DelegationSignature,
                "the signature by the parent's holder key does not verify",
            ));
        }
        found = true;
    }
    if !found {
        return Err(deny(
            DenialCode::DelegationSignature,
            alloc::format!("no signature is by the parent's holder key {kid} (nor by an issuer key of the trust root)"),
        ));
    }
    Ok(kid)
}

/// A delegated writ names the presented parent (id and envelope digest).
fn check_parent_ref(p: &Predicate, parent: &Verified, parent_digest: &Sha256Digest) -> Result<(), Denial> {
    let Some(r) = &p.lineage.parent else {
        return Err(deny(
            DenialCode::LineageBroken,
            "a writ signed by a holder key must name its parent in `lineage.parent`",
        ));
    };
    if r.digest.0 != *parent_digest {
        return Err(deny(
            DenialCode::LineageBroken,
            "the presented parent's digest does not match `lineage.parent.digest`",
        ));
    }
    if r.id != parent.id() {
        return Err(deny(DenialCode::LineageBroken, "the presented parent's id does not match `lineage.parent.id`"));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "_type")]
    statement_type: Option<String>,
    #[serde(rename = "predicateType")]
    predicate_type: Option<String>,
}

fn parse_statement(payload: &[u8]) -> Result<Statement, Denial> {
    // Versions first, so an unknown version says so rather than "malformed".
    // A statement that parses carries the same two fields the lenient
    // `Header` would read, so the header is parsed (a second pass over the
    // payload) only when the full parse fails; the verdict is the same.
    match crate::json::from_slice::<Statement>(payload) {
        Ok(statement) => {
            check_versions(Some(&statement.statement_type), Some(&statement.predicate_type))?;
            statement.validate().map_err(|e| deny(DenialCode::Malformed, e))?;
            Ok(statement)
        }
        Err(e) => {
            if let Ok(h) = crate::json::from_slice::<Header>(payload) {
                check_versions(h.statement_type.as_deref(), h.predicate_type.as_deref())?;
            }
            Err(deny(DenialCode::Malformed, alloc::format!("statement: {e}")))
        }
    }
}

fn check_versions(statement_type: Option<&str>, predicate_type: Option<&str>) -> Result<(), Denial> {
    if statement_type.is_some_and(|t| t != STATEMENT_TYPE) {
        return Err(deny(DenialCode::Unsupported, alloc::format!("statement `_type` is not `{STATEMENT_TYPE}`")));
    }
    if predicate_type.is_some_and(|t| t != PREDICATE_TYPE) {
        return Err(deny(DenialCode::Unsupported, alloc::format!("`predicateType` is not `{PREDICATE_TYPE}`")));
    }
    Ok(())
}

fn check_approvals(p: &Predicate, trust: &TrustRoot) -> Result<Vec<KeyId>, Denial> {
    let g = &p.governance;
    let mut names = BTreeSet::new();
    let mut counted = Vec::new();
    for a in &g.approvals {
        let Some(key) = trust.approver(&a.approver) else {
            return Err(deny(DenialCode::BadApproval, alloc::format!("approval by unknown key {}", a.approver)));
        };
        let name = key.name();
        if a.approver == p.request.requester || *name == p.request.requester_name {
            return Err(deny(DenialCode::SelfApproval, alloc::format!("`{name}` approved their own request")));
        }
        if !key.may_approve_at(a.time) {
            return Err(deny(
                DenialCode::BadApproval,
                alloc::format!("`{name}` is not a valid approver at {}", a.time),
            ));
        }
        // With `issued_at ≤ not_before ≤ now` (§3, step 4) this also
        // refuses an approval dated in the verifier's future.
        if a.time > p.issued_at {
            return Err(deny(DenialCode::BadApproval, alloc::format!("approval by `{name}` is dated after issuance")));
        }
        let input = approval::signing_input(&p.request.digest.0, Verdict::Approve, a.time);
        key.verify_approval(&input, &a.sig, a.webauthn.as_ref())
            .map_err(|e| deny(DenialCode::BadApproval, alloc::format!("approval signature by `{name}`: {e}")))?;
        let in_group = g.approver_group.as_ref().is_none_or(|grp| key.groups().contains(grp));
        if in_group && names.insert(String::from(name)) {
            counted.push(a.approver);
        }
    }
    let need = usize::try_from(g.approvals_required).unwrap_or(usize::MAX);
    if counted.len() < need {
        let group = g.approver_group.as_deref().map(|grp| alloc::format!(" of group `{grp}`")).unwrap_or_default();
        return Err(deny(
            DenialCode::ApprovalsInsufficient,
            alloc::format!("{} distinct approvals{group}; policy demands {need}", counted.len()),
        ));
    }
    Ok(counted)
}

fn check_lineage(p: &Predicate, trust: &TrustRoot, ctx: &Context, chain: u32) -> Result<(), Denial> {
    let Some(parent_ref) = &p.lineage.parent else { return Ok(()) };
    if chain >= MAX_DEPTH {
        return Err(deny(DenialCode::LineageBroken, "delegation chain is deeper than the format allows"));
    }
    let Some((parent_bytes, rest)) = ctx.ancestors.split_first() else {
        return Err(deny(DenialCode::LineageBroken, alloc::format!("parent writ {} was not presented", parent_ref.id)));
    };
    if Sha256Digest::of(parent_bytes) != parent_ref.digest.0 {
        return Err(deny(
            DenialCode::LineageBroken,
            "the presented parent's digest does not match `lineage.parent.digest`",
        ));
    }
    let parent_ctx = Context {
        attempt: None,
        mode: Mode::Check,
        receipt: None,
        use_count: None,
        ancestors: rest.to_vec(),
        ..ctx.clone()
    };
    let parent = verify_at_depth(parent_bytes, trust, &parent_ctx, chain + 1).map_err(|d| {
        deny(DenialCode::LineageBroken, alloc::format!("parent writ does not verify: {} ({})", d.code, d.detail))
    })?;
    if parent.id() != parent_ref.id {
        return Err(deny(DenialCode::LineageBroken, "the presented parent's id does not match `lineage.parent.id`"));
    }
    crate::attenuate::check(parent.predicate(), p).map_err(|e| deny(DenialCode::LineageWidened, e))
}

fn check_status(p: &Predicate, trust: &TrustRoot, ctx: &Context) -> Result<(), Denial> {
    if let Status::Revoked { at } = ctx.status {
        return Err(deny(DenialCode::Revoked, alloc::format!("writ {} was revoked at {at}", p.id)));
    }
    match ctx.mode {
        Mode::Check => Ok(()),
        Mode::Offline => {
            if !p.scope.offline {
                return Err(deny(DenialCode::OfflineNotAllowed, "the writ does not allow offline execution"));
            }
            if p.scope.uses.is_some() {
                return Err(deny(DenialCode::OfflineNotAllowed, "the writ's uses must be counted by the authority"));
            }
            let cap = trust.file().max_offline_lifetime_secs;
            let life = p.validity.not_after.unix().saturating_sub(p.validity.not_before.unix());
            if u64::try_from(life).unwrap_or(u64::MAX) > cap {
                return Err(deny(
                    DenialCode::OfflineNotAllowed,
                    alloc::format!(
                        "the writ lives {life} s; the trust root lets only writs of at most {cap} s run offline"
                    ),
                ));
            }
            if trust.file().require_status {
                return Err(deny(DenialCode::StatusUnknown, "the trust root requires a fresh revocation status"));
            }
            Ok(())
        }
        Mode::Online => {
            let fresh = match ctx.status {
                Status::Good { checked_at } => {
                    let age = ctx.now.unix().saturating_sub(checked_at.unix());
                    age >= 0 && u64::try_from(age).unwrap_or(u64::MAX) <= trust.file().status_max_age_secs
                }
                _ => false,
            };
            if trust.file().require_status && !fresh {
                return Err(deny(DenialCode::StatusUnknown, "no fresh revocation status from the authority"));
            }
            if let Some(uses) = p.scope.uses {
                match ctx.use_count {
                    None => return Err(deny(DenialCode::StatusUnknown, "the authority did not count this use")),
                    Some(n) if n > uses || n == 0 => {
                        return Err(deny(DenialCode::Replayed, alloc::format!("use {n} of a writ permitting {uses}")));
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn verify_payload(payload: &[u8]) -> Denial {
        let env = dsse::sign(IN_TOTO_PAYLOAD_TYPE, payload, &fixtures::issuer());
        verify(&env, &fixtures::trust_root(false), &fixtures::run_context().to_context().unwrap()).unwrap_err()
    }

    #[test]
    fn versions_are_reported_before_malformed_on_either_parse_path() {
        let text = serde_json::to_string(&crate::issue::statement(fixtures::predicate())).unwrap();
        // Parses fully: the version is checked on the parsed statement.
        let st_type = text.replace(STATEMENT_TYPE, "https://in-toto.io/Statement/v9");
        assert_eq!(verify_payload(st_type.as_bytes()).code, DenialCode::Unsupported);
        // Does not parse (unknown field): the lenient header still names the version.
        let both = text.replace(PREDICATE_TYPE, "https://writ.dev/authorization/v2").replacen(
            "\"reason\":",
            "\"x\":1,\"reason\":",
            1,
        );
        let d = verify_payload(both.as_bytes());
        assert_eq!(d.code, DenialCode::Unsupported, "{}", d.detail);
        // Right versions, unknown field: malformed, with serde's message.
        let unknown = text.replacen("\"reason\":", "\"x\":1,\"reason\":", 1);
        let d = verify_payload(unknown.as_bytes());
        assert_eq!(d.code, DenialCode::Malformed);
        assert!(d.detail.starts_with("statement: unknown field `x`"), "{}", d.detail);
        // Not UTF-8: malformed through the byte parser.
        let bad = text.replacen("ship api", "ship \u{FF}pi", 1).into_bytes();
        let mut bad_bytes = bad.clone();
        let i = bad.windows(2).position(|w| w == [0xC3, 0xBF]).unwrap();
        bad_bytes[i] = 0xFF;
        bad_bytes.remove(i + 1);
        assert!(core::str::from_utf8(&bad_bytes).is_err());
        assert_eq!(verify_payload(&bad_bytes).code, DenialCode::Malformed);
    }
}
