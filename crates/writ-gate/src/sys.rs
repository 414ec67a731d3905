//! The gate's syscall layer: the only module of writ with `unsafe`.
//!
//! Everything the child does between the fork (`clone3` into the run's cgroup,
//! or `fork`) and `execveat` lives in `ChildSetup::child`, and the keeper
//! process (`keeper_main`); both run in the forked child of a possibly
//! multi-threaded parent and therefore only make raw, async-signal-safe system
//! calls on memory prepared before the fork: no allocation, no locks, no
//! formatting. Every `unsafe` block carries a `// SAFETY:` line.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

/// Where the child failed before the program started (written as one byte on
/// the stage pipe, so the parent can name the boundary that could not be set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stage {
    /// Joining the run's cgroups.
    Cgroup = 1,
    /// Setting a resource limit.
    Rlimit = 2,
    /// Creating a new network namespace (`network = false`).
    NetNs = 3,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs = 4,
    /// `landlock_restrict_self` (`fs_read` / `fs_write`).
    Landlock = 5,
    /// Closing inherited descriptors on exec.
    Fds = 6,
    /// Dropping capabilities, supplementary groups, gid and uid.
    Credentials = 7,
    /// The gate exited before the program started (parent-death check).
    ParentGone = 8,
    /// Entering the working directory as the run's uid.
    Chdir = 9,
    /// `execveat` itself.
    Exec = 10,
    /// Stdout and stderr, the process group, the signal mask.
    Setup = 11,
}

impl Stage {
    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Cgroup,
            2 => Self::Rlimit,
            3 => Self::NetNs,
            4 => Self::NoNewPrivs,
            5 => Self::Landlock,
            6 => Self::Fds,
            7 => Self::Credentials,
            8 => Self::ParentGone,
            9 => Self::Chdir,
            10 => Self::Exec,
            11 => Self::Setup,
            _ => return None,
        })
    }
}

/// One resource limit to set in the child (soft, hard).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rlimit {
    pub(crate) resource: libc::__rlimit_resource_t,
    pub(crate) soft: u64,
    pub(crate) hard: u64,
}

/// The unprivileged identity the program runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunCreds {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// `memfd_create` flag: the memfd may be executed (Linux 6.3+; older kernels
/// reject unknown flags with `EINVAL`, and there every memfd is executable).
const MFD_EXEC: libc::c_uint = 0x0010;

/// A new, empty memfd (`MFD_CLOEXEC | MFD_ALLOW_SEALING`, executable) on a
/// descriptor above stdio, for a sealed copy of a file.
pub(crate) fn memfd(name: &str) -> io::Result<OwnedFd> {
    let name = CString::new(format!("writ:{name}")).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: `name` is a valid C string; the flags are plain integers.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), base | MFD_EXEC) };
    if fd < 0 && last_err().raw_os_error() == Some(libc::EINVAL) {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), base) };
    }
    if fd < 0 {
        return Err(last_err());
    }
    // SAFETY: memfd_create returned a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    above_stdio(fd)
}

/// Moves `fd` to a number above 2, so that setting up the child's stdio can
/// never overwrite it.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: plain fcntl on an open descriptor.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(last_err());
    }
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// Seals a memfd against every change: no write, no grow, no shrink, and no
/// further change of the seals.
pub(crate) fn seal(fd: RawFd) -> io::Result<()> {
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
    // SAFETY: plain fcntl on an open descriptor.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } != 0 {
        return Err(last_err());
    }
    Ok(())
}

/// The seals on a memfd.
#[cfg(test)]
pub(crate) fn seals(fd: RawFd) -> io::Result<i32> {
    // SAFETY: plain fcntl on an open descriptor.
    let s = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
    if s < 0 { Err(last_err()) } else { Ok(s) }
}

/// The run's cgroup v2 directory. The child is created in it
/// (`clone3(CLONE_INTO_CGROUP)`, Linux ≥ 5.7), so it never runs outside it and
/// no migration (with its wait for an RCU grace period) happens; where the
/// kernel cannot, it joins by writing `cgroup.procs` first thing after `fork`.
#[derive(Debug)]
pub(crate) struct IntoCgroup {
    /// The cgroup's directory, opened `O_RDONLY | O_DIRECTORY`.
    pub(crate) dir: OwnedFd,
    /// Its `cgroup.procs`, opened for writing (the fallback join).
    pub(crate) procs: OwnedFd,
}

