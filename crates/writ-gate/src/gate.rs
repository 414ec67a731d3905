//! The gate as a library: `Gate::check` turns a writ and an attempted action
//! into a [`Permit`], and only a `Permit` can launch a program or call a
//! guarded tool.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};
use writ_core::entry::{Entry, ExecEnd, ExecStart};
use writ_core::{
    Attempt, Capabilities, Context, Denial, DenialCode, ExecAttempt, HostFacts, Mode, Status, Timestamp, TrustRoot,
    Verified, verify,
};

use crate::confine::{KernelCaps, LANDLOCK_ABI_FOR_WRITE, has_cap_sys_admin, pids_cgroup_available};
use crate::error::LaunchError;
use crate::launch::{self, Boundaries, DEFAULT_GRACE, EndReason, ExitStatus, Launch, Outcome, Running};
use crate::program::Program;
use crate::sys;

impl From<LaunchError> for Denial {
    fn from(e: LaunchError) -> Self {
        let code = match &e {
            LaunchError::Program { .. } => DenialCode::ScopeProgram,
            LaunchError::Boundary { .. } => DenialCode::ScopeBoundary,
            LaunchError::Environment { .. } => DenialCode::ScopeEnv,
            LaunchError::Expired => DenialCode::Expired,
            LaunchError::Invalid(_) | LaunchError::Spawn(_) => DenialCode::Internal,
        };
        Denial::new(code, e.to_string())
    }
}

/// What the gate knows beyond the writ: revocation status, the use number the
/// authority assigned, the ledger receipt (online modes fill these in).
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Revocation status as learned from the authority.
    pub status: Status,
    /// The use number the authority assigned after consuming it atomically.
    pub use_count: Option<u32>,
    /// The ledger receipt presented with the writ.
    pub receipt: Option<Vec<u8>>,
    /// Envelopes of the ancestors, parent first, for a delegated writ.
    pub ancestors: Vec<Vec<u8>>,
}

impl Default for Evidence {
    fn default() -> Self {
        Self { status: Status::Unknown, use_count: None, receipt: None, ancestors: Vec::new() }
    }
}

/// A gate: a trust root, the facts of this host, and what this kernel can
/// enforce.
#[derive(Debug, Clone)]
pub struct Gate {
    trust: TrustRoot,
    host: HostFacts,
    mode: Mode,
    capabilities: Capabilities,
    memo: Option<Arc<Mutex<Memo>>>,
}

/// Verdicts of the current second. `verify` is a pure function of (writ
/// bytes, trust root, context), and the context of [`Gate::check`] differs
/// only in the attempt and `now` (whole seconds), so a verdict for the same
/// writ digest, attempt and second is *the* verdict: reusing it changes
/// nothing but the cost.
#[derive(Debug, Default)]
struct Memo {
    second: i64,
    verdicts: HashMap<[u8; 32], Result<Verified, Denial>>,
}

/// Bound on memoized verdicts per second (beyond it, verification just runs).
const MEMO_MAX: usize = 4096;

fn memo_key(writ: &[u8], attempt: &Attempt) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(Sha256::digest(writ));
    h.update(format!("{attempt:?}").as_bytes());
    h.finalize().into()
}

/// What this host's kernel and privileges let the launcher enforce.
pub fn detect_capabilities() -> Capabilities {
    let kernel = KernelCaps::detect();
    Capabilities {
        wall_clock: true,
        cpu: true,
        memory: true,
        // RLIMIT_NPROC binds a non-root uid; root needs a pids cgroup.
        processes: !sys::is_root() || pids_cgroup_available(),
        open_files: true,
        file_size: true,
        // unshare(CLONE_NEWNET) needs CAP_SYS_ADMIN.
        network: has_cap_sys_admin(),
        // Writes need ABI 3 (truncate); one flag covers both lists.
        fs: kernel.landlock_abi >= LANDLOCK_ABI_FOR_WRITE,
    }
}

