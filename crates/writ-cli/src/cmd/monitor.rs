//! `writ monitor URL`: follow a remote log from its checkpoint and tiles
//! (the logic is `writ_monitor`; this is flags and output).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use writ_core::TrustRoot;
use writ_monitor::{Event, HttpFetcher, Level, Monitor, NoProgress, PassReport, Progress, Watch};

/// Exit code: a watched identity appeared (and nothing worse).
pub const WATCH_CODE: u8 = 3;
/// Exit code: the history breaks a rule (semantic audit), as `writ audit`.
pub const FAULT_CODE: u8 = crate::exit::DENIED_CODE;
/// Exit code: the log cannot be trusted (bad checkpoint signature,
/// rollback, fork, tiles that do not add up to the checkpoint).
pub const ALERT_CODE: u8 = 78;

/// Follow a remote log over HTTP only (its checkpoint and C2SP tlog-tiles,
/// no database): verify each checkpoint with the trust root's ledger key,
/// check it extends the last one verified (kept, fsynced, in --state),
/// recompute the tree from the entry bundles, run the semantic audit on the
/// entries and report watched identities. Exit 0 clean, 3 a watched
/// identity appeared, 77 a semantic fault, 78 a rollback, fork or bad
/// checkpoint, 1 on operational errors.
#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// The log: an authority (`http://host:port`, read under `/v1/log`) or
    /// the URL of a tile directory (`…/checkpoint`, `…/tile/…` under it).
    pub url: String,
    /// The trust root whose ledger key signs the log's checkpoints.
    #[arg(long, value_name = "FILE")]
    pub trust: PathBuf,
    /// Where the monitor keeps what it verified (created if missing).
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Report entries naming an identity: `requester=ID`, `approver=ID`,
    /// `key=KEYID` (any key an entry names) or `program=SHA256`. Repeatable.
    #[arg(long = "watch", value_name = "FIELD=VALUE")]
    pub watch: Vec<String>,
    /// One JSON object per event on stdout (and no progress).
    #[arg(long)]
    pub json: bool,
    /// POST each watch, fault and alert event as JSON to this URL.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// One pass, then exit with its code.
    #[arg(long)]
    pub once: bool,
    /// Seconds between passes (without --once).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub interval: u64,
}

/// A progress line on stderr: entries done, rate, time left.
pub struct TermProgress {
    what: &'static str,
    started: Instant,
    last: Option<Instant>,
}

impl TermProgress {
    /// Progress on a terminal, unless `json`; else none.
    pub fn for_stderr(what: &'static str, json: bool) -> Box<dyn Progress> {
        if json || !std::io::stderr().is_terminal() {
            Box::new(NoProgress)
        } else {
            Box::new(Self { what, started: Instant::now(), last: None })
        }
    }
}

impl Progress for TermProgress {
    fn update(&mut self, done: u64, total: u64) {
        if self.last.is_some_and(|l| l.elapsed() < Duration::from_millis(200)) && done < total {
            return;
        }
        self.last = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let left = if rate > 0.0 { (total.saturating_sub(done)) as f64 / rate } else { 0.0 };
        eprint!("\r{}: {done}/{total} entries, {rate:.0} entries/s, {left:.0} s left   ", self.what);
    }

    fn finish(&mut self) {
        if self.last.is_some() {
            eprintln!();
        }
    }
}

impl std::fmt::Debug for TermProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermProgress").field("what", &self.what).finish_non_exhaustive()
    }
}

/// The exit code of the worst level seen.
pub fn exit_code(worst: Level) -> ExitCode {
    match worst {
        Level::Info => ExitCode::SUCCESS,
        Level::Watch => ExitCode::from(WATCH_CODE),
        Level::Fault => ExitCode::from(FAULT_CODE),
        Level::Alert => ExitCode::from(ALERT_CODE),
    }
}

/// Prints the events (JSON lines or text).
pub fn print_events(report: &PassReport, json: bool) {
    let mut out = std::io::stdout().lock();
    for e in &report.events {
        let line = if json {
            e.to_json().to_string()
        } else {
            let at = e.index.map(|i| format!(" [entry {i}]")).unwrap_or_default();
            format!("{} {}{at}: {}", e.level.as_str(), e.code, e.detail)
        };
        let _ = writeln!(out, "{line}");
    }
}

fn notify(webhook: Option<&str>, events: &[Event]) {
    let Some(url) = webhook else { return };
    for e in events.iter().filter(|e| e.level > Level::Info) {
        if let Err(err) = writ_monitor::post_webhook(url, e) {
            eprintln!("warning: {err}");
        }
    }
}

/// Loads the trust root.
pub fn read_trust(path: &Path) -> anyhow::Result<TrustRoot> {
    crate::files::read_trust(path)
}

pub fn run(args: MonitorArgs) -> anyhow::Result<ExitCode> {
    let trust = read_trust(&args.trust)?;
    let watches = args
        .watch
        .iter()
        .map(|w| Watch::parse(w).map_err(|e| crate::exit::UsageError(e).into()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut monitor = Monitor::open(HttpFetcher::new(&args.url), trust, args.state.clone(), watches)
        .with_context(|| format!("writ monitor {}", args.url))?;
    loop {
        let mut progress = TermProgress::for_stderr("catching up", args.json);
        let report = monitor.pass(progress.as_mut()).with_context(|| format!("writ monitor {}", args.url))?;
        print_events(&report, args.json);
        notify(args.webhook.as_deref(), &report.events);
        let worst = report.worst();
        if args.once || worst == Level::Alert {
            return Ok(exit_code(worst));
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
    }
}

/// `writ audit --remote URL`: one full pass from tiles, from an empty state.
pub fn audit_remote(url: &str, trust: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let trust = read_trust(trust)?;
    let mut progress = TermProgress::for_stderr("audit", json);
    let report = writ_monitor::audit_remote(HttpFetcher::new(url), trust, progress.as_mut())
        .with_context(|| format!("writ audit --remote {url}"))?;
    print_events(&report, json);
    Ok(exit_code(report.worst()))
}