/// Everything the child needs, prepared in the parent before the fork.
#[derive(Debug)]
pub(crate) struct ChildSetup {
    /// The sealed memfd executed with `execveat(…, AT_EMPTY_PATH)`: the
    /// program, or for a `#!` script its interpreter.
    pub(crate) exec_fd: OwnedFd,
    /// Descriptors that stay open across the exec (the sealed script, sealed
    /// argument files), named `/proc/self/fd/N` in argv. The caller owns them.
    pub(crate) pass_fds: Vec<RawFd>,
    pub(crate) argv: Vec<CString>,
    pub(crate) envp: Vec<CString>,
    /// Entered after the uid is dropped, so it must be reachable by that uid.
    pub(crate) cwd: CString,
    pub(crate) rlimits: Vec<Rlimit>,
    pub(crate) new_netns: bool,
    pub(crate) landlock_ruleset: Option<OwnedFd>,
    /// The run's v2 cgroup, which the child starts in.
    pub(crate) into_cgroup: Option<IntoCgroup>,
    /// `cgroup.procs` of each further cgroup of the run (a v1 `pids`
    /// cgroup), opened for writing: the child joins those by writing `0`.
    pub(crate) cgroup_procs: Vec<OwnedFd>,
    /// Whether to try `clone3(CLONE_INTO_CGROUP)` at all (tests turn it off
    /// to exercise the fallback).
    pub(crate) clone_into_cgroup: bool,
    /// The identity to drop to; `None` only in an explicitly allowed weaker
    /// mode (a gate without root).
    pub(crate) creds: Option<RunCreds>,
    /// The gate's pid, re-checked after `PR_SET_PDEATHSIG`.
    pub(crate) gate_pid: i32,
    /// Give the program pipes as stdout and stderr (the gate hashes what it
    /// writes); otherwise it shares the gate's. Its stdin is always the gate's.
    pub(crate) pipe_output: bool,
}

/// How the child came into the run's v2 cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// Created in it by `clone3(CLONE_INTO_CGROUP)`: no migration.
    AtClone,
    /// Forked in the gate's cgroup and moved by writing `cgroup.procs` before
    /// anything else (kernel without `CLONE_INTO_CGROUP`, or tests).
    ByWrite,
    /// The run has no v2 cgroup (a v1-only host, or the weaker mode).
    NoV2,
}

/// A started program: its image is the sealed copy.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// Its pid, also its process group id. The caller waits for and reaps it.
    pub(crate) pid: i32,
    /// Read ends of its stdout and stderr ([`ChildSetup::pipe_output`]).
    pub(crate) stdout: Option<OwnedFd>,
    pub(crate) stderr: Option<OwnedFd>,
    pub(crate) joined: Joined,
}

/// Why the program did not start: the stage the child reported (or `None`
/// when the fork itself or the gate's side failed) and the error. The child,
/// if there was one, is reaped.
#[derive(Debug)]
pub(crate) struct SpawnError {
    pub(crate) stage: Option<Stage>,
    pub(crate) error: io::Error,
}

fn ptr_array(strings: &[CString]) -> Vec<*const libc::c_char> {
    let mut v: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    v.push(std::ptr::null());
    v
}

/// Reports `stage` and the error number on the stage pipe (one write of five
/// bytes, atomic on a pipe) and builds the error the child's setup returns.
fn fail(pipe: RawFd, stage: Stage, err: io::Error) -> io::Error {
    let code = err.raw_os_error().unwrap_or(0).to_le_bytes();
    let msg = [stage as u8, code[0], code[1], code[2], code[3]];
    // SAFETY: `msg` is a valid 5-byte buffer; `write` is async-signal-safe. A
    // failed write only loses the stage, the spawn still fails.
    let _ = unsafe { libc::write(pipe, msg.as_ptr().cast(), msg.len()) };
    err
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

/// Secure bits set before the uid changes, all locked: `NOROOT` (uid 0 gains
/// no capabilities on exec), `KEEP_CAPS` off and `NO_SETUID_FIXUP` off (so the
/// uid change clears the permitted and effective sets), no ambient raise.
const SECUREBITS: libc::c_ulong = (1 << 0) // SECBIT_NOROOT
    | (1 << 1) // SECBIT_NOROOT_LOCKED
    | (1 << 3) // SECBIT_NO_SETUID_FIXUP_LOCKED
    | (1 << 5) // SECBIT_KEEP_CAPS_LOCKED
    | (1 << 6) // SECBIT_NO_CAP_AMBIENT_RAISE
    | (1 << 7); // SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Async-signal-safe: drops every capability (ambient, bounding, then the
/// rest with the uid change), the supplementary groups, the gid and the uid,
/// and checks that nothing is left.
fn drop_privileges(c: RunCreds) -> io::Result<()> {
    // SAFETY: plain prctl with integer arguments. EINVAL: no ambient set
    // (Linux < 4.3), nothing to clear.
    let rc = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    if rc != 0 && last_err().raw_os_error() != Some(libc::EINVAL) {
        return Err(last_err());
    }
    for cap in 0..64 {
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
            if last_err().raw_os_error() == Some(libc::EINVAL) {
                break; // past the kernel's last capability
            }
            return Err(last_err());
        }
    }
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0) } != 0 {
        return Err(last_err());
    }
    // Raw system calls, not glibc's wrappers: in a process glibc believes
    // multi-threaded those apply the change to every thread it knows of
    // (`__nptl_setxid`: a lock and a signal to each), and after a raw clone3
    // its thread list is the parent's. The child has one thread, so the
    // syscall changes the whole process.
    // SAFETY: an empty group list (null pointer with length 0).
    if unsafe { libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) } != 0 {
        return Err(last_err());
    }
    // SAFETY: plain syscalls with integer arguments.
    if unsafe { libc::syscall(libc::SYS_setresgid, c.gid, c.gid, c.gid) } != 0 {
        return Err(last_err());
    }
    // SAFETY: as above.
    if unsafe { libc::syscall(libc::SYS_setresuid, c.uid, c.uid, c.uid) } != 0 {
        return Err(last_err());
    }
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let zero = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: `header` and `zero` are laid out as the kernel's v3 capability
    // header and two data structs; capset only reads `zero`.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, zero.as_ptr()) } != 0 {
        return Err(last_err());
    }
    let mut now = [CapData { effective: 1, permitted: 1, inheritable: 1 }; 2];
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: as above; capget writes into `now`.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, now.as_mut_ptr()) } != 0 {
        return Err(last_err());
    }
    let any = now.iter().any(|d| d.effective | d.permitted | d.inheritable != 0);
    // SAFETY: getresuid-style getters cannot fail.
    let (uid, euid, gid, egid) = unsafe { (libc::getuid(), libc::geteuid(), libc::getgid(), libc::getegid()) };
    if any || uid != c.uid || euid != c.uid || gid != c.gid || egid != c.gid {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    Ok(())
}

