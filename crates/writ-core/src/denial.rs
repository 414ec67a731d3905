//! Why a writ was denied: a closed set of stable reason codes.
//!
//! The snake_case names are part of writ's public contract: they are printed
//! in JSON, written to the ledger and documented in `docs/format.md`. A code
//! is never renamed or reused; new codes are only ever added.

use alloc::string::String;
use core::fmt;

use serde::{Serialize, Serializer};

/// A denial reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DenialCode {
    /// The bytes are not a well-formed writ (JSON, base64, fields, bounds).
    Malformed,
    /// The input is larger than the format allows.
    TooLarge,
    /// The payload type, statement type or predicate version is not supported.
    Unsupported,
    /// No signature is by an issuer key of the trust root.
    UnknownKey,
    /// The issuer key is marked revoked in the trust root.
    KeyRevoked,
    /// The issuer key's validity window does not cover the issuance time.
    KeyNotValid,
    /// A signature by a trusted key does not verify.
    BadSignature,
    /// A signature has the shape of another suite than the one the trust
    /// root pins for its key: a hybrid (`ed25519+ml-dsa-65`) key's signature
    /// without its ML-DSA half, or a hybrid signature by a plain Ed25519 key.
    SuiteMismatch,
    /// The writ's `not_before` is in the future.
    NotYetValid,
    /// The writ's `not_after` has passed.
    Expired,
    /// The writ lives longer than the trust root's maximum lifetime.
    LifetimeExceeded,
    /// Fewer distinct, valid approvals than policy demanded.
    ApprovalsInsufficient,
    /// An approval is by an unknown, revoked or wrong-role key, or its signature fails.
    BadApproval,
    /// The requester approved their own request.
    SelfApproval,
    /// The writ permits no action of the attempted kind.
    ScopeAction,
    /// The program (path or digest), endpoint or tool is not the one permitted.
    ScopeProgram,
    /// The arguments do not match the permitted rules.
    ScopeArgs,
    /// The environment has a variable that is not allowed or has the wrong value.
    ScopeEnv,
    /// The working directory is not the one permitted.
    ScopeCwd,
    /// The host is not one the writ names, or lacks a required label.
    ScopeHost,
    /// The writ demands a boundary this gate cannot enforce.
    ScopeBoundary,
    /// The writ does not allow offline execution, or needs online use counting.
    OfflineNotAllowed,
    /// The writ was revoked.
    Revoked,
    /// Revocation status is required but unknown or stale.
    StatusUnknown,
    /// A single- or limited-use writ was already used up.
    Replayed,
    /// The trust root requires a ledger receipt and none was presented.
    ReceiptMissing,
    /// The receipt does not prove this writ's issuance in the ledger.
    ReceiptInvalid,
    /// Fewer of the trust root's witnesses cosigned the receipt's checkpoint
    /// than its witness policy requires.
    WitnessQuorum,
    /// A witness cosignature on the receipt's checkpoint does not verify over
    /// it (made for another checkpoint) or predates the writ.
    WitnessStale,
    /// A child writ grants more than its parent.
    LineageWidened,
    /// The parent is missing, does not verify, or does not match the reference.
    LineageBroken,
    /// A delegated writ is not signed by its parent's holder key (or the
    /// parent names no holder).
    DelegationSignature,
    /// A delegated writ's depth is not its parent's + 1, or goes beyond the
    /// parent's `max_depth`.
    DelegationDepth,
    /// A delegated writ grants more than its parent, or changes what it must
    /// carry unchanged (request, policy, approvals, conditions).
    DelegationWidened,
    /// The gate could not record the execution where recording is required.
    RecordFailed,
    /// An internal error: the gate denies rather than guessing.
    Internal,
}

impl DenialCode {
    /// Every code, in documentation order.
    pub const ALL: [Self; 36] = [
        Self::Malformed,
        Self::TooLarge,
        Self::Unsupported,
        Self::UnknownKey,
        Self::KeyRevoked,
        Self::KeyNotValid,
        Self::BadSignature,
        Self::SuiteMismatch,
        Self::NotYetValid,
        Self::Expired,
        Self::LifetimeExceeded,
        Self::ApprovalsInsufficient,
        Self::BadApproval,
        Self::SelfApproval,
        Self::ScopeAction,
        Self::ScopeProgram,
        Self::ScopeArgs,
        Self::ScopeEnv,
        Self::ScopeCwd,
        Self::ScopeHost,
        Self::ScopeBoundary,
        Self::OfflineNotAllowed,
        Self::Revoked,
        Self::StatusUnknown,
        Self::Replayed,
        Self::ReceiptMissing,
        Self::ReceiptInvalid,
        Self::WitnessQuorum,
        Self::WitnessStale,
        Self::LineageWidened,
        Self::LineageBroken,
        Self::DelegationSignature,
        Self::DelegationDepth,
        Self::DelegationWidened,
        Self::RecordFailed,
        Self::Internal,
    ];

