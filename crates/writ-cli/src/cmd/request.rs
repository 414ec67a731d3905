//! `writ request`: ask the authority for a writ (through `dyn OperatorApi`:
//! embedded `--home` or remote `--authority`, the command does not know which).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use writ_api::wire::{RequestInput, RequestView, TargetInput};

use crate::config::{ConnArgs, api, finish};
use crate::exit::{self, UsageError};
use crate::files;

/// Ask the authority for a writ to run PROGRAM ARGS…
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    #[command(flatten)]
    pub conn: Box<ConnArgs>,
    /// Why you need it (recorded in the ledger and the writ).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// How long the writ should be valid, in seconds.
    #[arg(long, default_value_t = 300)]
    pub duration: u64,
    /// An environment variable the program gets (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// The working directory it runs in.
    #[arg(long)]
    pub cwd: Option<String>,
    /// A host (glob) it may run on (repeatable).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// A gate-signed host evidence file (DSSE JSON).
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
    /// Where to write the writ (the receipt goes to FILE.receipt); default `<writ id>.writ`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Fetch the writ of an earlier request (after its approvals) instead of submitting.
    #[arg(long, value_name = "REQUEST_ID", conflicts_with_all = ["command", "tool"])]
    pub fetch: Option<String>,
    /// Ask for an agent tool call instead of a program.
    #[arg(long, value_name = "NAME")]
    pub tool: Option<String>,
    /// An argument of the tool call, as the exact value the writ will bind
    /// (repeatable; each name once).
    #[arg(long = "arg", value_name = "NAME=VALUE", requires = "tool")]
    pub tool_args: Vec<String>,
    /// The holder: a public key file that may delegate the writ (sign
    /// narrower children of it for sub-agents, `writ delegate`). Policy must
    /// allow it (`@delegation("N")`).
    #[arg(long, value_name = "KEYFILE.pub")]
    pub holder: Option<PathBuf>,
    /// Levels of delegation the holder may make below the writ (default 1).
    #[arg(long, value_name = "N", requires = "holder")]
    pub delegation_depth: Option<u32>,
    /// The program and its arguments (after `--`).
    /// Boundaries and uses asked for (H2; see `docs/policy.md`).
    #[command(flatten)]
    pub bounds: Box<super::bounds::BoundaryArgs>,
    #[arg(last = true, value_name = "PROGRAM ARGS")]
    pub command: Vec<String>,
}

fn write_writ(out: Option<&Path>, view: &RequestView) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let (Some(writ), Some(receipt), Some(id)) = (&view.writ, &view.receipt, &view.writ_id) else { return Ok(None) };
    let path = out.map_or_else(|| PathBuf::from(format!("{id}.writ")), Path::to_path_buf);
    let mut rp = path.clone().into_os_string();
    rp.push(".receipt");
    let rp = PathBuf::from(rp);
    files::write_atomic(&path, writ.as_bytes())?;
    files::write_atomic(&rp, receipt.as_bytes())?;
    Ok(Some((path, rp)))
}

/// The `--json` shape of a request view (docs/cli.md): the API's request
/// view without the bulky `document`, `writ` and `receipt`, plus where the
/// writ and receipt were written.
pub fn view_json(view: &RequestView, written: Option<&(PathBuf, PathBuf)>) -> serde_json::Value {
    let mut v = serde_json::to_value(view).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("writ");
        o.remove("document");
        o.remove("receipt");
        o.insert("writ_file".into(), written.map(|(w, _)| w.display().to_string()).into());
        o.insert("receipt_file".into(), written.map(|(_, r)| r.display().to_string()).into());
    }
    v
}

