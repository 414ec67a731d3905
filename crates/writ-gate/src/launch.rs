//! The launcher: fork, confine, drop to the run's uid, `execveat` the sealed
//! copy that was hashed, supervise; a keeper process outlives the gate just
//! long enough to kill the run if the gate dies.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CString, OsString};
use std::fmt;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::confine::{self, KernelCaps, RunCgroups, UidLease};
use crate::error::LaunchError;
use crate::program::{Program, SealedFile};
use crate::sys::{self, ChildSetup, Joined, Keeper, KeeperSetup, Rlimit, RunCreds, Stage};

/// Default time between SIGTERM and SIGKILL when a run is ended.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// The boundaries a writ's scope sets on one run. `None` means "not limited by
/// the writ"; `network: false` (the default) means no network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Boundaries {
    /// Wall-clock seconds (also capped by the writ's `not_after`).
    pub wall_clock_secs: Option<u64>,
    /// CPU seconds (RLIMIT_CPU: SIGXCPU at the limit, SIGKILL one second later).
    pub cpu_secs: Option<u64>,
    /// Address space in bytes (RLIMIT_AS).
    pub memory_bytes: Option<u64>,
    /// Processes and threads at once (a pids cgroup; also RLIMIT_NPROC).
    pub processes: Option<u64>,
    /// Open file descriptors (RLIMIT_NOFILE).
    pub open_files: Option<u64>,
    /// Largest file the program may write, in bytes (RLIMIT_FSIZE).
    pub file_size_bytes: Option<u64>,
    /// Whether network access is allowed; `false` runs the program in a fresh
    /// network namespace with no interfaces up.
    pub network: bool,
    /// Paths (and everything beneath) the program may read and execute; `None`
    /// leaves reads unrestricted (Landlock).
    pub fs_read: Option<Vec<PathBuf>>,
    /// Paths (and everything beneath) the program may write, create, remove,
    /// rename or truncate; `None` leaves writes unrestricted (Landlock).
    pub fs_write: Option<Vec<PathBuf>>,
}

/// The uids a gate leases to its runs by default: 65,536 numbers far above
/// any account or container sub-uid range (reserve them on the host).
pub const DEFAULT_RUN_UIDS: Range<u32> = 2_100_000_000..2_100_065_536;

/// Where a gate keeps its uid leases by default (one lock file per uid).
pub const DEFAULT_UID_LEASE_DIR: &str = "/run/writ-gate/uids";

/// Which unprivileged identity a program runs as. It is never the gate's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAs {
    /// A uid leased for this run alone from `uids` (the gid is the same
    /// number), so no two live runs, and never the gate, share a uid.
    Dynamic {
        /// The range to lease from (must not contain 0 or any account's uid).
        uids: Range<u32>,
        /// A directory only the gate can write, holding one lock file per uid.
        lease_dir: PathBuf,
    },
    /// One uid and gid from the gate's configuration (not 0, not the gate's).
    Fixed {
        /// The uid.
        uid: u32,
        /// The gid.
        gid: u32,
    },
}

impl Default for RunAs {
    fn default() -> Self {
        Self::Dynamic { uids: DEFAULT_RUN_UIDS, lease_dir: PathBuf::from(DEFAULT_UID_LEASE_DIR) }
    }
}

/// How a run is kept out of the gate's reach (issue 9, item 1). The default
/// is the strong mode: another uid, no capabilities, its own cgroup, a
/// keeper; a gate that cannot do all of it refuses the run (`scope_boundary`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Isolation {
    /// The identity the program runs as.
    pub run_as: RunAs,
    /// The trust root allows this gate a weaker mode: run without what the gate
    /// cannot do (not root: same uid, no cgroup), and say so in
    /// [`Outcome::weakened`]. Set it only from the trust root, never from an
    /// invoker's flag.
    pub allow_weaker: bool,
}

