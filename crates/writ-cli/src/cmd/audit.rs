//! `writ audit`: recompute the ledger and name any tampering, then check the
//! recorded history against the rules (exit 77 on any finding).

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use writ_core::{Sha256Digest, TrustRoot};
use writ_ledger::Location;
use writ_ledger::audit::{Finding, audit, check_last_signed};
use writ_ledger::semantic::{SemanticInput, SemanticReport, Severity, semantic_audit};

use crate::cmd::log::LedgerTarget;
use crate::exit;

/// Ledgers at least this large get a progress bar (on a terminal).
const PROGRESS_MIN: u64 = 100_000;
/// Most signed trust-root versions read from a home.
const MAX_ROOT_VERSIONS: u64 = 1024;

/// Recompute the whole tree from the stored entries and check it against the
/// latest signed checkpoint, the last checkpoint the home's key signed and,
/// optionally, an earlier saved checkpoint; then check the history itself
/// (allow decisions, approvals, runs after revocation, gate records,
/// trust-root versions). Exit 0 when intact, 77 when something is found, 1
/// on operational errors.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub target: LedgerTarget,
    /// An earlier checkpoint (signed note) you saved; the ledger must still extend it.
    #[arg(long, value_name = "SAVED_FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Check only the tree and checkpoints, not the history the entries record.
    #[arg(long)]
    pub tree_only: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Audit a remote log from its checkpoint and tiles alone (an authority
    /// URL or a tile directory URL; see `writ monitor`), with --trust.
    #[arg(long, value_name = "URL", requires = "trust")]
    pub remote: Option<String>,
    /// With --remote: the trust root whose ledger key signs the log.
    #[arg(long, value_name = "FILE", requires = "remote")]
    pub trust: Option<PathBuf>,
}

/// What the home supplies to the semantic audit.
struct HomeInputs {
    trust: Option<TrustRoot>,
    root_pin: Option<Sha256Digest>,
    root_versions: BTreeMap<u64, Vec<u8>>,
    writs: HashMap<String, Vec<u8>>,
    writs_source: Option<String>,
    /// The authority's state beside the audited store, compared with the ledger.
    state: Option<writ_authority::db::Db>,
}

fn read_optional(p: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match std::fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", p.display())),
    }
}

