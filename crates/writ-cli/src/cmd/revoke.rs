//! `writ revoke`: revoke a writ (a ledger entry; gates that check status stop it).

use std::process::ExitCode;

use crate::cmd::request::{Conn, ConnArgs, finish};
use crate::exit::UsageError;

/// Revoke a writ with a reason.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Why (recorded in the ledger).
    #[arg(long)]
    pub reason: String,
    /// The writ id.
    pub writ_id: String,
}

pub fn run(args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(
        json,
        (|| {
            if args.reason.trim().is_empty() {
                return Err(UsageError("--reason must not be empty".into()).into());
            }
            let conn = Conn::open(&args.conn, false)?;
            let v = conn.revoke(&args.writ_id, &args.reason)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"writ_id": v.writ_id, "state": v.state, "revoked_at": v.revoked_at, "reason": v.reason})
                );
            } else {
                println!("{}", v.state);
                eprintln!("writ {} revoked at {}", v.writ_id, v.revoked_at.as_deref().unwrap_or("?"));
            }
            Ok(ExitCode::SUCCESS)
        })(),
    )
}