/// Everything needed to run one program under one writ.
#[derive(Debug)]
pub struct Launch {
    /// The opened, hashed, sealed program.
    pub program: Program,
    /// The argument vector, `argv[0]` included, passed unchanged (except the
    /// entries of [`Launch::arg_files`], and for a script `argv[0]`, see
    /// [`Program`]).
    pub argv: Vec<OsString>,
    /// The complete environment (nothing else is inherited).
    pub env: Vec<(OsString, OsString)>,
    /// Absolute working directory, entered as the run's uid.
    pub cwd: PathBuf,
    /// Kernel-enforced limits.
    pub boundaries: Boundaries,
    /// The writ's `not_after`: the run is ended when it passes.
    pub not_after: Option<SystemTime>,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Pass stdout/stderr through a pipe and hash them.
    pub digest_output: bool,
    /// The run's identity and how strictly it is isolated.
    pub isolation: Isolation,
    /// Names of environment variables whose value the writ fixes. A loader
    /// or interpreter variable (`writ_core::loader`) in [`Launch::env`] is
    /// refused (`scope_env`) unless it is named here.
    pub fixed_env: BTreeSet<OsString>,
    /// File arguments bound by digest, by index into [`Launch::argv`]: the
    /// argument must equal the file's path, and the program receives
    /// `/proc/self/fd/N` of the sealed copy instead.
    pub arg_files: BTreeMap<usize, SealedFile>,
}

impl Launch {
    /// A launch with no limits but the defaults (no network, 2 s grace, no
    /// output digests, the strong isolation, no fixed variables, no file
    /// arguments).
    pub fn new(program: Program, argv: Vec<OsString>, env: Vec<(OsString, OsString)>, cwd: PathBuf) -> Self {
        Self {
            program,
            argv,
            env,
            cwd,
            boundaries: Boundaries::default(),
            not_after: None,
            grace: DEFAULT_GRACE,
            digest_output: false,
            isolation: Isolation::default(),
            fixed_env: BTreeSet::new(),
            arg_files: BTreeMap::new(),
        }
    }
}

/// Why the gate ended a run before the program exited on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The scope's wall-clock limit passed.
    WallClock,
    /// The writ's `not_after` passed.
    Expired,
    /// A caller ended it through an [`EndHandle`] (e.g. the writ was revoked).
    Ended(String),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WallClock => f.write_str("wall_clock"),
            Self::Expired => f.write_str("expired"),
            Self::Ended(r) => write!(f, "ended: {r}"),
        }
    }
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
}

/// The result of a run: what the `exec_end` record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code or signal.
    pub status: ExitStatus,
    /// Set when the gate ended the run (wall clock, expiry, revocation).
    pub ended_by: Option<EndReason>,
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// User CPU time (the program and its reaped descendants).
    pub cpu_user: Duration,
    /// System CPU time.
    pub cpu_system: Duration,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
    /// SHA-256 of everything written to stdout, when requested.
    pub stdout_sha256: Option<[u8; 32]>,
    /// SHA-256 of everything written to stderr, when requested.
    pub stderr_sha256: Option<[u8; 32]>,
    /// The uid the program ran as (`None` in the weaker mode as non-root).
    pub run_uid: Option<u32>,
    /// What the weaker mode left out (`run_as`, `cgroup`, …); empty in the
    /// strong mode. The record must say so.
    pub weakened: Vec<String>,
}

impl Outcome {
    /// The exit code a shell would report: the program's own code, or
    /// 128 + signal.
    pub fn exit_code(&self) -> u8 {
        match self.status {
            ExitStatus::Exited(c) => u8::try_from(c & 0xff).unwrap_or(1),
            ExitStatus::Signaled(s) => u8::try_from(128 + (s & 0x7f)).unwrap_or(1),
        }
    }
}

enum Ctl {
    Exited,
    End(String),
}

/// Ends a running program early (SIGTERM to its group, grace, SIGKILL). Cheap
/// to clone and `Send`: hand it to whatever watches revocation.
#[derive(Debug, Clone)]
pub struct EndHandle(Sender<Ctl>);

