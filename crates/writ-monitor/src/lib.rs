//! Follow a writ log from its public checkpoint and tiles alone.
//!
//! A [`Monitor`] reads `checkpoint` and `tile/entries/…` (C2SP
//! `tlog-tiles`) through a [`Fetcher`] (HTTP: [`HttpFetcher`]), and on each
//! [`Monitor::pass`]:
//!
//! 1. verifies the checkpoint's signature with a `ledger` key of the trust
//!    root (a hybrid key needs both note lines), its origin being the key's
//!    name;
//! 2. compares it with the last checkpoint it verified (persisted in the
//!    state directory): a smaller tree is a **rollback**, the same size with
//!    another root a **fork**;
//! 3. fetches the new entries from the entry bundles, appends their leaf
//!    hashes to the persisted frontier of the tree and demands the
//!    checkpoint's root: a log that rewrote what was seen, or tiles that do
//!    not add up to the checkpoint, is a **fork** too;
//! 4. runs the semantic audit ([`writ_ledger::semantic`]) over every entry
//!    read so far and reports the findings about new entries;
//! 5. reports entries that name a watched identity;
//! 6. persists the new state (fsynced, atomically) only when the log's
//!    integrity held, so that an alert repeats until someone looks.
//!
//! No database: the state is three files in the state directory.

#![forbid(unsafe_code)]

mod fetch;
mod state;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use writ_core::TrustRoot;
use writ_core::entry::Entry;
use writ_core::gate_record::GateRecord;
use writ_core::trust::Role;
use writ_ledger::semantic::{SemanticInput, Severity, semantic_audit};
use writ_tlog::checkpoint::{self, Checkpoint};
use writ_tlog::tile::{self, TILE_WIDTH};

pub use fetch::{FetchError, Fetcher, HttpFetcher};
pub use state::State;

/// Why a pass could not run (as opposed to what it found: [`Event`]).
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The log could not be read.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The state directory could not be read or written.
    #[error("monitor state `{path}`: {detail}")]
    State {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The trust root lists no usable ledger key.
    #[error("the trust root lists no ledger key to verify checkpoints with")]
    NoLedgerKey,
}

/// How bad an event is; the CLI's exit code is the worst one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something seen (progress, a new checkpoint).
    Info,
    /// A watched identity appeared.
    Watch,
    /// The history breaks a rule (semantic audit).
    Fault,
    /// The log itself cannot be trusted: bad signature, rollback, fork.
    Alert,
}

impl Level {
    /// Stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Watch => "watch",
            Self::Fault => "fault",
            Self::Alert => "alert",
        }
    }
}

/// One thing a pass found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// How bad.
    pub level: Level,
    /// Stable code: `checkpoint`, `bad_checkpoint`, `rollback`, `fork`,
    /// `bad_tile`, `watch`, or a semantic finding's code.
    pub code: String,
    /// The entry it is about.
    pub index: Option<u64>,
    /// For people.
    pub detail: String,
    /// The tree size of the checkpoint the pass verified (or was shown).
    pub tree_size: u64,
}

impl Event {
    /// The event as one JSON object.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "level": self.level.as_str(), "code": self.code, "index": self.index,
            "detail": self.detail, "tree_size": self.tree_size,
        })
    }
}

/// What to watch for: `requester`, `approver`, `key` (any key id an entry
/// names: requester, approver, issuer, changed key), `program` (the sha256
/// of an executed program).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// `requester`, `approver`, `key` or `program`.
    pub field: WatchField,
    /// The value to match (a program digest with or without `sha256:`).
    pub value: String,
}

/// The watchable fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchField {
    /// A request's requester.
    Requester,
    /// An approval's approver.
    Approver,
    /// Any key id.
    Key,
    /// An executed program's digest.
    Program,
}

impl Watch {
    /// Parses `FIELD=VALUE`.
    ///
    /// # Errors
    /// A message naming the accepted fields.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (f, v) = s.split_once('=').ok_or_else(|| format!("watch `{s}`: expected FIELD=VALUE"))?;
        let field = match f {
            "requester" => WatchField::Requester,
            "approver" => WatchField::Approver,
            "key" => WatchField::Key,
            "program" => WatchField::Program,
            _ => return Err(format!("watch `{s}`: FIELD is one of requester, approver, key, program")),
        };
        if v.is_empty() {
            return Err(format!("watch `{s}`: VALUE is empty"));
        }
        let value = v.strip_prefix("sha256:").filter(|_| field == WatchField::Program).unwrap_or(v).to_string();
        Ok(Self { field, value })
    }

    fn matches(&self, e: &Entry) -> bool {
        let v = self.value.as_str();
        match (self.field, e) {
            (WatchField::Requester, Entry::Request(r)) => r.requester == v,
            (WatchField::Approver, Entry::Approval(a)) => a.approver == v,
            (WatchField::Key, Entry::Request(r)) => r.requester == v,
            (WatchField::Key, Entry::Approval(a)) => a.approver == v,
            (WatchField::Key, Entry::Issuance(i)) => i.issuer == v,
            (WatchField::Key, Entry::KeyChange(k)) => k.key_id == v,
            (WatchField::Program, Entry::ExecStart(x)) => x.program_digest.to_hex() == v,
            _ => false,
        }
    }
}

