//! Ledger entries: the typed, versioned, canonical byte encoding of every
//! event writ records in its transparency ledger.
//!
//! Every request, decision, approval, issuance, revocation, execution start
//! and end, denial, key change and policy change becomes one [`Entry`]; its
//! bytes ([`Entry::encode`]) are the Merkle leaf. Each entry names the request
//! id and/or writ id it belongs to, so lineage can be followed entry to entry.
//!
//! # Encoding (version 1; specified in `docs/ledger.md`)
//!
//! ```text
//! entry  = version:u8 (=1) kind:u8 field*
//! field  = tag:u8 len:u16be value[len]
//! ```
//! Fields appear in strictly increasing tag order, each at most once; which
//! tags a kind has, which are required and their types are fixed per kind.
//! Values: `str` = UTF-8 (≤ [`MAX_STR_BYTES`]), `digest` = 32 raw bytes,
//! `time`/`i64` = 8 bytes big-endian two's complement, `u64` = 8 bytes big-endian,
//! `bool` = one byte 0 or 1, `list` = one or more `len:u16be str` items
//! (≤ [`MAX_LIST_ITEMS`]). An absent optional field is omitted; an empty list is
//! omitted. Decoding rejects unknown versions, kinds and tags, out-of-order or
//! repeated tags, wrong value lengths, missing required fields, truncation and
//! anything over [`MAX_ENTRY_BYTES`], so `decode(encode(x)) == x` and
//! `encode(decode(b)) == b`: there is exactly one encoding of each entry.
//!
//! ```
//! use writ_core::entry::{Entry, Revocation};
//! use writ_core::Timestamp;
//! let e = Entry::Revocation(Revocation {
//!     time: Timestamp(1_700_000_000),
//!     request_id: "req-1".into(),
//!     writ_id: "writ-1".into(),
//!     revoked_by: "alice".into(),
//!     reason: "key compromise".into(),
//! });
//! let bytes = e.encode().unwrap();
//! assert_eq!(Entry::decode(&bytes).unwrap(), e);
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::digest::Sha256Digest;
use crate::time::Timestamp;

/// Version byte of the encoding.
pub const ENTRY_FORMAT_VERSION: u8 = 1;
/// Largest encoded entry: entries travel in C2SP entry bundles with `u16` lengths.
pub const MAX_ENTRY_BYTES: usize = 65_535;
/// Longest string field, in bytes.
pub const MAX_STR_BYTES: usize = 8_192;
/// Most items in a list field.
pub const MAX_LIST_ITEMS: usize = 256;

/// Why an entry could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Encoded entry over [`MAX_ENTRY_BYTES`].
    #[error("ledger entry is {size} bytes, over the limit of {MAX_ENTRY_BYTES}; shorten its text fields")]
    TooLarge {
        /// Actual size.
        size: usize,
    },
    /// A string field over [`MAX_STR_BYTES`] or a list over [`MAX_LIST_ITEMS`].
    #[error("field `{field}` is too long (limit {max}); shorten it")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Limit.
        max: usize,
    },
    /// Version byte other than [`ENTRY_FORMAT_VERSION`].
    #[error("unknown ledger entry version {0}; this build reads version 1")]
    UnknownVersion(u8),
    /// Unknown kind byte.
    #[error("unknown ledger entry kind {0}")]
    UnknownKind(u8),
    /// Any other deviation from the canonical encoding.
    #[error("malformed ledger entry: {0}")]
    Malformed(&'static str),
    /// A tag not defined for this kind.
    #[error("malformed ledger entry: unknown field tag {tag} for kind `{kind}`")]
    UnknownField {
        /// Entry kind.
        kind: &'static str,
        /// Tag.
        tag: u8,
    },
    /// A required field is absent.
    #[error("malformed ledger entry: kind `{kind}` requires field `{field}`")]
    MissingField {
        /// Entry kind.
        kind: &'static str,
        /// Field.
        field: &'static str,
    },
}

/// The kind of an entry, with its stable code and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntryKind {
    /// An execution request was received.
    Request = 1,
    /// Policy decided a request.
    Decision = 2,
    /// An approver signed off a request.
    Approval = 3,
    /// A writ was issued.
    Issuance = 4,
    /// A writ was revoked.
    Revocation = 5,
    /// A gate started a program under a writ.
    ExecStart = 6,
    /// The program ended.
    ExecEnd = 7,
    /// A request or execution was denied.
    Denial = 8,
    /// A trust-root key was added or retired.
    KeyChange = 9,
    /// A policy set was changed.
    PolicyChange = 10,
    /// A holder-signed child writ was recorded (`docs/format.md` §18).
    Delegation = 11,
}

impl EntryKind {
    /// Stable snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Decision => "decision",
            Self::Approval => "approval",
            Self::Issuance => "issuance",
            Self::Revocation => "revocation",
            Self::ExecStart => "exec_start",
            Self::ExecEnd => "exec_end",
            Self::Denial => "denial",
            Self::KeyChange => "key_change",
            Self::PolicyChange => "policy_change",
            Self::Delegation => "delegation",
        }
    }

    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Request,
            2 => Self::Decision,
            3 => Self::Approval,
            4 => Self::Issuance,
            5 => Self::Revocation,
            6 => Self::ExecStart,
            7 => Self::ExecEnd,
            8 => Self::Denial,
            9 => Self::KeyChange,
            10 => Self::PolicyChange,
            11 => Self::Delegation,
            _ => return None,
        })
    }
}

/// An execution request was received. Tags: 1 time, 2 request_id, 4 requester,
/// 5 action, 6 resource, 7 request_digest, 8 reason (optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// When the authority recorded it.
    pub time: Timestamp,
    /// The request id.
    pub request_id: String,
    /// Who asked (principal).
    pub requester: String,
    /// Kind of execution asked for.
    pub action: String,
    /// Program / tool / endpoint asked for.
    pub resource: String,
    /// SHA-256 of the request document.
    pub request_digest: Sha256Digest,
    /// Stated reason.
    pub reason: Option<String>,
}