/// Runs `f`; a panic inside it becomes an `internal` denial.
fn deny_on_panic<T>(what: &str, f: impl FnOnce() -> Result<T, Denial>) -> Result<T, Denial> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Denial::new(DenialCode::Internal, format!("the gate panicked while {what}"))))
}

fn now() -> Timestamp {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
}

impl Gate {
    /// A gate for offline execution with the host's detected capabilities.
    pub fn new(trust: TrustRoot, host: HostFacts) -> Self {
        Self { trust, host, mode: Mode::Offline, capabilities: detect_capabilities(), memo: None }
    }

    /// Reuses verdicts within the same second for the same writ and attempt
    /// (for a gate that sees the same writ many times a second, such as
    /// `writ proxy`). Only [`Gate::check`] (no external evidence) uses it.
    #[must_use]
    pub fn with_memo(mut self) -> Self {
        self.memo = Some(Arc::default());
        self
    }

    /// Sets the mode (offline or online).
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Replaces the detected capabilities (e.g. to refuse a boundary kind).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The capabilities this gate claims to enforce.
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// Verifies `writ` for `attempt` now, offline evidence only.
    ///
    /// # Errors
    ///
    /// The [`Denial`] of the first failed check; a panic while checking is
    /// caught and denies with `internal`.
    pub fn check(&self, writ: &[u8], attempt: &Attempt) -> Result<Permit, Denial> {
        let Some(memo) = &self.memo else {
            return self.check_with(writ, attempt, Evidence::default());
        };
        let second = now();
        let key = memo_key(writ, attempt);
        {
            let mut m = memo.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if m.second != second.0 {
                m.second = second.0;
                m.verdicts.clear();
            }
            if let Some(v) = m.verdicts.get(&key) {
                return v.clone().map(|verified| Permit { verified, attempt: attempt.clone() });
            }
        }
        let verdict = self.verify_at(second, writ, attempt, Evidence::default());
        let mut m = memo.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.second == second.0 && m.verdicts.len() < MEMO_MAX {
            m.verdicts.insert(key, verdict.clone());
        }
        verdict.map(|verified| Permit { verified, attempt: attempt.clone() })
    }

    /// [`Gate::check`] with status, use count, receipt and ancestors.
    ///
    /// # Errors
    ///
    /// As [`Gate::check`].
    pub fn check_with(&self, writ: &[u8], attempt: &Attempt, evidence: Evidence) -> Result<Permit, Denial> {
        let verified = self.verify_at(now(), writ, attempt, evidence)?;
        Ok(Permit { verified, attempt: attempt.clone() })
    }

    fn verify_at(
        &self,
        now: Timestamp,
        writ: &[u8],
        attempt: &Attempt,
        evidence: Evidence,
    ) -> Result<Verified, Denial> {
        let ctx = Context {
            now,
            attempt: Some(attempt.clone()),
            host: Some(self.host.clone()),
            capabilities: self.capabilities,
            mode: self.mode,
            status: evidence.status,
            use_count: evidence.use_count,
            ancestors: evidence.ancestors,
            receipt: evidence.receipt,
        };
        // INVARIANT: no writ, no execution. A panic anywhere in verification
        // is a denial, never a pass.
        deny_on_panic("verifying", || verify(writ, &self.trust, &ctx))
    }
}

/// Proof, in the type system, that a writ verified for one attempt. Only
/// [`Gate::check`] makes one; launching and guarded calls consume it.
#[derive(Debug)]
pub struct Permit {
    verified: Verified,
    attempt: Attempt,
}

/// How to run a permitted program (what the writ does not decide).
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Time between SIGTERM and SIGKILL when the run is ended.
    pub grace: Duration,
    /// Pass stdout/stderr through pipes and hash them.
    pub digest_output: bool,
    /// The run's identity and isolation (H5, issue 9 item 1). Strong by
    /// default; `allow_weaker` only from the trust root for this gate.
    pub isolation: crate::launch::Isolation,
}

