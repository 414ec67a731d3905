//! `writ approve`: sign a pending request's digest with your own key.

use std::process::ExitCode;

use writ_authority::Verdict;
use writ_authority::model::RequestView;

use crate::cmd::request::{Conn, ConnArgs, finish, vote_any};
use crate::exit::UsageError;
use crate::files;

/// Approve a pending request (your Ed25519 signature over its digest).
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The request id (from `writ pending`).
    pub request_id: String,
}

/// Shared by approve and deny.
pub fn vote(conn_args: &ConnArgs, id: &str, verdict: Verdict) -> anyhow::Result<ExitCode> {
    let json = conn_args.json;
    finish(
        json,
        (|| {
            let key_path =
                conn_args.key.as_ref().ok_or_else(|| UsageError("pass your approver key with --key FILE".into()))?;
            let key = files::read_private_key(key_path)?;
            let conn = Conn::open(conn_args, true)?;
            let view: RequestView = vote_any(&conn, &key, id, verdict)?;
            if json {
                let mut v = serde_json::to_value(&view)?;
                if let Some(o) = v.as_object_mut() {
                    o.remove("document");
                    o.remove("writ");
                }
                println!("{v}");
            } else {
                let n = view.approvals.iter().filter(|a| a.verdict == "approve").count();
                println!("{}", view.status);
                eprintln!(
                    "request {} is {} ({n}/{} approvals){}",
                    view.request_id,
                    view.status,
                    view.approvals_required,
                    view.writ_id.as_deref().map(|w| format!("; writ {w} issued")).unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        })(),
    )
}

pub fn run(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    vote(&args.conn, &args.request_id, Verdict::Approve)
}