/// Policy decided a request. Tags: 1 time, 2 request_id, 4 allow, 5 policy_id,
/// 6 policy_digest, 7 determining (list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// When.
    pub time: Timestamp,
    /// The request decided.
    pub request_id: String,
    /// Allow (true) or deny (false).
    pub allow: bool,
    /// Policy set id.
    pub policy_id: String,
    /// SHA-256 of the policy set.
    pub policy_digest: Sha256Digest,
    /// Ids of the policies that determined the decision.
    pub determining: Vec<String>,
}

/// An approver signed off a request. Tags: 1 time, 2 request_id, 4 approver,
/// 5 request_digest, 6 approval_digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// When.
    pub time: Timestamp,
    /// The request approved.
    pub request_id: String,
    /// Approver identity (key id).
    pub approver: String,
    /// Digest of the request the approver signed.
    pub request_digest: Sha256Digest,
    /// SHA-256 of the signed approval object.
    pub approval_digest: Sha256Digest,
}

/// A writ was issued. Tags: 1 time, 2 request_id, 3 writ_id, 4 envelope_digest,
/// 5 issuer, 6 not_before, 7 not_after, 8 parent_writ_id (optional),
/// 9 parent_digest (optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    /// When.
    pub time: Timestamp,
    /// The request it answers.
    pub request_id: String,
    /// The writ id.
    pub writ_id: String,
    /// SHA-256 of the DSSE envelope bytes.
    pub envelope_digest: Sha256Digest,
    /// Issuer key id.
    pub issuer: String,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// Parent writ (delegation).
    pub parent_writ_id: Option<String>,
    /// Parent writ's envelope digest.
    pub parent_digest: Option<Sha256Digest>,
}

/// A writ was revoked. Tags: 1 time, 2 request_id, 3 writ_id, 4 revoked_by, 5 reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// When.
    pub time: Timestamp,
    /// The request the writ answered.
    pub request_id: String,
    /// The writ revoked.
    pub writ_id: String,
    /// Who revoked it.
    pub revoked_by: String,
    /// Why.
    pub reason: String,
}

/// A gate started a program. Tags: 1 time, 2 request_id, 3 writ_id, 4 host,
/// 5 program_digest, 6 argv_digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecStart {
    /// When.
    pub time: Timestamp,
    /// The request.
    pub request_id: String,
    /// The writ it ran under.
    pub writ_id: String,
    /// Host identity.
    pub host: String,
    /// SHA-256 of the executed program (hashed from the opened file).
    pub program_digest: Sha256Digest,
    /// SHA-256 of the argv as passed.
    pub argv_digest: Sha256Digest,
}

/// The program ended. Tags: 1 time, 2 request_id, 3 writ_id, 4 host, 5 outcome,
/// 6 exit_code (optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecEnd {
    /// When.
    pub time: Timestamp,
    /// The request.
    pub request_id: String,
    /// The writ.
    pub writ_id: String,
    /// Host identity.
    pub host: String,
    /// How it ended (`exited`, `signaled`, `killed_expired`, `killed_revoked`, …).
    pub outcome: String,
    /// Exit code, when it exited.
    pub exit_code: Option<i64>,
}

/// Something was denied. Tags: 1 time, 2 request_id (optional), 3 writ_id
/// (optional), 4 code, 5 detail, 6 host (optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// When.
    pub time: Timestamp,
    /// The request, when known.
    pub request_id: Option<String>,
    /// The writ, when known.
    pub writ_id: Option<String>,
    /// Stable denial code (e.g. `expired`).
    pub code: String,
    /// Human detail.
    pub detail: String,
    /// Where (gate host), when relevant.
    pub host: Option<String>,
}

/// A trust-root key changed. Tags: 1 time, 4 key_id, 5 role, 6 change, 7 actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// When.
    pub time: Timestamp,
    /// Key id (hex SHA-256 of the public key).
    pub key_id: String,
    /// Role (`issuer`, `approver`, `ledger`, …).
    pub role: String,
    /// `add` or `retire`.
    pub change: String,
    /// Who made the change.
    pub actor: String,
}

/// A policy set changed. Tags: 1 time, 4 policy_id, 5 policy_digest, 6 actor,
/// 7 previous_digest (optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// When.
    pub time: Timestamp,
    /// Policy set id.
    pub policy_id: String,
    /// SHA-256 of the new policy set.
    pub policy_digest: Sha256Digest,
    /// Who made the change.
    pub actor: String,
    /// SHA-256 of the policy set it replaced.
    pub previous_digest: Option<Sha256Digest>,
}

/// A holder-signed child writ was recorded by the authority
/// (`docs/format.md` §18, `docs/ledger.md`). Tags: 1 time, 2 request_id
/// (the chain's request: a child carries its parent's), 3 writ_id (the
/// child), 4 envelope_digest, 5 holder (key id of the holder that signed
/// it), 6 parent_writ_id, 7 parent_digest, 8 root_writ_id (the issued writ
/// the chain starts at), 9 not_before, 10 not_after, 11 depth, 12 uses
/// (optional: absent = not counted), 13 recorded_by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// When the authority recorded it.
    pub time: Timestamp,
    /// The request of the chain's root writ.
    pub request_id: String,
    /// The child writ's id.
    pub writ_id: String,
    /// SHA-256 of the child's DSSE envelope bytes.
    pub envelope_digest: Sha256Digest,
    /// Key id of the holder key that signed the child (its `issuer`).
    pub holder: String,
    /// The parent writ's id.
    pub parent_writ_id: String,
    /// SHA-256 of the parent's envelope bytes.
    pub parent_digest: Sha256Digest,
    /// The root writ (issued by the authority) the chain starts at.
    pub root_writ_id: String,
    /// Start of the child's validity.
    pub not_before: Timestamp,
    /// End of the child's validity.
    pub not_after: Timestamp,
    /// The child's `lineage.depth` (1 for a child of a root writ).
    pub depth: i64,
    /// The child's `scope.uses`.
    pub uses: Option<i64>,
    /// Who submitted it (name and key id of the caller).
    pub recorded_by: String,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// See [`Request`].
    Request(Request),
    /// See [`Decision`].
    Decision(Decision),
    /// See [`Approval`].
    Approval(Approval),
    /// See [`Issuance`].
    Issuance(Issuance),
    /// See [`Revocation`].
    Revocation(Revocation),
    /// See [`ExecStart`].
    ExecStart(ExecStart),
    /// See [`ExecEnd`].
    ExecEnd(ExecEnd),
    /// See [`Denial`].
    Denial(Denial),
    /// See [`KeyChange`].
    KeyChange(KeyChange),
    /// See [`PolicyChange`].
    PolicyChange(PolicyChange),
    /// See [`Delegation`].
    Delegation(Delegation),
}

