//! Building the confinement in the parent: the Landlock ruleset, the run's
//! cgroups and the run's uid. The child only *enters* them (see `sys`).

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read as _};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
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
    /// Try `clone3(CLONE_INTO_CGROUP)` (Linux ≥ 5.7; the launch falls back by
    /// itself where the kernel refuses it). Tests set `false` to run the
    /// fallback, `fork` and a join by writing `cgroup.procs`.
    pub(crate) clone_into_cgroup: bool,
}

impl KernelCaps {
    pub(crate) fn detect() -> Self {
        Self { landlock_abi: sys::landlock_abi(), clone_into_cgroup: true }
    }
}

/// Builds a Landlock ruleset for the allow-lists, or `None` when neither list
/// is given. The program, a script's interpreter and sealed file arguments
/// are memfds, which Landlock does not restrict (internal mount), so they
/// need no rule.
///
/// A listed path that does not exist is skipped: granting nothing there is
/// more confinement, not less.
pub(crate) fn landlock_ruleset(
    fs_read: Option<&[PathBuf]>,
    fs_write: Option<&[PathBuf]>,
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
    let fd: Option<OwnedFd> = ruleset.into();
    fd.map(Some).ok_or_else(|| boundary(which, "landlock is not enforced by this kernel"))
}

static CGROUP_SEQ: AtomicU64 = AtomicU64::new(0);

/// One cgroup directory of one run, created by the gate (root-owned, mode
/// 0755, files 0644: the program's uid can neither write `cgroup.procs` here
/// nor anywhere else, so it cannot leave; nothing is delegated to it).
#[derive(Debug)]
pub(crate) struct Cgroup {
    dir: PathBuf,
    procs: File,
}