impl fmt::Debug for Ctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited => f.write_str("Exited"),
            Self::End(r) => write!(f, "End({r:?})"),
        }
    }
}

impl EndHandle {
    /// Asks the supervisor to end the run, recording `reason`. Has no effect if
    /// the program already exited.
    pub fn end(&self, reason: impl Into<String>) {
        let _ = self.0.send(Ctl::End(reason.into()));
    }
}

/// A program that is running under supervision.
#[derive(Debug)]
pub struct Running {
    pid: i32,
    started: Instant,
    ctl: Sender<Ctl>,
    supervisor: Option<JoinHandle<Option<EndReason>>>,
    cgroups: Arc<RunCgroups>,
    /// How the program came into its v2 cgroup (checked by tests).
    #[cfg_attr(not(test), allow(dead_code))]
    joined: Joined,
    keeper: Option<Keeper>,
    lease: Option<UidLease>,
    run_uid: Option<u32>,
    weakened: Vec<String>,
    live_id: u64,
    outputs: Vec<JoinHandle<io::Result<[u8; 32]>>>,
    reaped: bool,
}

impl Running {
    /// The program's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid.unsigned_abs()
    }

    /// A handle that ends the run early.
    pub fn end_handle(&self) -> EndHandle {
        EndHandle(self.ctl.clone())
    }

    /// The uid the program runs as (`None` in the weaker mode as non-root).
    pub fn run_uid(&self) -> Option<u32> {
        self.run_uid
    }

    /// What the weaker mode left out; empty in the strong mode.
    pub fn weakened(&self) -> &[String] {
        &self.weakened
    }

    /// Kills everything of the run that is left (the program's process group
    /// and its cgroups, reaping re-parented orphans), removes the cgroups,
    /// releases the keeper and the uid.
    fn clean_up(&mut self) {
        // INVARIANT: the leader is a zombie or alive, not reaped, so its pid
        // and process group id cannot have been reused: this kill reaches
        // only the run.
        let _ = sys::kill_group(self.pid, libc::SIGKILL);
        self.cgroups.kill_and_reap(self.pid);
    }

    fn release(&mut self) {
        self.cgroups.remove();
        if let Some(mut k) = self.keeper.take() {
            k.finish();
        }
        self.lease = None;
        live_remove(self.live_id);
    }

    /// Waits for the program to exit (or be ended), kills whatever it left
    /// behind in its process group or cgroups, and reaps it.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Spawn`] if waiting fails (the program is killed).
    pub fn wait(mut self) -> Result<Outcome, LaunchError> {
        let waited = sys::wait_exited_nowait(self.pid);
        let _ = self.ctl.send(Ctl::Exited);
        let ended_by = self.supervisor.take().and_then(|h| h.join().ok()).flatten();
        self.clean_up();
        if let Err(e) = waited {
            return Err(LaunchError::Spawn(format!("waiting for the program failed: {e}")));
        }
        let reaped = sys::reap(self.pid).map_err(|e| LaunchError::Spawn(format!("reaping failed: {e}")))?;
        self.reaped = true;
        let wall = self.started.elapsed();
        let mut digests = std::mem::take(&mut self.outputs).into_iter().map(|h| h.join().ok().and_then(Result::ok));
        let stdout_sha256 = digests.next().flatten();
        let stderr_sha256 = digests.next().flatten();
        self.release();
        Ok(Outcome {
            status: match reaped.status {
                Ok(c) => ExitStatus::Exited(c),
                Err(s) => ExitStatus::Signaled(s),
            },
            ended_by,
            wall,
            cpu_user: reaped.user,
            cpu_system: reaped.system,
            peak_rss_bytes: reaped.max_rss_bytes,
            stdout_sha256,
            stderr_sha256,
            run_uid: self.run_uid,
            weakened: std::mem::take(&mut self.weakened),
        })
    }
}

