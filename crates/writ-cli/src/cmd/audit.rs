//! `writ audit`: recompute the ledger and name any tampering (exit 77).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use writ_ledger::audit::audit;

use crate::cmd::log::LedgerTarget;
use crate::exit;

/// Ledgers at least this large get a progress bar (on a terminal).
const PROGRESS_MIN: u64 = 100_000;

/// Recompute the whole tree from the stored entries and check it against the
/// latest signed checkpoint and, optionally, an earlier saved checkpoint.
/// Exit 0 when intact, 77 when tampering is found, 1 on operational errors.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub target: LedgerTarget,
    /// An earlier checkpoint (signed note) you saved; the ledger must still extend it.
    #[arg(long, value_name = "SAVED_FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let v = args.target.verifier()?;
    let saved = match &args.checkpoint {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("cannot read saved checkpoint `{}`", p.display()))?),
        None => None,
    };
    let mut store = args.target.store()?;
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last = Instant::now();
    let mut shown = false;
    let mut progress = |done: u64, total: u64| {
        if !tty || total < PROGRESS_MIN || (last.elapsed() < Duration::from_millis(200) && done < total) {
            return;
        }
        last = Instant::now();
        shown = true;
        let pct = done.saturating_mul(100).checked_div(total).unwrap_or(100);
        let width = 30usize;
        let filled = (pct as usize * width) / 100;
        eprint!("\raudit [{}{}] {done}/{total} entries ({pct}%)", "#".repeat(filled), " ".repeat(width - filled));
    };
    let mut hash_store = args.target.store()?;
    let report = audit(store.as_mut(), hash_store.as_mut(), &v, saved.as_deref(), &mut progress)?;
    if shown {
        eprintln!();
    }
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        let findings: Vec<_> = report
            .findings
            .iter()
            .map(|f| serde_json::json!({ "code": f.code(), "index": f.index(), "message": f.to_string() }))
            .collect();
        let j = serde_json::json!({
            "ok": report.is_ok(),
            "origin": v.name(),
            "size": report.size,
            "root": STANDARD.encode(report.root),
            "entries_checked": report.entries_checked,
            "saved_checkpoint_size": report.saved_size,
            "finding_count": report.finding_count,
            "findings": findings,
            "seconds": secs,
        });
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&j)?)?;
    } else if report.is_ok() {
        println!(
            "ok: {} entries of `{}` recomputed; root {} matches the signed checkpoint{}",
            report.entries_checked,
            v.name(),
            STANDARD.encode(report.root),
            report.saved_size.map(|s| format!(" and extends the saved checkpoint of size {s}")).unwrap_or_default()
        );
    } else {
        println!("tampering found in `{}` ({} problems):", v.name(), report.finding_count);
        for f in &report.findings {
            println!("  {}: {f}", f.code());
        }
        if report.finding_count > report.findings.len() as u64 {
            println!("  … and {} more", report.finding_count - report.findings.len() as u64);
        }
    }
    Ok(if report.is_ok() { ExitCode::SUCCESS } else { exit::denied() })
}