impl Default for LaunchOptions {
    fn default() -> Self {
        Self { grace: DEFAULT_GRACE, digest_output: false, isolation: crate::launch::Isolation::default() }
    }
}

/// Builds the exec attempt for an opened program: `args` are the arguments
/// after the program name; `argv[0]` will be the program's absolute path.
pub fn exec_attempt(program: &Program, args: &[String], env: &BTreeMap<String, String>, cwd: &Path) -> Attempt {
    Attempt::Exec(ExecAttempt {
        program: program.path().to_string_lossy().into_owned(),
        sha256: writ_core::Sha256Digest(*program.sha256()),
        args: args.to_vec(),
        env: env.clone(),
        cwd: cwd.to_string_lossy().into_owned(),
        arg_files: BTreeMap::new(),
    })
}

/// The `exec_end` entry for a finished run: `outcome` is `exited`,
/// `signaled`, `killed_wall_clock`, `killed_expired`, `killed_revoked` (an end
/// request whose reason starts with `revoked`), `killed_status_unknown` (one
/// whose reason starts with `status_unknown`: the watcher could not confirm
/// the status in time) or `ended` (another end request).
pub fn exec_end_entry(ids: (String, String), host: &str, outcome: &Outcome, now: Timestamp) -> Entry {
    let how = match (&outcome.ended_by, outcome.status) {
        (Some(EndReason::WallClock), _) => "killed_wall_clock",
        (Some(EndReason::Expired), _) => "killed_expired",
        (Some(EndReason::Ended(r)), _) if r.starts_with("revoked") => "killed_revoked",
        (Some(EndReason::Ended(r)), _) if r.starts_with("status_unknown") => "killed_status_unknown",
        (Some(EndReason::Ended(_)), _) => "ended",
        (None, ExitStatus::Exited(_)) => "exited",
        (None, ExitStatus::Signaled(_)) => "signaled",
    };
    let exit_code = match outcome.status {
        ExitStatus::Exited(c) => Some(i64::from(c)),
        ExitStatus::Signaled(_) => None,
    };
    Entry::ExecEnd(ExecEnd {
        time: now,
        request_id: ids.0,
        writ_id: ids.1,
        host: host.to_owned(),
        outcome: how.to_owned(),
        exit_code,
    })
}

