//! `exec`: run a program only under a writ that permits exactly this run
//! (the governed run itself is [`writ_gate::exec`]; this parses, calls it,
//! and reports).
//!
//! Telling a denial from a program that exits 77 itself: exit status 77 is
//! both "denied" and a program's own 77. A caller that must know which
//! passes `--json` (a denial prints `{"verdict": "deny", "code": …}` on
//! stdout; a run prints `{"verdict": "allow", "exit_code": …}` on stderr) or
//! `--status-file FILE`, which the gate writes (mode 0600) before it exits
//! with the same JSON object: `verdict` says which it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use writ_core::{Denial, DenialCode};
use writ_gate::{ExecMode, ExecOptions, ExecReport, ExecRequest, MAX_GRACE, Recorder, record_denial};

use crate::exit::{self, UsageError};
use crate::files;
use crate::gate::{Embedded, GateArgs};

/// Run PROGRAM under a writ, confined by its boundaries (exit: the
/// program's status, or 77 when denied).
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// The writ (DSSE envelope JSON).
    #[arg(long, value_name = "FILE")]
    pub writ: PathBuf,
    /// Configuration, trust root, authority, spool.
    #[command(flatten)]
    pub gate: GateArgs,
    /// The ledger receipt of the writ (default: WRIT.receipt when it exists).
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// The ancestors of a delegated writ (default: WRIT.chain when it exists;
    /// written by `writ delegate`).
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// Online: seconds between revocation checks while the program runs
    /// (default 1; at most the trust root's `status_max_age_secs`).
    #[arg(long, value_name = "SECS")]
    pub status_interval: Option<f64>,
    /// Seconds between SIGTERM and SIGKILL when the run is ended (default
    /// and maximum 2: it only shortens).
    #[arg(long, value_name = "SECS")]
    pub grace: Option<f64>,
    /// Hash stdout and stderr while passing them through (reported with --json).
    #[arg(long)]
    pub digest_output: bool,
    /// Print the verdict as JSON (denial: stdout; outcome: stderr).
    #[arg(long)]
    pub json: bool,
    /// Write the verdict as JSON to FILE before exiting (tells a denial from
    /// a program that exits 77).
    #[arg(long, value_name = "FILE")]
    pub status_file: Option<PathBuf>,
    /// PROGRAM ARGS… (after `--`).
    #[arg(last = true, required = true, value_name = "PROGRAM ARGS")]
    pub invocation: Vec<String>,
}

fn secs(flag: &str, v: Option<f64>, min: f64, max: Duration) -> anyhow::Result<Option<Duration>> {
    let Some(v) = v else { return Ok(None) };
    if !(v.is_finite() && v >= min && v <= max.as_secs_f64()) {
        return Err(UsageError(format!(
            "--{flag} must be between {min} and {} seconds (the most the trust root allows)",
            max.as_secs_f64()
        ))
        .into());
    }
    Ok(Some(Duration::from_secs_f64(v)))
}

/// How the outcome is printed: `prog` prefixes human messages.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    /// `writ` or `writ-gate`.
    pub prog: &'a str,
    /// `--json`.
    pub json: bool,
    /// `--status-file`.
    pub status_file: Option<&'a Path>,
}

impl Output<'_> {
    fn status_file(&self, v: &Value) {
        let Some(path) = self.status_file else { return };
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{v}\n").as_bytes()));
        if let Err(e) = written {
            eprintln!("{}: warning: cannot write the status file `{}`: {e}", self.prog, path.display());
        }
    }

    /// Reports a denial; exit 77.
    pub fn denied(&self, d: &Denial) -> ExitCode {
        let v = json!({"verdict": "deny", "code": d.code.as_str(), "detail": d.detail});
        self.status_file(&v);
        if self.json {
            println!("{v}");
        } else {
            eprintln!("{}: denied ({}): {} — {}", self.prog, d.code, d.detail, d.code.hint());
        }
        exit::denied()
    }

    /// Reports a finished run; exit with the program's status.
    pub fn ran(&self, r: &ExecReport) -> ExitCode {
        if let Err(e) = &r.end {
            eprintln!("{}: warning: the exec_end record was not taken: {e}", self.prog);
        }
        let o = &r.outcome;
        let (exit_code, signal) = match o.status {
            writ_gate::ExitStatus::Exited(c) => (Some(c), None),
            writ_gate::ExitStatus::Signaled(s) => (None, Some(s)),
        };
        let hexd = |d: Option<[u8; 32]>| d.map(hex::encode);
        let v = json!({"verdict": "allow", "writ_id": r.writ_id, "exit_code": exit_code, "signal": signal,
                       "ended_by": o.ended_by.as_ref().map(ToString::to_string),
                       "wall_ms": o.wall.as_millis(), "cpu_user_ms": o.cpu_user.as_millis(),
                       "cpu_system_ms": o.cpu_system.as_millis(), "peak_rss_bytes": o.peak_rss_bytes,
                       "stdout_sha256": hexd(o.stdout_sha256), "stderr_sha256": hexd(o.stderr_sha256)});
        self.status_file(&v);
        if self.json {
            eprintln!("{v}");
        }
        ExitCode::from(o.exit_code())
    }
}

