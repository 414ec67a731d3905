//! `writ approve`: show a pending request in full, ask, then sign its digest
//! with your own key (the approval protocol of `writ_api::approval`).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use writ_core::approval::Verdict;

use crate::config::{ConnArgs, api, finish, visible};
use crate::exit::UsageError;

/// Approve a pending request (your Ed25519 signature over its digest).
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Do not ask for confirmation (scripts; review with `writ show` first).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The request id (from `writ pending`).
    pub request_id: String,
}

/// Shared by approve and deny: fetch, show, confirm, sign what was shown, send.
pub fn vote(
    conn_args: &ConnArgs,
    id: &str,
    verdict: Verdict,
    yes: bool,
    reason: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let json = conn_args.json;
    finish(
        json,
        (|| {
            let conn = conn_args.open(true)?;
            let key = conn.key.as_ref().ok_or_else(|| UsageError("pass your approver key with --key FILE".into()))?;
            let view = conn.api.request(id).map_err(api)?;
            let (doc, _) = writ_api::approval::document(&view).map_err(api)?;
            let word = match verdict {
                Verdict::Approve => "approve",
                Verdict::Deny => "deny",
            };
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(UsageError(format!(
                        "not a terminal, so nobody can confirm: review the request with `writ show {}` and pass --yes to {word} it",
                        visible(id)
                    ))
                    .into());
                }
                eprint!("{}", crate::cmd::show::render(&view, &doc));
                eprint!("{word} request {}? type `yes` to sign: ", visible(id));
                std::io::stderr().flush()?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if answer.trim() != "yes" {
                    eprintln!("not signed");
                    return Ok(crate::exit::failure());
                }
            }
            let vote = writ_api::approval::sign(key, &view, verdict, reason, crate::files::now()?).map_err(api)?;
            let idem = conn_args.idempotency()?;
            let view = conn.api.vote(id, &vote, &idem).map_err(api)?;
            if json {
                println!("{}", crate::cmd::request::view_json(&view, None));
            } else {
                let n = view.approvals.iter().filter(|a| a.verdict == "approve").count();
                println!("{}", view.status);
                eprintln!(
                    "request {} is {} ({n}/{} approvals){}",
                    visible(&view.request_id),
                    view.status,
                    view.approvals_required,
                    view.writ_id.as_deref().map(|w| format!("; writ {} issued", visible(w))).unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        })(),
    )
}

pub fn run(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    vote(&args.conn, &args.request_id, Verdict::Approve, args.yes, None)
}
