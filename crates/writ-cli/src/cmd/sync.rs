//! `writ sync`: hand the records a gate spooled while offline (`writ exec
//! --offline`) to the authority's ledger.
//!
//! The spool is first renamed to `SPOOL.sending` (new runs start a fresh
//! spool meanwhile), then each record is sent in order; on success the file is
//! removed. If the authority stops taking records, the ones not yet sent are
//! kept in `SPOOL.sending` (rewritten atomically) and the next `writ sync`
//! sends them first. Delivery is at least once: a crash between sending a
//! record and rewriting the file sends that record again.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use writ_gate::{Spool, rewrite_spool};

use crate::cmd::exec::connect;
use crate::exit::UsageError;

/// Upload spooled gate records (exec_start, exec_end, denial) to the authority.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The gate's spool file.
    #[arg(long, value_name = "FILE", env = "WRIT_SPOOL", default_value = "/var/lib/writ/gate.spool")]
    pub spool: PathBuf,
    /// The embedded authority's home.
    #[arg(long, value_name = "DIR", conflicts_with = "authority")]
    pub home: Option<PathBuf>,
    /// The authority's URL.
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
    /// The gate's private key (its key needs the `gate` role).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

fn sending_path(spool: &Path) -> PathBuf {
    let mut s = spool.as_os_str().to_owned();
    s.push(".sending");
    PathBuf::from(s)
}

pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let online = connect(args.home.as_deref(), args.authority.as_deref(), Some(&args.key))
        .map_err(|d| anyhow::anyhow!("{}", d.detail))?
        .ok_or_else(|| UsageError("pass --home DIR or --authority URL".into()))?;
    let sending = sending_path(&args.spool);
    let (mut sent, mut torn) = (0usize, 0usize);
    // A leftover from an interrupted sync first, then the current spool.
    for round in 0..2 {
        if round == 1 {
            if !args.spool.exists() {
                break;
            }
            std::fs::rename(&args.spool, &sending)
                .with_context(|| format!("cannot move `{}` aside", args.spool.display()))?;
        }
        let c = Spool::read(&sending)?;
        torn += c.torn_bytes;
        for (i, entry) in c.entries.iter().enumerate() {
            if let Err(e) = online.record(entry) {
                rewrite_spool(&sending, c.entries.get(i..).unwrap_or_default())?;
                anyhow::bail!(
                    "the authority did not take record {} of `{}`: {e}; sent {sent}, the rest stays for the next `writ sync`",
                    i + 1,
                    sending.display()
                );
            }
            sent += 1;
        }
        match std::fs::remove_file(&sending) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove `{}`", sending.display())),
        }
    }
    if args.json {
        println!("{}", serde_json::json!({"sent": sent, "torn_bytes": torn}));
    } else {
        println!("sent {sent} record(s) to the authority");
        if torn > 0 {
            eprintln!(
                "writ: warning: {torn} byte(s) at the end of the spool were an incomplete record (a crash while writing) and were dropped"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