impl Drop for Running {
    /// Fail closed: a run nobody waits for is killed and reaped.
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.ctl.send(Ctl::Exited);
            self.clean_up();
            let _ = sys::reap(self.pid);
            self.release();
        }
    }
}

/// Runs that a termination signal must end, by id.
static LIVE: Mutex<Vec<(u64, Sender<Ctl>)>> = Mutex::new(Vec::new());
static LIVE_SEQ: AtomicU64 = AtomicU64::new(1);
/// The termination signal the gate received (0: none).
static TERMINATED: AtomicI32 = AtomicI32::new(0);
static HANDLERS: OnceLock<Result<(), String>> = OnceLock::new();

fn live_add(tx: Sender<Ctl>) -> u64 {
    let id = LIVE_SEQ.fetch_add(1, Ordering::Relaxed);
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((id, tx));
    id
}

fn live_remove(id: u64) {
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|(i, _)| *i != id);
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

/// Makes SIGTERM, SIGINT and SIGHUP on the gate process end every run (SIGTERM
/// to the run, the grace period, SIGKILL) instead of killing the gate, so
/// that each caller's [`Running::wait`] returns an [`Outcome`] (ended by
/// `the gate received SIGTERM`) and the caller can write `exec_end`. Once a
/// signal arrived, no new run starts. Call it once, early, in a gate binary;
/// afterwards [`termination_signal`] says whether (and which) arrived, so the
/// binary can exit with 128 + signal after recording.
///
/// # Errors
///
/// [`LaunchError::Spawn`] if the handlers cannot be installed.
pub fn end_runs_on_termination() -> Result<(), LaunchError> {
    let r = HANDLERS.get_or_init(|| {
        let fd = sys::install_termination_handlers(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP])
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
        std::thread::Builder::new()
            .name("writ-gate-signals".into())
            .spawn(move || {
                while let Ok(sig) = sys::read_byte(&fd) {
                    let sig = i32::from(sig);
                    TERMINATED.store(sig, Ordering::SeqCst);
                    let reason = format!("the gate received {}", signal_name(sig));
                    for (_, tx) in LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
                        let _ = tx.send(Ctl::End(reason.clone()));
                    }
                }
            })
            .map(|_| ())
            .map_err(|e| format!("cannot start the signal thread: {e}"))
    });
    r.clone().map_err(LaunchError::Spawn)
}

