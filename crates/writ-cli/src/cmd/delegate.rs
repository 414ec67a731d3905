//! `writ delegate`: the holder of a writ mints a narrower child of it
//! (`writ_core::delegate`, `docs/format.md` §18) and writes it with its
//! chain file (`OUT.chain`: the ancestors, parent first), which gates read
//! beside the writ. Minting needs no authority and no trust root: every
//! verifier checks the chain.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use writ_core::Timestamp;
use writ_core::delegate::{self, Chain, Narrowing};

use crate::exit::{self, UsageError};
use crate::files;

/// Mint a narrower child of a writ you hold (signed by your holder key).
#[derive(Debug, clap::Args)]
pub struct DelegateArgs {
    /// The parent writ (its chain is read from WRIT.chain when it exists).
    #[arg(long, value_name = "WRIT")]
    pub writ: PathBuf,
    /// The holder's private key (the key the parent's `lineage.holder` names).
    #[arg(long, value_name = "KEYFILE")]
    pub key: PathBuf,
    /// Keep only this tool of the parent (narrowed by --arg).
    #[arg(long, value_name = "NAME")]
    pub tool: Option<String>,
    /// An argument value the tool may receive (repeatable; several values for
    /// one name allow any of them). Arguments not named keep the parent's rule.
    #[arg(long = "arg", value_name = "NAME=VALUE", requires = "tool")]
    pub args: Vec<String>,
    /// Start of validity (RFC 3339; default: now, or the parent's start).
    #[arg(long, value_name = "TIME")]
    pub not_before: Option<String>,
    /// End of validity: RFC 3339, or +SECONDS from now (default: the parent's).
    #[arg(long, value_name = "TIME|+SECS")]
    pub not_after: Option<String>,
    /// Most executions (default: the parent's).
    #[arg(long, value_name = "N")]
    pub uses: Option<u32>,
    /// Levels of delegation allowed below the child (default: one fewer
    /// than the parent has left).
    #[arg(long, value_name = "N")]
    pub depth: Option<u32>,
    /// The next holder: the public key that may delegate the child in turn.
    #[arg(long, value_name = "KEYFILE.pub")]
    pub to: Option<PathBuf>,
    /// Where to write the child (the chain goes to FILE.chain).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,
    /// Record the child with this authority once minted (`POST
    /// /v1/delegations`), so online gates answer its status and count its
    /// uses against the parent's.
    #[arg(long, value_name = "URL", conflicts_with = "home")]
    pub authority: Option<String>,
    /// Record the child with the authority of this home (embedded).
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// The key that signs the API call recording the child (a `requester`
    /// of the trust root, e.g. the orchestrator's; default: WRIT_KEY or the
    /// config file's `key`). Not the holder key.
    #[arg(long = "as", value_name = "KEYFILE", requires = "authority")]
    pub as_key: Option<PathBuf>,
    /// CA certificates (PEM) for an `https://` --authority.
    #[arg(long, value_name = "FILE", requires = "authority")]
    pub ca: Option<PathBuf>,
    /// Print JSON: `{"writ_id", "parent_id", "writ_file", "chain_file"}`
    /// (plus `"recorded"`, the authority's record, with --authority or
    /// --home), or `{"verdict": "deny", "code", "detail"}` when refused.
    #[arg(long)]
    pub json: bool,
}

fn with_ext(path: &Path, ext: &str) -> PathBuf {
    let mut p = path.as_os_str().to_os_string();
    p.push(format!(".{ext}"));
    PathBuf::from(p)
}

fn time_arg(flag: &str, s: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    if let Some(secs) = s.strip_prefix('+') {
        let secs: i64 =
            secs.parse().map_err(|_| UsageError(format!("--{flag} `{s}`: +SECONDS must be a whole number")))?;
        return Ok(now.plus(secs));
    }
    files::parse_time(s).map_err(|e| UsageError(format!("--{flag} `{s}`: {e} (give RFC 3339 UTC or +SECONDS)")).into())
}

/// The `--arg` values grouped by name, in first-seen order.
fn grouped(args: &[String]) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for a in args {
        let (k, v) = a.split_once('=').ok_or_else(|| UsageError(format!("--arg `{a}` must be NAME=VALUE")))?;
        match out.iter_mut().find(|(n, _)| n == k) {
            Some((_, vs)) => vs.push(v.to_string()),
            None => out.push((k.to_string(), vec![v.to_string()])),
        }
    }
    Ok(out)
}