fn report(json: bool, view: &RequestView, written: Option<&(PathBuf, PathBuf)>) -> ExitCode {
    if json {
        println!("{}", view_json(view, written));
    } else {
        println!("{}", view.request_id);
        eprintln!("request {} is {}: {}", view.request_id, view.status, crate::config::visible(&view.summary));
        for r in &view.decision.reasons {
            eprintln!("  policy: {}", crate::config::visible(r));
        }
        if let Some((w, r)) = written {
            eprintln!(
                "wrote writ {} to {} (receipt {})",
                view.writ_id.as_deref().unwrap_or("?"),
                w.display(),
                r.display()
            );
        } else if view.status == "pending" {
            eprintln!(
                "waiting for {} approval(s){} until {}; then fetch it with `writ request --fetch {}`",
                view.approvals_required,
                view.approver_group.as_deref().map(|g| format!(" from group `{g}`")).unwrap_or_default(),
                view.expires_at,
                view.request_id
            );
        }
    }
    match view.status.as_str() {
        "denied" | "expired" => exit::denied(),
        _ => ExitCode::SUCCESS,
    }
}

pub fn run(args: RequestArgs) -> anyhow::Result<ExitCode> {
    let json = args.conn.json;
    finish(json, run_inner(args))
}

fn run_inner(args: RequestArgs) -> anyhow::Result<ExitCode> {
    if let Some(id) = &args.fetch {
        let conn = args.conn.open(true)?;
        let view = conn.api.request(id).map_err(api)?;
        let written = write_writ(args.out.as_deref(), &view)?;
        return Ok(report(json_of(&args), &view, written.as_ref()));
    }
    let target = match (&args.tool, args.command.split_first()) {
        (Some(t), None) => {
            let mut tool_args = BTreeMap::new();
            for a in &args.tool_args {
                let (k, v) = a.split_once('=').ok_or_else(|| UsageError(format!("--arg `{a}` must be NAME=VALUE")))?;
                if tool_args.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(UsageError(format!("--arg `{k}` is given twice; give each argument once")).into());
                }
            }
            TargetInput::Tool { name: t.clone(), args: tool_args, args_sha256: None, definition_sha256: None }
        }
        (None, Some((prog, rest))) => {
            let path = files::resolve_program(prog)?;
            let sha = files::hash_file(&path)?;
            let program = path.to_str().context("program path is not UTF-8")?.to_string();
            let mut argv = vec![program.clone()];
            argv.extend(rest.iter().cloned());
            TargetInput::Exec { program, sha256: Some(sha.to_hex()), argv }
        }
        _ => {
            return Err(
                UsageError("give the program after `--` (e.g. `-- /usr/bin/echo hi`) or --tool NAME".into()).into()
            );
        }
    };
    let mut env = BTreeMap::new();
    for e in &args.env {
        let (k, v) = e.split_once('=').ok_or_else(|| UsageError(format!("--env `{e}` must be NAME=VALUE")))?;
        if env.insert(k.to_string(), v.to_string()).is_some() {
            return Err(UsageError(format!("--env `{k}` is given twice; give each variable once")).into());
        }
    }
    let evidence = match &args.evidence {
        Some(p) => Some(
            String::from_utf8(files::read_bounded(p, writ_core::limits::MAX_ENVELOPE_BYTES)?)
                .context("evidence is not UTF-8")?,
        ),
        None => None,
    };
    let input = RequestInput {
        target,
        reason: args.reason.clone(),
        duration_secs: args.duration,
        env,
        cwd: args.cwd.clone(),
        hosts: (!args.hosts.is_empty()).then(|| args.hosts.clone()),
        evidence,
        boundaries: args.bounds.boundaries()?,
        uses: args.bounds.uses,
        holder: args
            .holder
            .as_deref()
            .map(files::read_public_key)
            .transpose()?
            .map(|(k, _)| writ_core::model::Holder::new(&k).public_key),
        delegation_depth: args.delegation_depth,
    };
    let conn = args.conn.open(true)?;
    let key = args.conn.idempotency()?;
    let view = conn.api.submit(&input, &key).map_err(api)?;
    let written = write_writ(args.out.as_deref(), &view)?;
    Ok(report(json_of(&args), &view, written.as_ref()))
}

fn json_of(args: &RequestArgs) -> bool {
    args.conn.json
}
