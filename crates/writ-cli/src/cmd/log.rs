//! `writ log`: the transparency ledger — verifier key, checkpoint, proofs.
//!
//! A ledger lives in a home directory (`--home`, default `$WRIT_HOME` or
//! `./.writ`): `ledger.sqlite`, `ledger.key` (mode 0600) and `tiles/`.
//! `--ledger PATH_OR_URL` points at another store (a SQLite file or a
//! `postgres://` URL); its checkpoints are checked with the home's key or
//! with `--verifier`.
//!
//! Read-only subcommands never create anything. Appending signs with the
//! home's key, which refuses (one log per key) any store that does not
//! extend the last checkpoint the key signed (`ledger.checkpoint`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use writ_ledger::writ_tlog::checkpoint::{self, Checkpoint};
use writ_ledger::writ_tlog::note::{NoteSigner, VerifierKey};
use writ_ledger::writ_tlog::tlog_proof::TlogProof;
use writ_ledger::writ_tlog::tree;
use writ_ledger::{Ledger, LedgerOptions, Location, Store, key};

use crate::exit;

/// Origin (key name) given to a new ledger key.
pub const DEFAULT_ORIGIN: &str = "writ.localhost/ledger";

/// Where the ledger is and how to check it (shared by `writ log` and `writ audit`).
#[derive(Debug, Clone, clap::Args)]
pub struct LedgerTarget {
    /// The writ home directory (ledger.sqlite, ledger.key, tiles/).
    #[arg(long, global = true, env = "WRIT_HOME", default_value = "./.writ", value_name = "DIR")]
    pub home: PathBuf,
    /// A ledger store other than the home's: a SQLite file or a `postgres://` URL.
    #[arg(long, global = true, value_name = "PATH_OR_URL")]
    pub ledger: Option<String>,
    /// PostgreSQL schema holding the ledger tables (`--schema` is the same
    /// flag, as `writ serve` names it).
    #[arg(long, visible_alias = "schema", global = true, default_value = "writ", value_name = "NAME")]
    pub pg_schema: String,
    /// Verifier key string (`<name>+<id>+<key>`) to check checkpoints with,
    /// instead of the home's ledger.key.
    #[arg(long, global = true, value_name = "VKEY")]
    pub verifier: Option<String>,
}

impl LedgerTarget {
    pub fn key_path(&self) -> PathBuf {
        self.home.join("ledger.key")
    }

    /// The store location: `--ledger`, else the store the home is bound
    /// to (`store.json`), else the home's `ledger.sqlite`.
    pub fn location(&self) -> anyhow::Result<Location> {
        if let Some(l) = &self.ledger {
            return Ok(Location::parse(l, &self.pg_schema));
        }
        Ok(match writ_authority::home::store(&self.home)? {
            Some(writ_authority::home::Store::Postgres { url, schema }) => Location::Postgres { url, schema },
            Some(writ_authority::home::Store::Sqlite) | None => Location::Sqlite(self.home.join("ledger.sqlite")),
        })
    }

    /// Whether the store is the home's own (not one named by `--ledger`).
    pub fn is_home_store(&self) -> bool {
        self.ledger.is_none()
    }

    /// The verifier for this ledger's checkpoints.
    pub fn verifier(&self) -> anyhow::Result<VerifierKey> {
        if let Some(v) = &self.verifier {
            return VerifierKey::parse(v).map_err(|e| exit::UsageError(format!("invalid --verifier: {e}")).into());
        }
        let signer = key::load(&self.key_path()).with_context(|| {
            format!("cannot load the ledger key from `{}`; pass --verifier or --home", self.home.display())
        })?;
        Ok(signer.verifier().clone())
    }

    /// The signer, creating the home and key if missing.
    pub fn signer(&self) -> anyhow::Result<NoteSigner> {
        std::fs::create_dir_all(&self.home)
            .with_context(|| format!("cannot create writ home `{}`", self.home.display()))?;
        Ok(key::load_or_create(&self.key_path(), DEFAULT_ORIGIN)?)
    }

    /// The last checkpoint the home's ledger key signed (its one-log
    /// record, `ledger.checkpoint`), if the home has one; `Err` names why
    /// the record is not valid.
    pub fn last_signed(&self, v: &VerifierKey) -> Result<Option<writ_ledger::SignedCheckpoint>, String> {
        writ_ledger::guard::read_last_signed(&self.key_path(), v.name(), v).map_err(|e| e.to_string())
    }

    /// Open the store for reading, failing when it does not exist yet.
    pub fn store(&self) -> anyhow::Result<Box<dyn Store>> {
        let location = self.location()?;
        if let Location::Sqlite(p) = &location
            && !p.exists()
        {
            bail!("no ledger at `{}`; check --home/--ledger, or create one with `writ log append`", p.display());
        }
        Ok(location.connect()?)
    }

    /// The latest checkpoint, signature-checked.
    pub fn checkpoint(&self, store: &mut dyn Store, v: &VerifierKey) -> anyhow::Result<(Vec<u8>, Checkpoint)> {
        let note = store.latest_checkpoint()?.context("the ledger has no checkpoint yet")?;
        let cp = checkpoint::open(&note, v.name(), v).context("the ledger's latest checkpoint does not verify")?;
        Ok((note, cp))
    }
}

/// Work with the transparency ledger.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub target: LedgerTarget,
    #[command(subcommand)]
    pub command: LogCommand,
}

