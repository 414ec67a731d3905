//! Each boundary, enforced by the kernel on a real child process that tries to
//! exceed it. Every test also has a control (same program, boundary lifted or
//! respected) so that it can fail.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::*;

const SH: &str = "/bin/sh";
const PERL: &str = "/usr/bin/perl";

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn launch(prog: &str, argv: &[&str], b: Boundaries) -> Launch {
    let mut l = Launch::new(
        Program::open(Path::new(prog)).unwrap(),
        os(argv),
        vec![("PATH".into(), "/usr/bin:/bin".into())],
        PathBuf::from("/"),
    );
    l.boundaries = b;
    l.grace = Duration::from_millis(200);
    l
}

fn run(l: Launch) -> Outcome {
    spawn(l).unwrap().wait().unwrap()
}

fn sh(script: &str, b: Boundaries) -> Outcome {
    run(launch(SH, &["sh", "-c", script], b))
}

fn perl(code: &str, args: &[&str], b: Boundaries) -> Outcome {
    let mut argv = vec!["perl", "-e", code];
    argv.extend_from_slice(args);
    run(launch(PERL, &argv, b))
}

/// System directories a dynamically linked program needs to start.
fn system_dirs() -> Vec<PathBuf> {
    ["/bin", "/usr", "/lib", "/lib64", "/etc", "/dev/null"].iter().map(PathBuf::from).collect()
}

#[test]
fn exit_code_argv_and_env_pass_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut l = launch(
        PERL,
        &[
            "custom-argv0",
            "-e",
            "open(F, '>', $ARGV[0]) or die; print F join(',', map { \"$_=$ENV{$_}\" } sort keys %ENV); print F \"|$ARGV[1]|\"; exit 7",
            out.to_str().unwrap(),
            "a b*",
        ],
        Boundaries { network: true, ..Boundaries::default() },
    );
    l.env = vec![("ONLY".into(), "this".into()), ("Z".into(), "".into())];
    let o = run(l);
    assert_eq!(o.status, ExitStatus::Exited(7));
    assert_eq!(o.exit_code(), 7);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ONLY=this,Z=|a b*|");
}

#[test]
fn argv0_and_cwd_are_the_given_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = launch(SH, &["renamed", "-c", "cat /proc/$$/cmdline > cmdline; pwd -P > cwd"], Boundaries::default());
    l.cwd = dir.path().to_path_buf();
    assert_eq!(run(l).status, ExitStatus::Exited(0));
    let cmdline = std::fs::read(dir.path().join("cmdline")).unwrap();
    assert!(cmdline.starts_with(b"renamed\0-c\0"), "{cmdline:?}");
    let cwd = std::fs::read_to_string(dir.path().join("cwd")).unwrap();
    assert_eq!(cwd.trim_end(), dir.path().canonicalize().unwrap().to_str().unwrap());
}

#[test]
fn cpu_limit_kills_a_busy_loop() {
    let o = sh("while :; do :; done", Boundaries { cpu_secs: Some(1), ..Boundaries::default() });
    assert!(matches!(o.status, ExitStatus::Signaled(libc::SIGXCPU | libc::SIGKILL)), "{o:?}");
    assert_eq!(o.ended_by, None, "the kernel, not the supervisor, stopped it");
    // rusage CPU time is tick-sampled and, on a loaded machine, can read well
    // below the kernel's own RLIMIT_CPU accounting (seen: 845 ms for a 1 s
    // limit under load 6); it only has to show the loop really ran for a while.
    assert!(o.cpu_user + o.cpu_system >= Duration::from_millis(500), "{o:?}");
}

#[test]
fn file_size_limit_stops_a_large_write() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big");
    let arg = format!("of={}", f.display());
    let o = run(launch(
        "/usr/bin/dd",
        &["dd", "if=/dev/zero", &arg, "bs=1000", "count=100"],
        Boundaries { file_size_bytes: Some(4096), ..Boundaries::default() },
    ));
    assert_eq!(o.status, ExitStatus::Signaled(libc::SIGXFSZ), "{o:?}");
    assert!(std::fs::metadata(&f).unwrap().len() <= 4096);
    // Control: without the limit the same write completes.
    let o = run(launch("/usr/bin/dd", &["dd", "if=/dev/zero", &arg, "bs=1000", "count=100"], Boundaries::default()));
    assert_eq!(o.status, ExitStatus::Exited(0));
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 100_000);
}

