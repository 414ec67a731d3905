//! What callers send and what the authority answers (the JSON of `docs/api.md`).
//!
//! Request limits are the writ format's own (`writ_core::limits`): a request
//! the authority accepts always fits in the writ it would issue.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use writ_core::limits;

/// Most arguments in a request (the writ's `args` rules, `argv[0]` included).
pub const MAX_ARGV: usize = limits::MAX_ARG_RULES;
/// Most environment variables in a request (a writ's `env` map).
pub const MAX_ENV: usize = limits::MAX_LIST;
/// Longest string in a request, in bytes (a writ's strings).
pub const MAX_FIELD: usize = limits::MAX_STRING;
/// Longest reason, in bytes.
pub const MAX_REASON: usize = 2048;
/// Most host patterns (a writ's lists).
pub const MAX_HOSTS: usize = limits::MAX_LIST;
/// Longest validity a request may ask for (policy usually caps it further).
pub const MAX_DURATION_SECS: u64 = 366 * 86_400;

/// What should run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum TargetInput {
    /// Run a program.
    Exec {
        /// Absolute path of the program.
        program: String,
        /// Lowercase hex sha256 of the program; the authority hashes the
        /// local file when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        /// The exact argv, `argv[0]` included.
        argv: Vec<String>,
    },
    /// Call an HTTP endpoint.
    Http {
        /// Upper-case method.
        method: String,
        /// Path.
        path: String,
    },
    /// Call an agent tool.
    Tool {
        /// Tool name.
        name: String,
        /// The call's arguments, each as the exact string a writ's rule
        /// matches (for MCP: a JSON string is itself, any other value its
        /// canonical JSON); each becomes an `exact` rule of the writ.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "strict_map")]
        args: BTreeMap<String, String>,
        /// Lowercase hex sha256 of the whole argument object; the writ binds it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        args_sha256: Option<String>,
        /// Lowercase hex sha256 of the tool's definition as its server
        /// announced it; the writ binds it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition_sha256: Option<String>,
    },
}

/// A request for a writ, as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// What should run.
    pub target: TargetInput,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// How long the writ should be valid.
    pub duration_secs: u64,
    /// Environment variables the program should receive (a repeated name is
    /// refused, as everywhere in writ's JSON).
    #[serde(default, deserialize_with = "strict_map")]
    pub env: BTreeMap<String, String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Hosts (globs) it may run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// A gate-signed host evidence envelope (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Boundaries asked for (limits, network, file system); the writ gets
    /// the stricter of these and what policy demands, and asking for more
    /// than policy allows is refused (`exceeds_policy`). (H2)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundaries: Option<writ_core::model::Boundaries>,
    /// Most uses asked for (policy's `@uses` caps it). (H2)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    /// The holder: standard base64 of the raw 32-byte Ed25519 public key
    /// that may delegate the writ (sign narrower children of it,
    /// `docs/format.md` §18). Only where policy allows delegation
    /// (`@delegation("N")`), else `exceeds_policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// How many levels of delegation below the writ the holder may make
    /// (1 to 8; default 1, at most what policy's `@delegation` allows).
    /// Only with `holder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_depth: Option<u32>,
}

/// The canonical request document: its exact bytes are hashed into the
/// request digest that approvers sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDocument {
    /// Always `writ.request/v1`.
    pub version: String,
    /// Request id.
    pub id: String,
    /// Requester key id (hex).
    pub requester: String,
    /// Requester name in the trust root.
    pub requester_name: String,
    /// When it was submitted (RFC 3339).
    pub submitted_at: String,
    /// What should run (with the program digest filled in).
    pub target: TargetInput,
    /// Why.
    pub reason: String,
    /// Validity asked for.
    pub duration_secs: u64,
    /// Environment.
    #[serde(deserialize_with = "strict_map")]
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Hosts.
    pub hosts: Option<Vec<String>>,
    /// sha256 of the host evidence envelope, when evidence was given.
    pub evidence_sha256: Option<String>,
    /// Boundaries asked for (absent in documents that asked for none, so
    /// older documents keep their bytes and digest). (H2)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundaries: Option<writ_core::model::Boundaries>,
    /// Uses asked for. (H2)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    /// The holder key asked for (absent in documents without one, so older
    /// documents keep their bytes and digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// The delegation depth asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_depth: Option<u32>,
}

/// The policy decision, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    /// `allow`, `needs_approval` or `deny`.
    pub outcome: String,
    /// Determining policy ids.
    pub determining_policies: Vec<String>,
    /// Human-readable reasons.
    pub reasons: Vec<String>,
    /// Approvals needed.
    pub approvals_required: u32,
    /// Group approvers must be in.
    pub approver_group: Option<String>,
    /// Digest of the policy set.
    pub policy_digest: String,
}

/// One vote on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteView {
    /// Approver key id.
    pub approver: String,
    /// Approver name.
    pub name: String,
    /// `approve` or `deny`.
    pub verdict: String,
    /// When.
    pub time: String,
    /// The approver's reason (`writ approve|deny --reason`), if given; not
    /// signed, attributed by the authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A request, as approvers and requesters see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    /// Request id.
    pub request_id: String,
    /// `pending`, `issued`, `denied` or `expired`.
    pub status: String,
    /// Requester key id.
    pub requester: String,
    /// Requester name.
    pub requester_name: String,
    /// Base64 of the exact request document bytes.
    pub document: String,
    /// Hex sha256 of the document: what approvers sign.
    pub request_digest: String,
    /// One line saying what would run.
    pub summary: String,
    /// Why.
    pub reason: String,
    /// When submitted.
    pub created_at: String,
    /// When a pending request expires.
    pub expires_at: String,
    /// Approvals needed.
    pub approvals_required: u32,
    /// Approver group.
    pub approver_group: Option<String>,
    /// Votes so far.
    pub approvals: Vec<VoteView>,
    /// The policy decision.
    pub decision: DecisionView,
    /// The writ, once issued.
    pub writ_id: Option<String>,
    /// The writ envelope (JSON text), once issued, for the requester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writ: Option<String>,
    /// The receipt (C2SP tlog-proof text), once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