const T_TIME: u8 = 1;
const T_REQ: u8 = 2;
const T_WRIT: u8 = 3;

struct Writer {
    out: Vec<u8>,
    last: u8,
}

impl Writer {
    fn new(kind: EntryKind) -> Self {
        let mut out = Vec::with_capacity(128);
        out.push(ENTRY_FORMAT_VERSION);
        out.push(kind as u8);
        Self { out, last: 0 }
    }

    fn raw(&mut self, tag: u8, v: &[u8]) {
        debug_assert!(tag > self.last, "tags must be written in increasing order");
        self.last = tag;
        self.out.push(tag);
        // Values are bounded below u16::MAX by the callers; the total is checked in finish.
        let len = u16::try_from(v.len()).unwrap_or(u16::MAX);
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(v);
    }

    fn str(&mut self, tag: u8, field: &'static str, s: &str) -> Result<(), EntryError> {
        if s.len() > MAX_STR_BYTES {
            return Err(EntryError::FieldTooLong { field, max: MAX_STR_BYTES });
        }
        self.raw(tag, s.as_bytes());
        Ok(())
    }

    fn opt_str(&mut self, tag: u8, field: &'static str, s: Option<&String>) -> Result<(), EntryError> {
        match s {
            Some(s) => self.str(tag, field, s),
            None => Ok(()),
        }
    }

    fn digest(&mut self, tag: u8, d: &Sha256Digest) {
        self.raw(tag, &d.0);
    }

    fn i64(&mut self, tag: u8, v: i64) {
        self.raw(tag, &v.to_be_bytes());
    }

    fn time(&mut self, tag: u8, t: Timestamp) {
        self.i64(tag, t.0);
    }

    fn list(&mut self, tag: u8, field: &'static str, items: &[String]) -> Result<(), EntryError> {
        if items.is_empty() {
            return Ok(());
        }
        if items.len() > MAX_LIST_ITEMS {
            return Err(EntryError::FieldTooLong { field, max: MAX_LIST_ITEMS });
        }
        let mut v = Vec::new();
        for it in items {
            if it.len() > MAX_STR_BYTES {
                return Err(EntryError::FieldTooLong { field, max: MAX_STR_BYTES });
            }
            let len = u16::try_from(it.len()).map_err(|_| EntryError::FieldTooLong { field, max: MAX_STR_BYTES })?;
            v.extend_from_slice(&len.to_be_bytes());
            v.extend_from_slice(it.as_bytes());
        }
        if v.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge { size: v.len() });
        }
        self.raw(tag, &v);
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, EntryError> {
        if self.out.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge { size: self.out.len() });
        }
        Ok(self.out)
    }
}

struct Fields<'a> {
    kind: EntryKind,
    fields: Vec<(u8, &'a [u8])>,
    pos: usize,
}

impl<'a> Fields<'a> {
    fn parse(kind: EntryKind, mut rest: &'a [u8]) -> Result<Self, EntryError> {
        let mut fields = Vec::new();
        let mut last = 0u8;
        while let Some((&tag, r)) = rest.split_first() {
            if tag <= last {
                return Err(EntryError::Malformed("field tags must be strictly increasing"));
            }
            last = tag;
            let (len, r) = r.split_first_chunk::<2>().ok_or(EntryError::Malformed("truncated field length"))?;
            let len = usize::from(u16::from_be_bytes(*len));
            let (v, r) = r.split_at_checked(len).ok_or(EntryError::Malformed("truncated field value"))?;
            fields.push((tag, v));
            rest = r;
        }
        Ok(Self { kind, fields, pos: 0 })
    }

    fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.fields.get(self.pos) {
            Some(&(t, v)) if t == tag => {
                self.pos += 1;
                Some(v)
            }
            _ => None,
        }
    }

    fn missing(&self, field: &'static str) -> EntryError {
        EntryError::MissingField { kind: self.kind.as_str(), field }
    }

    fn opt_str(&mut self, tag: u8, field: &'static str) -> Result<Option<String>, EntryError> {
        let Some(v) = self.take(tag) else {
            return Ok(None);
        };
        if v.len() > MAX_STR_BYTES {
            return Err(EntryError::FieldTooLong { field, max: MAX_STR_BYTES });
        }
        let s = core::str::from_utf8(v).map_err(|_| EntryError::Malformed("string field is not valid UTF-8"))?;
        Ok(Some(String::from(s)))
    }

    fn str(&mut self, tag: u8, field: &'static str) -> Result<String, EntryError> {
        self.opt_str(tag, field)?.ok_or_else(|| self.missing(field))
    }

    fn opt_digest(&mut self, tag: u8) -> Result<Option<Sha256Digest>, EntryError> {
        let Some(v) = self.take(tag) else {
            return Ok(None);
        };
        let d: [u8; 32] = v.try_into().map_err(|_| EntryError::Malformed("digest field must be 32 bytes"))?;
        Ok(Some(Sha256Digest(d)))
    }

    fn digest(&mut self, tag: u8, field: &'static str) -> Result<Sha256Digest, EntryError> {
        self.opt_digest(tag)?.ok_or_else(|| self.missing(field))
    }

    fn opt_i64(&mut self, tag: u8) -> Result<Option<i64>, EntryError> {
        let Some(v) = self.take(tag) else {
            return Ok(None);
        };
        let b: [u8; 8] = v.try_into().map_err(|_| EntryError::Malformed("integer field must be 8 bytes"))?;
        Ok(Some(i64::from_be_bytes(b)))
    }

    fn time(&mut self, tag: u8, field: &'static str) -> Result<Timestamp, EntryError> {
        Ok(Timestamp(self.opt_i64(tag)?.ok_or_else(|| self.missing(field))?))
    }

    fn bool(&mut self, tag: u8, field: &'static str) -> Result<bool, EntryError> {
        match self.take(tag) {
            Some([0]) => Ok(false),
            Some([1]) => Ok(true),
            Some(_) => Err(EntryError::Malformed("boolean field must be one byte 0 or 1")),
            None => Err(self.missing(field)),
        }
    }

    fn list(&mut self, tag: u8, field: &'static str) -> Result<Vec<String>, EntryError> {
        let Some(mut v) = self.take(tag) else {
            return Ok(Vec::new());
        };
        if v.is_empty() {
            return Err(EntryError::Malformed("a present list field must not be empty"));
        }
        let mut out = Vec::new();
        while !v.is_empty() {
            if out.len() >= MAX_LIST_ITEMS {
                return Err(EntryError::FieldTooLong { field, max: MAX_LIST_ITEMS });
            }
            let (len, r) = v.split_first_chunk::<2>().ok_or(EntryError::Malformed("truncated list item length"))?;
            let len = usize::from(u16::from_be_bytes(*len));
            if len > MAX_STR_BYTES {
                return Err(EntryError::FieldTooLong { field, max: MAX_STR_BYTES });
            }
            let (item, r) = r.split_at_checked(len).ok_or(EntryError::Malformed("truncated list item"))?;
            let s = core::str::from_utf8(item).map_err(|_| EntryError::Malformed("list item is not valid UTF-8"))?;
            out.push(String::from(s));
            v = r;
        }
        Ok(out)
    }

    fn finish(self) -> Result<(), EntryError> {
        match self.fields.get(self.pos) {
            None => Ok(()),
            Some(&(tag, _)) => Err(EntryError::UnknownField { kind: self.kind.as_str(), tag }),
        }
    }
}

