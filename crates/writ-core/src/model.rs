//! The writ: an in-toto Statement v1 whose predicate carries the six proofs.
//!
//! These types are only ever produced by strict parsing of bytes whose
//! signature was already checked (see [`crate::verify()`]) or by an issuer
//! building a new writ. The normative description is `docs/format.md`; the
//! JSON Schema of the predicate is `docs/writ-predicate.schema.json`.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::digest::{DigestSet, Sha256Digest, hex_str};
use crate::json::StrictMap;
use crate::keys::KeyId;
use crate::limits::{
    MAX_ACTIONS, MAX_APPROVALS, MAX_ARG_RULES, MAX_CONDITIONS, MAX_DEPTH, MAX_LIST, MAX_ONE_OF, MAX_STRING,
    MAX_SUBJECTS,
};
use crate::time::Timestamp;

/// `_type` of every in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of a writ, version 1. Any other value is refused.
pub const PREDICATE_TYPE: &str = "https://writ.dev/authorization/v1";

/// An in-toto Statement v1 carrying a writ predicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What may run: one subject per action (see `docs/format.md`).
    pub subject: Vec<Subject>,
    /// Always [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The authorization.
    pub predicate: Predicate,
}

/// An in-toto resource descriptor restricted to a name and a sha256 digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Program path, or `http:<METHOD> <path>`, or `tool:<name>`.
    pub name: String,
    /// For a program, the sha256 of its bytes; otherwise the sha256 of `name`.
    pub digest: DigestSet,
}

/// The writ predicate: the six proofs of an authorization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    /// Writ id: a UUIDv7 in canonical lowercase form.
    pub id: String,
    /// Key id of the issuing authority key; must equal the envelope signer.
    pub issuer: KeyId,
    /// When the authority issued it.
    pub issued_at: Timestamp,
    /// The request this writ answers.
    pub request: RequestRef,
    /// Proof that policy validation succeeded.
    pub policy: PolicyProof,
    /// Proof that governance (human approvals) was satisfied.
    #[serde(default)]
    pub governance: Governance,
    /// Proof that runtime conditions were verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// What exactly may run, where, and within which boundaries.
    pub scope: Scope,
    /// When it may run.
    pub validity: Validity,
    /// Where it sits in a delegation chain.
    #[serde(default)]
    pub lineage: Lineage,
}

/// The request a writ answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRef {
    /// Request id (UUIDv7).
    pub id: String,
    /// Key id of the requester.
    pub requester: KeyId,
    /// Human name of the requester, as in the trust root.
    pub requester_name: String,
    /// Why it was requested.
    pub reason: String,
    /// sha256 of the canonical request; approvers sign this digest.
    pub digest: DigestSet,
}

/// The policy decision that allowed the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyProof {
    /// Policy set id (name or version label).
    pub id: String,
    /// sha256 of the policy set source evaluated.
    pub digest: DigestSet,
    /// Always `allow`: nothing else may be issued.
    pub decision: PolicyDecision,
    /// Ids of the policies that determined the decision.
    pub determining_policies: Vec<String>,
}

/// A policy outcome recorded in a writ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyDecision {
    /// Policy allowed the request (possibly after approvals).
    Allow,
}

/// Approval obligations and the approvals that met them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    /// How many distinct approvers policy demanded.
    #[serde(default)]
    pub approvals_required: u32,
    /// The group approvers must belong to, when policy named one.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub approver_group: Option<String>,
    /// The approvals, each signed by the approver's own key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
}

/// One approver's signature over the request digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Approver's key id.
    pub approver: KeyId,
    /// When the approval was given.
    pub time: Timestamp,
    /// Base64 Ed25519 signature over [`crate::approval::signing_input`];
    /// for a passkey, the DER ECDSA signature of its WebAuthn assertion.
    pub sig: String,
    /// A passkey approval's WebAuthn assertion (see [`crate::webauthn`]).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub webauthn: Option<crate::webauthn::AssertionParts>,
}

/// A runtime condition the authority verified before issuing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// What was checked, e.g. `host`, `program`, `environment`.
    pub kind: String,
    /// sha256 of the evidence document the authority checked.
    pub evidence_digest: DigestSet,
    /// When it was checked.
    pub verified_at: Timestamp,
}

/// The execution scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// What may be done; an attempt must match one action.
    pub actions: Vec<Action>,
    /// Where and with what environment.
    #[serde(default)]
    pub environment: Environment,
    /// Limits the gate enforces while it runs.
    #[serde(default)]
    pub boundaries: Boundaries,
    /// How many executions it permits (`1` = single use); absent = unlimited
    /// within validity.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub uses: Option<u32>,
    /// Whether a gate may run it without contacting the authority.
    #[serde(default, skip_serializing_if = "is_false")]
    pub offline: bool,
}

