//! `writ init`: create an authority home.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use writ_authority::home::{self, Store};

/// Create an authority home: issuer and ledger keys, trust root (receipts
/// and status required, writ lifetimes capped), a deny-by-default Cedar
/// policy set and the ledger, bound to one store (refuses to overwrite).
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The home directory (default `$WRIT_HOME` or `./.writ`).
    #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Keep the ledger and state in this PostgreSQL database instead of the
    /// home's SQLite files; the home is bound to it for good.
    #[arg(long, env = "WRIT_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// PostgreSQL schema (with --database).
    #[arg(long = "pg-schema", value_name = "NAME", default_value = "writ", requires = "database")]
    pub pg_schema: String,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// `--home`, `$WRIT_HOME` or `./.writ`.
pub fn home_dir(home: Option<PathBuf>) -> PathBuf {
    home.unwrap_or_else(|| PathBuf::from(".writ"))
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let home = home_dir(args.home);
    let store = match args.database {
        Some(url) => Store::Postgres { url, schema: args.pg_schema },
        None => Store::Sqlite,
    };
    let r = home::init_in(&home, &store).context("writ init")?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "home": r.home.display().to_string(), "issuer_key_id": r.issuer_key_id,
                "ledger_origin": r.origin, "ledger_vkey": r.ledger_vkey,
                "trust": r.home.join("trust.json").display().to_string(),
                "store": store.describe(),
            })
        );
    } else {
        println!("initialized writ home {}", r.home.display());
        println!("  issuer key      {} (issuer.key)", r.issuer_key_id);
        println!("  ledger          {} (ledger.key, {})", r.origin, store.describe());
        println!("  ledger vkey     {}", r.ledger_vkey);
        println!(
            "  trust root      {} (gates need receipts and fresh status; writs live at most {} s, offline ones {} s)",
            r.home.join("trust.json").display(),
            home::DEFAULT_MAX_WRIT_LIFETIME_SECS,
            home::DEFAULT_MAX_OFFLINE_LIFETIME_SECS
        );
        println!(
            "  policies        {} (deny by default; edits apply on the next request)",
            r.home.join("policies.cedar").display()
        );
        println!("next: add requester and approver keys with");
        println!(
            "  writ trust add --trust {} --role requester --group dev --key alice.key.pub",
            r.home.join("trust.json").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
