//! Building the confinement in the parent: the Landlock ruleset and the pids
//! cgroup. The child only *enters* them (see `sys`).

use std::fs::File;
use std::io::{self, Read as _};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use landlock::{
    ABI, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
};

use crate::error::LaunchError;
use crate::sys;

/// Landlock ABI needed to restrict reads (`EXECUTE`, `READ_FILE`, `READ_DIR`).
pub const LANDLOCK_ABI_FOR_READ: i32 = 1;
/// Landlock ABI needed to restrict writes completely: ABI 2 adds `REFER`
/// (renames and links across directories), ABI 3 adds `TRUNCATE`.
pub const LANDLOCK_ABI_FOR_WRITE: i32 = 3;

fn boundary(boundary: &'static str, detail: impl Into<String>) -> LaunchError {
    LaunchError::Boundary { boundary, detail: detail.into() }
}

/// What the running kernel can enforce (detected once per launch; tests
/// substitute an older kernel to check that the gate then denies).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KernelCaps {
    /// Landlock ABI version, 0 when Landlock is unavailable.
    pub(crate) landlock_abi: i32,
}

impl KernelCaps {
    pub(crate) fn detect() -> Self {
        Self { landlock_abi: sys::landlock_abi() }
    }
}

/// Builds a Landlock ruleset for the allow-lists, or `None` when neither list
/// is given. `program` is always granted execute + read (it was authorised).
///
/// A listed path that does not exist is skipped: granting nothing there is
/// more confinement, not less.
pub(crate) fn landlock_ruleset(
    fs_read: Option<&[PathBuf]>,
    fs_write: Option<&[PathBuf]>,
    program: &File,
    kernel: i32,
) -> Result<Option<OwnedFd>, LaunchError> {
    if fs_read.is_none() && fs_write.is_none() {
        return Ok(None);
    }
    let which = if fs_write.is_some() { "fs_write" } else { "fs_read" };
    let needed = if fs_write.is_some() { LANDLOCK_ABI_FOR_WRITE } else { LANDLOCK_ABI_FOR_READ };
    if kernel < needed {
        return Err(boundary(which, format!("this kernel's Landlock ABI is {kernel}, at least {needed} is needed")));
    }
    let abi = ABI::from(kernel);
    let mut handled: BitFlags<AccessFs> = BitFlags::EMPTY;
    if fs_read.is_some() {
        handled |= AccessFs::from_read(abi);
    }
    if fs_write.is_some() {
        handled |= AccessFs::from_write(abi);
    }
    let ll = |e: landlock::RulesetError| boundary(which, format!("landlock: {e}"));
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(handled)
        .map_err(ll)?
        .create()
        .map_err(ll)?;
    let file_rights = AccessFs::from_file(abi);
    let lists = [
        (fs_read.unwrap_or_default(), AccessFs::from_read(abi) & handled),
        (fs_write.unwrap_or_default(), AccessFs::from_write(abi) & handled),
    ];
    for (paths, rights) in lists {
        for path in paths {
            let fd = match PathFd::new(path) {
                Ok(fd) => fd,
                Err(_) if !path.exists() => continue,
                Err(e) => return Err(boundary(which, format!("`{}`: {e}", path.display()))),
            };
            let rights = if path.is_dir() { rights } else { rights & file_rights };
            if rights.is_empty() {
                continue;
            }
            ruleset = ruleset.add_rule(PathBeneath::new(fd, rights)).map_err(ll)?;
        }
    }
    let program_rights = (AccessFs::Execute | AccessFs::ReadFile) & handled;
    if !program_rights.is_empty() {
        ruleset = ruleset.add_rule(PathBeneath::new(program.as_fd(), program_rights)).map_err(ll)?;
    }
    let fd: Option<OwnedFd> = ruleset.into();
    fd.map(Some).ok_or_else(|| boundary(which, "landlock is not enforced by this kernel"))
}

static CGROUP_SEQ: AtomicU64 = AtomicU64::new(0);

/// A pids cgroup of one run: counts every process and thread the program and
/// its descendants create, whatever their uid (RLIMIT_NPROC does not bind root).
#[derive(Debug)]
pub(crate) struct PidsCgroup {
    dir: PathBuf,
    procs: File,
}

impl PidsCgroup {
    /// Creates `…/writ-gate/<pid>-<seq>` in this process's pids cgroup (v1
    /// hierarchy, or v2 where the pids controller is enabled) with `pids.max`.
    pub(crate) fn create(max: u64) -> Result<Self, LaunchError> {
        let base = own_pids_cgroup().map_err(|e| boundary("processes", format!("no pids cgroup: {e}")))?;
        let parent = base.join("writ-gate");
        let dir = parent.join(format!("{}-{}", std::process::id(), CGROUP_SEQ.fetch_add(1, Ordering::Relaxed)));
        let setup = || -> io::Result<File> {
            match std::fs::create_dir(&parent) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            std::fs::create_dir(&dir)?;
            std::fs::write(dir.join("pids.max"), max.to_string())?;
            std::fs::OpenOptions::new().write(true).open(dir.join("cgroup.procs"))
        };
        match setup() {
            Ok(procs) => Ok(Self { dir, procs }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(boundary("processes", format!("cannot create pids cgroup `{}`: {e}", dir.display())))
            }
        }
    }

    /// A descriptor on `cgroup.procs` for the child to join with.
    pub(crate) fn procs_fd(&self) -> io::Result<OwnedFd> {
        Ok(self.procs.try_clone()?.into())
    }

    /// Sends `sig` to every process in the cgroup (including any that left the
    /// process group with `setsid`).
    pub(crate) fn kill_all(&self, sig: i32) {
        let mut s = String::new();
        let Ok(mut f) = File::open(self.dir.join("cgroup.procs")) else {
            return;
        };
        if f.read_to_string(&mut s).is_err() {
            return;
        }
        for pid in s.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = sys::kill_pid(pid, sig);
        }
    }

    /// Kills what is left and removes the cgroup (retrying while killed
    /// processes are still being reaped).
    pub(crate) fn remove(&self) {
        for _ in 0..200 {
            self.kill_all(libc::SIGKILL);
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The directory of this process's pids cgroup.
fn own_pids_cgroup() -> io::Result<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    // cgroup v1: a `N:pids:/path` line and the hierarchy at /sys/fs/cgroup/pids.
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if controllers.split(',').any(|c| c == "pids") {
            let root = Path::new("/sys/fs/cgroup/pids");
            if root.join("cgroup.procs").exists() {
                return Ok(root.join(path.trim_start_matches('/')));
            }
        }
    }
    // cgroup v2: the unified hierarchy, where our own cgroup must delegate pids.
    for line in own.lines() {
        if let Some(path) = line.strip_prefix("0::") {
            let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
            let ctl = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
            if ctl.split_whitespace().any(|c| c == "pids") {
                return Ok(dir);
            }
        }
    }
    Err(io::Error::new(io::ErrorKind::NotFound, "no pids controller is available to this process"))
}

/// Whether a pids cgroup can be found for this process.
pub(crate) fn pids_cgroup_available() -> bool {
    own_pids_cgroup().is_ok()
}

/// Whether this process holds CAP_SYS_ADMIN (needed for a new network
/// namespace).
pub(crate) fn has_cap_sys_admin() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    sys::has_effective_cap(CAP_SYS_ADMIN)
}