/// The termination signal the gate received since
/// [`end_runs_on_termination`], if any.
pub fn termination_signal() -> Option<i32> {
    match TERMINATED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

fn cstring(what: &str, bytes: &[u8]) -> Result<CString, LaunchError> {
    CString::new(bytes).map_err(|_| LaunchError::Invalid(format!("{what} contains a NUL byte")))
}

fn rlimits(b: &Boundaries) -> Vec<Rlimit> {
    let mut v = Vec::new();
    let mut push = |resource, soft: Option<u64>, extra: u64| {
        if let Some(s) = soft {
            v.push(Rlimit { resource, soft: s, hard: s.saturating_add(extra) });
        }
    };
    // CPU: SIGXCPU at the soft limit, SIGKILL at the hard limit one second later.
    push(libc::RLIMIT_CPU, b.cpu_secs, 1);
    push(libc::RLIMIT_AS, b.memory_bytes, 0);
    push(libc::RLIMIT_NPROC, b.processes, 0);
    push(libc::RLIMIT_NOFILE, b.open_files, 0);
    push(libc::RLIMIT_FSIZE, b.file_size_bytes, 0);
    v
}

/// The moment the run must end and why: the smaller of the wall-clock limit and
/// the time left before `not_after`.
fn deadline(
    b: &Boundaries,
    not_after: Option<SystemTime>,
    now: Instant,
) -> Result<Option<(Instant, EndReason)>, LaunchError> {
    let wall = b.wall_clock_secs.map(|s| (Duration::from_secs(s), EndReason::WallClock));
    let left = match not_after {
        None => None,
        Some(na) => match na.duration_since(SystemTime::now()) {
            Ok(d) if !d.is_zero() => Some((d, EndReason::Expired)),
            _ => return Err(LaunchError::Expired),
        },
    };
    let pick = match (wall, left) {
        (Some(w), Some(l)) => Some(if w.0 <= l.0 { w } else { l }),
        (w, l) => w.or(l),
    };
    Ok(pick.and_then(|(d, r)| now.checked_add(d).map(|t| (t, r))))
}

/// Starts `launch`: builds the confinement, forks, applies it in the child and
/// executes the sealed copy. Returns once the program image is running.
pub(crate) fn spawn(launch: Launch) -> Result<Running, LaunchError> {
    spawn_on(launch, KernelCaps::detect())
}

/// Capabilities the gate needs to run a program as another uid with none.
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_SETPCAP: u32 = 8;

fn can_switch_uid() -> bool {
    [CAP_SETGID, CAP_SETUID, CAP_SETPCAP].into_iter().all(sys::has_effective_cap)
}

static SUBREAPER: OnceLock<Result<(), String>> = OnceLock::new();

/// Refuses a loader or interpreter variable the writ does not fix.
fn check_loader_variables(env: &[(OsString, OsString)], fixed: &BTreeSet<OsString>) -> Result<(), LaunchError> {
    for (k, _) in env {
        let name = k.to_string_lossy();
        if let Some(v) = writ_core::loader::lookup(&name)
            && !fixed.contains(k)
        {
            return Err(LaunchError::Environment {
                name: name.into_owned(),
                detail: format!(
                    "it is a loader or interpreter variable ({}) and the writ does not fix its value; \
                     ask for a writ that sets it to an exact value, or leave it out",
                    v.honoured_by
                ),
            });
        }
    }
    Ok(())
}

/// The run's identity, cgroups and what the weaker mode leaves out.
struct Isolated {
    creds: Option<RunCreds>,
    lease: Option<UidLease>,
    cgroups: RunCgroups,
    weakened: Vec<String>,
}

fn isolate(iso: &Isolation, processes: Option<u64>) -> Result<Isolated, LaunchError> {
    let mut missing: Vec<LaunchError> = Vec::new();
    let sub = SUBREAPER.get_or_init(|| sys::become_subreaper().map_err(|e| e.to_string()));
    if let Err(e) = sub {
        missing.push(LaunchError::Boundary { boundary: "subreaper", detail: format!("PR_SET_CHILD_SUBREAPER: {e}") });
    }
    let (mut creds, mut lease) = (None, None);
    if can_switch_uid() {
        match &iso.run_as {
            RunAs::Fixed { uid, gid } => {
                if *uid == 0 || *gid == 0 || *uid == sys::euid() {
                    return Err(LaunchError::Boundary {
                        boundary: "run_as",
                        detail: format!(
                            "the configured run uid {uid} / gid {gid} is root or the gate's own; configure an unprivileged one"
                        ),
                    });
                }
                creds = Some(RunCreds { uid: *uid, gid: *gid });
            }
            RunAs::Dynamic { uids, lease_dir } => {
                let l = UidLease::take(uids, lease_dir)?;
                creds = Some(RunCreds { uid: l.uid, gid: l.uid });
                lease = Some(l);
            }
        }
    } else {
        missing.push(LaunchError::Boundary {
            boundary: "run_as",
            detail: "the gate lacks CAP_SETUID, CAP_SETGID and CAP_SETPCAP (it is not root), so it cannot run the program as another uid without capabilities".into(),
        });
    }
    let (cgroups, cg_missing) = RunCgroups::create(processes);
    for e in cg_missing {
        match &e {
            // The writ's own limit: without a pids cgroup, RLIMIT_NPROC binds a
            // non-root run uid (and counts all of its processes, which is
            // stricter); for root it binds nothing, so that refuses.
            LaunchError::Boundary { boundary: "processes", .. } => {
                let run_is_root = creds.is_none() && sys::is_root();
                if run_is_root || (creds.is_none() && !iso.allow_weaker) {
                    return Err(e);
                }
                if creds.is_some() && !cgroups.any() {
                    missing.push(LaunchError::Boundary { boundary: "cgroup", detail: e.to_string() });
                }
            }
            _ => missing.push(e),
        }
    }
    if !missing.is_empty() && !iso.allow_weaker {
        let first = missing.remove(0);
        let rest: Vec<String> = missing.iter().map(ToString::to_string).collect();
        return Err(match first {
            LaunchError::Boundary { boundary, detail } => LaunchError::Boundary {
                boundary,
                detail: format!(
                    "{detail}{}{}; run the gate as root with cgroup v2, or allow the weaker mode for this gate in the trust root",
                    if rest.is_empty() { "" } else { "; also: " },
                    rest.join("; ")
                ),
            },
            other => other,
        });
    }
    let weakened = missing
        .iter()
        .map(|e| match e {
            LaunchError::Boundary { boundary, .. } => (*boundary).to_string(),
            other => other.to_string(),
        })
        .collect();
    Ok(Isolated { creds, lease, cgroups, weakened })
}

/// What the weaker isolation mode would leave out of a run on this host
/// now (`run_as`, `cgroup`, `subreaper`): the checks of a launch, with the
/// run's cgroups created and removed again. A gate the trust root allows the
/// weaker mode says this in the `exec_start` it writes before the launch
/// (the `exec_end` carries what the launch then actually left out).
#[must_use]
pub fn isolation_gaps(processes: Option<u64>) -> Vec<String> {
    let probe = Isolation { allow_weaker: true, ..Isolation::default() };
    match isolate(&probe, processes) {
        Ok(Isolated { cgroups, weakened, .. }) => {
            cgroups.remove();
            weakened
        }
        Err(LaunchError::Boundary { boundary, .. }) => vec![boundary.to_string()],
        Err(other) => vec![other.to_string()],
    }
}

fn proc_fd_path(fd: &std::os::fd::OwnedFd) -> OsString {
    OsString::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd)))
}