#[test]
fn memory_limit_stops_a_large_allocation() {
    let code = "my $x = 'a' x (300 * 1024 * 1024); exit 0";
    let o = perl(code, &[], Boundaries { memory_bytes: Some(100 << 20), ..Boundaries::default() });
    assert_ne!(o.status, ExitStatus::Exited(0), "{o:?}");
    let o = perl(code, &[], Boundaries::default());
    assert_eq!(o.status, ExitStatus::Exited(0), "control: {o:?}");
    assert!(o.peak_rss_bytes >= 300 << 20, "rusage reports the peak: {o:?}");
}

const FORK_50: &str =
    "for (1..50) { my $p = fork; exit 3 unless defined $p; if ($p == 0) { sleep 30; exit 0 } } exit 0";

#[test]
fn process_limit_caps_a_fork_loop_even_for_root() {
    let o = perl(FORK_50, &[], Boundaries { processes: Some(5), ..Boundaries::default() });
    assert_eq!(o.status, ExitStatus::Exited(3), "fork must fail at the limit: {o:?}");
    // Control: unlimited, all 50 forks succeed (and the sleepers are killed
    // when the program exits).
    let o = perl(FORK_50, &[], Boundaries::default());
    assert_eq!(o.status, ExitStatus::Exited(0), "{o:?}");
}

#[test]
fn open_files_limit_caps_descriptors() {
    let code = "my @f; for (1..100) { open(my $f, '<', '/dev/null') or exit 4; push @f, $f } exit 0";
    let o = perl(code, &[], Boundaries { open_files: Some(20), ..Boundaries::default() });
    assert_eq!(o.status, ExitStatus::Exited(4));
    let o = perl(code, &[], Boundaries::default());
    assert_eq!(o.status, ExitStatus::Exited(0));
}

#[test]
fn no_network_means_a_fresh_namespace() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let code = "use IO::Socket::INET; IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ARGV[0], Timeout => 5) or exit 5; exit 0";
    let o = perl(code, &[&port], Boundaries { network: false, ..Boundaries::default() });
    assert_eq!(o.status, ExitStatus::Exited(5), "connect must fail without network");
    let o = perl(code, &[&port], Boundaries { network: true, ..Boundaries::default() });
    assert_eq!(o.status, ExitStatus::Exited(0), "control: connect works with network");
}

#[test]
fn landlock_limits_reads_to_the_list() {
    let allowed = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    std::fs::write(allowed.path().join("ok"), "x").unwrap();
    std::fs::write(other.path().join("secret"), "x").unwrap();
    let code = "open(F, '<', $ARGV[0]) or exit 6; exit 0";
    let mut read = system_dirs();
    read.push(allowed.path().to_path_buf());
    let b = Boundaries { fs_read: Some(read), ..Boundaries::default() };
    let secret = other.path().join("secret");
    let ok = allowed.path().join("ok");
    assert_eq!(perl(code, &[secret.to_str().unwrap()], b.clone()).status, ExitStatus::Exited(6));
    assert_eq!(perl(code, &[ok.to_str().unwrap()], b).status, ExitStatus::Exited(0));
    // Control: without the list the secret is readable.
    assert_eq!(perl(code, &[secret.to_str().unwrap()], Boundaries::default()).status, ExitStatus::Exited(0));
}

#[test]
fn landlock_limits_writes_to_the_list() {
    let allowed = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let code = "open(F, '>', $ARGV[0]) or exit 6; exit 0";
    let b = Boundaries { fs_write: Some(vec![allowed.path().to_path_buf()]), ..Boundaries::default() };
    let outside = other.path().join("marker");
    let inside = allowed.path().join("marker");
    assert_eq!(perl(code, &[outside.to_str().unwrap()], b.clone()).status, ExitStatus::Exited(6));
    assert!(!outside.exists());
    assert_eq!(perl(code, &[inside.to_str().unwrap()], b).status, ExitStatus::Exited(0));
    assert!(inside.exists());
}