/// SHA-256 over `items`, each encoded as `len:u32be ‖ bytes`, so that no two
/// lists share a digest: the `argv_digest` of an `exec_start` (over `argv`)
/// and of a proxied request (over `[method, path]`).
pub fn list_digest(items: &[&str]) -> writ_core::Sha256Digest {
    let mut h = Sha256::new();
    for item in items {
        h.update(u32::try_from(item.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(item.as_bytes());
    }
    writ_core::Sha256Digest(h.finalize().into())
}

/// The current time as the core counts it (unix seconds).
pub fn timestamp_now() -> Timestamp {
    now()
}

impl Permit {
    /// The verified writ.
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// The attempt this permit was checked for.
    pub fn attempt(&self) -> &Attempt {
        &self.attempt
    }

    /// The writ's boundaries, as the launcher enforces them.
    pub fn boundaries(&self) -> Boundaries {
        let b = self.verified.boundaries();
        let paths = |v: &Option<Vec<String>>| v.as_ref().map(|v| v.iter().map(PathBuf::from).collect());
        Boundaries {
            wall_clock_secs: b.wall_clock_secs,
            cpu_secs: b.cpu_secs,
            memory_bytes: b.memory_bytes,
            processes: b.processes,
            open_files: b.open_files,
            file_size_bytes: b.file_size_bytes,
            network: b.network.unwrap_or(true),
            fs_read: paths(&b.fs_read),
            fs_write: paths(&b.fs_write),
        }
    }

    /// The `exec_start` ledger entry for launching this permit at `now` on
    /// `host` (write it, durably, before [`Permit::launch`]).
    ///
    /// `argv_digest` is SHA-256 over the argv as it will be passed (`argv[0]` =
    /// the program path, then the checked arguments), each element encoded as
    /// `len:u32be ‖ bytes`, so that no two argvs share a digest.
    ///
    /// # Errors
    ///
    /// `scope_action` if the permit is not for an exec.
    pub fn exec_start_entry(&self, now: Timestamp, host: &str) -> Result<Entry, Denial> {
        let Attempt::Exec(a) = &self.attempt else {
            return Err(Denial::new(DenialCode::ScopeAction, "this permit is not for running a program"));
        };
        let argv: Vec<&str> = std::iter::once(a.program.as_str()).chain(a.args.iter().map(String::as_str)).collect();
        Ok(Entry::ExecStart(ExecStart {
            time: now,
            request_id: self.verified.predicate().request.id.clone(),
            writ_id: self.verified.id().to_owned(),
            host: host.to_owned(),
            program_digest: a.sha256,
            argv_digest: list_digest(&argv),
        }))
    }

    /// `(request id, writ id)` of the verified writ, for the `exec_end` entry.
    pub fn ids(&self) -> (String, String) {
        (self.verified.predicate().request.id.clone(), self.verified.id().to_owned())
    }

    /// The writ's `not_after`.
    pub fn not_after(&self) -> SystemTime {
        let secs = self.verified.predicate().validity.not_after.unix();
        UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    }

    /// Launches `program` exactly as permitted: the same open file (its digest
    /// must be the one checked), the checked arguments with the program's path
    /// as `argv[0]`, the checked environment only, the checked working
    /// directory, under the writ's boundaries, until `not_after` at the latest.
    ///
    /// # Errors
    ///
    /// `scope_action` if the permit is not for an exec, `scope_program` if
    /// `program` is not the file checked, `scope_boundary` if a boundary
    /// cannot be enforced, `expired`, or `internal`.
    pub fn launch(self, program: Program, opts: &LaunchOptions) -> Result<Running, Denial> {
        let Attempt::Exec(a) = &self.attempt else {
            return Err(Denial::new(DenialCode::ScopeAction, "this permit is not for running a program"));
        };
        if program.path().to_string_lossy() != a.program || *program.sha256() != a.sha256.0 {
            return Err(Denial::new(
                DenialCode::ScopeProgram,
                format!("program `{}` is not the file this permit was checked for", program.path().display()),
            ));
        }
        let mut argv: Vec<OsString> = Vec::with_capacity(a.args.len().saturating_add(1));
        argv.push(OsString::from(&a.program));
        argv.extend(a.args.iter().map(OsString::from));
        let env = a.env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect();
        let mut l = Launch::new(program, argv, env, PathBuf::from(&a.cwd));
        l.boundaries = self.boundaries();
        l.not_after = Some(self.not_after());
        l.grace = opts.grace;
        l.digest_output = opts.digest_output;
        l.isolation = opts.isolation.clone();
        // Loader variables run only with a value the writ fixes (H5, issue 9 item 3).
        l.fixed_env = (self.verified.predicate().scope.environment.env.0.iter())
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| OsString::from(k))
            .collect();
        deny_on_panic("launching", || launch::spawn(l).map_err(Denial::from))
    }

    /// For a tool-call permit: the tool name and the checked arguments, which
    /// are the only ones a guarded dispatcher should pass on.
    ///
    /// # Errors
    ///
    /// `scope_action` if the permit is not for a tool call.
    pub fn into_tool_call(self) -> Result<(String, BTreeMap<String, String>), Denial> {
        match self.attempt {
            Attempt::Tool(t) => Ok((t.name, t.args)),
            _ => Err(Denial::new(DenialCode::ScopeAction, "this permit is not for a tool call")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_gate_path_denies_with_internal() {
        let d = deny_on_panic("verifying", || -> Result<(), Denial> { panic!("boom") }).unwrap_err();
        assert_eq!(d.code, DenialCode::Internal);
        assert_eq!(deny_on_panic("verifying", || Ok(5)), Ok(5));
    }
}
