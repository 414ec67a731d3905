//! `writ init`: create an authority home.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use writ_authority::home::{self, Store};
use writ_authority::trust_store;
use writ_authority::{Authority, Config};

use crate::files;

/// Create an authority home: issuer and ledger keys, trust root (receipts
/// and status required, writ lifetimes capped), a deny-by-default Cedar
/// policy set and the ledger, bound to one store (refuses to overwrite).
/// The trust root is signed as version 1 by a new root key
/// (`HOME/root.key`) and logged as `key_change` before anything uses it.
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
    /// The issuer and ledger keys' signature suite: `ed25519`, or `hybrid`
    /// (Ed25519 + ML-DSA-65, both signing every writ, status response and
    /// checkpoint; pinned by the trust root, docs/format.md §17).
    #[arg(long, value_enum, default_value = "ed25519")]
    pub suite: crate::cmd::keygen::KeySuite,
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
    let hybrid = args.suite == crate::cmd::keygen::KeySuite::Hybrid;
    let r = home::init_with(&home, &store, hybrid).context("writ init")?;
    // Version 1 of the trust root, signed by a new root key and recorded in
    // the ledger of the store the home is now bound to (the authority opens
    // it through `store.json`), so a hand edit of trust.json is refused.
    let signed = open_and_sign(&home).with_context(|| {
        format!(
            "writ init: `{h}` was created but its trust root is not signed (a legacy home): sign it with `writ trust sign-home --home {h}`",
            h = home.display()
        )
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "home": r.home.display().to_string(), "issuer_key_id": r.issuer_key_id,
                "ledger_origin": r.origin, "ledger_vkey": r.ledger_vkey,
                "trust": r.home.join("trust.json").display().to_string(),
                "trust_version": 1, "trust_pin": signed.pin.to_string(),
                "trust_pin_file": r.home.join(trust_store::TRUST_DIR).join(trust_store::PIN_FILE).display().to_string(),
                "root_key_id": signed.root_key_id,
                "root_key": r.home.join(trust_store::ROOT_KEY).display().to_string(),
                "trust_expires": signed.expires.to_rfc3339(), "trust_ledger_index": signed.ledger_index,
                "store": store.describe(),
                "suite": if hybrid { writ_core::hybrid::SUITE_NAME } else { "ed25519" },
            })
        );
    } else {
        println!("initialized writ home {}", r.home.display());
        let suite = if hybrid { format!(", suite {}", writ_core::hybrid::SUITE_NAME) } else { String::new() };
        println!("  issuer key      {} (issuer.key{suite})", r.issuer_key_id);
        println!("  ledger          {} (ledger.key, {})", r.origin, store.describe());
        println!("  ledger vkey     {}", r.ledger_vkey);
        println!(
            "  trust root      {} (gates need receipts and fresh status; writs live at most {} s, offline ones {} s)",
            r.home.join("trust.json").display(),
            home::DEFAULT_MAX_WRIT_LIFETIME_SECS,
            home::DEFAULT_MAX_OFFLINE_LIFETIME_SECS
        );
        println!(
            "  trust version   1, signed and logged as key_change (ledger index {}), expires {}",
            signed.ledger_index,
            signed.expires.to_rfc3339()
        );
        println!(
            "  trust pin       {} ({}: give it to gates)",
            signed.pin,
            r.home.join(trust_store::TRUST_DIR).join(trust_store::PIN_FILE).display()
        );
        println!(
            "  root key        {} ({}: signs trust root versions; move it offline)",
            signed.root_key_id,
            r.home.join(trust_store::ROOT_KEY).display()
        );
        println!(
            "  policies        {} (deny by default; edits apply on the next request)",
            r.home.join("policies.cedar").display()
        );
        println!(
            "next: add requester and approver keys (each a signed, logged version; trust.json edited by hand is refused) with"
        );
        println!(
            "  writ trust add --trust {} --role requester --group dev --key alice.key.pub",
            r.home.join("trust.json").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the new home's authority and signs its trust root as version 1.
fn open_and_sign(home: &std::path::Path) -> anyhow::Result<trust_store::SignedHome> {
    let authority = Authority::open(&Config::new(home))
        .with_context(|| format!("cannot open the authority in `{}`", home.display()))?;
    authority.sign_trust_home(files::now()?).map_err(|e| anyhow::anyhow!("{e}"))
}
