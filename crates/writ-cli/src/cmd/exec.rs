//! `writ exec`: run a program only under a writ that permits exactly this run,
//! within the writ's boundaries (see `docs/gate.md`).
//!
//! Program resolution (no `PATH` search, ever): an absolute PROGRAM is used as
//! given; a bare name (no `/`) is looked up among the writ's own exec actions
//! and must name exactly one of them by file name; a relative path with `/` is
//! refused. The file at that path is opened once, hashed from the open
//! descriptor and executed from the same descriptor, with `argv[0]` = the
//! absolute path.
//!
//! The environment is cleared to the writ's allow-list: a variable with a fixed
//! value gets that value, a free one is passed on from this process's
//! environment when set. The working directory is the one the writ names (else
//! the current one).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::mpsc;
use writ_core::scope::HostFacts;
use writ_core::{Denial, DenialCode, Mode};

use writ_gate::{
    EndHandle, Evidence, Gate, LaunchOptions, Outcome, Program, exec_attempt, exec_end_entry, timestamp_now,
};

pub(crate) use crate::gatekit::connect;
use crate::gatekit::{GateArgs, Online, Sink, denial_entry, fetch_status, open_spool};

use crate::exit::{self, UsageError};
use crate::files;

/// Run PROGRAM under a writ: verify offline, then launch it confined by the
/// writ's boundaries (exit: the program's status, or 77 when denied).
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The writ (DSSE envelope JSON).
    #[arg(long, value_name = "FILE")]
    pub writ: PathBuf,
    /// Trust root, online or offline, spool.
    #[command(flatten)]
    pub gate: GateArgs,
    /// The ledger receipt of the writ (default: WRIT.receipt when it exists).
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// Online: seconds between revocation checks while the program runs.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub status_interval: f64,
    /// Host labels this host carries (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Seconds between SIGTERM and SIGKILL when the run is ended.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub grace: f64,
    /// Hash stdout and stderr while passing them through (reported with --json).
    #[arg(long)]
    pub digest_output: bool,
    /// Print the verdict and outcome as JSON (denial: stdout; outcome: stderr).
    #[arg(long)]
    pub json: bool,
    /// PROGRAM ARGS… (after `--`).
    #[arg(last = true, required = true, value_name = "PROGRAM ARGS")]
    pub invocation: Vec<String>,
}

/// The unverified claims of a writ that pick program, environment and cwd.
/// They only shape the attempt; `verify` then checks that attempt.
#[derive(Debug, Default)]
struct Claims {
    programs: Vec<String>,
    env: BTreeMap<String, Option<String>>,
    cwd: Option<String>,
}

fn claims(writ: &[u8]) -> Claims {
    let Some(payload) = writ_core::dsse::decode(writ).ok().map(|e| e.payload) else {
        return Claims::default();
    };
    let Ok(v) = serde_json::from_slice::<Value>(&payload) else {
        return Claims::default();
    };
    let scope = v.pointer("/predicate/scope").cloned().unwrap_or(Value::Null);
    let programs = scope
        .get("actions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter().filter_map(|x| x.pointer("/exec/program").and_then(Value::as_str).map(str::to_owned)).collect()
        })
        .unwrap_or_default();
    let env = scope
        .pointer("/environment/env")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned))).collect())
        .unwrap_or_default();
    let cwd = scope.pointer("/environment/cwd").and_then(Value::as_str).map(str::to_owned);
    Claims { programs, env, cwd }
}

/// PROGRAM as the writ's absolute path rules resolve it (never `PATH`).
fn resolve(name: &str, claims: &Claims) -> Result<PathBuf, Denial> {
    if name.starts_with('/') {
        return Ok(PathBuf::from(name));
    }
    if name.contains('/') {
        return Err(Denial::new(
            DenialCode::ScopeProgram,
            format!("program `{name}` is a relative path; give the absolute path the writ names"),
        ));
    }
    let mut hits = claims.programs.iter().filter(|p| Path::new(p).file_name().is_some_and(|f| f == name));
    match (hits.next(), hits.next()) {
        (Some(p), None) => Ok(PathBuf::from(p)),
        (None, _) => Err(Denial::new(DenialCode::ScopeProgram, format!("the writ names no program called `{name}`"))),
        (Some(_), Some(_)) => Err(Denial::new(
            DenialCode::ScopeProgram,
            format!("the writ names several programs called `{name}`; give the absolute path"),
        )),
    }
}