pub fn run(args: DelegateArgs) -> anyhow::Result<ExitCode> {
    let max = writ_core::limits::MAX_ENVELOPE_BYTES;
    let parent_env = files::read_bounded(&args.writ, max)?;
    let parent_chain = match files::read_bounded(&with_ext(&args.writ, "chain"), max * 2 * 8) {
        Ok(bytes) => Chain::parse(&bytes).map_err(|e| anyhow::anyhow!("`{}.chain`: {e}", args.writ.display()))?,
        Err(_) if !with_ext(&args.writ, "chain").exists() => Vec::new(),
        Err(e) => return Err(e),
    };
    let key = files::read_private_key(&args.key)?;
    let now = files::now()?;
    let parent = match delegate::read_parent(&parent_env) {
        Ok(p) => p,
        Err(d) => return Ok(refused(args.json, &d)),
    };
    let mut n = Narrowing::new(files::new_id(), now);
    if let Some(tool) = &args.tool {
        match delegate::narrow_tool(&parent, tool, &grouped(&args.args)?) {
            Ok(a) => n.actions = Some(vec![a]),
            Err(d) => return Ok(refused(args.json, &d)),
        }
    }
    n.not_before = args.not_before.as_deref().map(|s| time_arg("not-before", s, now)).transpose()?;
    n.not_after = args.not_after.as_deref().map(|s| time_arg("not-after", s, now)).transpose()?;
    n.uses = args.uses;
    n.depth = args.depth;
    n.holder = args.to.as_deref().map(files::read_public_key).transpose()?.map(|(k, _)| k);
    let child = match delegate::mint(&parent_env, &key, &n) {
        Ok(c) => c,
        Err(d) => return Ok(refused(args.json, &d)),
    };
    let chain = Chain::below(&parent_env, &parent_chain);
    let chain_file = with_ext(&args.out, "chain");
    files::write_atomic(&args.out, &child)?;
    files::write_atomic(&chain_file, chain.to_json().as_bytes())?;
    let recorded = if args.authority.is_some() || args.home.is_some() {
        let conn = crate::config::ConnArgs {
            home: args.home.clone(),
            authority: args.authority.clone(),
            key: args.as_key.clone().or_else(|| std::env::var_os("WRIT_KEY").map(PathBuf::from)),
            ca: args.ca.clone(),
            tls_client_cert: None,
            tls_client_key: None,
            database: None,
            pg_schema: "writ".into(),
            idempotency_key: None,
            json: args.json,
        };
        let r = (|| {
            let c = conn.open(args.authority.is_some())?;
            super::delegations::submit(&c, &args.out, &chain_file)
        })();
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("writ: the child writ {} is written to {} but not recorded", n.id, args.out.display());
                return crate::config::finish(args.json, Err(e));
            }
        }
    } else {
        None
    };
    if args.json {
        let mut v = serde_json::json!({"writ_id": n.id, "parent_id": parent.id, "writ_file": args.out.display().to_string(),
            "chain_file": chain_file.display().to_string()});
        if let (Some(r), Some(m)) = (&recorded, v.as_object_mut()) {
            m.insert("recorded".into(), serde_json::to_value(r).unwrap_or_default());
        }
        println!("{v}");
    } else {
        if let Some(r) = &recorded {
            eprintln!(
                "recorded with the authority: ledger index {}, {} use(s), state {}",
                r.index,
                r.uses.map_or_else(|| "uncounted".to_string(), |u| u.to_string()),
                r.state
            );
        }
        println!("{}", n.id);
        eprintln!(
            "wrote child writ {} of {} to {} (chain {})",
            n.id,
            parent.id,
            args.out.display(),
            chain_file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A child the parent does not allow: exit 77 with the code.
fn refused(json: bool, d: &writ_core::Denial) -> ExitCode {
    if json {
        println!("{}", serde_json::json!({"verdict": "deny", "code": d.code.as_str(), "detail": d.detail}));
    } else {
        eprintln!("writ: refused ({}): {} — {}", d.code, d.detail, d.code.hint());
    }
    exit::denied()
}
