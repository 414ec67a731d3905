//! `writ trust`: manage a trust-root file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use writ_core::trust::{Role, key_entry};
use writ_core::{KeyId, Timestamp, TrustRoot};

use crate::exit::UsageError;
use crate::files;

/// Manage a trust root: which keys are trusted, for what, until when.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    #[command(subcommand)]
    pub command: TrustCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TrustCommand {
    /// Add a public key (creates the trust root if it does not exist).
    Add {
        /// The trust-root file.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        /// Who holds the key.
        #[arg(long)]
        name: Option<String>,
        /// issuer, approver, requester, gate or ledger (repeat or comma-separate for several).
        #[arg(long = "role", required = true, value_delimiter = ',')]
        roles: Vec<String>,
        /// The public key file (from `writ keygen`).
        #[arg(long, value_name = "FILE.pub")]
        key: PathBuf,
        /// Groups (repeat or comma-separate).
        #[arg(long = "group", value_delimiter = ',')]
        groups: Vec<String>,
        /// Start of the key's signing window (RFC 3339 UTC).
        #[arg(long, value_parser = files::parse_time)]
        not_before: Option<Timestamp>,
        /// End of the key's signing window (retirement), RFC 3339 UTC.
        #[arg(long, value_parser = files::parse_time)]
        not_after: Option<Timestamp>,
    },
    /// Mark a key revoked: nothing it signed verifies any more.
    Revoke {
        /// The trust-root file.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        /// Key id (hex) to revoke.
        #[arg(long)]
        key_id: String,
    },
    /// Set trust-root-wide requirements.
    Set {
        /// The trust-root file.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        /// Longest writ lifetime in seconds (0 = no cap).
        #[arg(long)]
        max_lifetime: Option<u64>,
        /// Require a ledger receipt before running a writ.
        #[arg(long)]
        require_receipt: Option<bool>,
        /// Require a fresh revocation status before running a writ.
        #[arg(long)]
        require_status: Option<bool>,
    },
    /// Print the trust root.
    Show {
        /// The trust-root file.
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        /// Print the file's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn load_or_new(path: &std::path::Path) -> anyhow::Result<TrustRoot> {
    if path.exists() { files::read_trust(path) } else { Ok(TrustRoot::empty()) }
}

fn save(path: &std::path::Path, trust: &TrustRoot) -> anyhow::Result<()> {
    files::write_atomic(path, (trust.to_json_pretty() + "\n").as_bytes())
}

pub fn run(args: TrustArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TrustCommand::Add { trust, name, roles, key, groups, not_before, not_after } => {
            let roles = roles
                .iter()
                .map(|r| {
                    Role::from_name(r).ok_or_else(|| {
                        UsageError(format!("unknown role `{r}`: use issuer, approver, requester, gate or ledger"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (public, file_name) = files::read_public_key(&key)?;
            let name = name.or(file_name).ok_or_else(|| UsageError("give the key holder's --name".into()))?;
            let mut root = load_or_new(&trust)?;
            let mut entry = key_entry(&name, roles, groups, &public);
            entry.not_before = not_before;
            entry.not_after = not_after;
            root.add(entry).with_context(|| format!("cannot add `{}`", key.display()))?;
            save(&trust, &root)?;
            println!("{}", public.key_id());
            eprintln!("added `{name}` to {}", trust.display());
        }
        TrustCommand::Revoke { trust, key_id } => {
            let id = KeyId::parse(&key_id).map_err(|e| UsageError(format!("--key-id: {e}")))?;
            let root = files::read_trust(&trust)?;
            let mut file = root.file().clone();
            let entry = file
                .keys
                .iter_mut()
                .find(|k| k.key_id == id)
                .with_context(|| format!("key {id} is not in `{}`", trust.display()))?;
            entry.revoked = true;
            save(&trust, &TrustRoot::from_file(file)?)?;
            eprintln!("revoked key {id}");
        }
        TrustCommand::Set { trust, max_lifetime, require_receipt, require_status } => {
            let mut root = load_or_new(&trust)?;
            {
                let mut s = root.settings_mut();
                if let Some(m) = max_lifetime {
                    s.max_writ_lifetime_secs((m > 0).then_some(m));
                }
                if let Some(r) = require_receipt {
                    s.require_receipt(r);
                }
                if let Some(r) = require_status {
                    s.require_status(r);
                }
            }
            save(&trust, &root)?;
        }
        TrustCommand::Show { trust, json } => {
            let root = files::read_trust(&trust)?;
            if json {
                println!("{}", root.to_json_pretty());
                return Ok(ExitCode::SUCCESS);
            }
            let f = root.file();
            println!(
                "trust root v{}  max lifetime: {}  receipts required: {}  status required: {}",
                f.version,
                f.max_writ_lifetime_secs.map_or_else(|| "none".into(), |s| format!("{s}s")),
                f.require_receipt,
                f.require_status
            );
            for k in root.keys() {
                let e = &k.entry;
                let roles: Vec<_> = e.roles.iter().map(|r| format!("{r:?}").to_lowercase()).collect();
                let window = match (e.not_before, e.not_after) {
                    (None, None) => "always".to_owned(),
                    (a, b) => format!(
                        "{} .. {}",
                        a.map_or_else(|| "-".into(), |t| t.to_string()),
                        b.map_or_else(|| "-".into(), |t| t.to_string())
                    ),
                };
                println!(
                    "{}  {:<16} {:<20} groups={:<12} {}{}",
                    e.key_id,
                    e.name,
                    roles.join(","),
                    e.groups.join(","),
                    window,
                    if e.revoked { "  REVOKED" } else { "" }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
