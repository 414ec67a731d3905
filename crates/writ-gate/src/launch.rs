//! The launcher: fork, confine, `execveat` the hashed descriptor, supervise.

use std::ffi::{CString, OsString};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::confine::{self, KernelCaps, PidsCgroup};
use crate::error::LaunchError;
use crate::program::Program;
use crate::sys::{self, ChildSetup, Rlimit, Stage};

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

/// Everything needed to run one program under one writ.
#[derive(Debug)]
pub struct Launch {
    /// The opened, hashed program.
    pub program: Program,
    /// The argument vector, `argv[0]` included, passed unchanged.
    pub argv: Vec<OsString>,
    /// The complete environment (nothing else is inherited).
    pub env: Vec<(OsString, OsString)>,
    /// Absolute working directory.
    pub cwd: PathBuf,
    /// Kernel-enforced limits.
    pub boundaries: Boundaries,
    /// The writ's `not_after`: the run is ended when it passes.
    pub not_after: Option<SystemTime>,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Pass stdout/stderr through a pipe and hash them.
    pub digest_output: bool,
}

impl Launch {
    /// A launch with no limits but the defaults (no network, 2 s grace, no
    /// output digests).
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
    cgroup: Option<Arc<PidsCgroup>>,
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

    /// Waits for the program to exit (or be ended), kills whatever it left
    /// behind in its process group or cgroup, and reaps it.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Spawn`] if waiting fails (the program is killed).
    pub fn wait(mut self) -> Result<Outcome, LaunchError> {
        let waited = sys::wait_exited_nowait(self.pid);
        let _ = self.ctl.send(Ctl::Exited);
        let ended_by = self.supervisor.take().and_then(|h| h.join().ok()).flatten();
        // INVARIANT: the leader is a zombie, not reaped, so its pid and process
        // group id cannot have been reused: this kill reaches only leftovers.
        let _ = sys::kill_group(self.pid, libc::SIGKILL);
        if let Some(cg) = &self.cgroup {
            cg.kill_all(libc::SIGKILL);
        }
        if let Err(e) = waited {
            return Err(LaunchError::Spawn(format!("waiting for the program failed: {e}")));
        }
        let reaped = sys::reap(self.pid).map_err(|e| LaunchError::Spawn(format!("reaping failed: {e}")))?;
        self.reaped = true;
        let wall = self.started.elapsed();
        let mut digests = std::mem::take(&mut self.outputs).into_iter().map(|h| h.join().ok().and_then(Result::ok));
        let stdout_sha256 = digests.next().flatten();
        let stderr_sha256 = digests.next().flatten();
        if let Some(cg) = self.cgroup.take() {
            cg.remove();
        }
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
        })
    }
}

