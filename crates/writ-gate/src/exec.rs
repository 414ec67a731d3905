//! The governed run: [`exec`] takes one typed [`ExecRequest`] and goes
//! verify → consume a use → durable `exec_start` → launch → watch →
//! `exec_end`. Every refusal on the way is a [`Denial`] with its code, and is
//! recorded as a `denial` entry before `exec` returns it.
//!
//! Program resolution (no `PATH` search, ever): an absolute program is used
//! as given; a bare name (no `/`) is looked up among the writ's own exec
//! actions and must name exactly one of them by file name; a relative path
//! with `/` is refused. The environment is cleared to the writ's allow-list:
//! a variable with a fixed value gets that value, a free one is passed on
//! from [`ExecRequest::env`] when set. The working directory is the one the
//! writ names, else [`ExecRequest::cwd`].

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use writ_api::{ApiErrorCode, GateApi};
use writ_core::entry::Entry;
use writ_core::status::CheckedStatus;
use writ_core::{Denial, DenialCode, HostFacts, KeyId, Mode, Sha256Digest, TrustRoot, Unverified};

use crate::gate::{Evidence, Gate, LaunchOptions, Permit, exec_attempt, exec_end_entry, timestamp_now};
use crate::launch::{DEFAULT_GRACE, Isolation, Outcome, isolation_gaps};
use crate::program::Program;
use crate::record::{RecordError, Recorded, Recorder, check_ack, check_gate_key, record_denial, start_not_recorded};
use crate::spool::Durability;
use crate::watch::{StatusBounds, WatchEnd, fetch_status, nonce, watch};

/// Longest grace (SIGTERM → SIGKILL) a caller may ask for: the grace
/// extends a run past its wall clock, expiry or revocation, so an invoker may
/// only shorten it.
pub const MAX_GRACE: Duration = DEFAULT_GRACE;

/// Offline, or online through an authority.
#[derive(Clone)]
pub enum ExecMode {
    /// Without the authority: the writ must say `offline: true` (the core
    /// checks it, with the trust root's lifetime cap for offline writs).
    Offline,
    /// With the authority's signed status before the start (consuming a use
    /// of a limited-use writ) and while the program runs.
    Online(Arc<dyn GateApi>),
}

impl std::fmt::Debug for ExecMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Offline => "Offline",
            Self::Online(_) => "Online",
        })
    }
}

/// What the invoker may choose; each bound is clamped to what the trust
/// root allows (see [`StatusBounds`] and [`MAX_GRACE`]).
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// SIGTERM → SIGKILL when the run is ended (default and maximum
    /// [`MAX_GRACE`]).
    pub grace: Option<Duration>,
    /// Online: time between status checks while the program runs.
    pub status_interval: Option<Duration>,
    /// Online: how long the run may go without a verified status (at most the
    /// trust root's `status_max_age_secs`).
    pub status_max_age: Option<Duration>,
    /// Pass stdout/stderr through pipes and hash them.
    pub digest_output: bool,
}

/// One governed run, fully described.
#[derive(Debug)]
pub struct ExecRequest {
    /// The writ's bytes (DSSE envelope JSON).
    pub writ: Vec<u8>,
    /// The writ's ledger receipt, if the caller has one.
    pub receipt: Option<Vec<u8>>,
    /// Envelopes of the writ's ancestors, parent first, for a delegated writ
    /// (`WRIT.chain`, `docs/format.md` §18); empty for a root writ.
    pub ancestors: Vec<Vec<u8>>,
    /// The program as invoked: an absolute path, or a bare name the writ
    /// names.
    pub program: String,
    /// The arguments after the program.
    pub args: Vec<String>,
    /// The invoker's environment: where free variables of the writ's
    /// allow-list take their values from (nothing else passes).
    pub env: BTreeMap<String, String>,
    /// The working directory when the writ names none.
    pub cwd: PathBuf,
    /// The trust root to verify against.
    pub trust: TrustRoot,
    /// This host's facts (from the gate's configuration).
    pub host: HostFacts,
    /// Offline or online.
    pub mode: ExecMode,
    /// Where `exec_start`, `exec_end` and `denial` go.
    pub recorder: Recorder,
    /// Invoker options.
    pub options: ExecOptions,
}

/// What a permitted run did.
#[derive(Debug)]
pub struct ExecReport {
    /// The verified writ's id.
    pub writ_id: String,
    /// How the program ended.
    pub outcome: Outcome,
    /// Where the `exec_start` went.
    pub start: Recorded,
    /// Where the `exec_end` went (`Err`: a warning for the caller).
    pub end: Result<Recorded, RecordError>,
    /// What the revocation watcher saw (online).
    pub watch: Option<WatchEnd>,
}

