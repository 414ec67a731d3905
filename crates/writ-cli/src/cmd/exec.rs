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

use writ_authority::{Authority, AuthorityError, Config, Identity};
use writ_core::entry::Entry;
use writ_gate::{
    EndHandle, Evidence, Gate, LaunchOptions, Outcome, Program, Spool, exec_attempt, exec_end_entry, timestamp_now,
};
use writ_server::client::Client;

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
    /// The gate's private key (online modes): its key must be in the
    /// authority's trust root with the `gate` role.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
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
    /// The durable local spool for this gate's records (offline mode): an
    /// `exec_start` entry is appended (and fsynced) before the program starts
    /// (if that fails, nothing runs: `record_failed`), an `exec_end` after it
    /// ends, a `denial` entry when denied; `writ sync` uploads them later.
    #[arg(long, value_name = "FILE", env = "WRIT_SPOOL", default_value = "/var/lib/writ/gate.spool")]
    pub spool: PathBuf,
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

fn open_spool(path: &Path) -> Result<Spool, Denial> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    Spool::open(path).map_err(|e| Denial::new(DenialCode::RecordFailed, format!("cannot open the spool: {e}")))
}

/// Spools a `denial` entry (best effort: the run is denied either way).
/// Records a `denial` entry: with the authority when online, else (or when
/// the authority does not take it) in the spool. Best effort: the run is
/// denied either way.
fn record_denial(args: &ExecArgs, d: &Denial, writ: &[u8]) {
    let writ_id = claimed_writ_id(writ);
    let entry = writ_core::entry::Entry::Denial(writ_core::entry::Denial {
        time: timestamp_now(),
        request_id: None,
        writ_id,
        code: d.code.as_str().to_owned(),
        detail: d.detail.chars().take(1024).collect(),
        host: Some(crate::cmd::verify::hostname()),
    });
    let online = connect(args.home.as_deref(), args.authority.as_deref(), args.key.as_deref()).ok().flatten();
    if let (Some(o), Ok(bytes)) = (online, entry.encode())
        && o.record(&bytes).is_ok()
    {
        return;
    }
    if let Ok(s) = open_spool(&args.spool) {
        let _ = s.append(&entry);
    }
}

/// The writ id as claimed (unverified; only labels a denial record).
fn claimed_writ_id(writ: &[u8]) -> Option<String> {
    let env = writ_core::dsse::decode(writ).ok()?;
    let v: Value = serde_json::from_slice(&env.payload).ok()?;
    let id = v.pointer("/predicate/id")?.as_str()?;
    (id.len() <= 128).then(|| id.to_owned())
}

/// The authority, as a gate needs it: signed status (consuming a use) and
/// records.
pub(crate) trait Online: Send + Sync {
    /// A signed status response for `writ_id`, consuming one use when `consume`.
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, Denial>;
    /// Appends a gate record (`exec_start`, `exec_end`, `denial`) to the ledger.
    fn record(&self, entry: &[u8]) -> Result<(), String>;
}

/// The authority of a home directory, in this process. Opened once and
/// kept; the home's ledger has one sequencer at a time, so when another `writ`
/// process appended meanwhile (a `writ revoke`, another gate) our ledger
/// refuses to append, and the authority is opened again and the call retried
/// once.
struct Embedded {
    home: PathBuf,
    key_id: writ_core::KeyId,
    cached: std::sync::Mutex<Option<Authority>>,
}

impl Embedded {
    fn with<T>(&self, f: impl Fn(&Authority, &Identity) -> Result<T, AuthorityError>) -> Result<T, AuthorityError> {
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut retried = false;
        loop {
            let authority = match cached.take() {
                Some(a) => a,
                None => Authority::open(&Config::new(&self.home))?,
            };
            let me = authority.identify(&self.key_id, timestamp_now())?;
            let result = f(&authority, &me);
            match result {
                Err(AuthorityError::Ledger(_)) if !retried => retried = true,
                r => {
                    *cached = Some(authority);
                    return r;
                }
            }
        }
    }
}

fn status_denial(code: Option<&str>, detail: String) -> Denial {
    match code {
        Some("replayed") => Denial::new(DenialCode::Replayed, detail),
        Some("revoked") => Denial::new(DenialCode::Revoked, detail),
        _ => Denial::new(DenialCode::StatusUnknown, format!("no status from the authority: {detail}")),
    }
}

