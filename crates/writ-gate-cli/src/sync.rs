//! `sync`: hand the records a gate spooled (offline runs, and records the
//! authority did not take) to the authority's ledger, with
//! [`writ_gate::Spool::drain`]: concurrent gates keep appending meanwhile,
//! each record counts as sent only when the authority's acknowledgement
//! verifies against the trust root's ledger key, and an interrupted sync
//! resumes where it stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use writ_gate::{Recorder, Spool};

use crate::exit::UsageError;
use crate::gate::Embedded;

/// Upload spooled gate records (exec_start, exec_end, denial) to the authority.
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// The gate's configuration file (default: /etc/writ/gate.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The gate's spool file.
    #[arg(long, value_name = "FILE", env = "WRIT_SPOOL")]
    pub spool: Option<PathBuf>,
    /// The authority's URL.
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
    /// The gate's private key (its key needs the `gate` role).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The trust root whose ledger key the acknowledgements must verify against.
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// `sync` (`writ` passes its embedded authority for `--home`).
///
/// # Errors
/// No authority, a refused record (the rest stays spooled), I/O errors.
pub fn run(args: SyncArgs, embedded: Option<Embedded>) -> anyhow::Result<ExitCode> {
    let gate = crate::gate::GateArgs {
        config: args.config.clone(),
        trust: args.trust.clone(),
        offline: false,
        authority: args.authority.clone(),
        key: args.key.clone(),
        spool: args.spool.clone(),
        labels: Vec::new(),
    };
    let resolved = gate.resolve(embedded)?;
    let api = match resolved.online {
        Ok(Some(api)) => api,
        Ok(None) => return Err(UsageError("pass --authority URL (or --home DIR with `writ sync`)".into()).into()),
        Err(d) => anyhow::bail!("{}", d.detail),
    };
    let spool_path = resolved.spool.clone();
    let recorder = Recorder::online(api, resolved.trust);
    let spool =
        Spool::open(&spool_path).with_context(|| format!("cannot open the spool `{}`", spool_path.display()))?;
    let report = spool.drain(&|bytes| recorder.send_verified(bytes).map(|_| ()).map_err(|e| e.to_string()))?;
    if args.json {
        println!("{}", serde_json::json!({"sent": report.sent, "torn_bytes": report.torn_bytes}));
    } else {
        println!("sent {} record(s) to the authority", report.sent);
        if report.torn_bytes > 0 {
            eprintln!(
                "warning: {} byte(s) of the spool were an incomplete record (a crash while writing) and were skipped",
                report.torn_bytes
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
