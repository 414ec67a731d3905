//! `writ revoke`: revoke a writ (a ledger entry; gates that check status stop it).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{ConnArgs, api, finish, visible};
use crate::exit::UsageError;

/// Revoke a writ with a reason.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Why (recorded in the ledger; one line).
    #[arg(long)]
    pub reason: String,
    /// The writ file instead of its id (its claimed id is read, nothing trusted).
    #[arg(long, value_name = "FILE", conflicts_with = "writ_id")]
    pub writ: Option<PathBuf>,
    /// The writ id.
    #[arg(required_unless_present = "writ")]
    pub writ_id: Option<String>,
}

/// The writ id from `--writ FILE` or the argument.
pub fn writ_id(file: Option<&std::path::Path>, id: Option<&str>) -> anyhow::Result<String> {
    match (file, id) {
        (Some(p), None) => {
            let bytes = crate::files::read_bounded(p, writ_core::limits::MAX_ENVELOPE_BYTES)?;
            writ_core::Unverified::claimed_id(&bytes)
                .ok_or_else(|| anyhow::anyhow!("`{}` is not a writ (no writ id in it)", p.display()))
        }
        (None, Some(id)) => Ok(id.to_string()),
        _ => Err(UsageError("give a writ id or --writ FILE".into()).into()),
    }
}

pub fn run(args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(
        json,
        (|| {
            writ_api::approval::check_reason(&args.reason)
                .map_err(|e| UsageError(format!("--reason: {}", e.message)))?;
            let id = writ_id(args.writ.as_deref(), args.writ_id.as_deref())?;
            let conn = args.conn.open(false)?;
            let key = args.conn.idempotency()?;
            let v = conn.api.revoke(&id, &args.reason, &key).map_err(api)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"writ_id": v.writ_id, "state": v.state, "revoked_at": v.revoked_at, "reason": v.reason})
                );
            } else {
                println!("{}", v.state);
                eprintln!("writ {} revoked at {}", visible(&v.writ_id), v.revoked_at.as_deref().unwrap_or("?"));
            }
            Ok(ExitCode::SUCCESS)
        })(),
    )
}