#[test]
fn an_unenforceable_landlock_boundary_denies_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let script = format!("touch {}", marker.display());
    let b = Boundaries { fs_write: Some(vec![dir.path().to_path_buf()]), ..Boundaries::default() };
    for abi in [0, 1, 2] {
        let err =
            spawn_on(launch(SH, &["sh", "-c", &script], b.clone()), KernelCaps { landlock_abi: abi }).unwrap_err();
        assert_eq!(err.code(), "scope_boundary", "{err}");
    }
    assert!(!marker.exists());
    // Control: the real kernel enforces it, so the program runs.
    assert_eq!(sh(&script, b).status, ExitStatus::Exited(0));
    assert!(marker.exists());
}

/// The process with `pid` is gone, a zombie, or past the point of no return
/// in `exit` (PF_EXITING set: it released its files, which is how the output
/// pipe reached EOF, but has not yet become a zombie).
fn dead(pid: &str) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let flags: u64 = fields[6].parse().unwrap();
    matches!(fields[0], "Z" | "X" | "x") || flags & PF_EXITING != 0
}

#[test]
fn wall_clock_kills_the_whole_group_even_when_it_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // Everything ignores SIGTERM, so only the SIGKILL after the grace period
    // ends it; the grandchild holds stdout, so `wait` (which reads stdout to
    // EOF) returns only once the grandchild is dead too.
    let script = format!("trap '' TERM; sleep 1000 & echo $! > {}; sleep 1000", pidfile.display());
    let mut l = launch(SH, &["sh", "-c", &script], Boundaries { wall_clock_secs: Some(1), ..Boundaries::default() });
    l.digest_output = true;
    let o = run(l);
    assert_eq!(o.ended_by, Some(EndReason::WallClock));
    assert_eq!(o.status, ExitStatus::Signaled(libc::SIGKILL));
    let grandchild = std::fs::read_to_string(&pidfile).unwrap();
    assert!(dead(grandchild.trim()), "grandchild {grandchild} survived");
}

#[test]
fn the_cgroup_catches_processes_that_leave_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("setsid sh -c 'echo $$ > {}; exec sleep 1000' & sleep 1000", pidfile.display());
    let mut l = launch(
        SH,
        &["sh", "-c", &script],
        Boundaries { wall_clock_secs: Some(1), processes: Some(10), ..Boundaries::default() },
    );
    l.digest_output = true;
    let o = run(l);
    assert_eq!(o.ended_by, Some(EndReason::WallClock));
    let escaped = std::fs::read_to_string(&pidfile).unwrap();
    assert!(dead(escaped.trim()), "the setsid process {escaped} survived");
}

#[test]
fn an_end_handle_ends_the_run_with_its_reason() {
    let running = spawn(launch("/usr/bin/sleep", &["sleep", "1000"], Boundaries::default())).unwrap();
    running.end_handle().end("revoked");
    let o = running.wait().unwrap();
    assert_eq!(o.ended_by, Some(EndReason::Ended("revoked".into())));
    assert_eq!(o.status, ExitStatus::Signaled(libc::SIGTERM));
}

#[test]
fn not_after_ends_the_run_and_an_expired_writ_starts_nothing() {
    let mut l = launch(
        "/usr/bin/sleep",
        &["sleep", "1000"],
        Boundaries { wall_clock_secs: Some(1000), ..Boundaries::default() },
    );
    l.not_after = Some(SystemTime::now() + Duration::from_secs(1));
    let o = run(l);
    assert_eq!(o.ended_by, Some(EndReason::Expired));

    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let mut l = launch(SH, &["sh", "-c", &format!("touch {}", marker.display())], Boundaries::default());
    l.not_after = Some(SystemTime::now() - Duration::from_secs(1));
    assert_eq!(spawn(l).unwrap_err().code(), "expired");
    assert!(!marker.exists());
}

#[test]
fn output_digests_are_of_what_passed_through() {
    let mut l = launch(SH, &["sh", "-c", "printf hello; printf oops >&2"], Boundaries::default());
    l.digest_output = true;
    let o = run(l);
    let d = |s: &str| -> [u8; 32] { Sha256::digest(s.as_bytes()).into() };
    assert_eq!(o.stdout_sha256, Some(d("hello")));
    assert_eq!(o.stderr_sha256, Some(d("oops")));
}