impl Cgroup {
    /// Creates `<base>/writ-gate/<pid>-<seq>` and writes `settings` into it.
    fn create(base: &Path, settings: &[(&str, String)]) -> io::Result<Self> {
        let parent = base.join("writ-gate");
        let dir = parent.join(format!("{}-{}", std::process::id(), CGROUP_SEQ.fetch_add(1, Ordering::Relaxed)));
        match std::fs::create_dir(&parent) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir(&dir)?;
        let setup = || -> io::Result<File> {
            for (file, value) in settings {
                std::fs::write(dir.join(file), value)?;
            }
            std::fs::OpenOptions::new().write(true).open(dir.join("cgroup.procs"))
        };
        match setup() {
            Ok(procs) => Ok(Self { dir, procs }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    /// A descriptor on `cgroup.procs` for the child to join with.
    pub(crate) fn procs_fd(&self) -> io::Result<OwnedFd> {
        Ok(self.procs.try_clone()?.into())
    }

    /// The cgroup's directory, opened for `clone3(CLONE_INTO_CGROUP)`.
    fn dir_fd(&self) -> io::Result<OwnedFd> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(&self.dir)?;
        Ok(dir.into())
    }

    /// The pids listed in `cgroup.procs` (zombies included).
    fn pids(&self) -> Vec<i32> {
        let mut s = String::new();
        let Ok(mut f) = File::open(self.dir.join("cgroup.procs")) else {
            return Vec::new();
        };
        if f.read_to_string(&mut s).is_err() {
            return Vec::new();
        }
        s.lines().filter_map(|l| l.trim().parse::<i32>().ok()).collect()
    }

    /// Sends `sig` to every process in the cgroup (including any that left the
    /// process group with `setsid`).
    pub(crate) fn kill_all(&self, sig: i32) {
        for pid in self.pids() {
            let _ = sys::kill_pid(pid, sig);
        }
    }

    fn kill_file(&self) -> Option<PathBuf> {
        let f = self.dir.join("cgroup.kill");
        f.exists().then_some(f)
    }

    /// Kills what is left and removes the cgroup (retrying while killed
    /// processes are still being reaped).
    pub(crate) fn remove(&self) {
        for _ in 0..200 {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(_) => {
                    self.kill_all(libc::SIGKILL);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The cgroups of one run: always one that tracks every process of the run
/// (cgroup v2, killed with `cgroup.kill`; or, without v2, the pids cgroup),
/// and a pids cgroup when the writ limits `processes`.
#[derive(Debug, Default)]
pub(crate) struct RunCgroups {
    pub(crate) tracking: Option<Cgroup>,
    pub(crate) pids: Option<Cgroup>,
}

impl RunCgroups {
    /// Creates the run's cgroups. `processes` is the writ's limit. Errors name
    /// what is missing; the caller decides whether that refuses the run.
    pub(crate) fn create(processes: Option<u64>) -> (Self, Vec<LaunchError>) {
        let mut missing = Vec::new();
        let tracking = match own_v2_cgroup().and_then(|base| Cgroup::create(&base, &[])) {
            Ok(cg) => Some(cg),
            Err(e) => {
                missing.push(boundary("cgroup", format!("cannot create the run's cgroup (v2): {e}")));
                None
            }
        };
        let pids = match (processes, &tracking) {
            (None, Some(_)) => None,
            (limit, _) => {
                let max = limit.map_or_else(|| "max".to_string(), |m| m.to_string());
                match own_pids_cgroup().and_then(|base| Cgroup::create(&base, &[("pids.max", max)])) {
                    Ok(cg) => Some(cg),
                    Err(e) => {
                        let which = if limit.is_some() { "processes" } else { "cgroup" };
                        missing.push(boundary(which, format!("cannot create the run's pids cgroup: {e}")));
                        None
                    }
                }
            }
        };
        // Without v2 the pids cgroup tracks the run: then "cgroup" is not missing.
        if tracking.is_none() && pids.is_some() {
            missing.retain(|e| !matches!(e, LaunchError::Boundary { boundary: "cgroup", .. }));
        }
        (Self { tracking, pids }, missing)
    }

    fn all(&self) -> impl Iterator<Item = &Cgroup> {
        self.tracking.iter().chain(self.pids.iter())
    }

    /// Whether the run is in a cgroup at all.
    pub(crate) fn any(&self) -> bool {
        self.all().next().is_some()
    }

    /// What the child needs to be in every cgroup of the run: the v2 cgroup
    /// to be created in (its directory, and its `cgroup.procs` for the
    /// fallback join), and the `cgroup.procs` of each further one (a v1
    /// `pids` cgroup), which it joins by writing.
    pub(crate) fn child_fds(&self) -> io::Result<(Option<sys::IntoCgroup>, Vec<OwnedFd>)> {
        let into = match &self.tracking {
            Some(cg) => Some(sys::IntoCgroup { dir: cg.dir_fd()?, procs: cg.procs_fd()? }),
            None => None,
        };
        let procs = self.pids.iter().map(Cgroup::procs_fd).collect::<io::Result<_>>()?;
        Ok((into, procs))
    }

    /// The run's v2 cgroup directory, if it has one.
    #[cfg(test)]
    pub(crate) fn v2_dir(&self) -> Option<&Path> {
        self.tracking.as_ref().map(|cg| cg.dir.as_path())
    }

    /// Sends `sig` to every process of the run.
    pub(crate) fn signal(&self, sig: i32) {
        for cg in self.all() {
            cg.kill_all(sig);
        }
    }

    /// Kills every process of the run (`cgroup.kill` where the kernel has it,
    /// else SIGKILL to each listed pid until none is left), reaping those that
    /// were re-parented to the gate (it is their subreaper). `leader` (the
    /// program itself) is left for the caller to reap. Bounded: about 5 s.
    pub(crate) fn kill_and_reap(&self, leader: i32) {
        for cg in self.all() {
            if let Some(k) = cg.kill_file() {
                let _ = std::fs::write(k, "1");
            }
        }
        for _ in 0..1000 {
            let mut left = false;
            for cg in self.all() {
                for pid in cg.pids() {
                    if pid == leader {
                        continue;
                    }
                    left = true;
                    let _ = sys::kill_pid(pid, libc::SIGKILL);
                    sys::try_reap(pid);
                }
            }
            if !left {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        self.reap_orphans(leader);
    }

    /// Reaps the run's processes that were re-parented to the gate and are no
    /// longer listed in `cgroup.procs` (exited, but still our zombies): the
    /// gate's children (all threads) whose cgroup is one of the run's.
    fn reap_orphans(&self, leader: i32) {
        let names: Vec<String> = self
            .all()
            .filter_map(|cg| cg.dir.file_name())
            .map(|n| format!("/writ-gate/{}\n", n.to_string_lossy()))
            .collect();
        if names.is_empty() {
            return;
        }
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return };
        for task in tasks.flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for pid in children.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                if pid == leader {
                    continue;
                }
                let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
                if names.iter().any(|n| cg.contains(n.as_str())) {
                    let _ = sys::kill_pid(pid, libc::SIGKILL);
                    for _ in 0..200 {
                        if sys::try_reap(pid) {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            }
        }
    }

    /// Removes the cgroups (after [`RunCgroups::kill_and_reap`]).
    pub(crate) fn remove(&self) {
        for cg in self.all() {
            cg.remove();
        }
    }

    /// What the keeper needs to kill and remove these cgroups on its own.
    pub(crate) fn keeper_paths(&self) -> (Vec<CString>, Vec<CString>, Vec<CString>) {
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).ok();
        let mut kill = Vec::new();
        let mut procs = Vec::new();
        let mut dirs = Vec::new();
        for cg in self.all() {
            kill.extend(c(&cg.dir.join("cgroup.kill")));
            procs.extend(c(&cg.dir.join("cgroup.procs")));
            dirs.extend(c(&cg.dir));
        }
        (kill, procs, dirs)
    }
}

/// The directory of this process's cgroup in the v2 (unified) hierarchy,
/// wherever it is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a
/// hybrid host).
fn own_v2_cgroup() -> io::Result<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "this process is in no cgroup v2 hierarchy"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    for line in mounts.lines() {
        // id parent major:minor root mountpoint options... - fstype source super
        let Some((left, right)) = line.split_once(" - ") else { continue };
        if right.split_whitespace().next() != Some("cgroup2") {
            continue;
        }
        let fields: Vec<&str> = left.split_whitespace().collect();
        let (Some(root), Some(mnt)) = (fields.get(3), fields.get(4)) else { continue };
        let Some(rel) = path.strip_prefix(root.trim_end_matches('/')) else { continue };
        let dir = Path::new(mnt).join(rel.trim_start_matches('/'));
        if dir.join("cgroup.procs").exists() {
            return Ok(dir);
        }
    }
    Err(io::Error::new(io::ErrorKind::NotFound, "no cgroup v2 hierarchy is mounted"))
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

/// A uid (and gid of the same number) leased to one run: an exclusive `flock`
/// on `<dir>/<uid>` held by the gate and its keeper until every process of
/// the run is dead, so two live runs never share a uid.
#[derive(Debug)]
pub(crate) struct UidLease {
    pub(crate) uid: u32,
    pub(crate) lock: File,
}

impl UidLease {
    /// Leases a free uid from `range`, trying from a per-run starting point.
    /// `dir` is created root-only (0700) if missing and must not be writable
    /// by anyone else.
    pub(crate) fn take(range: &std::ops::Range<u32>, dir: &Path) -> Result<Self, LaunchError> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
        let err = |d: String| boundary("run_as", d);
        let len = range.end.saturating_sub(range.start);
        if len == 0 || range.start == 0 {
            return Err(err(format!("the uid range {}..{} is empty or contains uid 0", range.start, range.end)));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| err(format!("cannot create the uid lease directory `{}`: {e}", dir.display())))?;
        let meta = std::fs::symlink_metadata(dir).map_err(|e| err(format!("`{}`: {e}", dir.display())))?;
        if !meta.is_dir() || meta.uid() != sys::euid() || meta.mode() & 0o022 != 0 {
            return Err(err(format!(
                "the uid lease directory `{}` must be a directory owned by the gate and writable by nobody else",
                dir.display()
            )));
        }
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let seed = std::process::id()
            .wrapping_mul(2_654_435_761)
            .wrapping_add(nanos)
            .wrapping_add(u32::try_from(CGROUP_SEQ.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff).unwrap_or(0));
        for i in 0..len.min(4096) {
            let uid = range.start + (seed.wrapping_add(i) % len);
            let path = dir.join(uid.to_string());
            let lock = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(|e| err(format!("cannot open the uid lease `{}`: {e}", path.display())))?;
            match sys::try_lock(std::os::fd::AsRawFd::as_raw_fd(&lock)) {
                Ok(true) => return Ok(Self { uid, lock }),
                Ok(false) => continue,
                Err(e) => return Err(err(format!("cannot lock the uid lease `{}`: {e}", path.display()))),
            }
        }
        Err(err(format!("every uid in {}..{} is in use by another run", range.start, range.end)))
    }
}