/// One permitted action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Run a program.
    Exec(ExecAction),
    /// Call an HTTP endpoint behind a proxy gate.
    Http(HttpAction),
    /// Call an agent tool.
    Tool(ToolAction),
}

/// Run one program with constrained arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecAction {
    /// Absolute path of the program.
    pub program: String,
    /// sha256 of the program's bytes.
    #[serde(with = "hex_str")]
    pub sha256: Sha256Digest,
    /// One rule per argument after the program name, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgRule>,
    /// Whether more arguments than rules may follow.
    #[serde(default, skip_serializing_if = "is_false")]
    pub more_args: bool,
}

/// A rule for one argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ArgRule {
    /// Exactly this string.
    Exact(String),
    /// A glob: `*` any run, `?` one character; never matches a value starting
    /// with `-` unless the pattern starts with `-`.
    Glob(String),
    /// Any one of these strings.
    OneOf(Vec<String>),
    /// A number (decimal text: an integer, or a finite decimal such as a JSON
    /// number) within `min..=max`; a bound left out is open. Text that is not
    /// such a number never matches.
    Range {
        /// Smallest value allowed.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
        min: Option<i64>,
        /// Largest value allowed.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
        max: Option<i64>,
    },
    /// Exactly this absolute path, and the gate must hand the program bytes
    /// with this sha256 for it (see [`crate::ExecAttempt::arg_files`]).
    File {
        /// The argument, an absolute path.
        path: String,
        /// sha256 of the file's bytes.
        #[serde(with = "hex_str")]
        sha256: Sha256Digest,
    },
}

/// Call one HTTP endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    /// Upper-case method.
    pub method: String,
    /// Path pattern: `*` matches within one segment, `**` as a whole segment
    /// matches any number of segments.
    pub path: String,
    /// sha256 the request body must have, when set.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex")]
    pub body_sha256: Option<Sha256Digest>,
}

/// Call one agent tool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolAction {
    /// Tool name.
    pub name: String,
    /// Constraints on named arguments (string values).
    #[serde(default, skip_serializing_if = "StrictMap::is_empty")]
    pub args: StrictMap<ArgRule>,
    /// Whether arguments without a constraint may be passed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub more_args: bool,
    /// sha256 the whole argument object must have (what it is a digest of
    /// is the caller's: the MCP gateway hashes canonical JSON, see
    /// `docs/agents.md`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex")]
    pub args_sha256: Option<Sha256Digest>,
    /// sha256 of the tool's definition as the tool's server announced it
    /// (MCP: the canonical JSON of its `tools/list` entry), when set; a
    /// changed description or schema is then not this tool.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex")]
    pub definition_sha256: Option<Sha256Digest>,
}

/// Where it may run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Host names (globs allowed) it may run on; absent = any host.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub hosts: Option<Vec<String>>,
    /// Labels the host must carry (all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Environment variables the program may receive; a value fixes it.
    #[serde(default, skip_serializing_if = "StrictMap::is_empty")]
    pub env: StrictMap<Option<String>>,
    /// The working directory, when fixed.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub cwd: Option<String>,
}

/// Limits enforced by the gate; absent = not constrained by this writ.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boundaries {
    /// Wall-clock seconds.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub wall_clock_secs: Option<u64>,
    /// CPU seconds.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub cpu_secs: Option<u64>,
    /// Address-space bytes.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub memory_bytes: Option<u64>,
    /// Processes (including the program itself).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub processes: Option<u64>,
    /// Open file descriptors.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub open_files: Option<u64>,
    /// Largest file it may write, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub file_size_bytes: Option<u64>,
    /// Whether network access is allowed (`false` = none).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub network: Option<bool>,
    /// Paths it may read (and execute) below; absent = not constrained.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub fs_read: Option<Vec<String>>,
    /// Paths it may write below; absent = not constrained.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub fs_write: Option<Vec<String>>,
}

/// The validity window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// Not valid before this instant.
    pub not_before: Timestamp,
    /// Not valid at or after this instant.
    pub not_after: Timestamp,
}

/// Delegation lineage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    /// The parent writ, for a delegated (child) writ.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub parent: Option<ParentRef>,
    /// 0 for a root writ, parent's depth + 1 for a child.
    #[serde(default)]
    pub depth: u32,
    /// How deep the chain below may go (the remaining delegation depth is
    /// `max_depth - depth`).
    #[serde(default)]
    pub max_depth: u32,
    /// The key allowed to delegate this writ: to sign a narrower child of it
    /// (`docs/format.md` §18). Absent: no key may.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub holder: Option<Holder>,
}

/// The holder binding: the public key that may sign children of a writ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// Standard base64 (with padding) of the raw 32-byte Ed25519 public key.
    pub public_key: String,
}

