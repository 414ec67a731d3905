//! `writ sync`: the gate's `sync` (`writ_gate_cli::sync`), plus `--home DIR`
//! for the embedded authority.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::embedded::embedded;

/// Upload spooled gate records (exec_start, exec_end, denial) to the authority.
#[derive(Debug, clap::Args)]
pub struct WritSyncArgs {
    /// The embedded authority's home.
    #[arg(long, value_name = "DIR", conflicts_with = "authority")]
    pub home: Option<PathBuf>,
    #[command(flatten)]
    pub sync: writ_gate_cli::sync::SyncArgs,
}

pub fn run(args: WritSyncArgs) -> anyhow::Result<ExitCode> {
    let embedded = match &args.home {
        None => None,
        Some(h) => Some(embedded(h, args.sync.key.as_deref()).map_err(|d| anyhow::anyhow!("{}", d.detail))?),
    };
    writ_gate_cli::sync::run(args.sync, embedded)
}