/// `clone3` flag: create the child in the cgroup `clone_args.cgroup` names.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` up to `cgroup` (`CLONE_ARGS_SIZE_VER2`, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Cleared once `clone3(CLONE_INTO_CGROUP)` reported that this kernel does not
/// have it, so later runs fork and join directly.
static CLONE_INTO_CGROUP_WORKS: AtomicBool = AtomicBool::new(true);

/// A fork (no shared memory, `SIGCHLD` on exit) whose child starts in the
/// cgroup v2 directory `dir`. Returns like `fork`: the child's pid in the
/// parent, 0 in the child.
fn clone3_into_cgroup(dir: RawFd) -> io::Result<i32> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: u64::try_from(libc::SIGCHLD).unwrap_or(17),
        cgroup: u64::try_from(dir).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid `clone_args` of the size passed. Without
    // CLONE_VM the child gets a copy of the address space and continues on
    // (its copy of) this stack, as after `fork`; it runs only `ChildSetup::child`,
    // which makes raw, async-signal-safe system calls and never returns.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, &raw const args, std::mem::size_of::<CloneArgs>()) };
    if rc < 0 {
        return Err(last_err());
    }
    i32::try_from(rc).map_err(|_| io::Error::from_raw_os_error(libc::ERANGE))
}

/// `pipe2(O_CLOEXEC)`, both ends blocking: (read, write).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(last_err());
    }
    let [r, w] = fds;
    // SAFETY: pipe2 succeeded, so both are fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(r), OwnedFd::from_raw_fd(w)) })
}

/// Waits for (and reaps) child `pid`, ignoring how it ended.
fn reap_quietly(pid: i32) {
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is writable.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 && last_err().kind() == io::ErrorKind::Interrupted {}
}

/// Descriptors of the child's own, prepared before the fork.
struct ChildFds {
    stage: RawFd,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
}