impl Drop for Running {
    /// Fail closed: a run nobody waits for is killed and reaped.
    fn drop(&mut self) {
        if !self.reaped {
            let _ = sys::kill_group(self.pid, libc::SIGKILL);
            let _ = self.ctl.send(Ctl::Exited);
            let _ = sys::reap(self.pid);
        }
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
/// executes the hashed descriptor. Returns once the program image is running.
pub(crate) fn spawn(launch: Launch) -> Result<Running, LaunchError> {
    spawn_on(launch, KernelCaps::detect())
}

/// [`spawn`] against given kernel capabilities.
pub(crate) fn spawn_on(launch: Launch, kernel: KernelCaps) -> Result<Running, LaunchError> {
    let Launch { program, argv, env, cwd, boundaries, not_after, grace, digest_output } = launch;
    if argv.is_empty() {
        return Err(LaunchError::Invalid("argv is empty (it must hold at least argv[0])".into()));
    }
    if !cwd.is_absolute() {
        return Err(LaunchError::Invalid(format!("working directory `{}` is not absolute", cwd.display())));
    }
    let argv = argv.iter().map(|a| cstring("an argument", a.as_bytes())).collect::<Result<Vec<_>, _>>()?;
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
    let program_path = program.path().to_path_buf();
    let sha256 = *program.sha256();
    let (file, identity, script) = program.into_parts();

    let landlock = confine::landlock_ruleset(
        boundaries.fs_read.as_deref(),
        boundaries.fs_write.as_deref(),
        &file,
        kernel.landlock_abi,
    )?;
    let cgroup = match boundaries.processes {
        None => None,
        Some(max) => match PidsCgroup::create(max) {
            Ok(cg) => Some(Arc::new(cg)),
            // RLIMIT_NPROC alone binds a non-root uid (and counts all of its
            // processes, which is stricter); for root it binds nothing.
            Err(e) if sys::is_root() => return Err(e),
            Err(_) => None,
        },
    };
    let cgroup_procs = match &cgroup {
        Some(cg) => Some(cg.procs_fd().map_err(|e| LaunchError::Spawn(format!("cgroup: {e}")))?),
        None => None,
    };
    let (stage_r, stage_w) = sys::stage_pipe().map_err(|e| LaunchError::Spawn(format!("pipe: {e}")))?;

    let setup = ChildSetup {
        program_fd: file.into(),
        identity,
        sha256,
        keep_program_fd_open: script,
        argv,
        envp,
        rlimits: rlimits(&boundaries),
        new_netns: !boundaries.network,
        landlock_ruleset: landlock,
        cgroup_procs,
        stage_pipe: stage_w,
    };
    let mut cmd = Command::new(&program_path);
    cmd.current_dir(&cwd).process_group(0).stdin(Stdio::inherit());
    if digest_output {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let now = Instant::now();
    let limit = deadline(&boundaries, not_after, now)?;
    let spawned = setup.spawn(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Err(spawn_error(sys::read_stage(&stage_r), &e, &program_path)),
    };
    drop(stage_r);
    let pid = i32::try_from(child.id()).map_err(|_| LaunchError::Spawn("pid out of range".into()))?;

    let mut outputs = Vec::new();
    if digest_output {
        if let Some(out) = child.stdout.take() {
            outputs.push(std::thread::spawn(move || tee(out, io::stdout())));
        }
        if let Some(err) = child.stderr.take() {
            outputs.push(std::thread::spawn(move || tee(err, io::stderr())));
        }
    }
    let (tx, rx) = mpsc::channel();
    let sup_cgroup = cgroup.clone();
    let supervisor = std::thread::spawn(move || supervise(rx, pid, limit, grace, sup_cgroup));
    Ok(Running { pid, started: now, ctl: tx, supervisor: Some(supervisor), cgroup, outputs, reaped: false })
}

fn spawn_error(stage: Option<Stage>, e: &io::Error, path: &std::path::Path) -> LaunchError {
    let b = |boundary, what: &str| LaunchError::Boundary { boundary, detail: format!("{what}: {e}") };
    match stage {
        Some(Stage::Cgroup) => b("processes", "cannot join the pids cgroup"),
        Some(Stage::Rlimit) => b("rlimit", "cannot set a resource limit"),
        Some(Stage::NetNs) => b("network", "cannot create a network namespace"),
        Some(Stage::NoNewPrivs) => b("no_new_privs", "cannot set no_new_privs"),
        Some(Stage::Landlock) => b("fs_read", "cannot enforce the landlock ruleset"),
        Some(Stage::Changed) => LaunchError::Program {
            path: path.to_path_buf(),
            detail: "the file changed after it was hashed; nothing was run".into(),
        },
        Some(Stage::Fds) => LaunchError::Spawn(format!("cannot close inherited descriptors: {e}")),
        Some(Stage::Exec) => LaunchError::Spawn(format!("exec failed: {e}")),
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
/// the whole process group (and the cgroup).
fn supervise(
    rx: Receiver<Ctl>,
    pgid: i32,
    limit: Option<(Instant, EndReason)>,
    grace: Duration,
    cgroup: Option<Arc<PidsCgroup>>,
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
        if let Some(cg) = &cgroup {
            cg.kill_all(sig);
        }
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