impl Holder {
    /// The binding of `key`.
    #[must_use]
    pub fn new(key: &crate::keys::PublicKey) -> Self {
        Self { public_key: crate::b64::encode(&key.to_bytes()) }
    }

    /// The bound key.
    ///
    /// # Errors
    /// A message when `public_key` is not canonical base64 of a valid,
    /// canonically encoded Ed25519 public key.
    pub fn key(&self) -> Result<crate::keys::PublicKey, String> {
        let raw =
            crate::b64::decode(&self.public_key, 32).map_err(|e| alloc::format!("`lineage.holder.public_key`: {e}"))?;
        crate::keys::PublicKey::from_bytes(&raw).map_err(|e| alloc::format!("`lineage.holder.public_key`: {e}"))
    }
}

/// A reference to the parent writ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentRef {
    /// Parent writ id.
    pub id: String,
    /// sha256 of the parent's envelope bytes.
    pub digest: DigestSet,
}

/// An optional member is absent or has a value of its type; `null` is refused
/// (one artifact, one textual form).
fn non_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

pub(crate) mod opt_hex {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Sha256Digest>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&d.to_hex()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sha256Digest>, D::Error> {
        // Present means a string: `null` is refused like any other wrong type.
        let s = alloc::borrow::Cow::<'de, str>::deserialize(d)?;
        Sha256Digest::from_hex(&s).map(Some).map_err(serde::de::Error::custom)
    }
}

/// The subject an action implies (see `docs/format.md`, "Subjects").
#[must_use]
pub fn subject_for(action: &Action) -> Subject {
    match action {
        Action::Exec(e) => Subject { name: e.program.clone(), digest: DigestSet(e.sha256) },
        Action::Http(h) => {
            let name = alloc::format!("http:{} {}", h.method, h.path);
            Subject { digest: DigestSet(Sha256Digest::of(name.as_bytes())), name }
        }
        Action::Tool(t) => {
            let name = alloc::format!("tool:{}", t.name);
            Subject { digest: DigestSet(Sha256Digest::of(name.as_bytes())), name }
        }
    }
}

/// Whether `id` is a canonical lowercase UUIDv7 (`xxxxxxxx-xxxx-7xxx-[89ab]xxx-xxxxxxxxxxxx`).
#[must_use]
pub fn is_uuid_v7(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            14 => c == b'7',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

impl Statement {
    /// Checks every bound and structural rule that JSON parsing alone does
    /// not: versions, list and string sizes, id forms, subjects matching
    /// actions, a sane validity window and lineage.
    ///
    /// # Errors
    /// A message naming the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if self.statement_type != STATEMENT_TYPE {
            return Err(alloc::format!("`_type` must be `{STATEMENT_TYPE}`"));
        }
        let p = &self.predicate;
        if !is_uuid_v7(&p.id) {
            return Err("`predicate.id` must be a lowercase UUIDv7".into());
        }
        if !is_uuid_v7(&p.request.id) {
            return Err("`predicate.request.id` must be a lowercase UUIDv7".into());
        }
        bounded_len("subject", self.subject.len(), MAX_SUBJECTS)?;
        bounded_len("scope.actions", p.scope.actions.len(), MAX_ACTIONS)?;
        bounded_len("governance.approvals", p.governance.approvals.len(), MAX_APPROVALS)?;
        bounded_len("conditions", p.conditions.len(), MAX_CONDITIONS)?;
        bounded_len("policy.determining_policies", p.policy.determining_policies.len(), MAX_LIST)?;
        if p.scope.actions.is_empty() {
            return Err("`scope.actions` is empty: a writ must permit at least one action".into());
        }
        let expected: Vec<Subject> = p.scope.actions.iter().map(subject_for).collect();
        if expected != self.subject {
            return Err("`subject` must list exactly one subject per action, in order (see docs/format.md)".into());
        }
        for s in [&p.request.requester_name, &p.request.reason, &p.policy.id] {
            bounded_str(s)?;
        }
        for s in &p.policy.determining_policies {
            bounded_str(s)?;
        }
        if let Some(g) = &p.governance.approver_group {
            bounded_str(g)?;
        }
        if p.governance.approvals_required > MAX_APPROVALS as u32 {
            return Err(alloc::format!("`governance.approvals_required` exceeds {MAX_APPROVALS}"));
        }
        for c in &p.conditions {
            bounded_str(&c.kind)?;
        }
        for a in &p.scope.actions {
            validate_action(a)?;
        }
        validate_environment(&p.scope.environment)?;
        validate_boundaries(&p.scope.boundaries)?;
        if p.validity.not_before >= p.validity.not_after {
            return Err("`validity.not_before` must be earlier than `validity.not_after`".into());
        }
        if p.issued_at > p.validity.not_before {
            return Err("`issued_at` must not be later than `validity.not_before`".into());
        }
        if p.scope.uses == Some(0) {
            return Err("`scope.uses` must be at least 1 when present".into());
        }
        let l = &p.lineage;
        if l.max_depth > MAX_DEPTH || l.depth > l.max_depth {
            return Err(alloc::format!("`lineage` must satisfy depth <= max_depth <= {MAX_DEPTH}"));
        }
        if let Some(h) = &l.holder {
            h.key()?;
        }
        match &l.parent {
            None if l.depth != 0 => Err("`lineage.depth` must be 0 without a parent".into()),
            Some(_) if l.depth == 0 => Err("`lineage.depth` must be at least 1 with a parent".into()),
            Some(parent) if !is_uuid_v7(&parent.id) => Err("`lineage.parent.id` must be a lowercase UUIDv7".into()),
            _ => Ok(()),
        }
    }
}

