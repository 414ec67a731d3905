//! `writ pending`: list requests waiting for approval.

use std::process::ExitCode;

use crate::cmd::request::{Conn, ConnArgs, finish};

/// List pending requests, with exactly what would run and the digest approvers sign.
#[derive(Debug, clap::Args)]
pub struct PendingArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
}

pub fn run(args: PendingArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(
        json,
        (|| {
            let conn = Conn::open(&args.conn, false)?;
            let list = conn.pending()?;
            if json {
                println!("{}", serde_json::json!({ "requests": list }));
            } else if list.is_empty() {
                eprintln!("no pending requests");
            } else {
                for r in &list {
                    println!("{}  {}  by {}", r.request_id, r.summary, r.requester_name);
                    println!("    reason: {}", r.reason);
                    println!(
                        "    needs {} approval(s){}, has {}; expires {}",
                        r.approvals_required,
                        r.approver_group.as_deref().map(|g| format!(" from group `{g}`")).unwrap_or_default(),
                        r.approvals.iter().filter(|a| a.verdict == "approve").count(),
                        r.expires_at
                    );
                    println!("    request digest sha256:{}", r.request_digest);
                }
            }
            Ok(ExitCode::SUCCESS)
        })(),
    )
}