struct Ran {
    writ_id: String,
    outcome: Outcome,
    end_recorded: Result<(), String>,
}

/// Records a `denial` entry: with the authority when online, else (or when
/// the authority does not take it) in the spool. Best effort: the run is
/// denied either way.
fn record_denial(args: &ExecArgs, d: &Denial, writ: &[u8]) {
    let entry = denial_entry(d, writ, &crate::cmd::verify::hostname());
    let online = args.gate.connect().ok().flatten();
    if let (Some(o), Ok(bytes)) = (online, entry.encode())
        && o.record(&bytes).is_ok()
    {
        return;
    }
    if let Ok(s) = open_spool(&args.gate.spool) {
        let _ = s.append(&entry);
    }
}

/// While the program runs, re-checks revocation every `every`; ends the run
/// when the writ is revoked, or when a required status goes stale.
fn watch(
    online: Arc<dyn Online>,
    trust: writ_core::TrustRoot,
    writ_id: String,
    envelope: writ_core::Sha256Digest,
    every: Duration,
    end: EndHandle,
    stop: mpsc::Receiver<()>,
) {
    let max_age = trust.file().status_max_age_secs;
    let required = trust.file().require_status;
    let mut last_good = std::time::Instant::now();
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        match fetch_status(online.as_ref(), &trust, &writ_id, &envelope, false) {
            Ok(c) => match c.status {
                writ_core::Status::Revoked { at } => {
                    end.end(format!("revoked at {at}"));
                    return;
                }
                _ => last_good = std::time::Instant::now(),
            },
            Err(_) if required && last_good.elapsed() > Duration::from_secs(max_age) => {
                end.end("status_unknown: no fresh revocation status");
                return;
            }
            Err(_) => {}
        }
    }
}

fn gate_path(args: &ExecArgs, writ: &[u8], trust: writ_core::TrustRoot) -> Result<Ran, Denial> {
    let c = claims(writ);
    let (name, rest) =
        args.invocation.split_first().ok_or_else(|| Denial::new(DenialCode::ScopeProgram, "no program given"))?;
    let path = resolve(name, &c)?;
    let program = Program::open(&path)?;
    let env: BTreeMap<String, String> = c
        .env
        .iter()
        .filter_map(|(k, fixed)| match fixed {
            Some(v) => Some((k.clone(), v.clone())),
            None => std::env::var(k).ok().map(|v| (k.clone(), v)),
        })
        .collect();
    let cwd = match &c.cwd {
        Some(d) => PathBuf::from(d),
        None => std::env::current_dir()
            .map_err(|e| Denial::new(DenialCode::ScopeCwd, format!("no current directory: {e}")))?,
    };
    let host_name = crate::cmd::verify::hostname();
    let host = HostFacts { hostname: host_name.clone(), labels: args.labels.iter().cloned().collect() };
    let attempt = exec_attempt(&program, rest, &env, &cwd);
    let receipt = read_receipt(args)?;
    let online = open_online(args)?;
    let (permit, sink, watcher) = match online {
        None => {
            let gate = Gate::new(trust, host).with_mode(Mode::Offline);
            let evidence = Evidence { receipt, ..Evidence::default() };
            let permit = gate.check_with(writ, &attempt, evidence)?;
            (permit, Sink::Spool(open_spool(&args.gate.spool)?), None)
        }
        Some(online) => {
            // Authenticity and scope first, so that a bad writ consumes no use.
            let pre = Gate::new(trust.clone(), host.clone()).with_mode(Mode::Check).check_with(
                writ,
                &attempt,
                Evidence { receipt: receipt.clone(), ..Evidence::default() },
            )?;
            let (id, envelope) = (pre.verified().id().to_owned(), pre.verified().envelope_digest());
            let consume = pre.verified().scope().uses.is_some();
            let checked = fetch_status(online.as_ref(), &trust, &id, &envelope, consume)?;
            let evidence =
                Evidence { status: checked.status, use_count: checked.use_count, receipt, ..Evidence::default() };
            let gate = Gate::new(trust.clone(), host).with_mode(Mode::Online);
            let permit = gate.check_with(writ, &attempt, evidence)?;
            (permit, Sink::Online(online.clone()), Some((online, trust, id, envelope)))
        }
    };
    let writ_id = permit.verified().id().to_owned();
    // INVARIANT: nothing runs unrecorded: exec_start is durable (spooled with
    // fsync, or taken by the authority) before the program starts.
    let start = permit.exec_start_entry(timestamp_now(), &host_name)?;
    sink.record(&start).map_err(|e| Denial::new(DenialCode::RecordFailed, format!("exec_start not recorded: {e}")))?;
    let ids = permit.ids();
    let opts = LaunchOptions { grace: Duration::from_secs_f64(args.grace), digest_output: args.digest_output };
    let running = permit.launch(program, &opts)?;
    let (stop_tx, stop_rx) = mpsc::channel();
    let watcher = watcher.map(|(online, trust, id, envelope)| {
        let end = running.end_handle();
        let every = Duration::from_secs_f64(args.status_interval);
        std::thread::spawn(move || watch(online, trust, id, envelope, every, end, stop_rx))
    });
    let outcome = running.wait().map_err(Denial::from);
    drop(stop_tx);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    let outcome = outcome?;
    let end = exec_end_entry(ids, &host_name, &outcome, timestamp_now());
    // The authority did not take it: keep it in the spool for `writ sync`.
    let end_recorded = sink.record_or_spool(&end, &args.gate.spool);
    Ok(Ran { writ_id, outcome, end_recorded })
}

