//! `writ recover`: rebuild the authority's state from its ledger, or
//! (`--check`) name every difference between them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use writ_authority::recover::Difference;
use writ_authority::{Authority, Config};

/// Rebuild the authority's state (revocations, use counts, request status,
/// entry index) from the ledger; with --check, only compare and name every
/// difference (exit 77 when there is one).
#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    /// The home directory (default `$WRIT_HOME` or `./.writ`).
    #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// PostgreSQL URL; must be the store the home is bound to (default: that store).
    #[arg(long, env = "WRIT_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// PostgreSQL schema.
    #[arg(long = "pg-schema", value_name = "NAME", default_value = "writ")]
    pub pg_schema: String,
    /// Compare only; change nothing.
    #[arg(long)]
    pub check: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn print_differences(title: &str, ds: &[Difference]) {
    for d in ds {
        let fix = if d.recoverable { "recoverable" } else { "not recoverable from the ledger" };
        println!("{title}{:<26} {}  {} ({fix})", d.code, d.subject, d.detail);
    }
}

pub fn run(args: RecoverArgs) -> anyhow::Result<ExitCode> {
    let home = super::init::home_dir(args.home);
    let mut cfg = Config::new(&home);
    cfg.database = args.database;
    cfg.schema = args.pg_schema;
    let authority =
        Authority::open(&cfg).with_context(|| format!("cannot open the authority of `{}`", home.display()))?;
    if args.check {
        let ds = authority.check_state().context("writ recover --check")?;
        if args.json {
            println!("{}", serde_json::json!({ "entries": authority.ledger().size(), "differences": ds }));
        } else if ds.is_empty() {
            println!(
                "ok: the state agrees with the ledger ({} entries: index, revocations, use counts, uses, writs, request status)",
                authority.ledger().size()
            );
        } else {
            print_differences("", &ds);
            println!(
                "{} difference(s); run `writ recover --home {}` to rebuild from the ledger",
                ds.len(),
                home.display()
            );
        }
        return Ok(if ds.is_empty() { ExitCode::SUCCESS } else { crate::exit::denied() });
    }
    let now = crate::files::now()?;
    let r = authority.recover(now).context("writ recover")?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("read {} ledger entries; {} difference(s) found, {} fixed", r.entries, r.found.len(), r.fixed);
        print_differences("  found      ", &r.found);
        print_differences("  remaining  ", &r.remaining);
    }
    Ok(if r.remaining.is_empty() { ExitCode::SUCCESS } else { crate::exit::denied() })
}
