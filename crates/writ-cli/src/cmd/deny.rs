//! `writ deny`: vote against a pending request.

use std::process::ExitCode;

use writ_core::approval::Verdict;

use crate::config::ConnArgs;

/// Deny a pending request (signed with your own key); a deny quorum ends it.
#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Why (shown to the requester; one line).
    #[arg(long)]
    pub reason: Option<String>,
    /// Do not ask for confirmation (scripts).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The request id (from `writ pending`).
    pub request_id: String,
}

pub fn run(args: DenyArgs) -> anyhow::Result<ExitCode> {
    crate::cmd::approve::vote(&args.conn, &args.request_id, Verdict::Deny, args.yes, args.reason.as_deref())
}