fn script(path: &Path, marker: &Path) {
    std::fs::write(path, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn launch_program(p: Program) -> Launch {
    let argv = vec![OsString::from(p.path())];
    Launch::new(p, argv, vec![], PathBuf::from("/"))
}

#[test]
fn a_program_renamed_over_after_open_still_runs_the_hashed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (good, evil) = (dir.path().join("good-ran"), dir.path().join("evil-ran"));
    let path = dir.path().join("prog");
    script(&path, &good);
    let p = Program::open(&path).unwrap();
    let hashed = *p.sha256();
    let other = dir.path().join("other");
    script(&other, &evil);
    std::fs::rename(&other, &path).unwrap();
    assert_ne!(Program::open(&path).unwrap().sha256(), &hashed);
    assert_eq!(run(launch_program(p)).status, ExitStatus::Exited(0));
    assert!(good.exists());
    assert!(!evil.exists(), "the swapped-in program ran");
}

#[test]
fn a_symlink_repointed_after_open_still_runs_the_hashed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (good, evil) = (dir.path().join("good-ran"), dir.path().join("evil-ran"));
    let (a, b, link) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("link"));
    script(&a, &good);
    script(&b, &evil);
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let p = Program::open(&link).unwrap();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&b, &link).unwrap();
    assert_eq!(run(launch_program(p)).status, ExitStatus::Exited(0));
    assert!(good.exists());
    assert!(!evil.exists(), "the repointed program ran");
}

#[test]
fn an_elf_program_replaced_after_open_still_runs_the_hashed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prog");
    std::fs::copy("/bin/true", &path).unwrap();
    let p = Program::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::copy("/bin/false", &path).unwrap();
    assert_eq!(run(launch_program(p)).status, ExitStatus::Exited(0));
}

#[test]
fn a_program_rewritten_in_place_after_hashing_is_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let (good, evil) = (dir.path().join("good-ran"), dir.path().join("evil-ran"));
    let path = dir.path().join("prog");
    script(&path, &good);
    let p = Program::open(&path).unwrap();
    // Same inode, new bytes (and so a new mtime/ctime).
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&path, format!("#!/bin/sh\ntouch {}\n", evil.display())).unwrap();
    let err = spawn(launch_program(p)).unwrap_err();
    assert_eq!(err.code(), "scope_program", "{err}");
    assert!(!good.exists());
    assert!(!evil.exists());
}

#[test]
fn relative_program_paths_are_refused() {
    assert_eq!(Program::open(Path::new("bin/true")).unwrap_err().code(), "scope_program");
    assert_eq!(Program::open(Path::new("/")).unwrap_err().code(), "scope_program");
}

#[test]
fn no_new_privs_is_always_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("status");
    let o = sh(&format!("grep NoNewPrivs /proc/self/status > {}", out.display()), Boundaries::default());
    assert_eq!(o.status, ExitStatus::Exited(0));
    let s = std::fs::read_to_string(out).unwrap();
    assert_eq!(s.split_whitespace().collect::<Vec<_>>(), ["NoNewPrivs:", "1"]);
}

#[test]
fn a_same_size_rewrite_with_mtime_reset_is_caught_by_rehashing() {
    let dir = tempfile::tempdir().unwrap();
    let (good, evil) = (dir.path().join("good-ran"), dir.path().join("evil-ran"));
    let path = dir.path().join("prog");
    script(&path, &good);
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let p = Program::open(&path).unwrap();
    // Past the timestamp granularity, so that the rewrite's ctime differs.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&path, format!("#!/bin/sh\ntouch {}\n", evil.display())).unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    let err = spawn(launch_program(p)).unwrap_err();
    assert_eq!(err.code(), "scope_program", "{err}");
    assert!(!good.exists() && !evil.exists());
}

#[test]
fn a_metadata_only_change_after_hashing_still_runs() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good-ran");
    let path = dir.path().join("prog");
    script(&path, &good);
    let p = Program::open(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(run(launch_program(p)).status, ExitStatus::Exited(0));
    assert!(good.exists());
}

#[test]
fn capability_detection_matches_this_host() {
    // Root here: CAP_SYS_ADMIN is effective; a capability number past the
    // kernel's last one is not.
    assert_eq!(sys::has_effective_cap(21), sys::is_root());
    assert!(!sys::has_effective_cap(63));
}
