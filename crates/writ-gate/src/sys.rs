//! The gate's syscall layer: the only module of writ with `unsafe`.
//!
//! Everything the child does between `fork` and `execveat` lives in
//! [`ChildSetup::apply_and_exec`], which runs in the forked child of a possibly
//! multi-threaded parent and therefore only makes raw, async-signal-safe system
//! calls on memory prepared before the fork: no allocation, no locks, no
//! formatting. Every `unsafe` block carries a `// SAFETY:` line.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

/// Where the child failed before the program started (written as one byte on
/// the stage pipe, so the parent can name the boundary that could not be set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stage {
    /// Joining the pids cgroup (`processes`).
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
    /// The program file changed (size, mtime or ctime) after it was hashed.
    Changed = 7,
    /// `execveat` itself.
    Exec = 8,
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
            7 => Self::Changed,
            8 => Self::Exec,
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

/// What the program file looked like when it was hashed; re-checked in the
/// child immediately before `execveat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) size: i64,
    pub(crate) mtime: (i64, i64),
    pub(crate) ctime: (i64, i64),
}

/// `fstat` of an open descriptor, as a [`FileIdentity`] plus its mode.
pub(crate) fn fstat_identity(fd: RawFd) -> io::Result<(FileIdentity, u32)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` points to writable memory of the right size and type;
    // `fstat` only writes into it.
    let rc = unsafe { libc::fstat(fd, st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fstat` returned 0, so it initialised the whole struct (and it
    // was zeroed before anyway).
    let st = unsafe { st.assume_init() };
    Ok((identity_of(&st), st.st_mode))
}

fn identity_of(st: &libc::stat) -> FileIdentity {
    FileIdentity {
        dev: st.st_dev,
        ino: st.st_ino,
        size: st.st_size,
        mtime: (st.st_mtime, st.st_mtime_nsec),
        ctime: (st.st_ctime, st.st_ctime_nsec),
    }
}

/// Everything the child needs, prepared in the parent before `fork`.
#[derive(Debug)]
pub(crate) struct ChildSetup {
    pub(crate) program_fd: OwnedFd,
    pub(crate) identity: FileIdentity,
    /// SHA-256 of the program bytes, as hashed in the parent.
    pub(crate) sha256: [u8; 32],
    /// Clear `FD_CLOEXEC` on the program descriptor: needed for `#!` scripts,
    /// whose interpreter opens the script as `/dev/fd/N` after the exec.
    pub(crate) keep_program_fd_open: bool,
    pub(crate) argv: Vec<CString>,
    pub(crate) envp: Vec<CString>,
    pub(crate) rlimits: Vec<Rlimit>,
    pub(crate) new_netns: bool,
    pub(crate) landlock_ruleset: Option<OwnedFd>,
    /// `cgroup.procs` of the run's pids cgroup, opened for writing.
    pub(crate) cgroup_procs: Option<OwnedFd>,
    /// Write end of the stage pipe (`O_CLOEXEC`).
    pub(crate) stage_pipe: OwnedFd,
}