/// `writ log` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Print the ledger's verifier key.
    Key {
        /// Create the home and a new ledger key if there is none.
        #[arg(long)]
        create: bool,
    },
    /// Print the latest signed checkpoint (a C2SP signed note).
    Checkpoint,
    /// Print an offline proof (C2SP tlog-proof) that entry N is in the ledger.
    Proof {
        /// Entry index.
        #[arg(long, value_name = "N")]
        index: u64,
        /// Write the proof here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write the entry's bytes here.
        #[arg(long, value_name = "FILE")]
        entry_out: Option<PathBuf>,
    },
    /// Print the consistency proof from tree size SIZE to the latest checkpoint
    /// (base64 hashes, one a line).
    Consistency {
        /// The earlier tree size.
        #[arg(long, value_name = "SIZE")]
        from: u64,
    },
    /// Verify an offline proof file against an entry file, with only the verifier key.
    VerifyProof {
        /// The tlog-proof file.
        #[arg(long, value_name = "FILE")]
        proof: PathBuf,
        /// The entry bytes.
        #[arg(long, value_name = "FILE")]
        entry: PathBuf,
    },
    /// Append an entry (debug aid; the authority appends in production).
    Append {
        /// The entry text.
        #[arg(long, conflicts_with = "file")]
        data: Option<String>,
        /// A file holding the entry bytes.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

pub fn run(args: LogArgs) -> anyhow::Result<ExitCode> {
    let t = &args.target;
    match args.command {
        LogCommand::Key { create } => {
            let v = match &t.verifier {
                Some(_) => t.verifier()?,
                None if create => t.signer()?.verifier().clone(),
                None if !t.key_path().exists() => {
                    return Err(exit::UsageError(format!(
                        "no ledger key at `{}`; check --home, or create one with `writ log key --create` (or `writ init`)",
                        t.key_path().display()
                    ))
                    .into());
                }
                None => t.verifier()?,
            };
            println!("{v}");
        }
        LogCommand::Checkpoint => {
            let v = t.verifier()?;
            let mut store = t.store()?;
            let (note, _) = t.checkpoint(store.as_mut(), &v)?;
            std::io::stdout().write_all(&note)?;
        }
        LogCommand::Proof { index, out, entry_out } => {
            let v = t.verifier()?;
            let mut store = t.store()?;
            let (note, cp) = t.checkpoint(store.as_mut(), &v)?;
            if index >= cp.size {
                return Err(exit::UsageError(format!(
                    "--index {index} is not in the ledger (size {}); use an index below it",
                    cp.size
                ))
                .into());
            }
            let hashes = tree::inclusion_proof(index, cp.size, |ix| store.read_hashes(ix))?;
            let rows = store.scan_entries(index, 1)?;
            let entry = match rows.first() {
                Some((i, d)) if *i == index => d.clone(),
                _ => bail!("entry {index} is missing from the store; run `writ audit`"),
            };
            let proof = TlogProof { extra: None, index, hashes, checkpoint: note };
            // Check what we hand out.
            proof
                .verify_entry(&entry, v.name(), &v)
                .context("the generated proof does not verify; run `writ audit`")?;
            let bytes = proof.to_bytes();
            match out {
                Some(p) => std::fs::write(&p, &bytes).with_context(|| format!("cannot write `{}`", p.display()))?,
                None => std::io::stdout().write_all(&bytes)?,
            }
            if let Some(p) = entry_out {
                std::fs::write(&p, &entry).with_context(|| format!("cannot write `{}`", p.display()))?;
            }
        }
        LogCommand::Consistency { from } => {
            let v = t.verifier()?;
            let mut store = t.store()?;
            let (_, cp) = t.checkpoint(store.as_mut(), &v)?;
            if from > cp.size {
                return Err(
                    exit::UsageError(format!("--from {from} is larger than the ledger (size {})", cp.size)).into()
                );
            }
            let hashes = tree::consistency_proof(from, cp.size, |ix| store.read_hashes(ix))?;
            let mut out = std::io::stdout().lock();
            for h in hashes {
                writeln!(out, "{}", STANDARD.encode(h))?;
            }
        }
        LogCommand::VerifyProof { proof, entry } => {
            let v = t.verifier()?;
            let pb = std::fs::read(&proof).with_context(|| format!("cannot read `{}`", proof.display()))?;
            let eb = std::fs::read(&entry).with_context(|| format!("cannot read `{}`", entry.display()))?;
            let p = TlogProof::parse(&pb).context("not a tlog-proof file")?;
            match p.verify_entry(&eb, v.name(), &v) {
                Ok(ok) => println!("ok: entry {} is in `{}` at tree size {}", ok.index, v.name(), ok.checkpoint.size),
                Err(e) => {
                    eprintln!("proof does not verify: {e}");
                    return Ok(exit::denied());
                }
            }
        }
        LogCommand::Append { data, file } => {
            let bytes = match (data, file) {
                (Some(d), None) => d.into_bytes(),
                (None, Some(f)) => std::fs::read(&f).with_context(|| format!("cannot read `{}`", f.display()))?,
                _ => return Err(exit::UsageError("pass --data TEXT or --file FILE".into()).into()),
            };
            t.signer()?;
            let opts = LedgerOptions {
                tiles_dir: t.ledger.is_none().then(|| t.home.join("tiles")),
                ..LedgerOptions::default()
            };
            // One log per key: refuses a store that does not extend what
            // the home's key last signed.
            let ledger = Ledger::open_keyed(t.location()?, &t.key_path(), opts)?;
            let r = ledger.append_with_receipt(bytes)?;
            println!("{}", r.index);
            ledger.close();
        }
    }
    Ok(ExitCode::SUCCESS)
}