/// The trust root, signed trust-root versions and issued writs of the home
/// (whatever of them exists; nothing is created).
fn home_inputs(t: &LedgerTarget) -> anyhow::Result<HomeInputs> {
    let home = &t.home;
    let trust = match read_optional(&home.join(writ_authority::home::TRUST))? {
        Some(b) => Some(TrustRoot::from_json(&b).with_context(|| format!("`{}`", home.join("trust.json").display()))?),
        None => None,
    };
    let dir = home.join(writ_authority::trust_store::TRUST_DIR);
    let root_pin = match read_optional(&dir.join(writ_authority::trust_store::PIN_FILE))? {
        Some(b) => {
            let text = String::from_utf8_lossy(&b);
            Some(
                Sha256Digest::from_hex(text.trim())
                    .map_err(|e| anyhow::anyhow!("`{}`: {e}", dir.join("root.pin").display()))?,
            )
        }
        None => None,
    };
    let mut root_versions = BTreeMap::new();
    for n in 1..=MAX_ROOT_VERSIONS {
        match read_optional(&writ_authority::trust_store::version_path(home, n))? {
            Some(b) => {
                root_versions.insert(n, b);
            }
            None => break,
        }
    }
    // The issued writs, from the authority's state beside the audited store.
    let state = match t.location()? {
        Location::Sqlite(_) if t.is_home_store() => {
            let p = home.join(writ_authority::home::STATE_DB);
            p.exists()
                .then(|| writ_authority::db::Db::open_sqlite(&p).map(|d| (d, format!("`{}`", p.display()))))
                .transpose()?
        }
        Location::Postgres { url, schema } => {
            Some((writ_authority::db::Db::open_postgres(&url, &schema)?, format!("postgresql schema `{schema}`")))
        }
        Location::Sqlite(_) => None,
    };
    let (writs, writs_source, state) = match state {
        Some((db, name)) => {
            let rows = db
                .tx(writ_authority::state::all_writs)
                .with_context(|| format!("cannot read the issued writs from {name}"))?;
            // Recorded delegated writs too (the semantic audit checks each
            // child against its parent: signature by the holder, no widening).
            let children = db
                .tx(writ_authority::delegation_state::all)
                .with_context(|| format!("cannot read the delegated writs from {name}"))?;
            let mut all: HashMap<String, Vec<u8>> = rows.into_iter().map(|w| (w.id, w.envelope)).collect();
            all.extend(children.into_iter().map(|d| (d.id, d.envelope)));
            (all, Some(name), Some(db))
        }
        None => (HashMap::new(), None, None),
    };
    Ok(HomeInputs { trust, root_pin, root_versions, writs, writs_source, state })
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    if let (Some(url), Some(trust)) = (&args.remote, &args.trust) {
        return crate::cmd::monitor::audit_remote(url, trust, args.json);
    }
    let t = &args.target;
    let v = t.verifier()?;
    let saved = match &args.checkpoint {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("cannot read saved checkpoint `{}`", p.display()))?),
        None => None,
    };
    // The home's key record: what the key last signed. Only when the
    // checkpoints are checked with the home's key.
    let record = if t.verifier.is_none() { t.last_signed(&v) } else { Ok(None) };
    let mut store = t.store()?;
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
    let mut hash_store = t.store()?;
    let mut report = audit(store.as_mut(), hash_store.as_mut(), &v, saved.as_deref(), &mut progress)?;
    if shown {
        eprintln!();
    }
    let record_checked = !matches!(record, Ok(None));
    match record {
        Ok(Some(r)) => check_last_signed(store.as_mut(), &mut report, r.note.as_bytes(), &v)?,
        Ok(None) => {}
        Err(detail) => report.push(Finding::LastSignedInvalid { detail }),
    }
    let mut state = None;
    let semantic = if args.tree_only {
        None
    } else {
        let inputs = home_inputs(t)?;
        state = inputs.state.map(|db| (db, inputs.writs_source.clone().unwrap_or_default()));
        let writs = inputs.writs;
        let mut lookup = move |id: &str| writs.get(id).cloned();
        let mut input = SemanticInput {
            trust: inputs.trust,
            root_pin: inputs.root_pin,
            root_versions: inputs.root_versions,
            writ: &mut lookup,
        };
        Some((semantic_audit(store.as_mut(), report.size, &mut input)?, inputs.writs_source))
    };
    // The authority's state (revocations, use counts, request status, entry
    // index) against the ledger: one SQL UPDATE on the state is a finding.
    let state = match state {
        Some((db, source)) => {
            let read = |start: u64, end: u64| -> writ_authority::Result<Vec<Vec<u8>>> {
                let rows = store.scan_entries(start, usize::try_from(end - start).unwrap_or(usize::MAX))?;
                Ok(rows.into_iter().map(|(_, data)| data).collect())
            };
            let ds = writ_authority::recover::compare_state(&db, report.size, read)
                .with_context(|| format!("cannot compare the authority's state in {source} with the ledger"))?;
            Some((ds, source))
        }
        None => None,
    };
    let secs = started.elapsed().as_secs_f64();
    let ok = report.is_ok()
        && semantic.as_ref().is_none_or(|(s, _)| s.is_ok())
        && state.as_ref().is_none_or(|(ds, _)| ds.is_empty());
    if args.json {
        let findings: Vec<_> = report
            .findings
            .iter()
            .map(|f| serde_json::json!({ "code": f.code(), "index": f.index(), "message": f.to_string() }))
            .collect();
        let sem = semantic.as_ref().map(|(s, src)| semantic_json(s, src.as_deref()));
        let j = serde_json::json!({
            "ok": ok,
            "origin": v.name(),
            "size": report.size,
            "root": STANDARD.encode(report.root),
            "entries_checked": report.entries_checked,
            "saved_checkpoint_size": report.saved_size,
            "last_signed_checked": record_checked,
            "finding_count": report.finding_count,
            "findings": findings,
            "semantic": sem,
            "state": state.as_ref().map(|(ds, source)| serde_json::json!({
                "ok": ds.is_empty(),
                "source": source,
                "differences": ds,
            })),
            "seconds": secs,
        });
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&j)?)?;
    } else {
        print_text(&report, record_checked, semantic.as_ref(), v.name());
        print_state(state.as_ref(), args.tree_only);
    }
    Ok(if ok { ExitCode::SUCCESS } else { exit::denied() })
}