/// Told how far a catch-up is (the CLI draws a progress line from it).
pub trait Progress {
    /// `done` of `total` new entries read.
    fn update(&mut self, done: u64, total: u64);
    /// The catch-up ended.
    fn finish(&mut self) {}
}

/// No progress reporting.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&mut self, _: u64, _: u64) {}
}

/// A monitor of one log.
pub struct Monitor<F: Fetcher> {
    fetcher: F,
    trust: TrustRoot,
    state: State,
    watches: Vec<Watch>,
}

impl<F: Fetcher> std::fmt::Debug for Monitor<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("state", &self.state).field("watches", &self.watches).finish_non_exhaustive()
    }
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// The events, in the order found.
    pub events: Vec<Event>,
    /// New entries read (and verified against the checkpoint).
    pub new_entries: u64,
    /// The verified tree size after the pass (the previous one on an alert).
    pub size: u64,
}

impl PassReport {
    /// The worst event's level.
    #[must_use]
    pub fn worst(&self) -> Level {
        self.events.iter().map(|e| e.level).max().unwrap_or(Level::Info)
    }
}

impl<F: Fetcher> Monitor<F> {
    /// A monitor over `fetcher` whose state lives in `state` (created if
    /// missing; a one-shot audit passes a fresh temporary directory).
    ///
    /// # Errors
    /// The state directory cannot be created or read.
    pub fn open(fetcher: F, trust: TrustRoot, state_dir: PathBuf, watches: Vec<Watch>) -> Result<Self, MonitorError> {
        let state = State::load(state_dir)?;
        Ok(Self { fetcher, trust, state, watches })
    }

    /// The persisted state.
    #[must_use]
    pub fn state(&self) -> &State {
        &self.state
    }