/// [`spawn`] against given kernel capabilities.
pub(crate) fn spawn_on(launch: Launch, kernel: KernelCaps) -> Result<Running, LaunchError> {
    let Launch {
        program,
        argv,
        env,
        cwd,
        boundaries,
        not_after,
        grace,
        digest_output,
        isolation,
        fixed_env,
        arg_files,
    } = launch;
    if argv.is_empty() {
        return Err(LaunchError::Invalid("argv is empty (it must hold at least argv[0])".into()));
    }
    if !cwd.is_absolute() {
        return Err(LaunchError::Invalid(format!("working directory `{}` is not absolute", cwd.display())));
    }
    if let Some(sig) = termination_signal() {
        return Err(LaunchError::Spawn(format!("the gate received {} and starts nothing more", signal_name(sig))));
    }
    check_loader_variables(&env, &fixed_env)?;
    let envp = env
        .iter()
        .map(|(k, v)| {
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(LaunchError::Invalid(format!("environment name `{}` is invalid", k.to_string_lossy())));
            }
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring("an environment variable", &kv)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cwd_c = cstring("the working directory", cwd.as_os_str().as_bytes())?;
    let program_path = program.path().to_path_buf();

    // File arguments: the argument must be the bound path; the program gets
    // the sealed copy instead.
    let mut argv = argv;
    let mut pass = Vec::new();
    for (&i, file) in &arg_files {
        let Some(arg) = argv.get_mut(i) else {
            return Err(LaunchError::Invalid(format!("file argument {i} is past the end of argv")));
        };
        if i == 0 || arg.as_os_str() != file.path().as_os_str() {
            return Err(LaunchError::Invalid(format!(
                "argument {i} `{}` is not the bound file `{}`",
                arg.to_string_lossy(),
                file.path().display()
            )));
        }
        let fd = file.reader().map_err(|e| LaunchError::Spawn(format!("cannot open the sealed copy: {e}")))?;
        *arg = proc_fd_path(&fd);
        pass.push(fd);
    }
    let exec = program.into_exec().map_err(|e| LaunchError::Spawn(format!("cannot open the sealed program: {e}")))?;
    if let Some((prefix, script_fd)) = &exec.script {
        // As the kernel would run it: interpreter [arg] script args…, with the
        // script's sealed copy in place of its path.
        let mut v = prefix.clone();
        v.push(proc_fd_path(script_fd));
        v.extend(argv.into_iter().skip(1));
        argv = v;
    }
    let argv = argv.iter().map(|a| cstring("an argument", a.as_bytes())).collect::<Result<Vec<_>, _>>()?;
    let mut pass_fds: Vec<i32> = pass.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
    if let Some((_, fd)) = &exec.script {
        pass_fds.push(std::os::fd::AsRawFd::as_raw_fd(fd));
    }

    let landlock =
        confine::landlock_ruleset(boundaries.fs_read.as_deref(), boundaries.fs_write.as_deref(), kernel.landlock_abi)?;
    let Isolated { creds, lease, cgroups, weakened } = isolate(&isolation, boundaries.processes)?;
    let cgroups = Arc::new(cgroups);
    let (into_cgroup, cgroup_procs) = cgroups.child_fds().map_err(|e| LaunchError::Spawn(format!("cgroup: {e}")))?;

    let now = Instant::now();
    let limit = deadline(&boundaries, not_after, now)?;
    // The keeper: kills the cgroups if the gate dies, or (backstop) a second
    // after the deadline plus grace if the gate does not.
    let keeper = if cgroups.any() {
        let (kill_files, procs_files, dirs) = cgroups.keeper_paths();
        let deadline_ms = limit.as_ref().map(|(at, _)| {
            let left = at.saturating_duration_since(Instant::now()) + grace + Duration::from_secs(1);
            sys::monotonic_ms().saturating_add(i64::try_from(left.as_millis()).unwrap_or(i64::MAX / 2))
        });
        let hold = lease.iter().map(|l| std::os::fd::AsRawFd::as_raw_fd(&l.lock)).collect();
        let setup = KeeperSetup { kill_files, procs_files, dirs, deadline_ms, hold };
        Some(Keeper::spawn(&setup).map_err(|e| LaunchError::Spawn(format!("cannot start the keeper: {e}")))?)
    } else {
        None
    };

    let setup = ChildSetup {
        exec_fd: exec.exec_fd,
        pass_fds,
        argv,
        envp,
        cwd: cwd_c,
        rlimits: rlimits(&boundaries),
        new_netns: !boundaries.network,
        landlock_ruleset: landlock,
        into_cgroup,
        cgroup_procs,
        clone_into_cgroup: kernel.clone_into_cgroup,
        creds,
        gate_pid: i32::try_from(std::process::id()).unwrap_or(0),
        pipe_output: digest_output,
    };
    let spawned = setup.spawn();
    // The child holds its own copies of the sealed descriptors now.
    drop(pass);
    drop(exec.script);
    drop(exec.keep);
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let err = spawn_error(e.stage, &e.error, &program_path, &cwd);
            cgroups.kill_and_reap(0);
            cgroups.remove();
            drop(keeper);
            return Err(err);
        }
    };
    let pid = child.pid;

    let mut outputs = Vec::new();
    if let Some(out) = child.stdout {
        let out = std::fs::File::from(out);
        outputs.push(std::thread::spawn(move || tee(out, io::stdout())));
    }
    if let Some(err) = child.stderr {
        let err = std::fs::File::from(err);
        outputs.push(std::thread::spawn(move || tee(err, io::stderr())));
    }
    let (tx, rx) = mpsc::channel();
    let live_id = live_add(tx.clone());
    let sup_cgroups = Arc::clone(&cgroups);
    let supervisor = std::thread::spawn(move || supervise(rx, pid, limit, grace, &sup_cgroups));
    Ok(Running {
        pid,
        started: now,
        ctl: tx,
        supervisor: Some(supervisor),
        cgroups,
        joined: child.joined,
        keeper,
        lease,
        run_uid: creds.map(|c| c.uid),
        weakened,
        live_id,
        outputs,
        reaped: false,
    })
}