    /// The stable snake_case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::Unsupported => "unsupported",
            Self::UnknownKey => "unknown_key",
            Self::KeyRevoked => "key_revoked",
            Self::KeyNotValid => "key_not_valid",
            Self::BadSignature => "bad_signature",
            Self::SuiteMismatch => "suite_mismatch",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::LifetimeExceeded => "lifetime_exceeded",
            Self::ApprovalsInsufficient => "approvals_insufficient",
            Self::BadApproval => "bad_approval",
            Self::SelfApproval => "self_approval",
            Self::ScopeAction => "scope_action",
            Self::ScopeProgram => "scope_program",
            Self::ScopeArgs => "scope_args",
            Self::ScopeEnv => "scope_env",
            Self::ScopeCwd => "scope_cwd",
            Self::ScopeHost => "scope_host",
            Self::ScopeBoundary => "scope_boundary",
            Self::OfflineNotAllowed => "offline_not_allowed",
            Self::Revoked => "revoked",
            Self::StatusUnknown => "status_unknown",
            Self::Replayed => "replayed",
            Self::ReceiptMissing => "receipt_missing",
            Self::ReceiptInvalid => "receipt_invalid",
            Self::WitnessQuorum => "witness_quorum",
            Self::WitnessStale => "witness_stale",
            Self::LineageWidened => "lineage_widened",
            Self::LineageBroken => "lineage_broken",
            Self::DelegationSignature => "delegation_signature",
            Self::DelegationDepth => "delegation_depth",
            Self::DelegationWidened => "delegation_widened",
            Self::RecordFailed => "record_failed",
            Self::Internal => "internal",
        }
    }

    /// Parses a stable name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// What the person denied can do next.
    #[must_use]
    pub const fn hint(self) -> &'static str {
        match self {
            Self::Malformed | Self::TooLarge | Self::Unsupported => "obtain a fresh writ from the authority",
            Self::UnknownKey | Self::KeyNotValid => {
                "check that the trust root lists the authority's current issuer key"
            }
            Self::KeyRevoked => "the issuer key was revoked; request a new writ signed by a current key",
            Self::BadSignature => "the writ was altered after signing; obtain the original from the authority",
            Self::SuiteMismatch => {
                "the trust root pins another signature suite for this key; obtain the writ as the authority signed it"
            }
            Self::NotYetValid => "wait until the writ's not_before time, or check this machine's clock",
            Self::Expired | Self::LifetimeExceeded => "request a new writ",
            Self::ApprovalsInsufficient | Self::BadApproval | Self::SelfApproval => {
                "the request needs the approvals its policy demands from other approvers"
            }
            Self::ScopeAction | Self::ScopeProgram | Self::ScopeArgs | Self::ScopeEnv | Self::ScopeCwd => {
                "run exactly what the writ permits (see `writ inspect`), or request a writ for this invocation"
            }
            Self::ScopeHost => "run it on a host the writ names, or request a writ for this host",
            Self::ScopeBoundary => "run it on a gate that can enforce the writ's boundaries",
            Self::OfflineNotAllowed => "run the gate online (--authority or --home)",
            Self::Revoked => "the writ was revoked; request a new one",
            Self::StatusUnknown => "make the authority reachable so the gate can check revocation status",
            Self::Replayed => "the writ's uses are spent; request a new writ",
            Self::ReceiptMissing | Self::ReceiptInvalid => "present the writ with the receipt the authority returned",
            Self::WitnessQuorum | Self::WitnessStale => {
                "fetch the writ's receipt again from the authority once its witnesses have cosigned a checkpoint covering it"
            }
            Self::LineageWidened | Self::LineageBroken => "present the full, unmodified delegation chain",
            Self::DelegationSignature => "a child writ must be signed by the holder key its parent names",
            Self::DelegationDepth | Self::DelegationWidened => {
                "ask the parent's holder for a child within the parent's scope, validity, uses and depth"
            }
            Self::RecordFailed => "make the ledger reachable; nothing runs unrecorded",
            Self::Internal => "report this; the gate denied rather than guess",
        }
    }
}

impl fmt::Display for DenialCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DenialCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A denial: a stable code and a human-readable detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// The stable reason code.
    pub code: DenialCode,
    /// What exactly was wrong, for people (not a stable contract).
    pub detail: String,
}

impl Denial {
    /// Builds a denial.
    #[must_use]
    pub fn new(code: DenialCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into() }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "denied ({}): {}", self.code, self.detail)
    }
}

impl core::error::Error for Denial {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: alloc::vec::Vec<_> = DenialCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DenialCode::ALL.len());
        for c in DenialCode::ALL {
            assert_eq!(DenialCode::from_name(c.as_str()), Some(c));
        }
    }
}