impl Entry {
    /// The entry as JSON for people and pages: `kind` plus its fields,
    /// digests in hex, times in RFC 3339 (the shape of the server's public
    /// read API and of the browser verifier).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let e = self;
        let t = |t: Timestamp| serde_json::Value::String(t.to_string());
        let d = |d: &Sha256Digest| serde_json::Value::String(d.to_string());
        let mut v = match e {
            Entry::Request(r) => {
                serde_json::json!({"time": t(r.time), "request_id": r.request_id, "requester": r.requester,
                "action": r.action, "resource": r.resource, "request_digest": d(&r.request_digest), "reason": r.reason})
            }
            Entry::Decision(r) => serde_json::json!({"time": t(r.time), "request_id": r.request_id, "allow": r.allow,
                "policy_id": r.policy_id, "policy_digest": d(&r.policy_digest), "determining": r.determining}),
            Entry::Approval(r) => {
                serde_json::json!({"time": t(r.time), "request_id": r.request_id, "approver": r.approver,
                "request_digest": d(&r.request_digest), "approval_digest": d(&r.approval_digest)})
            }
            Entry::Issuance(r) => {
                serde_json::json!({"time": t(r.time), "request_id": r.request_id, "writ_id": r.writ_id,
                "envelope_digest": d(&r.envelope_digest), "issuer": r.issuer, "not_before": t(r.not_before),
                "not_after": t(r.not_after), "parent_writ_id": r.parent_writ_id,
                "parent_digest": r.parent_digest.as_ref().map(d)})
            }
            Entry::Revocation(r) => {
                serde_json::json!({"time": t(r.time), "request_id": r.request_id, "writ_id": r.writ_id,
                "revoked_by": r.revoked_by, "reason": r.reason})
            }
            Entry::ExecStart(r) => {
                serde_json::json!({"time": t(r.time), "request_id": r.request_id, "writ_id": r.writ_id,
                "host": r.host, "program_digest": d(&r.program_digest), "argv_digest": d(&r.argv_digest)})
            }
            Entry::ExecEnd(r) => {
                serde_json::json!({"time": t(r.time), "request_id": r.request_id, "writ_id": r.writ_id,
                "host": r.host, "outcome": r.outcome, "exit_code": r.exit_code})
            }
            Entry::Denial(r) => serde_json::json!({"time": t(r.time), "request_id": r.request_id, "writ_id": r.writ_id,
                "code": r.code, "detail": r.detail, "host": r.host}),
            Entry::KeyChange(r) => serde_json::json!({"time": t(r.time), "key_id": r.key_id, "role": r.role,
                "change": r.change, "actor": r.actor}),
            Entry::PolicyChange(r) => serde_json::json!({"time": t(r.time), "policy_id": r.policy_id,
                "policy_digest": d(&r.policy_digest), "actor": r.actor,
                "previous_digest": r.previous_digest.as_ref().map(d)}),
            Entry::Delegation(r) => {
                serde_json::json!({"time": t(r.time), "request_id": r.request_id, "writ_id": r.writ_id,
                "envelope_digest": d(&r.envelope_digest), "holder": r.holder, "parent_writ_id": r.parent_writ_id,
                "parent_digest": d(&r.parent_digest), "root_writ_id": r.root_writ_id,
                "not_before": t(r.not_before), "not_after": t(r.not_after), "depth": r.depth, "uses": r.uses,
                "recorded_by": r.recorded_by})
            }
        };
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("kind".into(), serde_json::Value::String(e.kind().as_str().into()));
            m.retain(|_, x| !x.is_null());
        }
        v
    }

    /// The kind of this entry.
    #[must_use]
    pub fn kind(&self) -> EntryKind {
        match self {
            Self::Request(_) => EntryKind::Request,
            Self::Decision(_) => EntryKind::Decision,
            Self::Approval(_) => EntryKind::Approval,
            Self::Issuance(_) => EntryKind::Issuance,
            Self::Revocation(_) => EntryKind::Revocation,
            Self::ExecStart(_) => EntryKind::ExecStart,
            Self::ExecEnd(_) => EntryKind::ExecEnd,
            Self::Denial(_) => EntryKind::Denial,
            Self::KeyChange(_) => EntryKind::KeyChange,
            Self::PolicyChange(_) => EntryKind::PolicyChange,
            Self::Delegation(_) => EntryKind::Delegation,
        }
    }

    /// The request this entry belongs to, if any.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Request(e) => Some(&e.request_id),
            Self::Decision(e) => Some(&e.request_id),
            Self::Approval(e) => Some(&e.request_id),
            Self::Issuance(e) => Some(&e.request_id),
            Self::Revocation(e) => Some(&e.request_id),
            Self::ExecStart(e) => Some(&e.request_id),
            Self::ExecEnd(e) => Some(&e.request_id),
            Self::Denial(e) => e.request_id.as_deref(),
            Self::Delegation(e) => Some(&e.request_id),
            Self::KeyChange(_) | Self::PolicyChange(_) => None,
        }
    }

    /// The writ this entry belongs to, if any.
    #[must_use]
    pub fn writ_id(&self) -> Option<&str> {
        match self {
            Self::Issuance(e) => Some(&e.writ_id),
            Self::Revocation(e) => Some(&e.writ_id),
            Self::ExecStart(e) => Some(&e.writ_id),
            Self::ExecEnd(e) => Some(&e.writ_id),
            Self::Denial(e) => e.writ_id.as_deref(),
            Self::Delegation(e) => Some(&e.writ_id),
            _ => None,
        }
    }

    /// When the event was recorded.
    #[must_use]
    pub fn time(&self) -> Timestamp {
        match self {
            Self::Request(e) => e.time,
            Self::Decision(e) => e.time,
            Self::Approval(e) => e.time,
            Self::Issuance(e) => e.time,
            Self::Revocation(e) => e.time,
            Self::ExecStart(e) => e.time,
            Self::ExecEnd(e) => e.time,
            Self::Denial(e) => e.time,
            Self::KeyChange(e) => e.time,
            Self::PolicyChange(e) => e.time,
            Self::Delegation(e) => e.time,
        }
    }

    /// The canonical encoding.
    ///
    /// # Errors
    /// [`EntryError::FieldTooLong`] or [`EntryError::TooLarge`] when over a limit.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let mut w = Writer::new(self.kind());
        match self {
            Self::Request(e) => {
                w.time(T_TIME, e.time);
                w.str(T_REQ, "request_id", &e.request_id)?;
                w.str(4, "requester", &e.requester)?;
                w.str(5, "action", &e.action)?;
                w.str(6, "resource", &e.resource)?;
                w.digest(7, &e.request_digest);
                w.opt_str(8, "reason", e.reason.as_ref())?;
            }
            Self::Decision(e) => {
                w.time(T_TIME, e.time);
                w.str(T_REQ, "request_id", &e.request_id)?;
                w.raw(4, &[u8::from(e.allow)]);
                w.str(5, "policy_id", &e.policy_id)?;
                w.digest(6, &e.policy_digest);
                w.list(7, "determining", &e.determining)?;
            }
            Self::Approval(e) => {
                w.time(T_TIME, e.time);
                w.str(T_REQ, "request_id", &e.request_id)?;
                w.str(4, "approver", &e.approver)?;
                w.digest(5, &e.request_digest);
                w.digest(6, &e.approval_digest);
            }
            Self::Issuance(e) => {
                w.time(T_TIME, e.time);
                w.str(T_REQ, "request_id", &e.request_id)?;
                w.str(T_WRIT, "writ_id", &e.writ_id)?;
                w.digest(4, &e.envelope_digest);
                w.str(5, "issuer", &e.issuer)?;
                w.time(6, e.not_before);
                w.time(7, e.not_after);
                w.opt_str(8, "parent_writ_id", e.parent_writ_id.as_ref())?;
                if let Some(d) = &e.parent_digest {
                    w.digest(9, d);
                }
            }
            Self::Revocation(e) => {
                w.time(T_TIME, e.time);
                w.str(T_REQ, "request_id", &e.request_id)?;
                w.str(T_WRIT, "writ_id", &e.writ_id)?;
                w.str(4, "revoked_by", &e.revoked_by)?;
                w.str(5, "reason", &e.reason)?;
            }
            Self::ExecStart(e) => {
                w.time(T_TIME, e.time);
                w.str(T_REQ, "request_id", &e.request_id)?;
                w.str(T_WRIT, "writ_id", &e.writ_id)?;
                w.str(4, "host", &e.host)?;
                w.digest(5, &e.program_digest);
                w.digest(6, &e.argv_digest);
            }
            Self::ExecEnd(e) => {
                w.time(T_TIME, e.time);
                w.str(T_REQ, "request_id", &e.request_id)?;
                w.str(T_WRIT, "writ_id", &e.writ_id)?;
                w.str(4, "host", &e.host)?;
                w.str(5, "outcome", &e.outcome)?;
                if let Some(c) = e.exit_code {
                    w.i64(6, c);
                }
            }
            Self::Denial(e) => {
                w.time(T_TIME, e.time);
                w.opt_str(T_REQ, "request_id", e.request_id.as_ref())?;
                w.opt_str(T_WRIT, "writ_id", e.writ_id.as_ref())?;
                w.str(4, "code", &e.code)?;
                w.str(5, "detail", &e.detail)?;
                w.opt_str(6, "host", e.host.as_ref())?;
            }
            Self::KeyChange(e) => {
                w.time(T_TIME, e.time);
                w.str(4, "key_id", &e.key_id)?;
                w.str(5, "role", &e.role)?;
                w.str(6, "change", &e.change)?;
                w.str(7, "actor", &e.actor)?;
            }
            Self::PolicyChange(e) => {
                w.time(T_TIME, e.time);
                w.str(4, "policy_id", &e.policy_id)?;
                w.digest(5, &e.policy_digest);
                w.str(6, "actor", &e.actor)?;
                if let Some(d) = &e.previous_digest {
                    w.digest(7, d);
                }
            }
            Self::Delegation(e) => {
                w.time(T_TIME, e.time);
                w.str(T_REQ, "request_id", &e.request_id)?;
                w.str(T_WRIT, "writ_id", &e.writ_id)?;
                w.digest(4, &e.envelope_digest);
                w.str(5, "holder", &e.holder)?;
                w.str(6, "parent_writ_id", &e.parent_writ_id)?;
                w.digest(7, &e.parent_digest);
                w.str(8, "root_writ_id", &e.root_writ_id)?;
                w.time(9, e.not_before);
                w.time(10, e.not_after);
                w.i64(11, e.depth);
                if let Some(u) = e.uses {
                    w.i64(12, u);
                }
                w.str(13, "recorded_by", &e.recorded_by)?;
            }
        }
        w.finish()
    }

    /// Decode strictly (see the module docs). A signed gate record
    /// (`crate::gate_record`) decodes to its entry; read its signature with
    /// [`crate::gate_record::GateRecord::decode`].
    ///
    /// # Errors
    /// [`EntryError`] naming the first deviation found.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        crate::gate_record::GateRecord::decode(bytes).map(|r| r.entry)
    }

    /// Decode an entry without a gate trailer, strictly.
    pub(crate) fn decode_body(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge { size: bytes.len() });
        }
        let (&version, rest) = bytes.split_first().ok_or(EntryError::Malformed("empty entry"))?;
        if version != ENTRY_FORMAT_VERSION {
            return Err(EntryError::UnknownVersion(version));
        }
        let (&kind_b, rest) = rest.split_first().ok_or(EntryError::Malformed("missing kind byte"))?;
        let kind = EntryKind::from_u8(kind_b).ok_or(EntryError::UnknownKind(kind_b))?;
        let mut f = Fields::parse(kind, rest)?;
        let e = match kind {
            EntryKind::Request => Self::Request(Request {
                time: f.time(T_TIME, "time")?,
                request_id: f.str(T_REQ, "request_id")?,
                requester: f.str(4, "requester")?,
                action: f.str(5, "action")?,
                resource: f.str(6, "resource")?,
                request_digest: f.digest(7, "request_digest")?,
                reason: f.opt_str(8, "reason")?,
            }),
            EntryKind::Decision => Self::Decision(Decision {
                time: f.time(T_TIME, "time")?,
                request_id: f.str(T_REQ, "request_id")?,
                allow: f.bool(4, "allow")?,
                policy_id: f.str(5, "policy_id")?,
                policy_digest: f.digest(6, "policy_digest")?,
                determining: f.list(7, "determining")?,
            }),
            EntryKind::Approval => Self::Approval(Approval {
                time: f.time(T_TIME, "time")?,
                request_id: f.str(T_REQ, "request_id")?,
                approver: f.str(4, "approver")?,
                request_digest: f.digest(5, "request_digest")?,
                approval_digest: f.digest(6, "approval_digest")?,
            }),
            EntryKind::Issuance => Self::Issuance(Issuance {
                time: f.time(T_TIME, "time")?,
                request_id: f.str(T_REQ, "request_id")?,
                writ_id: f.str(T_WRIT, "writ_id")?,
                envelope_digest: f.digest(4, "envelope_digest")?,
                issuer: f.str(5, "issuer")?,
                not_before: f.time(6, "not_before")?,
                not_after: f.time(7, "not_after")?,
                parent_writ_id: f.opt_str(8, "parent_writ_id")?,
                parent_digest: f.opt_digest(9)?,
            }),
            EntryKind::Revocation => Self::Revocation(Revocation {
                time: f.time(T_TIME, "time")?,
                request_id: f.str(T_REQ, "request_id")?,
                writ_id: f.str(T_WRIT, "writ_id")?,
                revoked_by: f.str(4, "revoked_by")?,
                reason: f.str(5, "reason")?,
            }),
            EntryKind::ExecStart => Self::ExecStart(ExecStart {
                time: f.time(T_TIME, "time")?,
                request_id: f.str(T_REQ, "request_id")?,
                writ_id: f.str(T_WRIT, "writ_id")?,
                host: f.str(4, "host")?,
                program_digest: f.digest(5, "program_digest")?,
                argv_digest: f.digest(6, "argv_digest")?,
            }),
            EntryKind::ExecEnd => Self::ExecEnd(ExecEnd {
                time: f.time(T_TIME, "time")?,
                request_id: f.str(T_REQ, "request_id")?,
                writ_id: f.str(T_WRIT, "writ_id")?,
                host: f.str(4, "host")?,
                outcome: f.str(5, "outcome")?,
                exit_code: f.opt_i64(6)?,
            }),
            EntryKind::Denial => Self::Denial(Denial {
                time: f.time(T_TIME, "time")?,
                request_id: f.opt_str(T_REQ, "request_id")?,
                writ_id: f.opt_str(T_WRIT, "writ_id")?,
                code: f.str(4, "code")?,
                detail: f.str(5, "detail")?,
                host: f.opt_str(6, "host")?,
            }),
            EntryKind::KeyChange => Self::KeyChange(KeyChange {
                time: f.time(T_TIME, "time")?,
                key_id: f.str(4, "key_id")?,
                role: f.str(5, "role")?,
                change: f.str(6, "change")?,
                actor: f.str(7, "actor")?,
            }),
            EntryKind::PolicyChange => Self::PolicyChange(PolicyChange {
                time: f.time(T_TIME, "time")?,
                policy_id: f.str(4, "policy_id")?,
                policy_digest: f.digest(5, "policy_digest")?,
                actor: f.str(6, "actor")?,
                previous_digest: f.opt_digest(7)?,
            }),
            EntryKind::Delegation => Self::Delegation(Delegation {
                time: f.time(T_TIME, "time")?,
                request_id: f.str(T_REQ, "request_id")?,
                writ_id: f.str(T_WRIT, "writ_id")?,
                envelope_digest: f.digest(4, "envelope_digest")?,
                holder: f.str(5, "holder")?,
                parent_writ_id: f.str(6, "parent_writ_id")?,
                parent_digest: f.digest(7, "parent_digest")?,
                root_writ_id: f.str(8, "root_writ_id")?,
                not_before: f.time(9, "not_before")?,
                not_after: f.time(10, "not_after")?,
                depth: f.opt_i64(11)?.ok_or_else(|| f.missing("depth"))?,
                uses: f.opt_i64(12)?,
                recorded_by: f.str(13, "recorded_by")?,
            }),
        };
        f.finish()?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    fn d(b: u8) -> Sha256Digest {
        Sha256Digest([b; 32])
    }

    fn samples() -> Vec<Entry> {
        let t = Timestamp(1_700_000_000);
        vec![
            Entry::Request(Request {
                time: t,
                request_id: "req-1".into(),
                requester: "alice".into(),
                action: "exec".into(),
                resource: "/usr/bin/deploy".into(),
                request_digest: d(1),
                reason: Some("release 1.2".into()),
            }),
            Entry::Decision(Decision {
                time: t,
                request_id: "req-1".into(),
                allow: true,
                policy_id: "prod".into(),
                policy_digest: d(2),
                determining: vec!["p1".into(), "p2".into()],
            }),
            Entry::Approval(Approval {
                time: t,
                request_id: "req-1".into(),
                approver: "bob".into(),
                request_digest: d(1),
                approval_digest: d(3),
            }),
            Entry::Issuance(Issuance {
                time: t,
                request_id: "req-1".into(),
                writ_id: "writ-1".into(),
                envelope_digest: d(4),
                issuer: "issuer-key".into(),
                not_before: t,
                not_after: Timestamp(t.0 + 300),
                parent_writ_id: None,
                parent_digest: None,
            }),
            Entry::Revocation(Revocation {
                time: t,
                request_id: "req-1".into(),
                writ_id: "writ-1".into(),
                revoked_by: "carol".into(),
                reason: "done".into(),
            }),
            Entry::ExecStart(ExecStart {
                time: t,
                request_id: "req-1".into(),
                writ_id: "writ-1".into(),
                host: "web-1".into(),
                program_digest: d(5),
                argv_digest: d(6),
            }),
            Entry::ExecEnd(ExecEnd {
                time: t,
                request_id: "req-1".into(),
                writ_id: "writ-1".into(),
                host: "web-1".into(),
                outcome: "exited".into(),
                exit_code: Some(-1),
            }),
            Entry::Denial(Denial {
                time: t,
                request_id: None,
                writ_id: Some("writ-1".into()),
                code: "expired".into(),
                detail: "writ expired".into(),
                host: None,
            }),
            Entry::KeyChange(KeyChange {
                time: t,
                key_id: "ab".into(),
                role: "issuer".into(),
                change: "add".into(),
                actor: "root".into(),
            }),
            Entry::PolicyChange(PolicyChange {
                time: t,
                policy_id: "prod".into(),
                policy_digest: d(7),
                actor: "root".into(),
                previous_digest: Some(d(8)),
            }),
            Entry::Delegation(Delegation {
                time: t,
                request_id: "req-1".into(),
                writ_id: "writ-2".into(),
                envelope_digest: d(9),
                holder: "holder-key".into(),
                parent_writ_id: "writ-1".into(),
                parent_digest: d(4),
                root_writ_id: "writ-1".into(),
                not_before: t,
                not_after: Timestamp(t.0 + 60),
                depth: 1,
                uses: Some(1),
                recorded_by: "orchestrator".into(),
            }),
        ]
    }

    #[test]
    fn entry_roundtrip_every_kind() {
        for e in samples() {
            let b = e.encode().unwrap();
            assert_eq!(b[0], ENTRY_FORMAT_VERSION);
            assert_eq!(b[1], e.kind() as u8);
            assert_eq!(Entry::decode(&b).unwrap(), e, "{}", e.kind().as_str());
        }
    }

    #[test]
    fn entry_golden_bytes() {
        // Pins the version-1 wire format (docs/ledger.md walks through these bytes).
        let e = Entry::Revocation(Revocation {
            time: Timestamp(1),
            request_id: "r".into(),
            writ_id: "w".into(),
            revoked_by: "a".into(),
            reason: "x".into(),
        });
        let want: Vec<u8> = vec![
            1, 5, // version, kind revocation
            1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1, // time
            2, 0, 1, b'r', // request_id
            3, 0, 1, b'w', // writ_id
            4, 0, 1, b'a', // revoked_by
            5, 0, 1, b'x', // reason
        ];
        assert_eq!(e.encode().unwrap(), want);
    }

    #[test]
    fn entry_rejects_non_canonical() {
        let good = samples()[4].encode().unwrap();
        // unknown version / kind
        let mut b = good.clone();
        b[0] = 2;
        assert_eq!(Entry::decode(&b), Err(EntryError::UnknownVersion(2)));
        let mut b = good.clone();
        b[1] = 99;
        assert_eq!(Entry::decode(&b), Err(EntryError::UnknownKind(99)));
        // trailing bytes / unknown tag
        let mut b = good.clone();
        b.extend_from_slice(&[9, 0, 0]);
        assert!(matches!(Entry::decode(&b), Err(EntryError::UnknownField { tag: 9, .. })));
        let mut b = good.clone();
        b.push(0);
        assert!(Entry::decode(&b).is_err());
        // truncation at every length
        for n in 0..good.len() {
            assert!(Entry::decode(&good[..n]).is_err(), "prefix {n}");
        }
        // repeated tag
        let mut b = good.clone();
        b.extend_from_slice(&[5, 0, 1, b'y']);
        assert!(Entry::decode(&b).is_err());
        // bad bool
        let dec = samples()[1].encode().unwrap();
        let pos = dec.windows(4).position(|w| w == [4, 0, 1, 1]).unwrap();
        let mut b = dec.clone();
        b[pos + 3] = 2;
        assert!(Entry::decode(&b).is_err());
        // empty present list
        let mut e = samples()[1].clone();
        if let Entry::Decision(x) = &mut e {
            x.determining.clear();
        }
        let mut b = e.encode().unwrap();
        b.extend_from_slice(&[7, 0, 0]);
        assert!(Entry::decode(&b).is_err());
        // invalid utf-8
        let mut b = good.clone();
        let last = b.len() - 1;
        b[last] = 0xff;
        assert!(Entry::decode(&b).is_err());
    }

    #[test]
    fn entry_size_limit() {
        let e = Entry::Denial(Denial {
            time: Timestamp(0),
            request_id: Some("x".repeat(MAX_STR_BYTES)),
            writ_id: Some("x".repeat(MAX_STR_BYTES)),
            code: "x".repeat(MAX_STR_BYTES),
            detail: "x".repeat(MAX_STR_BYTES + 1),
            host: None,
        });
        assert!(matches!(e.encode(), Err(EntryError::FieldTooLong { field: "detail", .. })));
        let mut dec = samples()[1].clone();
        if let Entry::Decision(x) = &mut dec {
            x.determining = (0..MAX_LIST_ITEMS).map(|_| "y".repeat(300)).collect();
        }
        let err = dec.encode().unwrap_err();
        assert!(matches!(err, EntryError::TooLarge { .. }));
        assert!(err.to_string().contains("65535"));
        assert!(matches!(Entry::decode(&vec![1u8; MAX_ENTRY_BYTES + 1]), Err(EntryError::TooLarge { .. })));
    }

    fn arb_str() -> impl Strategy<Value = String> {
        "[a-z0-9\u{e9}\u{2014}-]{0,12}"
    }
    fn arb_digest() -> impl Strategy<Value = Sha256Digest> {
        any::<[u8; 32]>().prop_map(Sha256Digest)
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        let t = any::<i64>().prop_map(Timestamp);
        prop_oneof![
            (t.clone(), arb_str(), arb_str(), arb_str(), arb_str(), arb_digest(), proptest::option::of(arb_str()))
                .prop_map(|(time, request_id, requester, action, resource, request_digest, reason)| {
                    Entry::Request(Request { time, request_id, requester, action, resource, request_digest, reason })
                }),
            (t.clone(), arb_str(), any::<bool>(), arb_str(), arb_digest(), proptest::collection::vec(arb_str(), 0..4))
                .prop_map(|(time, request_id, allow, policy_id, policy_digest, determining)| {
                    Entry::Decision(Decision { time, request_id, allow, policy_id, policy_digest, determining })
                }),
            (
                t.clone(),
                arb_str(),
                arb_str(),
                arb_digest(),
                arb_str(),
                proptest::option::of(arb_str()),
                proptest::option::of(arb_digest())
            )
                .prop_map(
                    |(time, request_id, writ_id, envelope_digest, issuer, parent_writ_id, parent_digest)| {
                        Entry::Issuance(Issuance {
                            time,
                            request_id,
                            writ_id,
                            envelope_digest,
                            issuer,
                            not_before: time,
                            not_after: time,
                            parent_writ_id,
                            parent_digest,
                        })
                    }
                ),
            (t.clone(), arb_str(), arb_str(), arb_str(), arb_str(), proptest::option::of(any::<i64>())).prop_map(
                |(time, request_id, writ_id, host, outcome, exit_code)| {
                    Entry::ExecEnd(ExecEnd { time, request_id, writ_id, host, outcome, exit_code })
                }
            ),
            (
                t,
                proptest::option::of(arb_str()),
                proptest::option::of(arb_str()),
                arb_str(),
                arb_str(),
                proptest::option::of(arb_str())
            )
                .prop_map(|(time, request_id, writ_id, code, detail, host)| {
                    Entry::Denial(Denial { time, request_id, writ_id, code, detail, host })
                }),
        ]
    }

    proptest! {
        #[test]
        fn entry_decode_encode_is_identity(e in arb_entry()) {
            let b = e.encode().unwrap();
            let back = Entry::decode(&b).unwrap();
            prop_assert_eq!(&back, &e);
            prop_assert_eq!(back.encode().unwrap(), b);
        }

        #[test]
        fn entry_decode_is_canonical_on_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(r) = crate::gate_record::GateRecord::decode(&b) {
                prop_assert_eq!(r.encode().unwrap(), b);
            }
        }

        #[test]
        fn entry_decode_canonical_on_mutations(e in arb_entry(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut b = e.encode().unwrap();
            let i = pos.index(b.len());
            b[i] = byte;
            if let Ok(x) = crate::gate_record::GateRecord::decode(&b) {
                prop_assert_eq!(x.encode().unwrap(), b);
            }
        }
    }
}
