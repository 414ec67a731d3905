//! `writ pending`: list requests waiting for approval.

use std::process::ExitCode;

use crate::config::{ConnArgs, api, finish, visible};

/// List pending requests, with exactly what would run and the digest approvers sign.
#[derive(Debug, clap::Args)]
pub struct PendingArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Show each request in full (as `writ show` does).
    #[arg(long, short = 'l')]
    pub long: bool,
}

pub fn run(args: PendingArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(
        json,
        (|| {
            let conn = args.conn.open(false)?;
            let list = conn.api.pending().map_err(api)?;
            if json {
                let mut out = Vec::new();
                for r in &list {
                    if args.long {
                        let (doc, _) = writ_api::approval::document(r).map_err(api)?;
                        out.push(crate::cmd::show::show_json(r, &doc));
                    } else {
                        out.push(crate::cmd::request::view_json(r, None));
                    }
                }
                println!("{}", serde_json::json!({ "requests": out }));
            } else if list.is_empty() {
                eprintln!("no pending requests");
            } else {
                for r in &list {
                    if args.long {
                        let (doc, _) = writ_api::approval::document(r).map_err(api)?;
                        println!("{}", crate::cmd::show::render(r, &doc));
                        continue;
                    }
                    println!("{}  {}  by {}", visible(&r.request_id), visible(&r.summary), visible(&r.requester_name));
                    println!("    reason: {}", visible(&r.reason));
                    println!(
                        "    needs {} approval(s){}, has {}; expires {}",
                        r.approvals_required,
                        r.approver_group
                            .as_deref()
                            .map(|g| format!(" from group `{}`", visible(g)))
                            .unwrap_or_default(),
                        r.approvals.iter().filter(|a| a.verdict == "approve").count(),
                        visible(&r.expires_at)
                    );
                    println!(
                        "    request digest sha256:{}  (see all of it: writ show {})",
                        visible(&r.request_digest),
                        visible(&r.request_id)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        })(),
    )
}