/// Reads the writ: a missing or unreadable file is `malformed`, a larger
/// one than the limit `too_large` (both denials, never exit 1).
fn read_writ(path: &Path) -> Result<Vec<u8>, Denial> {
    let max = writ_core::limits::MAX_ENVELOPE_BYTES;
    use std::io::Read as _;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max as u64 + 1).read_to_end(&mut buf))
        .map_err(|e| Denial::new(DenialCode::Malformed, format!("cannot read the writ `{}`: {e}", path.display())))?;
    if buf.len() > max {
        return Err(Denial::new(
            DenialCode::TooLarge,
            format!("the writ `{}` is larger than {max} bytes", path.display()),
        ));
    }
    Ok(buf)
}

/// FILE as given, else `WRIT.<ext>` when it exists.
fn beside(writ: &Path, given: Option<&PathBuf>, ext: &str) -> Option<PathBuf> {
    let default = PathBuf::from(format!("{}.{ext}", writ.display()));
    given.cloned().or_else(|| default.exists().then_some(default))
}

fn read_receipt(args: &ExecArgs) -> Result<Option<Vec<u8>>, Denial> {
    let Some(path) = beside(&args.writ, args.receipt.as_ref(), "receipt") else { return Ok(None) };
    files::read_bounded(&path, writ_core::limits::MAX_RECEIPT_BYTES)
        .map(Some)
        .map_err(|e| Denial::new(DenialCode::Malformed, format!("receipt: {e:#}")))
}

/// The ancestors of a delegated writ from its chain file (none without one).
///
/// # Errors
/// `malformed`: an unreadable chain file or one that does not parse.
pub fn read_chain(writ: &Path, given: Option<&PathBuf>) -> Result<Vec<Vec<u8>>, Denial> {
    let Some(path) = beside(writ, given, "chain") else { return Ok(Vec::new()) };
    let max = (writ_core::limits::MAX_ENVELOPE_BYTES * 4 / 3 + 64) * writ_core::limits::MAX_DEPTH as usize;
    let bytes = files::read_bounded(&path, max)
        .map_err(|e| Denial::new(DenialCode::Malformed, format!("chain `{}`: {e:#}", path.display())))?;
    writ_core::delegate::Chain::parse(&bytes)
        .map_err(|e| Denial::new(DenialCode::Malformed, format!("`{}`: {e}", path.display())))
}

/// `exec` as `prog` (`writ` passes its embedded authority for `--home`).
///
/// # Errors
/// Usage and configuration errors (exit 2 / 1); every refusal of the run
/// itself is a denial (exit 77), recorded.
pub fn run(args: ExecArgs, prog: &str, embedded: Option<Embedded>) -> anyhow::Result<ExitCode> {
    let out = Output { prog, json: args.json, status_file: args.status_file.as_deref() };
    let grace = secs("grace", args.grace, 0.0, MAX_GRACE)?;
    let resolved = args.gate.resolve(embedded)?;
    let window = Duration::from_secs(resolved.trust.file().status_max_age_secs);
    let status_interval = secs("status-interval", args.status_interval, 0.05, window)?;
    let host = resolved.host.hostname.clone();
    let online = match resolved.online.clone() {
        Ok(o) => o,
        Err(d) => {
            // Not online as asked: the denial goes to the spool.
            if let Ok(r) = resolved.recorder(None) {
                let _ = record_denial(&r, &d, &[], &host);
            }
            return Ok(out.denied(&d));
        }
    };
    let recorder: Recorder = match resolved.recorder(online.as_ref()) {
        Ok(r) => r,
        Err(d) => return Ok(out.denied(&d)),
    };
    let writ = match read_writ(&args.writ)
        .and_then(|w| read_receipt(&args).map(|r| (w, r)))
        .and_then(|(w, r)| read_chain(&args.writ, args.chain.as_ref()).map(|c| (w, r, c)))
    {
        Ok(w) => w,
        Err(d) => {
            let _ = record_denial(&recorder, &d, &[], &host);
            return Ok(out.denied(&d));
        }
    };
    let (writ, receipt, ancestors) = writ;
    let Some((program, rest)) = args.invocation.split_first() else {
        return Err(UsageError("give PROGRAM ARGS after `--`".into()).into());
    };
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => {
            let d = Denial::new(DenialCode::ScopeCwd, format!("no current directory: {e}"));
            let _ = record_denial(&recorder, &d, &writ, &host);
            return Ok(out.denied(&d));
        }
    };
    let env: BTreeMap<String, String> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    let req = ExecRequest {
        writ,
        receipt,
        ancestors,
        program: program.clone(),
        args: rest.to_vec(),
        env,
        cwd,
        trust: resolved.trust,
        host: resolved.host,
        mode: match online {
            Some(api) => ExecMode::Online(api),
            None => ExecMode::Offline,
        },
        recorder,
        options: ExecOptions { grace, status_interval, status_max_age: None, digest_output: args.digest_output },
    };
    Ok(match writ_gate::exec(req) {
        Ok(report) => out.ran(&report),
        Err(d) => out.denied(&d),
    })
}