/// Runs the program of `req` under its writ.
///
/// # Errors
///
/// The [`Denial`] that stopped the run before the program started (already
/// recorded, best effort). Once the program started, the result is `Ok`
/// with its outcome.
pub fn exec(req: ExecRequest) -> Result<ExecReport, Denial> {
    // INVARIANT: a panic anywhere on the gate path denies; it never runs.
    let result = catch_unwind(AssertUnwindSafe(|| run(&req)))
        .unwrap_or_else(|_| Err(Denial::new(DenialCode::Internal, "the gate panicked")));
    if let Err(d) = &result {
        let _ = record_denial(&req.recorder, d, &req.writ, &req.host.hostname);
    }
    result
}

/// The writ an online start is about, and who signs its status.
struct Target<'a> {
    api: &'a dyn GateApi,
    trust: &'a TrustRoot,
    issuer: &'a KeyId,
    id: &'a str,
    envelope: &'a Sha256Digest,
}

/// Status and the durable `exec_start` in one round trip
/// ([`GateApi::start`]): the authority refuses a revoked or used-up writ,
/// else consumes the use and appends the record in one transaction. Both
/// halves of the answer must verify: the receipt proves exactly the signed
/// record under a ledger key of the trust root ([`check_ack`]), and the
/// status is signed by the writ's issuer and bound to this call's nonce.
///
/// `Ok(None)`: the authority does not offer the combined call (`not_found`:
/// an older authority, a relay); the caller asks for status and records in
/// turn. Every other failure denies: `revoked`, `replayed`,
/// `status_unknown` when the authority cannot be reached or gave no usable
/// answer, `record_failed` when it refused the record or did not prove it.
fn start_in_one(
    recorder: &Recorder,
    target: &Target<'_>,
    consume: bool,
    entry: &Entry,
    weakened: &[String],
) -> Result<Option<(CheckedStatus, u64)>, Denial> {
    let bytes = recorder.sign(entry, weakened).map_err(|e| start_not_recorded(&e))?;
    let n = nonce()?;
    let ack = match target.api.start(target.id, consume, &n, &bytes) {
        Ok(ack) => ack,
        Err(e) if e.code == ApiErrorCode::NotFound => return Ok(None),
        Err(e) => {
            return Err(match e.code {
                ApiErrorCode::Replayed => Denial::new(DenialCode::Replayed, e.message),
                ApiErrorCode::AlreadyRevoked => {
                    Denial::new(DenialCode::Revoked, format!("the authority refused the start: {}", e.message))
                }
                // No status was given: the authority is unreachable, does
                // not know the writ, or did not accept this gate's call
                // (e.g. no TLS client certificate) — as when a status call
                // fails on its own.
                c if c.is_unavailable() || matches!(c, ApiErrorCode::UnknownWrit | ApiErrorCode::Unauthenticated) => {
                    Denial::new(
                        DenialCode::StatusUnknown,
                        format!("no status from the authority ({}): {}", e.code, e.message),
                    )
                }
                _ => start_not_recorded(&RecordError::Api(e)),
            });
        }
    };
    let index =
        check_ack(target.trust, &bytes, &ack.record).map_err(|m| start_not_recorded(&RecordError::Unproven(m)))?;
    let checked =
        writ_core::status::open(&ack.status, target.trust, target.issuer, target.id, target.envelope, Some(&n))?;
    Ok(Some((checked, index)))
}

/// PROGRAM as the writ's absolute path rules resolve it (never `PATH`).
fn resolve(name: &str, claims: &Unverified) -> Result<PathBuf, Denial> {
    if name.starts_with('/') {
        return Ok(PathBuf::from(name));
    }
    if name.contains('/') {
        return Err(Denial::new(
            DenialCode::ScopeProgram,
            format!("program `{name}` is a relative path; give the absolute path the writ names"),
        ));
    }
    let programs = claims.exec_programs();
    let mut hits = programs.iter().filter(|p| Path::new(p).file_name().is_some_and(|f| f == name));
    match (hits.next(), hits.next()) {
        (Some(p), None) => Ok(PathBuf::from(p)),
        (None, _) => Err(Denial::new(DenialCode::ScopeProgram, format!("the writ names no program called `{name}`"))),
        (Some(_), Some(_)) => Err(Denial::new(
            DenialCode::ScopeProgram,
            format!("the writ names several programs called `{name}`; give the absolute path"),
        )),
    }
}