fn semantic_json(s: &SemanticReport, source: Option<&str>) -> serde_json::Value {
    let findings: Vec<_> = s
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "code": f.code.as_str(),
                "severity": if f.code.severity() == Severity::Error { "error" } else { "warning" },
                "index": f.index,
                "message": f.detail,
            })
        })
        .collect();
    serde_json::json!({
        "ok": s.is_ok(),
        "entries": s.entries,
        "checked": s.checked,
        "skipped": s.skipped,
        "writs_from": source,
        "error_count": s.error_count,
        "warning_count": s.warning_count,
        "findings": findings,
    })
}

fn print_text(
    report: &writ_ledger::audit::AuditReport,
    record: bool,
    semantic: Option<&(SemanticReport, Option<String>)>,
    origin: &str,
) {
    if report.is_ok() {
        println!(
            "ok: {} entries of `{origin}` recomputed; root {} matches the signed checkpoint{}{}",
            report.entries_checked,
            STANDARD.encode(report.root),
            report.saved_size.map(|s| format!(" and extends the saved checkpoint of size {s}")).unwrap_or_default(),
            if record { " and extends the last checkpoint the home's key signed" } else { "" },
        );
    } else {
        println!("tampering found in `{origin}` ({} problems):", report.finding_count);
        for f in &report.findings {
            println!("  {}: {f}", f.code());
        }
        if report.finding_count > report.findings.len() as u64 {
            println!("  … and {} more", report.finding_count - report.findings.len() as u64);
        }
    }
    let Some((s, source)) = semantic else {
        println!("history not checked (--tree-only)");
        return;
    };
    let checked: Vec<String> = s.checked.iter().map(|(k, n)| format!("{k} {n}")).collect();
    if s.is_ok() {
        println!("ok: history of {} entries follows the rules; checked: {}", s.entries, checked.join(", "));
    } else {
        println!("history breaks the rules ({} problems); checked: {}", s.error_count, checked.join(", "));
    }
    for f in s.findings.iter().filter(|f| f.code.severity() == Severity::Error) {
        match f.index {
            Some(i) => println!("  {} (entry {i}): {}", f.code, f.detail),
            None => println!("  {}: {}", f.code, f.detail),
        }
    }
    if s.error_count > s.findings.iter().filter(|f| f.code.severity() == Severity::Error).count() as u64 {
        println!("  … and more (see --json)");
    }
    for f in s.findings.iter().filter(|f| f.code.severity() == Severity::Warning) {
        println!("  warning {}: {}", f.code, f.detail);
    }
    if !s.skipped.is_empty() {
        let skipped: Vec<String> = s.skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!("  not checked: {}", skipped.join(", "));
    }
    if source.is_none() && s.checked.get("issuances").is_some_and(|n| *n > 0) {
        println!("  (no authority state found beside this store: approvals inside the writs were not verified)");
    }
}

fn print_state(state: Option<&(Vec<writ_authority::recover::Difference>, String)>, tree_only: bool) {
    match state {
        None if tree_only => {}
        None => println!("state not compared: no authority state beside this store"),
        Some((ds, source)) if ds.is_empty() => println!(
            "ok: the authority's state in {source} agrees with the ledger (entry index, revocations, use counts, uses, writs, request status)"
        ),
        Some((ds, source)) => {
            println!("the authority's state in {source} differs from the ledger ({} differences):", ds.len());
            for d in ds {
                let fix = if d.recoverable { "`writ recover` rebuilds it" } else { "not recoverable from the ledger" };
                println!("  {} ({}): {} ({fix})", d.code, d.subject, d.detail);
            }
        }
    }
}