impl ChildSetup {
    /// Starts a child that is in the run's v2 cgroup from its first
    /// instruction (`clone3(CLONE_INTO_CGROUP)`; where the kernel lacks it,
    /// `fork` and a join as the child's first step), applies every boundary
    /// and then `execveat`s the sealed descriptor. Returns once the exec
    /// succeeded (the close-on-exec stage pipe reached end-of-file with nothing
    /// written) or failed (the child wrote its stage and error number, and is
    /// reaped here).
    ///
    /// What `std::process::Command` did before: the child's stdout and stderr
    /// (pipes, or the gate's), its own process group (`setpgid(0, 0)`), an
    /// empty signal mask and `SIGPIPE` back to its default (Rust ignores it),
    /// and the error report through a close-on-exec pipe.
    pub(crate) fn spawn(self) -> Result<Spawned, SpawnError> {
        let early = |error| SpawnError { stage: None, error };
        let argv = ptr_array(&self.argv);
        let envp = ptr_array(&self.envp);
        let (out_r, out_w, err_r, err_w) = if self.pipe_output {
            let (or, ow) = pipe().map_err(early)?;
            let (er, ew) = pipe().map_err(early)?;
            (Some(or), Some(ow), Some(er), Some(ew))
        } else {
            (None, None, None, None)
        };
        let (stage_r, stage_w) = pipe().map_err(early)?;
        let fds = ChildFds {
            stage: stage_w.as_raw_fd(),
            stdout: out_w.as_ref().map(AsRawFd::as_raw_fd),
            stderr: err_w.as_ref().map(AsRawFd::as_raw_fd),
        };
        let mut joined = if self.into_cgroup.is_some() { Joined::ByWrite } else { Joined::NoV2 };
        let mut pid = None;
        if let Some(cg) = &self.into_cgroup
            && self.clone_into_cgroup
            && CLONE_INTO_CGROUP_WORKS.load(Ordering::Relaxed)
        {
            match clone3_into_cgroup(cg.dir.as_raw_fd()) {
                Ok(p) => {
                    pid = Some(p);
                    joined = Joined::AtClone;
                }
                // No clone3 (< 5.3, or a seccomp filter that hides it), or no
                // CLONE_INTO_CGROUP (< 5.7): fork and join by writing.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL | libc::E2BIG)) => {
                    CLONE_INTO_CGROUP_WORKS.store(false, Ordering::Relaxed);
                }
                Err(error) => return Err(SpawnError { stage: Some(Stage::Cgroup), error }),
            }
        }
        let pid = match pid {
            Some(p) => p,
            None => {
                // SAFETY: fork in a possibly multi-threaded process: the child
                // runs only `child`, which makes async-signal-safe system calls
                // on memory prepared before the fork and never returns.
                let p = unsafe { libc::fork() };
                if p < 0 {
                    return Err(early(last_err()));
                }
                p
            }
        };
        if pid == 0 {
            self.child(joined == Joined::AtClone, &fds, argv.as_ptr(), envp.as_ptr());
        }
        drop((stage_w, out_w, err_w));
        // End-of-file with nothing read: the exec closed the pipe.
        let mut msg = [0u8; 5];
        let mut got = 0usize;
        let read_failed = loop {
            let Some(rest) = msg.get_mut(got..) else { break None };
            if rest.is_empty() {
                break None;
            }
            // SAFETY: `rest` is a writable buffer of `rest.len()` bytes.
            let n = unsafe { libc::read(stage_r.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len()) };
            match usize::try_from(n) {
                Ok(0) => break None,
                Ok(n) => got = got.saturating_add(n),
                Err(_) if last_err().kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break Some(last_err()),
            }
        };
        if let Some(error) = read_failed {
            // We cannot tell whether the program started: it must not run.
            let _ = kill_pid(pid, libc::SIGKILL);
            reap_quietly(pid);
            return Err(early(error));
        }
        if got > 0 {
            reap_quietly(pid);
            let [stage, c0, c1, c2, c3] = msg;
            let code = if got == msg.len() { i32::from_le_bytes([c0, c1, c2, c3]) } else { 0 };
            let error = if code > 0 {
                io::Error::from_raw_os_error(code)
            } else {
                io::Error::other("the child failed before the exec")
            };
            return Err(SpawnError { stage: Stage::from_byte(stage), error });
        }
        Ok(Spawned { pid, stdout: out_r, stderr: err_r, joined })
    }

    /// The child's whole life between the fork and the exec. Async-signal-safe
    /// only: it may run in a copy of a multi-threaded process (after a raw
    /// `clone3`, glibc's own view of its threads is even the parent's), so it
    /// makes plain system calls on memory prepared before the fork, allocates
    /// nothing, takes no lock and ends in `execveat` or `_exit`.
    fn child(
        &self,
        in_cgroup: bool,
        fds: &ChildFds,
        argv: *const *const libc::c_char,
        envp: *const *const libc::c_char,
    ) -> ! {
        let pipe = fds.stage;
        if self.prepare(fds).is_ok() && self.apply(pipe, in_cgroup).is_ok() {
            let empty = c"";
            // SAFETY: the descriptor is open; `empty` is a valid C string; argv
            // and envp are null-terminated arrays of pointers to C strings that
            // the parent's `self` owns (this copy of them stays put: nothing in
            // the child frees or moves them). On success this does not return.
            unsafe {
                libc::syscall(
                    libc::SYS_execveat,
                    self.exec_fd.as_raw_fd(),
                    empty.as_ptr(),
                    argv,
                    envp,
                    libc::AT_EMPTY_PATH,
                );
            }
            let _ = fail(pipe, Stage::Exec, last_err());
        }
        // SAFETY: ends the child without running any Rust or libc exit handlers.
        unsafe { libc::_exit(127) }
    }

    /// What `std::process::Command` did before the closure: stdout and
    /// stderr, the process group, the signal mask and `SIGPIPE`.
    fn prepare(&self, fds: &ChildFds) -> io::Result<()> {
        let pipe = fds.stage;
        for (from, to) in [(fds.stdout, 1), (fds.stderr, 2)] {
            let Some(from) = from else { continue };
            // SAFETY: plain syscalls on descriptors open in this process. dup2
            // onto another number clears close-on-exec on the copy; the source
            // is above 2 (stdio was open when the pipes were made), so it is
            // never the target itself.
            if unsafe { libc::dup2(from, to) } < 0 {
                return Err(fail(pipe, Stage::Setup, last_err()));
            }
        }
        // SAFETY: plain syscall with integer arguments.
        if unsafe { libc::setpgid(0, 0) } != 0 {
            return Err(fail(pipe, Stage::Setup, last_err()));
        }
        // SAFETY: plain signal calls on a stack `sigset_t` (both are
        // async-signal-safe).
        unsafe {
            let mut set = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
            libc::sigemptyset(set.as_mut_ptr());
            if libc::sigprocmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut()) != 0
                || libc::signal(libc::SIGPIPE, libc::SIG_DFL) == libc::SIG_ERR
            {
                return Err(fail(pipe, Stage::Setup, last_err()));
            }
        }
        Ok(())
    }

    fn apply(&self, pipe: RawFd, in_cgroup: bool) -> io::Result<()> {
        // 1. Join the run's cgroups that the child was not created in (as
        //    root: the program's uid cannot write to any cgroup.procs, so it
        //    can never leave them): the v2 one only without CLONE_INTO_CGROUP,
        //    a v1 `pids` cgroup always (clone3 places a child in one v2
        //    cgroup only).
        let v2 = self.into_cgroup.as_ref().filter(|_| !in_cgroup).map(|cg| &cg.procs);
        for procs in v2.into_iter().chain(&self.cgroup_procs) {
            let zero = b"0";
            // SAFETY: valid buffer of 1 byte; writing "0" to cgroup.procs moves
            // the calling process into that cgroup.
            let n = unsafe { libc::write(procs.as_raw_fd(), zero.as_ptr().cast(), zero.len()) };
            if n < 0 {
                return Err(fail(pipe, Stage::Cgroup, last_err()));
            }
        }
        // 2. Resource limits.
        for r in &self.rlimits {
            let lim = libc::rlimit { rlim_cur: r.soft, rlim_max: r.hard };
            // SAFETY: `lim` is a valid rlimit struct on the stack.
            if unsafe { libc::setrlimit(r.resource, &lim) } != 0 {
                return Err(fail(pipe, Stage::Rlimit, last_err()));
            }
        }
        // 3. No network: a fresh, empty network namespace (needs CAP_SYS_ADMIN,
        //    so before the capabilities go).
        if self.new_netns {
            // SAFETY: plain syscall with a flag argument.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(fail(pipe, Stage::NetNs, last_err()));
            }
        }
        // 4. Another uid and gid, no groups, no capabilities, locked securebits.
        if let Some(c) = self.creds {
            drop_privileges(c).map_err(|e| fail(pipe, Stage::Credentials, e))?;
        }
        // 5. no_new_privs, always (also a precondition of Landlock).
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(fail(pipe, Stage::NoNewPrivs, last_err()));
        }
        // 6. Landlock: the ruleset was built in the parent; only enforce here.
        if let Some(ruleset) = &self.landlock_ruleset {
            // SAFETY: plain syscall on an open ruleset descriptor, flags 0.
            let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0) };
            if rc != 0 {
                return Err(fail(pipe, Stage::Landlock, last_err()));
            }
        }
        // 7. Parent-death signal. Set after the uid change (a credential change
        //    clears it), then re-check the parent: if the gate died before the
        //    prctl, the signal will never come, so stop here.
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
            return Err(fail(pipe, Stage::ParentGone, last_err()));
        }
        // SAFETY: getppid cannot fail.
        if unsafe { libc::getppid() } != self.gate_pid {
            return Err(fail(pipe, Stage::ParentGone, io::Error::from_raw_os_error(libc::ESRCH)));
        }
        // 8. The working directory, entered as the run's uid.
        // SAFETY: `cwd` is a valid C string.
        if unsafe { libc::chdir(self.cwd.as_ptr()) } != 0 {
            return Err(fail(pipe, Stage::Chdir, last_err()));
        }
        // 9. Nothing inherited crosses the exec except stdio and the sealed
        //    descriptors named in argv.
        // SAFETY: plain syscall with integer arguments.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
        if rc != 0 {
            return Err(fail(pipe, Stage::Fds, last_err()));
        }
        for &fd in &self.pass_fds {
            // SAFETY: plain fcntl on an open descriptor.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
                return Err(fail(pipe, Stage::Fds, last_err()));
            }
        }
        Ok(())
    }
}

