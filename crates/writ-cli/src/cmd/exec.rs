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

use anyhow::Context as _;
use serde_json::{Value, json};
use writ_core::scope::HostFacts;
use writ_core::{Denial, DenialCode, Mode};
use writ_gate::{Gate, LaunchOptions, Outcome, Program, exec_attempt};

use crate::exit::{self, UsageError};
use crate::files;

/// Run PROGRAM under a writ: verify offline, then launch it confined by the
/// writ's boundaries (exit: the program's status, or 77 when denied).
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The writ (DSSE envelope JSON).
    #[arg(long, value_name = "FILE")]
    pub writ: PathBuf,
    /// The trust-root file (default: DIR/trust.json with --home).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Run without contacting the authority (the writ must allow it).
    #[arg(long, conflicts_with_all = ["home", "authority"])]
    pub offline: bool,
    /// Online through the embedded authority in DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "authority")]
    pub home: Option<PathBuf>,
    /// Online through the authority at URL.
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
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
    let scope = v
        .pointer("/predicate/scope")
        .cloned()
        .unwrap_or(Value::Null);
    let programs = scope
        .get("actions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.pointer("/exec/program")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let env = scope
        .pointer("/environment/env")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned)))
                .collect()
        })
        .unwrap_or_default();
    let cwd = scope
        .pointer("/environment/cwd")
        .and_then(Value::as_str)
        .map(str::to_owned);
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
    let mut hits = claims
        .programs
        .iter()
        .filter(|p| Path::new(p).file_name().is_some_and(|f| f == name));
    match (hits.next(), hits.next()) {
        (Some(p), None) => Ok(PathBuf::from(p)),
        (None, _) => Err(Denial::new(
            DenialCode::ScopeProgram,
            format!("the writ names no program called `{name}`"),
        )),
        (Some(_), Some(_)) => Err(Denial::new(
            DenialCode::ScopeProgram,
            format!("the writ names several programs called `{name}`; give the absolute path"),
        )),
    }
}

struct Ran {
    writ_id: String,
    outcome: Outcome,
}

fn gate_path(args: &ExecArgs, writ: &[u8], trust: writ_core::TrustRoot) -> Result<Ran, Denial> {
    let c = claims(writ);
    let (name, rest) = args
        .invocation
        .split_first()
        .ok_or_else(|| Denial::new(DenialCode::ScopeProgram, "no program given"))?;
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
    let host = HostFacts {
        hostname: crate::cmd::verify::hostname(),
        labels: args.labels.iter().cloned().collect(),
    };
    let gate = Gate::new(trust, host).with_mode(Mode::Offline);
    let permit = gate.check(writ, &exec_attempt(&program, rest, &env, &cwd))?;
    let writ_id = permit.verified().id().to_owned();
    let opts = LaunchOptions {
        grace: Duration::from_secs_f64(args.grace),
        digest_output: args.digest_output,
    };
    let running = permit.launch(program, &opts)?;
    let outcome = running.wait().map_err(Denial::from)?;
    Ok(Ran { writ_id, outcome })
}

pub fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
    if args.home.is_some() || args.authority.is_some() {
        anyhow::bail!(
            "online execution (--home/--authority) is not available in this build yet; use --offline"
        );
    }
    if !(args.grace.is_finite() && (0.0..=3600.0).contains(&args.grace)) {
        return Err(UsageError("--grace must be between 0 and 3600 seconds".into()).into());
    }
    let trust_path = args
        .trust
        .clone()
        .context("--trust FILE is required with --offline")?;
    let trust = files::read_trust(&trust_path)?;
    let writ = files::read_bounded(&args.writ, writ_core::limits::MAX_ENVELOPE_BYTES + 1)?;
    // INVARIANT: a panic anywhere on the gate path denies; it never runs.
    let result = catch_unwind(AssertUnwindSafe(|| gate_path(&args, &writ, trust)))
        .unwrap_or_else(|_| Err(Denial::new(DenialCode::Internal, "the gate panicked")));
    match result {
        Ok(ran) => {
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
            if args.json {
                println!(
                    "{}",
                    json!({"verdict": "deny", "code": d.code.as_str(), "detail": d.detail})
                );
            } else {
                eprintln!(
                    "writ: denied ({}): {} — {}",
                    d.code,
                    d.detail,
                    d.code.hint()
                );
            }
            Ok(exit::denied())
        }
    }
}