fn spawn_error(stage: Option<Stage>, e: &io::Error, path: &std::path::Path, cwd: &std::path::Path) -> LaunchError {
    let b = |boundary, what: &str| LaunchError::Boundary { boundary, detail: format!("{what}: {e}") };
    match stage {
        Some(Stage::Cgroup) => b("cgroup", "cannot join the run's cgroup"),
        Some(Stage::Rlimit) => b("rlimit", "cannot set a resource limit"),
        Some(Stage::NetNs) => b("network", "cannot create a network namespace"),
        Some(Stage::NoNewPrivs) => b("no_new_privs", "cannot set no_new_privs"),
        Some(Stage::Landlock) => b("fs_read", "cannot enforce the landlock ruleset"),
        Some(Stage::Credentials) => b("run_as", "cannot drop to the run's uid without capabilities"),
        Some(Stage::ParentGone) => LaunchError::Spawn(format!("the gate went away before the program started: {e}")),
        Some(Stage::Chdir) => LaunchError::Invalid(format!(
            "the run's uid cannot enter the working directory `{}`: {e}; make it (and its parents) searchable by that uid",
            cwd.display()
        )),
        Some(Stage::Fds) => LaunchError::Spawn(format!("cannot close inherited descriptors: {e}")),
        Some(Stage::Exec) => LaunchError::Spawn(format!("exec of `{}` failed: {e}", path.display())),
        Some(Stage::Setup) => {
            LaunchError::Spawn(format!("cannot set up the child's stdio, process group or signals: {e}"))
        }
        None => LaunchError::Spawn(format!("cannot start the program: {e}")),
    }
}

