//! The output of [`crate::PolicySet::decide`].

use serde::{Deserialize, Serialize};

use crate::bounds::Boundaries;

/// What policy says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Permitted with no approvals required: the writ may be issued at once
    /// (once any required evidence is present).
    Allow,
    /// Permitted once `obligations.approvals` distinct approvers (of
    /// `obligations.approver_group`, when set) have approved.
    NeedsApproval,
    /// Not permitted. `reasons` says why.
    Deny,
}

impl Outcome {
    /// Stable snake_case name: `allow`, `needs_approval`, `deny`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::NeedsApproval => "needs_approval",
            Self::Deny => "deny",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What must hold before a permitted request becomes a writ.
///
/// Read from the annotations of the permit policies that determined the
/// decision and combined strictly (see [`Obligations::combine`]). All
/// defaults when the outcome is [`Outcome::Deny`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Obligations {
    /// distinct approvers needed (`@approvals`); 0 = none
    pub approvals: u32,
    /// the group approvers must belong to (`@approver_group`); `None` = any approver
    pub approver_group: Option<String>,
    /// the longest validity the writ may have, in seconds (`@max_duration`)
    pub max_duration_secs: Option<u64>,
    /// runtime evidence kinds that must be verified before issuance
    /// (`@evidence`), sorted and deduplicated
    pub required_evidence: Vec<String>,
    /// the writ may be used once only (`@single_use`)
    pub single_use: bool,
    /// the most uses the writ may have (`@uses`); `None` = not limited by policy
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    /// the writ may run offline (`@offline("true")`); only when every
    /// determining policy says so
    #[serde(default)]
    pub offline: bool,
    /// loader and interpreter variables (`LD_*`, `PYTHON*`, …) a request may
    /// set, by exact name (`@allow_env`); only those every determining
    /// policy allows
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_env: Vec<String>,
    /// limits and confinement the writ must carry (`@wall_clock`, `@cpu`,
    /// `@memory`, `@processes`, `@open_files`, `@file_size`, `@network`,
    /// `@fs_read`, `@fs_write`)
    #[serde(default, skip_serializing_if = "Boundaries::is_empty")]
    pub boundaries: Boundaries,
    /// how many levels of delegation below the writ its holder may sign
    /// (`@delegation("N")`, `docs/format.md` §18); `None` = the writ may
    /// name no holder. Only as deep as every determining policy allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<u32>,
}

/// Two determining policies demand approvals from different groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConflict {
    /// the group demanded first
    pub first: String,
    /// the other group
    pub second: String,
}

impl Obligations {
    /// Fold `other` into `self`, keeping the stricter of each:
    /// the larger approval count, the shorter maximum duration, the union of
    /// required evidence, single use if either is single use, the fewer uses,
    /// offline only if both allow it, only the loader variables both allow,
    /// delegation only as deep as both allow (none unless both allow it),
    /// the stricter boundaries ([`Boundaries::combine`]). An approver
    /// group beats no group (any approver); two different groups are a
    /// conflict, which [`crate::PolicySet::decide`] turns into a deny.
    ///
    /// # Errors
    ///
    /// [`GroupConflict`] when both name a different approver group; `self`
    /// is then left unchanged.
    pub fn combine(&mut self, other: &Self) -> Result<(), GroupConflict> {
        let group = match (&self.approver_group, &other.approver_group) {
            (Some(a), Some(b)) if a != b => {
                return Err(GroupConflict { first: a.clone(), second: b.clone() });
            }
            (Some(a), _) => Some(a.clone()),
            (None, b) => b.clone(),
        };
        self.approver_group = group;
        self.approvals = self.approvals.max(other.approvals);
        self.max_duration_secs = match (self.max_duration_secs, other.max_duration_secs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for kind in &other.required_evidence {
            if !self.required_evidence.contains(kind) {
                self.required_evidence.push(kind.clone());
            }
        }
        self.required_evidence.sort();
        self.single_use |= other.single_use;
        self.uses = match (self.uses, other.uses) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.offline &= other.offline;
        self.allow_env.retain(|n| other.allow_env.contains(n));
        self.boundaries.combine(&other.boundaries);
        self.delegation = match (self.delegation, other.delegation) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        Ok(())
    }
}

/// The decision on one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// allow, needs approval, or deny
    pub outcome: Outcome,
    /// `@id`s of the policies that determined the outcome, sorted: the
    /// satisfied permit policies for allow / needs approval, the satisfied
    /// forbid policies for a forbid; empty when no policy matched or the
    /// decision failed closed
    pub determining_policies: Vec<String>,
    /// what must hold before issuance (defaults on deny)
    pub obligations: Obligations,
    /// human-readable explanations, e.g. which forbid matched or
    /// `no permit policy matched`
    pub reasons: Vec<String>,
    /// hex sha256 of the exact policy source bytes that decided
    pub policy_digest: String,
}

impl Decision {
    /// Whether the outcome is [`Outcome::Deny`].
    pub fn is_deny(&self) -> bool {
        self.outcome == Outcome::Deny
    }
}