fn run(req: &ExecRequest) -> Result<ExecReport, Denial> {
    // The trust root's word on this gate's key: host facts it may assert,
    // and whether it may run in the weaker isolation mode.
    let allow_weaker = check_gate_key(&req.trust, req.recorder.key_id(), &req.host)?.entry.allow_weaker_isolation;
    let claims = Unverified::decode(&req.writ)?;
    let path = resolve(&req.program, &claims)?;
    let program = Program::open(&path)?;
    let env: BTreeMap<String, String> = claims
        .env()
        .into_iter()
        .filter_map(|(k, fixed)| match fixed {
            Some(v) => Some((k, v)),
            None => req.env.get(&k).map(|v| (k, v.clone())),
        })
        .collect();
    let cwd = claims.cwd().map_or_else(|| req.cwd.clone(), PathBuf::from);
    let attempt = exec_attempt(&program, &req.args, &env, &cwd);
    let host = req.host.clone();
    let evidence =
        || Evidence { receipt: req.receipt.clone(), ancestors: req.ancestors.clone(), ..Evidence::default() };
    let hostname = req.host.hostname.as_str();
    // The weaker mode only when the trust root allows it for this gate key;
    // then the exec_start says what it will leave out.
    let weakened_of =
        |p: &Permit| if allow_weaker { isolation_gaps(p.verified().scope().boundaries.processes) } else { Vec::new() };
    let (permit, online, started) = match &req.mode {
        ExecMode::Offline => {
            let gate = Gate::new(req.trust.clone(), host).with_mode(Mode::Offline);
            (gate.check_with(&req.writ, &attempt, evidence())?, None, None)
        }
        ExecMode::Online(api) => {
            // Authenticity and scope first, so that a bad writ consumes no use.
            let pre = Gate::new(req.trust.clone(), host.clone()).with_mode(Mode::Check).check_with(
                &req.writ,
                &attempt,
                evidence(),
            )?;
            let (id, envelope) = (pre.verified().id().to_owned(), pre.verified().envelope_digest());
            // A delegated writ's status is signed by its chain's root issuer.
            let issuer = pre.verified().root_issuer();
            let consume = pre.verified().scope().uses.is_some();
            // The fast path: status and the durable exec_start in one round
            // trip, when the records go to the same authority.
            let same = req.recorder.api().is_some_and(|r| std::ptr::addr_eq(Arc::as_ptr(r), Arc::as_ptr(api)));
            let fast = if same {
                let start_entry = pre.exec_start_entry(timestamp_now(), hostname)?;
                let target =
                    Target { api: api.as_ref(), trust: &req.trust, issuer: &issuer, id: &id, envelope: &envelope };
                start_in_one(&req.recorder, &target, consume, &start_entry, &weakened_of(&pre))?
            } else {
                None
            };
            let (checked, started) = match fast {
                Some((checked, index)) => (checked, Some(Recorded::Ledger { index })),
                None => (fetch_status(api.as_ref(), &req.trust, &issuer, &id, &envelope, consume)?, None),
            };
            let evidence = Evidence { status: checked.status, use_count: checked.use_count, ..evidence() };
            let gate = Gate::new(req.trust.clone(), host).with_mode(Mode::Online);
            (gate.check_with(&req.writ, &attempt, evidence)?, Some((api.clone(), issuer, id, envelope)), started)
        }
    };
    let writ_id = permit.verified().id().to_owned();
    let weakened = weakened_of(&permit);
    // INVARIANT: nothing runs unrecorded: exec_start is durable (fsynced in
    // the spool, or in the ledger with a verified acknowledgement) before the
    // program starts. On the fast path it already is (`start_in_one`).
    let start = match started {
        Some(s) => s,
        None => {
            let start_entry = permit.exec_start_entry(timestamp_now(), hostname)?;
            req.recorder.record_weakened(&start_entry, &weakened).map_err(|e| start_not_recorded(&e))?
        }
    };
    let ids = permit.ids();
    let opts = LaunchOptions {
        grace: req.options.grace.map_or(MAX_GRACE, |g| g.min(MAX_GRACE)),
        digest_output: req.options.digest_output,
        isolation: Isolation { allow_weaker, ..Isolation::default() },
    };
    let running = permit.launch(program, &opts)?;
    let (stop_tx, stop_rx) = mpsc::channel();
    let watcher = online.map(|(api, issuer, id, envelope)| {
        let bounds = StatusBounds::new(&req.trust, req.options.status_interval, req.options.status_max_age);
        let end = running.end_handle();
        let trust = req.trust.clone();
        std::thread::spawn(move || watch(api, trust, issuer, id, envelope, bounds, end, stop_rx))
    });
    let outcome = running.wait().map_err(Denial::from);
    drop(stop_tx);
    let watch = watcher.and_then(|w| w.join().ok());
    let outcome = outcome?;
    let end_entry = exec_end_entry(ids, hostname, &outcome, timestamp_now());
    // One fdatasync per offline run: the start was synced before the launch;
    // the end is written (it survives the gate's death) and synced by the
    // next synced append or the kernel (see `Durability::Lazy`).
    let end = req.recorder.record_or_spool_weakened(&end_entry, &outcome.weakened, Durability::Lazy);
    Ok(ExecReport { writ_id, outcome, start, end, watch })
}