/// A writ's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritView {
    /// Writ id.
    pub writ_id: String,
    /// Request id.
    pub request_id: String,
    /// `valid` or `revoked` (an expired writ stays `valid` here; its validity says the rest).
    pub state: String,
    /// Uses permitted (`None` = unlimited within validity).
    pub uses: Option<u32>,
    /// Uses consumed.
    pub used: u32,
    /// End of validity.
    pub not_after: String,
    /// When revoked.
    pub revoked_at: Option<String>,
    /// Why revoked.
    pub reason: Option<String>,
    /// The envelope (JSON text).
    pub writ: String,
    /// The receipt (tlog-proof text).
    pub receipt: String,
}

/// A fresh evidence nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceView {
    /// The nonce (hex).
    pub nonce: String,
    /// When it stops being accepted.
    pub expires_at: String,
}

/// A gate's signed statement of host facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEvidence {
    /// A nonce the authority issued.
    pub nonce: String,
    /// Host name.
    pub hostname: String,
    /// Machine id.
    #[serde(default)]
    pub machine_id: String,
    /// Kernel release.
    #[serde(default)]
    pub kernel: String,
    /// Labels claimed (kept only when the gate key is trusted for them).
    #[serde(default)]
    pub labels: Vec<String>,
    /// sha256 of the program as found on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_sha256: Option<String>,
    /// When the gate made the statement (RFC 3339).
    pub time: String,
}

/// DSSE payload type of a host evidence statement.
pub const HOST_EVIDENCE_PAYLOAD_TYPE: &str = "application/vnd.writ.host-evidence.v1+json";

/// Deserializes a map refusing repeated keys (and more than
/// [`writ_core::limits::MAX_LIST`] entries), like `writ_core::json::StrictMap`.
fn strict_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    writ_core::json::StrictMap::<String>::deserialize(d).map(|m| m.0)
}

/// An approver's vote, as sent: their own Ed25519 signature over
/// `writ_core::approval::signing_input` of the request digest, the verdict
/// and the time they signed (make one with [`crate::approval::sign`]).
/// That time becomes the approval's `time` in the writ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteInput {
    /// `approve` or `deny`.
    pub verdict: VerdictName,
    /// Base64 of the 64-byte signature.
    pub signature: String,
    /// When the approver signed (RFC 3339 UTC, whole seconds: what was
    /// signed).
    pub time: String,
    /// Why (a denial's reason, shown to the requester); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The verdict's wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictName {
    /// Approve.
    Approve,
    /// Deny.
    Deny,
}

impl From<writ_core::approval::Verdict> for VerdictName {
    fn from(v: writ_core::approval::Verdict) -> Self {
        match v {
            writ_core::approval::Verdict::Approve => Self::Approve,
            writ_core::approval::Verdict::Deny => Self::Deny,
        }
    }
}

impl From<VerdictName> for writ_core::approval::Verdict {
    fn from(v: VerdictName) -> Self {
        match v {
            VerdictName::Approve => Self::Approve,
            VerdictName::Deny => Self::Deny,
        }
    }
}

impl VerdictName {
    /// `approve` or `deny`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

/// A revocation, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    /// Why (recorded in the ledger); 1 to [`MAX_REASON`] bytes.
    pub reason: String,
}

/// A status query, as sent by gates (and operators, without `consume`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// Consume one use atomically (gate keys only).
    #[serde(default)]
    pub consume: bool,
    /// A nonce the signed answer is bound to (1 to 128 characters).
    #[serde(default)]
    pub nonce: Option<String>,
}

/// A gate record, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// Base64 of the entry bytes (`writ_core::entry::Entry::encode`).
    pub entry: String,
}

/// The authority's answer to a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordView {
    /// Ledger index of the entry.
    pub index: u64,
    /// The receipt: C2SP tlog-proof text whose `extra` is the entry.
    pub receipt: String,
}

/// A gate's start, as sent (`POST /v1/writs/{id}/start`): the signed
/// `exec_start` gate record and the status query in one request. The
/// authority refuses it (`already_revoked`, `replayed`) when the writ is
/// revoked or has no use left; otherwise it consumes the use (with
/// `consume`) and appends the record in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    /// Base64 of the signed gate record of the `exec_start`
    /// (`writ_core::gate_record`), for the writ of the path.
    pub entry: String,
    /// The nonce the signed status is bound to (1 to 128 characters).
    pub nonce: String,
    /// Consume one use atomically.
    #[serde(default)]
    pub consume: bool,
}

/// The authority's answer to a start: the writ's signed status (with the
/// use just consumed) and the `exec_start`'s ledger acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartView {
    /// The signed status response (DSSE envelope JSON text), bound to the
    /// request's nonce.
    pub status: String,
    /// Ledger index of the `exec_start`.
    pub index: u64,
    /// The receipt: C2SP tlog-proof text whose `extra` is the record.
    pub receipt: String,
}

/// The list of pending requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingList {
    /// Oldest first.
    pub requests: Vec<RequestView>,
}

/// The error body of every failed call: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// A stable code (`crate::ApiErrorCode`).
    pub code: String,
    /// What happened, for people.
    pub message: String,
}

impl From<&crate::ApiError> for ErrorBody {
    fn from(e: &crate::ApiError) -> Self {
        Self { error: ErrorDetail { code: e.code.as_str().into(), message: e.message.clone() } }
    }
}