    fn verify_checkpoint(&self, note: &[u8]) -> Result<Checkpoint, String> {
        let mut last = String::from("the trust root lists no ledger key");
        for k in self.trust.keys().iter().filter(|k| k.has_role(Role::Ledger) && !k.entry.revoked) {
            let v = match k.note_verifier() {
                Ok(v) => v,
                Err(e) => {
                    last = format!("ledger key `{}`: {e}", k.entry.name);
                    continue;
                }
            };
            match checkpoint::open(note, &k.entry.name, &v) {
                Ok(c) => return Ok(c),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    /// One pass: see the crate documentation.
    ///
    /// # Errors
    /// The log or the state could not be read or written; what the pass
    /// found about the log is in the report's events, not an error.
    pub fn pass(&mut self, progress: &mut dyn Progress) -> Result<PassReport, MonitorError> {
        if !self.trust.keys().iter().any(|k| k.has_role(Role::Ledger)) {
            return Err(MonitorError::NoLedgerKey);
        }
        let prev = self.state.frontier().size();
        let mut report = PassReport { size: prev, ..PassReport::default() };
        let alert = |code: &str, detail: String, size: u64| Event {
            level: Level::Alert,
            code: code.into(),
            index: None,
            detail,
            tree_size: size,
        };
        let note = self.fetcher.get("checkpoint")?;
        let cp = match self.verify_checkpoint(&note) {
            Ok(c) => c,
            Err(e) => {
                report.events.push(alert("bad_checkpoint", format!("the log's checkpoint does not verify: {e}"), 0));
                return Ok(report);
            }
        };
        if let Some(seen) = self.state.checkpoint() {
            if cp.size < seen.size {
                report.events.push(alert(
                    "rollback",
                    format!("the log shows a tree of {} entries; this monitor verified {} before", cp.size, seen.size),
                    cp.size,
                ));
                return Ok(report);
            }
            if cp.size == seen.size && cp.root != seen.root {
                report.events.push(alert(
                    "fork",
                    format!("the log shows another tree of the {} entries this monitor verified before", cp.size),
                    cp.size,
                ));
                return Ok(report);
            }
            if cp.size == seen.size {
                return Ok(report);
            }
        }
        let mut frontier = self.state.frontier().clone();
        let mut fresh: Vec<Vec<u8>> = Vec::new();
        let total = cp.size - prev;
        for t in tile::tiles_for_size(None, prev, cp.size) {
            let data = self.fetcher.get(&t.path())?;
            let entries = match tile::decode_bundle(&data) {
                Ok(e) if e.len() == usize::from(t.width) => e,
                Ok(e) => {
                    let detail = format!("entry bundle `{}` holds {} entries, not {}", t.path(), e.len(), t.width);
                    report.events.push(alert("bad_tile", detail, cp.size));
                    return Ok(report);
                }
                Err(e) => {
                    report.events.push(alert("bad_tile", format!("entry bundle `{}`: {e}", t.path()), cp.size));
                    return Ok(report);
                }
            };
            let first = t.index * TILE_WIDTH;
            for (i, e) in (first..).zip(entries) {
                if i >= prev && i < cp.size {
                    frontier.append_entry(&e);
                    fresh.push(e);
                }
            }
            progress.update(fresh.len() as u64, total);
        }
        progress.finish();
        if frontier.size() != cp.size || frontier.root() != cp.root {
            report.events.push(alert(
                "fork",
                format!(
                    "the entries of the log's tiles do not extend the {prev} entries this monitor verified to the \
                     checkpoint's tree of {}: the log rewrote its history or its tiles disagree with its checkpoint",
                    cp.size
                ),
                cp.size,
            ));
            return Ok(report);
        }
        // The integrity held: judge what the history says.
        self.state.append_entries(&fresh)?;
        self.semantic(prev, cp.size, &mut report);
        for (i, e) in (prev..).zip(&fresh) {
            // Gate records (exec_start, exec_end, a gate's denial) carry the
            // gate's signature after the entry: read them as the audit does.
            let Ok(GateRecord { entry, .. }) = GateRecord::decode(e) else { continue };
            for w in self.watches.iter().filter(|w| w.matches(&entry)) {
                report.events.push(Event {
                    level: Level::Watch,
                    code: "watch".into(),
                    index: Some(i),
                    detail: format!("entry {i} ({}) names watched {:?} `{}`", entry.kind().as_str(), w.field, w.value),
                    tree_size: cp.size,
                });
            }
        }
        self.state.commit(&note, &cp, frontier)?;
        report.events.push(Event {
            level: Level::Info,
            code: "checkpoint".into(),
            index: None,
            detail: format!("verified checkpoint of {} entries ({} new)", cp.size, total),
            tree_size: cp.size,
        });
        report.new_entries = total;
        report.size = cp.size;
        Ok(report)
    }

    /// The semantic audit over every entry read so far; findings about
    /// entries from `from` on become events.
    fn semantic(&mut self, from: u64, size: u64, report: &mut PassReport) {
        let mut store = match self.state.entries_store() {
            Ok(s) => s,
            Err(e) => {
                report.events.push(Event {
                    level: Level::Fault,
                    code: "semantic_unavailable".into(),
                    index: None,
                    detail: e.to_string(),
                    tree_size: size,
                });
                return;
            }
        };
        let mut no_writs = |_: &str| None;
        let mut input = SemanticInput {
            trust: Some(self.trust.clone()),
            root_pin: None,
            root_versions: BTreeMap::new(),
            writ: &mut no_writs,
        };
        match semantic_audit(&mut store, size, &mut input) {
            Ok(s) => {
                for f in s.findings.into_iter().filter(|f| f.index.is_none_or(|i| i >= from)) {
                    let level = if f.code.severity() == Severity::Error { Level::Fault } else { Level::Info };
                    report.events.push(Event {
                        level,
                        code: f.code.as_str().into(),
                        index: f.index,
                        detail: f.detail,
                        tree_size: size,
                    });
                }
            }
            Err(e) => report.events.push(Event {
                level: Level::Fault,
                code: "semantic_unavailable".into(),
                index: None,
                detail: format!("the semantic audit could not run: {e}"),
                tree_size: size,
            }),
        }
    }
}

/// POSTs `event` as JSON to `url` (a webhook).
///
/// # Errors
/// Not reachable, or a status other than 2xx.
pub fn post_webhook(url: &str, event: &Event) -> Result<(), FetchError> {
    let err = |detail: String| FetchError { url: url.to_string(), detail };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .post(url)
        .header("content-type", "application/json")
        .send(event.to_json().to_string().as_bytes())
        .map_err(|e| err(e.to_string()))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) { Ok(()) } else { Err(err(format!("webhook answered HTTP {status}"))) }
}

/// A one-shot full audit of the log at `fetcher` from tiles: a pass from
/// an empty state (in a temporary directory, removed afterwards).
///
/// # Errors
/// As [`Monitor::pass`].
pub fn audit_remote<F: Fetcher>(
    fetcher: F,
    trust: TrustRoot,
    progress: &mut dyn Progress,
) -> Result<PassReport, MonitorError> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("writ-audit-remote-{}-{nanos}", std::process::id()));
    let result = Monitor::open(fetcher, trust, dir.clone(), Vec::new()).and_then(|mut m| m.pass(progress));
    let _ = std::fs::remove_dir_all(&dir);
    result
}