/// Null-terminated pointer arrays over the `CString`s of a [`ChildSetup`].
struct PtrArrays {
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

// SAFETY: the pointers refer to the heap buffers of `CString`s owned by the same
// closure (they never move or get freed while the closure lives), and they are
// only dereferenced by the kernel in the forked child, which has one thread.
unsafe impl Send for PtrArrays {}
// SAFETY: as above; nothing ever writes through these pointers.
unsafe impl Sync for PtrArrays {}

impl PtrArrays {
    // Methods (not field accesses) so that the closure captures the whole
    // struct, whose `Send`/`Sync` impls hold, rather than its raw-pointer fields.
    fn argv(&self) -> *const *const libc::c_char {
        self.argv.as_ptr()
    }
    fn envp(&self) -> *const *const libc::c_char {
        self.envp.as_ptr()
    }
}

fn ptr_array(strings: &[CString]) -> Vec<*const libc::c_char> {
    let mut v: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    v.push(std::ptr::null());
    v
}

/// Reports `stage` on the stage pipe and builds the error the closure returns.
fn fail(pipe: RawFd, stage: Stage, err: io::Error) -> io::Error {
    let byte = [stage as u8];
    // SAFETY: `byte` is a valid 1-byte buffer; `write` is async-signal-safe. A
    // failed write only loses the stage, the spawn still fails.
    let _ = unsafe { libc::write(pipe, byte.as_ptr().cast(), 1) };
    err
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

impl ChildSetup {
    /// Forks a child that applies every boundary and then `execveat`s the
    /// program descriptor. Returns only once the exec succeeded (the error pipe
    /// of `std::process::Command` closed on exec) or failed.
    ///
    /// `command` must already carry stdio, working directory and
    /// `process_group(0)`; std applies those in the child before our closure.
    pub(crate) fn spawn(self, mut command: Command) -> io::Result<Child> {
        let ptrs = PtrArrays { argv: ptr_array(&self.argv), envp: ptr_array(&self.envp) };
        let mut setup = self;
        let closure = move || -> io::Result<()> {
            // The closure runs once, in the child, and never returns Ok: it
            // either replaces the process image or reports why it could not.
            let pipe = setup.stage_pipe.as_raw_fd();
            setup.apply(pipe)?;
            let empty = c"";
            // SAFETY: the descriptor is open; `empty` is a valid C string; argv
            // and envp are null-terminated arrays of pointers to live C strings
            // (see `PtrArrays`). On success this call does not return.
            unsafe {
                libc::syscall(
                    libc::SYS_execveat,
                    setup.program_fd.as_raw_fd(),
                    empty.as_ptr(),
                    ptrs.argv(),
                    ptrs.envp(),
                    libc::AT_EMPTY_PATH,
                );
            }
            Err(fail(pipe, Stage::Exec, last_err()))
        };
        // SAFETY: the closure only makes async-signal-safe system calls on
        // memory allocated before the fork (see `apply`); it does not allocate,
        // lock or touch the parent's threads.
        unsafe {
            command.pre_exec(closure);
        }
        command.spawn()
    }

    fn apply(&mut self, pipe: RawFd) -> io::Result<()> {
        // 1. Join the run's pids cgroup, so every descendant is counted.
        if let Some(procs) = &self.cgroup_procs {
            let zero = b"0";
            // SAFETY: valid buffer of 2 bytes; writing "0" to cgroup.procs moves
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
        // 3. No network: a fresh, empty network namespace.
        if self.new_netns {
            // SAFETY: plain syscall with a flag argument.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(fail(pipe, Stage::NetNs, last_err()));
            }
        }
        // 4. no_new_privs, always (also a precondition of Landlock).
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(fail(pipe, Stage::NoNewPrivs, last_err()));
        }
        // 5. Landlock: the ruleset was built in the parent; only enforce here.
        if let Some(ruleset) = &self.landlock_ruleset {
            // SAFETY: plain syscall on an open ruleset descriptor, flags 0.
            let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0) };
            if rc != 0 {
                return Err(fail(pipe, Stage::Landlock, last_err()));
            }
        }
        // 6. Nothing inherited crosses the exec except stdio (and, for a
        //    script, the program descriptor its interpreter reads).
        // SAFETY: plain syscall with integer arguments.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
        if rc != 0 {
            return Err(fail(pipe, Stage::Fds, last_err()));
        }
        let fd = self.program_fd.as_raw_fd();
        if self.keep_program_fd_open {
            // SAFETY: plain fcntl on an open descriptor.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
                return Err(fail(pipe, Stage::Fds, last_err()));
            }
        }
        // 7. The file must still be what was hashed. A rename, unlink or
        //    symlink swap cannot change the descriptor at all; an in-place
        //    rewrite changes size or mtime (refused), and whatever changes only
        //    the ctime (a link count change, or a rewrite with mtime reset) makes
        //    us hash the descriptor again and compare.
        let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: `st` is writable memory of the right type.
        if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
            return Err(fail(pipe, Stage::Changed, last_err()));
        }
        // SAFETY: fstat succeeded and the struct was zeroed beforehand.
        let now = identity_of(&unsafe { st.assume_init() });
        let same_data = FileIdentity { ctime: self.identity.ctime, ..now } == self.identity;
        if !same_data {
            return Err(fail(pipe, Stage::Changed, io::Error::from_raw_os_error(libc::ESTALE)));
        }
        if now.ctime != self.identity.ctime {
            match rehash(fd) {
                Ok(d) if d == self.sha256 => {}
                Ok(_) => {
                    return Err(fail(pipe, Stage::Changed, io::Error::from_raw_os_error(libc::ESTALE)));
                }
                Err(e) => return Err(fail(pipe, Stage::Changed, e)),
            }
        }
        Ok(())
    }
}

/// SHA-256 of the whole file behind `fd`, with `pread` into a stack buffer:
/// no allocation, so it may run in the forked child.
fn rehash(fd: RawFd) -> io::Result<[u8; 32]> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let mut buf = [0u8; 8192];
    let mut off: libc::off_t = 0;
    loop {
        // SAFETY: `buf` is a writable buffer of `buf.len()` bytes.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) };
        if n < 0 {
            let e = last_err();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(h.finalize().into());
        }
        let n = n.unsigned_abs();
        h.update(buf.get(..n).unwrap_or_default());
        off = off.saturating_add(libc::off_t::try_from(n).unwrap_or(0));
    }
}

/// A non-blocking read of the one stage byte the child may have written.
pub(crate) fn read_stage(read_end: &OwnedFd) -> Option<Stage> {
    let mut b = [0u8; 1];
    // SAFETY: valid 1-byte buffer; the descriptor is the pipe's read end
    // (`O_NONBLOCK`), whose write ends are all closed by now.
    let n = unsafe { libc::read(read_end.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
    if n == 1 { Stage::from_byte(b[0]) } else { None }
}

/// `pipe2(O_CLOEXEC | O_NONBLOCK on the read end)`: (read, write).
pub(crate) fn stage_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(last_err());
    }
    let [r, w] = fds;
    // SAFETY: pipe2 succeeded, so both are fresh descriptors we now own.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(r), OwnedFd::from_raw_fd(w)) };
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
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: `header` and `data` are valid, writable and laid out as the
    // kernel's `__user_cap_header_struct` / two `__user_cap_data_struct`s (v3).
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut Header, data.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    let word = usize::try_from(cap / 32).unwrap_or(usize::MAX);
    data.get(word).is_some_and(|d| d.effective & (1 << (cap % 32)) != 0)
}