fn read_receipt(args: &ExecArgs) -> Result<Option<Vec<u8>>, Denial> {
    let default = PathBuf::from(format!("{}.receipt", args.writ.display()));
    let path = match &args.receipt {
        Some(p) => p.clone(),
        None if default.exists() => default,
        None => return Ok(None),
    };
    files::read_bounded(&path, writ_core::limits::MAX_RECEIPT_BYTES)
        .map(Some)
        .map_err(|e| Denial::new(DenialCode::Malformed, format!("receipt: {e:#}")))
}

fn open_online(args: &ExecArgs) -> Result<Option<Arc<dyn Online>>, Denial> {
    args.gate.connect()
}

pub fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
    if !(args.grace.is_finite() && (0.0..=3600.0).contains(&args.grace)) {
        return Err(UsageError("--grace must be between 0 and 3600 seconds".into()).into());
    }
    if !(args.status_interval.is_finite() && (0.05..=3600.0).contains(&args.status_interval)) {
        return Err(UsageError("--status-interval must be between 0.05 and 3600 seconds".into()).into());
    }
    let trust_path = args.gate.trust_path()?;
    let trust = files::read_trust(&trust_path)?;
    let writ = files::read_bounded(&args.writ, writ_core::limits::MAX_ENVELOPE_BYTES + 1)?;
    // INVARIANT: a panic anywhere on the gate path denies; it never runs.
    let result = catch_unwind(AssertUnwindSafe(|| gate_path(&args, &writ, trust)))
        .unwrap_or_else(|_| Err(Denial::new(DenialCode::Internal, "the gate panicked")));
    match result {
        Ok(ran) => {
            if let Err(e) = &ran.end_recorded {
                eprintln!("writ: warning: the exec_end record was not spooled: {e}");
            }
            if args.json {
                let o = &ran.outcome;
                let (exit_code, signal) = match o.status {
                    writ_gate::ExitStatus::Exited(c) => (Some(c), None),
                    writ_gate::ExitStatus::Signaled(s) => (None, Some(s)),
                };
                let hexd = |d: Option<[u8; 32]>| d.map(hex::encode);
                eprintln!(
                    "{}",
                    json!({"verdict": "allow", "writ_id": ran.writ_id, "exit_code": exit_code, "signal": signal,
                           "ended_by": o.ended_by.as_ref().map(ToString::to_string),
                           "wall_ms": o.wall.as_millis(), "cpu_user_ms": o.cpu_user.as_millis(),
                           "cpu_system_ms": o.cpu_system.as_millis(), "peak_rss_bytes": o.peak_rss_bytes,
                           "stdout_sha256": hexd(o.stdout_sha256), "stderr_sha256": hexd(o.stderr_sha256)})
                );
            }
            Ok(ExitCode::from(ran.outcome.exit_code()))
        }
        Err(d) => {
            record_denial(&args, &d, &writ);
            if args.json {
                println!("{}", json!({"verdict": "deny", "code": d.code.as_str(), "detail": d.detail}));
            } else {
                eprintln!("writ: denied ({}): {} — {}", d.code, d.detail, d.code.hint());
            }
            Ok(exit::denied())
        }
    }
}
