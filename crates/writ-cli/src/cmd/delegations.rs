//! `writ delegations`: record a delegated writ with the authority
//! (`POST /v1/delegations`, `docs/api.md`) and read the record back. Once
//! recorded, an online gate gets the child's status from the authority and
//! each run of it consumes a use of its parent (`docs/agents.md`,
//! "Delegating to a sub-agent online").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use writ_api::delegation::{DelegationInput, DelegationView};
use writ_core::delegate::Chain;

use crate::config::{Conn, ConnArgs, api, finish, visible};
use crate::files;

/// Record delegated writs with the authority.
#[derive(Debug, clap::Args)]
pub struct DelegationsArgs {
    #[command(subcommand)]
    pub cmd: Sub,
}

/// `writ delegations …`.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Record a child writ (from `writ delegate`) and its chain: the
    /// authority verifies the chain back to a writ it issued and logs a
    /// `delegation` entry (77 when refused, with the code).
    Submit(SubmitArgs),
    /// Show a recorded child writ (its state, uses, ledger index).
    Show(ShowArgs),
}

/// `writ delegations submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The child writ file.
    #[arg(long, value_name = "FILE")]
    pub writ: PathBuf,
    /// Its chain file (default: FILE.chain).
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
}

/// `writ delegations show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The child writ's id.
    pub writ_id: String,
}

/// `PATH.chain`.
#[must_use]
pub fn chain_path(writ: &Path) -> PathBuf {
    let mut p = writ.as_os_str().to_os_string();
    p.push(".chain");
    PathBuf::from(p)
}

/// Sends the child writ at `writ` and its chain file to the authority and
/// writes the receipt of its `delegation` entry to `WRIT.receipt` (where
/// gates read a writ's receipt: a trust root with `require_receipt` runs a
/// delegated writ only with it).
///
/// # Errors
/// Unreadable files, a chain file that does not parse; the authority's
/// refusal (as a [`crate::config::api`] error).
pub fn submit(conn: &Conn, writ: &Path, chain: &Path) -> anyhow::Result<DelegationView> {
    let max = writ_core::limits::MAX_ENVELOPE_BYTES;
    let child = files::read_bounded(writ, max)?;
    let child =
        String::from_utf8(child).map_err(|_| anyhow::anyhow!("`{}` is not a writ (not UTF-8)", writ.display()))?;
    let ancestors = Chain::parse(&files::read_bounded(chain, max * 2 * 8)?)
        .map_err(|e| anyhow::anyhow!("`{}`: {e}", chain.display()))?;
    let input = DelegationInput { writ: child, ancestors: Chain::new(&ancestors).ancestors };
    let v = conn.api.delegate(&input).map_err(api)?;
    let mut rp = writ.as_os_str().to_os_string();
    rp.push(".receipt");
    files::write_atomic(Path::new(&rp), v.receipt.as_bytes())?;
    Ok(v)
}

/// Prints a record (one line, or its JSON).
pub fn print(json: bool, v: &DelegationView) {
    if json {
        println!("{}", serde_json::to_string(v).unwrap_or_default());
    } else {
        println!("{}", v.state);
        eprintln!(
            "delegated writ {} (depth {}, {} use(s){}) of {} recorded at ledger index {}; root writ {}",
            visible(&v.writ_id),
            v.depth,
            v.uses.map_or_else(|| "uncounted".to_string(), |u| u.to_string()),
            if v.used > 0 { format!(", {} used", v.used) } else { String::new() },
            visible(&v.parent_writ_id),
            v.index,
            visible(&v.root_writ_id)
        );
    }
}

pub fn run(args: DelegationsArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        Sub::Submit(a) => {
            let json = a.conn.json;
            finish(
                json,
                (|| {
                    let conn = a.conn.open(true)?;
                    let chain = a.chain.clone().unwrap_or_else(|| chain_path(&a.writ));
                    let v = submit(&conn, &a.writ, &chain)?;
                    print(json, &v);
                    Ok(ExitCode::SUCCESS)
                })(),
            )
        }
        Sub::Show(a) => {
            let json = a.conn.json;
            finish(
                json,
                (|| {
                    let conn = a.conn.open(true)?;
                    let v = conn.api.delegation(&a.writ_id).map_err(api)?;
                    print(json, &v);
                    Ok(if v.state == "revoked" { crate::exit::denied() } else { ExitCode::SUCCESS })
                })(),
            )
        }
    }
}
