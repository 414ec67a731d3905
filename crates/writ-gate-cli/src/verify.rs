//! `verify`: check a writ offline, optionally against an invocation (a
//! check only: nothing runs, nothing is recorded).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;
use writ_core::scope::{Attempt, ExecAttempt, HostFacts};
use writ_core::{Context, Denial, Timestamp, Unverified, verify};

use crate::config::GateConfig;
use crate::exit::{self, UsageError};
use crate::files;

/// Verify a writ offline against a trust root; exit 0 allowed, 77 denied.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The writ (DSSE envelope JSON); `-` reads stdin.
    pub writ: PathBuf,
    /// The trust-root file.
    #[arg(long, value_name = "FILE")]
    pub trust: PathBuf,
    /// Verify as of this time (RFC 3339 UTC) instead of now.
    #[arg(long, value_parser = files::parse_time)]
    pub now: Option<Timestamp>,
    /// Print a JSON verdict.
    #[arg(long)]
    pub json: bool,
    /// The ledger receipt returned with the writ.
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// Ancestor writs of a delegated writ, parent first.
    #[arg(long = "parent", value_name = "FILE")]
    pub parents: Vec<PathBuf>,
    /// An environment variable the program would receive (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Host labels to check as (a what-if: `exec` takes them from the gate configuration).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// The gate configuration whose host name and labels to check as
    /// (default: /etc/writ/gate.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Check it as an offline execution would (offline permission, uses).
    #[arg(long)]
    pub offline: bool,
    /// The invocation to check: PROGRAM ARGS… (after `--`).
    #[arg(last = true, value_name = "PROGRAM ARGS")]
    pub invocation: Vec<String>,
}

fn read_input(path: &std::path::Path, max: usize) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        use std::io::Read as _;
        let mut buf = Vec::new();
        std::io::stdin().take(max as u64 + 1).read_to_end(&mut buf).context("cannot read stdin")?;
        Ok(buf)
    } else {
        files::read_bounded(path, max)
    }
}

/// The kernel's host name (only `verify`'s what-if default; `exec` takes it
/// from the gate configuration).
fn kernel_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// `verify`.
///
/// # Errors
/// The trust root, writ, receipt or parents cannot be read; a bad `--env`.
pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let at = match args.now {
        Some(t) => t,
        None => files::now()?,
    };
    let trust = crate::trust::load_for_gate(&args.trust, None, at)?;
    // Read one byte past the limit so that an oversized writ is denied
    // `too_large` by the core rather than refused here.
    let bytes = read_input(&args.writ, writ_core::limits::MAX_ENVELOPE_BYTES + 1)?;
    let mut ctx = Context::check_at(at);
    if args.offline {
        ctx.mode = writ_core::Mode::Offline;
    }
    for p in &args.parents {
        ctx.ancestors.push(files::read_bounded(p, writ_core::limits::MAX_ENVELOPE_BYTES)?);
    }
    if let Some(r) = &args.receipt {
        ctx.receipt = Some(files::read_bounded(r, writ_core::limits::MAX_RECEIPT_BYTES)?);
    }
    let config = GateConfig::load(args.config.as_deref())?;
    let mut labels = config.labels.clone();
    labels.extend(args.labels.iter().cloned());
    ctx.host = Some(HostFacts { hostname: config.hostname.clone().unwrap_or_else(kernel_hostname), labels });
    if let Some((program, rest)) = args.invocation.split_first() {
        let path = files::resolve_program(program)?;
        let mut env = BTreeMap::new();
        for kv in &args.env {
            let (k, v) = kv.split_once('=').ok_or_else(|| UsageError(format!("--env `{kv}` must be NAME=VALUE")))?;
            env.insert(k.to_owned(), v.to_owned());
        }
        ctx.attempt = Some(Attempt::Exec(ExecAttempt {
            program: path.to_str().context("program path is not UTF-8")?.to_owned(),
            sha256: files::hash_file(&path)?,
            args: rest.to_vec(),
            env,
            cwd: std::env::current_dir()?.to_str().context("cwd is not UTF-8")?.to_owned(),
            arg_files: BTreeMap::new(),
        }));
    }
    let verdict = verify(&bytes, &trust, &ctx);
    report(&bytes, &verdict, args.json, &trust);
    Ok(if verdict.is_ok() { ExitCode::SUCCESS } else { exit::denied() })
}

fn report(bytes: &[u8], verdict: &Result<writ_core::Verified, Denial>, json: bool, trust: &writ_core::TrustRoot) {
    match verdict {
        Ok(v) => {
            let issuer = trust.key(&v.signer()).map_or("?", |k| k.entry.name.as_str());
            if json {
                println!(
                    "{}",
                    json!({"verdict": "allow", "code": null, "writ_id": v.id(), "issuer": issuer,
                           "not_after": v.predicate().validity.not_after, "envelope_sha256": v.envelope_digest().to_string()})
                );
            } else {
                println!(
                    "allow: writ {} issued by `{issuer}`, valid until {}",
                    v.id(),
                    v.predicate().validity.not_after
                );
            }
        }
        Err(d) => {
            if json {
                println!(
                    "{}",
                    json!({"verdict": "deny", "code": d.code.as_str(), "writ_id": Unverified::claimed_id(bytes), "detail": d.detail})
                );
            } else {
                eprintln!("writ: denied ({}): {} — {}", d.code, d.detail, d.code.hint());
            }
        }
    }
}