fn bounded_len(field: &str, len: usize, max: usize) -> Result<(), String> {
    if len > max { Err(alloc::format!("`{field}` has {len} items; the limit is {max}")) } else { Ok(()) }
}

fn bounded_str(s: &str) -> Result<(), String> {
    if s.len() > MAX_STRING {
        Err(alloc::format!("a string is {} bytes; the limit is {MAX_STRING}", s.len()))
    } else {
        Ok(())
    }
}

fn bounded_list(field: &str, list: &[String]) -> Result<(), String> {
    bounded_len(field, list.len(), MAX_LIST)?;
    list.iter().try_for_each(|s| bounded_str(s))
}

fn validate_rule(rule: &ArgRule) -> Result<(), String> {
    match rule {
        ArgRule::Exact(s) | ArgRule::Glob(s) => bounded_str(s),
        ArgRule::OneOf(v) => {
            bounded_len("one_of", v.len(), MAX_ONE_OF)?;
            if v.is_empty() {
                return Err("`one_of` must list at least one value".into());
            }
            v.iter().try_for_each(|s| bounded_str(s))
        }
        ArgRule::Range { min, max } => match (min, max) {
            (None, None) => Err("`range` must set `min`, `max` or both".into()),
            (Some(lo), Some(hi)) if lo > hi => Err(alloc::format!("`range` has min {lo} above max {hi}")),
            _ => Ok(()),
        },
        ArgRule::File { path, .. } => {
            bounded_str(path)?;
            if !path.starts_with('/') || path.contains('\0') {
                return Err(alloc::format!("file argument `{path}` must be an absolute path"));
            }
            Ok(())
        }
    }
}

fn validate_action(a: &Action) -> Result<(), String> {
    match a {
        Action::Exec(e) => {
            bounded_str(&e.program)?;
            if !e.program.starts_with('/') {
                return Err(alloc::format!("exec program `{}` must be an absolute path", e.program));
            }
            bounded_len("exec.args", e.args.len(), MAX_ARG_RULES)?;
            e.args.iter().try_for_each(validate_rule)
        }
        Action::Http(h) => {
            bounded_str(&h.path)?;
            if h.method.is_empty() || !h.method.bytes().all(|b| b.is_ascii_uppercase()) || h.method.len() > 16 {
                return Err(alloc::format!("http method `{}` must be upper-case letters", h.method));
            }
            crate::glob::validate_path_pattern(&h.path).map_err(|e| alloc::format!("http path `{}`: {e}", h.path))
        }
        Action::Tool(t) => {
            bounded_str(&t.name)?;
            if t.name.is_empty() {
                return Err("tool name is empty".into());
            }
            bounded_len("tool.args", t.args.0.len(), MAX_ARG_RULES)?;
            if t.args.0.values().any(|r| matches!(r, ArgRule::File { .. })) {
                return Err(alloc::format!("tool `{}`: a `file` rule applies only to exec arguments", t.name));
            }
            t.args.0.values().try_for_each(validate_rule)
        }
    }
}

fn validate_environment(e: &Environment) -> Result<(), String> {
    if let Some(h) = &e.hosts {
        bounded_list("environment.hosts", h)?;
    }
    bounded_list("environment.labels", &e.labels)?;
    for (k, v) in &e.env.0 {
        bounded_str(k)?;
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(alloc::format!("environment variable name `{k}` is not valid"));
        }
        if let Some(v) = v {
            bounded_str(v)?;
        }
    }
    if let Some(c) = &e.cwd {
        bounded_str(c)?;
        if !c.starts_with('/') {
            return Err(alloc::format!("cwd `{c}` must be an absolute path"));
        }
    }
    Ok(())
}

fn validate_boundaries(b: &Boundaries) -> Result<(), String> {
    for list in [&b.fs_read, &b.fs_write].into_iter().flatten() {
        bounded_list("boundaries.fs", list)?;
        if let Some(p) = list.iter().find(|p| !p.starts_with('/')) {
            return Err(alloc::format!("filesystem path `{p}` must be absolute"));
        }
    }
    Ok(())
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_false(b: &bool) -> bool {
    !*b
}