/// Makes this process a child subreaper: orphaned descendants of a run are
/// re-parented to the gate, not to init (idempotent, process-wide).
pub(crate) fn become_subreaper() -> io::Result<()> {
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(last_err());
    }
    Ok(())
}

/// Reaps `pid` if it is a child of this process that has exited; never
/// blocks. Returns whether there is nothing left to wait for. Used for a run's orphans, re-parented here by the subreaper flag
/// (only pids listed in the run's own cgroup are passed).
pub(crate) fn try_reap(pid: i32) -> bool {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is writable; WNOHANG never blocks.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    // Reaped, or not (or no longer) our child: nothing left to wait for.
    rc == pid || rc < 0
}

/// `flock(LOCK_EX | LOCK_NB)`: whether the lock was taken.
pub(crate) fn try_lock(fd: RawFd) -> io::Result<bool> {
    // SAFETY: plain syscall on an open descriptor.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = last_err();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) { Ok(false) } else { Err(e) }
}

/// Milliseconds on `CLOCK_MONOTONIC` (the clock `Instant` uses, shared with
/// forked children).
pub(crate) fn monotonic_ms() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec.saturating_mul(1000).saturating_add(ts.tv_nsec / 1_000_000)
}

/// What the keeper does when the gate goes away or the run's last deadline
/// passes: kill every process in the run's cgroups and remove them.
#[derive(Debug)]
pub(crate) struct KeeperSetup {
    /// `cgroup.kill` files (cgroup v2), written with `1`.
    pub(crate) kill_files: Vec<CString>,
    /// `cgroup.procs` files, whose pids are SIGKILLed until they are empty.
    pub(crate) procs_files: Vec<CString>,
    /// Cgroup directories removed at the end.
    pub(crate) dirs: Vec<CString>,
    /// `CLOCK_MONOTONIC` milliseconds after which the run is killed even if
    /// the gate is still there (a backstop for a stopped or hung gate).
    pub(crate) deadline_ms: Option<i64>,
    /// Descriptors held until the run is dead (the uid lease).
    pub(crate) hold: Vec<RawFd>,
}

