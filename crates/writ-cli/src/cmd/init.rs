//! `writ init`: create an authority home.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

/// Create an authority home: issuer and ledger keys, trust root, a
/// deny-by-default Cedar policy set and the SQLite ledger (refuses to overwrite).
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The home directory (default `$WRIT_HOME` or `./.writ`).
    #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
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
    let r = writ_authority::home::init(&home).context("writ init")?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "home": r.home.display().to_string(), "issuer_key_id": r.issuer_key_id,
                "ledger_origin": r.origin, "ledger_vkey": r.ledger_vkey,
                "trust": r.home.join("trust.json").display().to_string(),
            })
        );
    } else {
        println!("initialized writ home {}", r.home.display());
        println!("  issuer key      {} (issuer.key)", r.issuer_key_id);
        println!("  ledger          {} (ledger.key, ledger.sqlite)", r.origin);
        println!("  ledger vkey     {}", r.ledger_vkey);
        println!("  trust root      {}", r.home.join("trust.json").display());
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
