//! writ-gate: the Linux side of writ. Nothing governed starts unless a writ
//! verified, and what starts runs under the writ's boundaries, enforced by the
//! kernel, for no longer than the writ stays valid.
//!
//! - [`Program`] opens a program once and hashes it from the open descriptor;
//!   the launcher executes that same descriptor (`execveat(…, AT_EMPTY_PATH)`).
//! - [`Boundaries`] are applied in the forked child before the exec: rlimits,
//!   a pids cgroup, a fresh network namespace, `no_new_privs`, Landlock.
//!   A boundary this kernel cannot enforce denies the run (`scope_boundary`).
//! - [`Running`] supervises the run: the deadline is the smaller of the
//!   wall-clock limit and the writ's `not_after`; SIGTERM, a grace period and
//!   SIGKILL go to the whole process group; an [`EndHandle`] ends it early.
//!
//! - [`Gate::check`] verifies a writ (with `writ_core::verify`) for an attempt
//!   and returns a [`Permit`]; only a `Permit` launches ([`Permit::launch`]) or
//!   releases a tool call ([`Permit::into_tool_call`]).
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::path::Path;
//! use writ_core::fixtures; // public test keys, never for real use
//! use writ_core::model::{Action, ExecAction};
//! use writ_gate::{ExitStatus, Gate, HostFacts, LaunchOptions, Program, exec_attempt};
//!
//! let program = Program::open(Path::new("/bin/sh"))?;
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
//! let mut p = fixtures::predicate();
//! (p.issued_at, p.validity.not_before, p.validity.not_after) =
//!     (writ_core::Timestamp(now - 5), writ_core::Timestamp(now - 5), writ_core::Timestamp(now + 60));
//! p.scope.actions = vec![Action::Exec(ExecAction {
//!     program: "/bin/sh".into(),
//!     sha256: writ_core::Sha256Digest(*program.sha256()),
//!     args: vec![writ_core::model::ArgRule::Exact("-c".into()), writ_core::model::ArgRule::Exact("exit 3".into())],
//!     more_args: false,
//! })];
//! p.scope.environment = Default::default();
//! let writ = fixtures::sign(p);
//!
//! let gate = Gate::new(fixtures::trust_root(false), HostFacts::default());
//! let args = ["-c".to_string(), "exit 3".to_string()];
//! let attempt = exec_attempt(&program, &args, &BTreeMap::new(), Path::new("/"));
//! let permit = gate.check(&writ, &attempt)?;                       // verify -> Permit
//! let outcome = permit.launch(program, &LaunchOptions::default())?.wait()?;
//! assert_eq!(outcome.status, ExitStatus::Exited(3));
//!
//! // Anything else is denied, with a stable code, and nothing runs.
//! let other = exec_attempt(&Program::open(Path::new("/bin/sh"))?, &["-c".into(), "exit 0".into()], &BTreeMap::new(), Path::new("/"));
//! assert_eq!(gate.check(&writ, &other).unwrap_err().code.as_str(), "scope_args");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`exec`] is the whole governed run as one call: an [`ExecRequest`]
//!   (writ, program, argv, environment, cwd, mode, [`Recorder`], options)
//!   goes verify → consume a use → durable `exec_start` → launch → watch
//!   ([`watch`], failing closed) → `exec_end`.
//! - [`Recorder`] sends records to the authority (a `writ_api::GateApi`),
//!   counting one as recorded only when the acknowledgement's tlog proof
//!   verifies ([`check_ack`]), or appends them to the [`Spool`], which
//!   [`Spool::drain`] hands to the authority later.
//!
//! This is the one crate of writ with `unsafe`, confined to its `sys` module.
//! See `docs/gate.md`.

mod confine;
mod error;
pub mod exec;
mod gate;
mod launch;
mod program;
pub mod record;
pub mod spool;
mod sys;
pub mod watch;

pub use confine::{LANDLOCK_ABI_FOR_READ, LANDLOCK_ABI_FOR_WRITE};
pub use error::LaunchError;
pub use exec::{ExecMode, ExecOptions, ExecReport, ExecRequest, MAX_GRACE, exec};
pub use gate::{
    Evidence, Gate, LaunchOptions, Permit, detect_capabilities, exec_attempt, exec_end_entry, list_digest,
    timestamp_now,
};
pub use launch::{
    Boundaries, DEFAULT_GRACE, DEFAULT_RUN_UIDS, DEFAULT_UID_LEASE_DIR, EndHandle, EndReason, ExitStatus, Isolation,
    Launch, Outcome, RunAs, Running, end_runs_on_termination, isolation_gaps, termination_signal,
};
pub use program::{MAX_PROGRAM_BYTES, Program, SealedFile};
pub use record::{
    RecordError, Recorded, Recorder, check_ack, check_gate_key, denial_entry, record_denial, sign_record,
};
pub use spool::{
    DrainError, DrainReport, Durability, Durable, Pending, Spool, SpoolContents, SpoolError, rewrite as rewrite_spool,
};

/// The core types a gate's caller needs.
pub use writ_core::{Attempt, Capabilities, Denial, DenialCode, HostFacts, Mode, Status, ToolAttempt, TrustRoot};
