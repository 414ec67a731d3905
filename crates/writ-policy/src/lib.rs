//! writ-policy: the Cedar adapter that turns an execution request into a
//! decision plus obligations.
//!
//! The authority maps its request into a [`PolicyRequest`] (requester, what
//! should run, argv, environment, host facts, requested duration, reason,
//! time, verified evidence kinds) and calls [`PolicySet::decide`], which
//! returns a [`Decision`]: an [`Outcome`] (allow, needs approval, deny), the
//! ids of the policies that determined it, the [`Obligations`] read from the
//! annotations of the matching permit policies (approvals, approver group,
//! maximum duration, required evidence, single use), human-readable reasons
//! and the digest of the policy source.
//!
//! Policies are written in Cedar against [`SCHEMA`] and validated against it
//! in strict mode once, when [`PolicySet::load`] is called. Anything wrong in
//! a set (syntax, schema, ids, annotations) refuses the whole set. Deciding
//! never fails: whatever cannot be evaluated is denied (fail closed).
//!
//! This crate does no I/O, reads no clock and depends on no other writ
//! crate. The schema, the annotations and examples are documented in
//! `docs/policy.md`.
//!
//! ```
//! use writ_policy::{DEFAULT_POLICIES, Outcome, PolicyRequest, PolicySet, Requester, Target};
//!
//! let set = PolicySet::load(DEFAULT_POLICIES)?;
//! let alice = Requester::new("alice", "ab12", ["dev"]);
//!
//! let echo = PolicyRequest::new(alice.clone(), Target::exec("/bin/echo"))
//!     .with_argv(["/bin/echo", "hello"])
//!     .with_duration_secs(60);
//! assert_eq!(set.decide(&echo).outcome, Outcome::Allow);
//!
//! let deploy = PolicyRequest::new(alice, Target::exec("/usr/local/bin/deploy"))
//!     .with_argv(["/usr/local/bin/deploy", "v1.2.3"])
//!     .with_reason("release 1.2.3")
//!     .with_duration_secs(600);
//! let decision = set.decide(&deploy);
//! assert_eq!(decision.outcome, Outcome::NeedsApproval);
//! assert_eq!(decision.obligations.approvals, 2);
//! assert_eq!(decision.obligations.approver_group.as_deref(), Some("sre"));
//! # Ok::<(), writ_policy::PolicyError>(())
//! ```

mod annotations;
mod bounds;
mod decision;
mod defaults;
mod error;
mod request;
mod schema;
mod set;

pub use annotations::{
    EVIDENCE_KINDS, KNOWN_ANNOTATIONS, MAX_ALLOW_ENV, MAX_APPROVALS, MAX_DURATION_SECS, MAX_NAME_LEN, MAX_USES,
};
pub use bounds::{Boundaries, MAX_PATHS, path_within};
pub use decision::{Decision, GroupConflict, Obligations, Outcome};
pub use defaults::DEFAULT_POLICIES;
pub use error::PolicyError;
pub use request::{ActionKind, HostFacts, PolicyRequest, Requester, Target, command_line, hour_and_weekday};
pub use schema::SCHEMA;
pub use set::{MAX_POLICY_SOURCE_BYTES, PolicySet};
