//! `writ deny`: vote against a pending request.

use std::process::ExitCode;

use writ_authority::Verdict;

use crate::cmd::request::ConnArgs;

/// Deny a pending request (signed with your own key); a deny quorum ends it.
#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The request id (from `writ pending`).
    pub request_id: String,
}

pub fn run(args: DenyArgs) -> anyhow::Result<ExitCode> {
    crate::cmd::approve::vote(&args.conn, &args.request_id, Verdict::Deny)
}