/// The keeper process of one run: a child of the gate, in its own session,
/// that ignores terminal signals and holds the read end of a pipe only the
/// gate writes to. When the pipe reports end-of-file (the gate exited or was
/// SIGKILLed) or the gate says it is done, or the backstop deadline passes, it
/// kills the run's cgroups. The program cannot signal it (another uid, no
/// capabilities).
#[derive(Debug)]
pub(crate) struct Keeper {
    pid: i32,
    pipe: Option<OwnedFd>,
}

impl Keeper {
    /// Forks the keeper.
    pub(crate) fn spawn(setup: &KeeperSetup) -> io::Result<Self> {
        reap_finished_keepers();
        let (r, w) = stage_pipe()?;
        // The read end must block in the keeper's poll loop only; poll does
        // not care about O_NONBLOCK, and reads happen only when readable.
        let mut keep: Vec<RawFd> = setup.hold.clone();
        keep.push(r.as_raw_fd());
        keep.sort_unstable();
        keep.dedup();
        let kill: Vec<*const libc::c_char> = setup.kill_files.iter().map(|c| c.as_ptr()).collect();
        let procs: Vec<*const libc::c_char> = setup.procs_files.iter().map(|c| c.as_ptr()).collect();
        let dirs: Vec<*const libc::c_char> = setup.dirs.iter().map(|c| c.as_ptr()).collect();
        let read_fd = r.as_raw_fd();
        // SAFETY: fork in a possibly multi-threaded process: the child below
        // only makes async-signal-safe system calls on memory prepared before
        // the fork (`keep`, `kill`, `procs`, `dirs`, the CStrings of `setup`)
        // and ends with `_exit`; it never returns into Rust code.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(last_err());
        }
        if pid == 0 {
            keeper_main(read_fd, &keep, &kill, &procs, &dirs, setup.deadline_ms);
        }
        drop(r);
        Ok(Self { pid, pipe: Some(w) })
    }

    /// Tells the keeper the gate cleaned up. It then makes sure the run's
    /// cgroups are empty and removed (the gate removed them already, unless
    /// that failed) and exits; the gate does not wait for that exit (a fork
    /// of the gate tearing down its address space, ~0.3 ms, was on the path
    /// to the `exec_end`): the keeper is reaped without blocking at the next
    /// keeper's start or finish, or by init once the gate is gone. Until it
    /// exits it still holds the uid lease, which only delays that uid's reuse.
    pub(crate) fn finish(&mut self) {
        if let Some(w) = self.pipe.take() {
            let b = [b'D'];
            // SAFETY: valid 1-byte buffer on an open pipe.
            let _ = unsafe { libc::write(w.as_raw_fd(), b.as_ptr().cast(), 1) };
            drop(w);
            FINISHED_KEEPERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(self.pid);
            reap_finished_keepers();
        }
    }
}

/// Keepers told to finish and not reaped yet.
static FINISHED_KEEPERS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// Reaps the finished keepers that have exited, without blocking.
fn reap_finished_keepers() {
    FINISHED_KEEPERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|&pid| !try_reap(pid));
}