impl Online for Embedded {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, Denial> {
        self.with(|a, me| a.status(me, writ_id, consume, Some(nonce.to_owned()), timestamp_now())).map_err(|e| {
            let code = matches!(e, AuthorityError::Replayed(_)).then_some("replayed");
            status_denial(code, e.to_string())
        })
    }
    fn record(&self, entry: &[u8]) -> Result<(), String> {
        self.with(|a, me| a.record(me, entry)).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// A remote authority over HTTP (requests signed with the gate's key).
struct Remote(Client);

impl Online for Remote {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, Denial> {
        if writ_id.is_empty() || !writ_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(Denial::new(DenialCode::Malformed, format!("writ id `{writ_id}` is not a valid id")));
        }
        let body = json!({"consume": consume, "nonce": nonce}).to_string();
        self.0
            .raw("POST", &format!("/v1/writs/{writ_id}/status"), Some(body.as_bytes()))
            .map(|(_, b)| b)
            .map_err(|e| status_denial(e.code(), e.to_string()))
    }
    fn record(&self, entry: &[u8]) -> Result<(), String> {
        let body = json!({"entry": writ_core::b64::encode(entry)}).to_string();
        self.0.raw("POST", "/v1/records", Some(body.as_bytes())).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Where records go: the durable local spool (offline) or the authority.
enum Sink {
    Spool(Spool),
    Online(Arc<dyn Online>),
}

impl Sink {
    fn record(&self, e: &Entry) -> Result<(), String> {
        match self {
            Self::Spool(s) => s.append(e).map_err(|e| e.to_string()),
            Self::Online(o) => o.record(&e.encode().map_err(|e| e.to_string())?),
        }
    }
}

fn nonce() -> Result<String, Denial> {
    let seed = files::random_seed().map_err(|e| Denial::new(DenialCode::Internal, e.to_string()))?;
    Ok(hex::encode(seed.get(..16).unwrap_or_default()))
}

/// Asks for the writ's status (consuming a use when `consume`) and checks the
/// signed answer.
fn fetch_status(
    online: &dyn Online,
    trust: &writ_core::TrustRoot,
    writ_id: &str,
    envelope: &writ_core::Sha256Digest,
    consume: bool,
) -> Result<writ_core::status::CheckedStatus, Denial> {
    let n = nonce()?;
    let bytes = online.status(writ_id, consume, &n)?;
    writ_core::status::open(&bytes, trust, writ_id, envelope, Some(&n))
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
            (permit, Sink::Spool(open_spool(&args.spool)?), None)
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
    let end_recorded = match sink.record(&end) {
        Ok(()) => Ok(()),
        // The authority did not take it: keep it in the spool for `writ sync`.
        Err(e) => match open_spool(&args.spool).map(|s| s.append(&end)) {
            Ok(Ok(())) => Err(format!("{e} (spooled to `{}` for `writ sync`)", args.spool.display())),
            _ => Err(e),
        },
    };
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
    connect(args.home.as_deref(), args.authority.as_deref(), args.key.as_deref())
}

/// The authority of `--home DIR` (in this process) or `--authority URL`,
/// acting as the gate whose private key is at `key`; `None` when neither is
/// given (offline).
pub(crate) fn connect(
    home: Option<&Path>,
    authority: Option<&str>,
    key: Option<&Path>,
) -> Result<Option<Arc<dyn Online>>, Denial> {
    if home.is_none() && authority.is_none() {
        return Ok(None);
    }
    let unknown = |d: String| Denial::new(DenialCode::StatusUnknown, d);
    let key_path = key.ok_or_else(|| unknown("online modes need the gate's key: pass --key FILE".into()))?;
    let key = files::read_private_key(key_path).map_err(|e| unknown(format!("{e:#}")))?;
    if let Some(url) = authority {
        return Ok(Some(Arc::new(Remote(Client::new(url, key)))));
    }
    let online = Embedded {
        home: home.map(Path::to_path_buf).unwrap_or_default(),
        key_id: key.key_id(),
        cached: std::sync::Mutex::new(None),
    };
    // Fail early (and clearly) on a missing home or an unknown gate key.
    online.with(|_, _| Ok(())).map_err(|e| unknown(format!("authority in `{}`: {e}", online.home.display())))?;
    Ok(Some(Arc::new(online)))
}

pub fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
    if !(args.grace.is_finite() && (0.0..=3600.0).contains(&args.grace)) {
        return Err(UsageError("--grace must be between 0 and 3600 seconds".into()).into());
    }
    if !(args.status_interval.is_finite() && (0.05..=3600.0).contains(&args.status_interval)) {
        return Err(UsageError("--status-interval must be between 0.05 and 3600 seconds".into()).into());
    }
    let trust_path = match (&args.trust, &args.home) {
        (Some(t), _) => t.clone(),
        (None, Some(home)) => home.join(writ_authority::home::TRUST),
        (None, None) => return Err(UsageError("pass --trust FILE (the trust root to verify against)".into()).into()),
    };
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
