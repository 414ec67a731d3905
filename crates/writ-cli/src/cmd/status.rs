//! `writ status`: a writ's state (valid / revoked, uses).

use std::process::ExitCode;

use crate::cmd::request::{Conn, ConnArgs, finish};
use crate::exit;

/// Show a writ's state; exit 0 valid, 77 revoked.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The writ id.
    pub writ_id: String,
}

pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(
        json,
        (|| {
            let conn = Conn::open(&args.conn, false)?;
            let v = conn.writ(&args.writ_id)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"writ_id": v.writ_id, "request_id": v.request_id, "state": v.state, "uses": v.uses,
                    "used": v.used, "not_after": v.not_after, "revoked_at": v.revoked_at, "reason": v.reason})
                );
            } else {
                println!("{}", v.state);
                eprintln!(
                    "writ {} (request {}): {}, valid until {}, uses {}/{}{}",
                    v.writ_id,
                    v.request_id,
                    v.state,
                    v.not_after,
                    v.used,
                    v.uses.map_or_else(|| "unlimited".to_string(), |u| u.to_string()),
                    v.reason.as_deref().map(|r| format!(", revoked: {r}")).unwrap_or_default()
                );
            }
            Ok(if v.state == "revoked" { exit::denied() } else { ExitCode::SUCCESS })
        })(),
    )
}