impl Keeper {
    /// The keeper's pid.
    #[cfg(test)]
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The keeper's whole life (after `fork`; async-signal-safe only).
fn keeper_main(
    read_fd: RawFd,
    keep: &[RawFd],
    kill: &[*const libc::c_char],
    procs: &[*const libc::c_char],
    dirs: &[*const libc::c_char],
    mut deadline: Option<i64>,
) -> ! {
    // SAFETY (for every block in this function): plain system calls on
    // integers, on stack buffers, or on C strings allocated before the fork.
    unsafe {
        libc::setsid();
        for sig in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGPIPE,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ] {
            libc::signal(sig, libc::SIG_IGN);
        }
        // Close everything but the pipe and the held descriptors (above all
        // the gate's stdout/stderr, so that nobody waits on the keeper).
        let mut from: u32 = 0;
        for &fd in keep {
            let fd = u32::try_from(fd).unwrap_or(0);
            if fd > from {
                libc::syscall(libc::SYS_close_range, from, fd - 1, 0u32);
            }
            from = fd.saturating_add(1);
        }
        libc::syscall(libc::SYS_close_range, from, u32::MAX, 0u32);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for std in 0..3 {
                if !keep.contains(&std) && std != null {
                    libc::dup2(null, std);
                }
            }
        }
    }
    loop {
        let timeout = match deadline {
            Some(d) => i32::try_from(d.saturating_sub(monotonic_ms()).clamp(0, i64::from(i32::MAX))).unwrap_or(0),
            None => -1,
        };
        let mut pfd = libc::pollfd { fd: read_fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if n < 0 {
            if last_err().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if n == 0 {
            if deadline.is_some_and(|d| monotonic_ms() >= d) {
                kill_cgroups(kill, procs);
                deadline = None;
            }
            continue;
        }
        // Readable: the gate's "done" byte, or end-of-file because it is gone.
        break;
    }
    kill_cgroups(kill, procs);
    for &d in dirs {
        for _ in 0..100 {
            // SAFETY: `d` is a C string allocated before the fork.
            if unsafe { libc::rmdir(d) } == 0 || last_err().raw_os_error() == Some(libc::ENOENT) {
                break;
            }
            sleep_ms(5);
        }
    }
    // SAFETY: ends the keeper without running any Rust or libc exit handlers.
    unsafe { libc::_exit(0) }
}

fn sleep_ms(ms: i64) {
    let ts = libc::timespec { tv_sec: 0, tv_nsec: ms.saturating_mul(1_000_000) };
    // SAFETY: valid timespec; a null remainder pointer is allowed.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}

/// Async-signal-safe: `cgroup.kill` where available, then SIGKILL to every pid
/// listed in each `cgroup.procs` until they are empty (bounded: about 4 s).
fn kill_cgroups(kill: &[*const libc::c_char], procs: &[*const libc::c_char]) {
    for &k in kill {
        // SAFETY: `k` is a C string allocated before the fork.
        let fd = unsafe { libc::open(k, libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: valid 1-byte buffer on the descriptor just opened.
            unsafe {
                libc::write(fd, b"1".as_ptr().cast(), 1);
                libc::close(fd);
            }
        }
    }
    for _ in 0..2000 {
        let mut any = false;
        for &p in procs {
            for_each_pid(p, |pid| {
                any = true;
                if pid > 1 {
                    // SAFETY: plain syscall with a positive pid.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            });
        }
        if !any {
            return;
        }
        sleep_ms(2);
    }
}

/// Async-signal-safe: calls `f` with each pid listed in the file at `path`
/// (one decimal number a line), reading into a stack buffer.
pub(crate) fn for_each_pid(path: *const libc::c_char, mut f: impl FnMut(i32)) {
    // SAFETY: `path` is a valid C string.
    let fd = unsafe { libc::open(path, libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let mut buf = [0u8; 4096];
    let mut cur: Option<i32> = None;
    loop {
        // SAFETY: `buf` is a writable buffer of `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        for &b in buf.iter().take(n.unsigned_abs()) {
            if b.is_ascii_digit() {
                cur = Some(cur.unwrap_or(0).saturating_mul(10).saturating_add(i32::from(b - b'0')));
            } else if let Some(pid) = cur.take() {
                f(pid);
            }
        }
    }
    if let Some(pid) = cur {
        f(pid);
    }
    // SAFETY: closes the descriptor opened above.
    unsafe { libc::close(fd) };
}

static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_termination(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = [u8::try_from(sig).unwrap_or(0)];
        // SAFETY: async-signal-safe write of one byte to a non-blocking pipe.
        unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
    }
}

/// Installs a handler for `signals` that writes the signal number to a pipe;
/// returns the pipe's (blocking) read end. Call once per process.
pub(crate) fn install_termination_handlers(signals: &[i32]) -> io::Result<OwnedFd> {
    let (r, w) = stage_pipe()?;
    // The read end is to block in its reader thread; the write end must never
    // block in the handler.
    // SAFETY: plain fcntls on descriptors we own.
    unsafe {
        if libc::fcntl(r.as_raw_fd(), libc::F_SETFL, 0) != 0
            || libc::fcntl(w.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) != 0
        {
            return Err(last_err());
        }
    }
    let old = SIGNAL_PIPE.swap(std::os::fd::IntoRawFd::into_raw_fd(w), Ordering::SeqCst);
    if old >= 0 {
        // SAFETY: the previous write end, which this module owned.
        unsafe { libc::close(old) };
    }
    for &sig in signals {
        let mut sa = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: a zeroed sigaction is valid; we set the handler and flags.
        let sa = unsafe {
            let p = sa.as_mut_ptr();
            (*p).sa_sigaction = on_termination as extern "C" fn(libc::c_int) as usize;
            (*p).sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut (*p).sa_mask);
            sa.assume_init()
        };
        // SAFETY: `sa` is a valid sigaction; the old action is not needed.
        if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
            return Err(last_err());
        }
    }
    Ok(r)
}

/// Blocking read of one byte (a signal number from the handler's pipe).
pub(crate) fn read_byte(fd: &OwnedFd) -> io::Result<u8> {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: valid 1-byte buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        if n == 1 {
            return Ok(b[0]);
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        let e = last_err();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `pipe2(O_CLOEXEC | O_NONBLOCK on the read end)`: (read, write).
pub(crate) fn stage_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = pipe()?;
    // SAFETY: plain fcntl on an open descriptor we own.
    if unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(last_err());
    }
    Ok((r, w))
}

/// Sends `sig` to every process of process group `pgid`. `ESRCH` (the group is
/// already empty) is not an error.
pub(crate) fn kill_group(pgid: i32, sig: i32) -> io::Result<()> {
    if pgid <= 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: plain syscall; a negative pid addresses the process group.
    if unsafe { libc::kill(-pgid, sig) } != 0 {
        let e = last_err();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

/// Sends `sig` to one process; `ESRCH` is not an error.
pub(crate) fn kill_pid(pid: i32, sig: i32) -> io::Result<()> {
    if pid <= 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: plain syscall with a positive pid.
    if unsafe { libc::kill(pid, sig) } != 0 {
        let e = last_err();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

/// Blocks until child `pid` has exited, *without* reaping it: while it is a
/// zombie its pid (and so its process group id) cannot be reused, so the group
/// can still be signalled safely.
pub(crate) fn wait_exited_nowait(pid: i32) -> io::Result<()> {
    let Ok(id) = libc::id_t::try_from(pid) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    loop {
        let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: `info` is writable memory of the right type; P_PID with our
        // own child's pid.
        let rc = unsafe { libc::waitid(libc::P_PID, id, info.as_mut_ptr(), libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 {
            return Ok(());
        }
        let e = last_err();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// How a reaped child ended, with its resource usage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reaped {
    /// `Ok(code)` for a normal exit, `Err(signal)` when killed by a signal.
    pub(crate) status: Result<i32, i32>,
    pub(crate) user: Duration,
    pub(crate) system: Duration,
    /// Peak resident set size in bytes (`ru_maxrss` is in KiB on Linux).
    pub(crate) max_rss_bytes: u64,
}

fn tv(t: libc::timeval) -> Duration {
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let micros = u32::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// Reaps child `pid` with `wait4`, collecting its rusage.
pub(crate) fn reap(pid: i32) -> io::Result<Reaped> {
    loop {
        let mut status: libc::c_int = 0;
        let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `status` and `ru` are writable memory of the right types.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, ru.as_mut_ptr()) };
        if rc == pid {
            // SAFETY: wait4 succeeded and filled `ru` (zeroed beforehand).
            let ru = unsafe { ru.assume_init() };
            let st = if libc::WIFEXITED(status) { Ok(libc::WEXITSTATUS(status)) } else { Err(libc::WTERMSIG(status)) };
            return Ok(Reaped {
                status: st,
                user: tv(ru.ru_utime),
                system: tv(ru.ru_stime),
                max_rss_bytes: u64::try_from(ru.ru_maxrss).unwrap_or(0).saturating_mul(1024),
            });
        }
        let e = last_err();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether this process runs with `uid == 0` (RLIMIT_NPROC is not enforced for it).
pub(crate) fn is_root() -> bool {
    // SAFETY: getuid/geteuid cannot fail.
    unsafe { libc::getuid() == 0 || libc::geteuid() == 0 }
}

/// The Landlock ABI version of the running kernel (0 when Landlock is absent
/// or disabled).
pub(crate) fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with this flag and a null attribute the syscall only returns
    // the ABI version; it touches no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    i32::try_from(v).unwrap_or(0).max(0)
}

/// Whether this process's effective capability set holds `cap` (`capget`,
/// one syscall; no `/proc` parsing).
pub(crate) fn has_effective_cap(cap: u32) -> bool {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: `header` and `data` are valid, writable and laid out as the
    // kernel's `__user_cap_header_struct` / two `__user_cap_data_struct`s (v3).
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    let word = usize::try_from(cap / 32).unwrap_or(usize::MAX);
    data.get(word).is_some_and(|d| d.effective & (1 << (cap % 32)) != 0)
}

/// The effective uid of this process.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}