/// Copies `from` to `to` while hashing it.
fn tee(mut from: impl Read, to: impl Write) -> io::Result<[u8; 32]> {
    let mut to = to;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        h.update(chunk);
        // Keep hashing even if our own output is gone (e.g. a closed pipe).
        let _ = to.write_all(chunk).and_then(|()| to.flush());
    }
    Ok(h.finalize().into())
}

/// Waits for the deadline or an end request, then SIGTERM, grace, SIGKILL to
/// the whole process group and the run's cgroups.
fn supervise(
    rx: Receiver<Ctl>,
    pgid: i32,
    limit: Option<(Instant, EndReason)>,
    grace: Duration,
    cgroups: &RunCgroups,
) -> Option<EndReason> {
    let reason = loop {
        let msg = match &limit {
            Some((at, _)) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match msg {
            Ok(Ctl::Exited) | Err(RecvTimeoutError::Disconnected) => return None,
            Ok(Ctl::End(r)) => break EndReason::Ended(r),
            Err(RecvTimeoutError::Timeout) => match &limit {
                Some((at, r)) if Instant::now() >= *at => break r.clone(),
                _ => continue,
            },
        }
    };
    let signal_all = |sig| {
        let _ = sys::kill_group(pgid, sig);
        cgroups.signal(sig);
    };
    signal_all(libc::SIGTERM);
    let grace_end = Instant::now() + grace;
    // Later end requests change nothing; stop waiting on exit or timeout.
    while let Ok(Ctl::End(_)) = rx.recv_timeout(grace_end.saturating_duration_since(Instant::now())) {}
    signal_all(libc::SIGKILL);
    Some(reason)
}

#[cfg(test)]
mod tests;
