//! `writ witness`: run a C2SP `tlog-witness` (see `writ_witness`).
//!
//! A witness directory holds `witness.key` (the Ed25519 private key, mode
//! 0600), `witness.vkey` (its cosignature verifier key
//! `<name>+<hex key id>+<base64(0x04 ‖ pubkey)>`, what a trust root lists)
//! and `witness.sqlite` (the latest cosigned checkpoint of each log).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use writ_core::SigningKey;
use writ_core::tlog::cosig::{CosignatureVerifier, Cosigner};
use writ_core::tlog::note::VerifierKey;

use crate::files;

const KEY: &str = "witness.key";
const VKEY: &str = "witness.vkey";
const DB: &str = "witness.sqlite";

/// Run a transparency-log witness (C2SP tlog-witness).
#[derive(Debug, clap::Args)]
pub struct WitnessArgs {
    #[command(subcommand)]
    pub command: WitnessCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum WitnessCommand {
    /// Create a witness directory: a new key named NAME; prints its verifier key.
    Init {
        /// The witness directory (created).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The witness's key name (a schema-less URL, e.g. `witness.example.com/w1`).
        #[arg(long)]
        name: String,
    },
    /// Serve `POST /add-checkpoint` for the logs given.
    Serve {
        /// The witness directory (from `writ witness init`).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7380")]
        listen: String,
        /// A log to witness: its origin and the verifier key of its checkpoints
        /// (`writ log key` prints a ledger's). Repeat for several logs.
        #[arg(long = "log", value_name = "ORIGIN=VKEY", required = true)]
        logs: Vec<String>,
    },
    /// Print the witness's verifier key.
    Key {
        /// The witness directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

pub fn run(args: WitnessArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        WitnessCommand::Init { dir, name } => init(&dir, &name),
        WitnessCommand::Serve { dir, listen, logs } => serve(&dir, &listen, &logs),
        WitnessCommand::Key { dir } => {
            println!("{}", load(&dir)?.verifier());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init(dir: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let key = SigningKey::from_seed(&*files::random_seed()?);
    let cosigner = Cosigner::new(name, key.as_dalek().clone())
        .map_err(|e| anyhow::anyhow!("invalid witness name `{name}`: {e} (use e.g. `witness.example.com/w1`)"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    files::write_private_key(&dir.join(KEY), &key)?;
    files::write_new(&dir.join(VKEY), format!("{}\n", cosigner.verifier()).as_bytes(), 0o644)?;
    println!("{}", cosigner.verifier());
    eprintln!(
        "wrote {} (private, 0600) and {}; list the key above as a witness in the log's trust root",
        dir.join(KEY).display(),
        dir.join(VKEY).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The witness's cosigner: its key, named as its `witness.vkey` says.
fn load(dir: &Path) -> anyhow::Result<Cosigner> {
    let vkey_path = dir.join(VKEY);
    let text = String::from_utf8(files::read_bounded(&vkey_path, 1024)?)
        .with_context(|| format!("`{}` is not text", vkey_path.display()))?;
    let vkey = CosignatureVerifier::parse(text.trim_end()).map_err(|e| {
        anyhow::anyhow!("`{}`: {e}; is this a directory from `writ witness init`?", vkey_path.display())
    })?;
    let key = files::read_private_key(&dir.join(KEY))?;
    let cosigner = Cosigner::new(vkey.name(), key.as_dalek().clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if cosigner.verifier() != &vkey {
        anyhow::bail!("`{}` is not the key of `{}`", dir.join(KEY).display(), vkey_path.display());
    }
    Ok(cosigner)
}

fn parse_log(s: &str) -> anyhow::Result<(String, VerifierKey)> {
    let (origin, vkey) = s
        .split_once('=')
        .with_context(|| format!("--log `{s}`: expected ORIGIN=VKEY (the log's origin and its verifier key)"))?;
    let key = VerifierKey::parse(vkey).map_err(|e| {
        anyhow::anyhow!("--log `{origin}`: {e}; pass the verifier key `<name>+<key id>+<key>` (`writ log key`)")
    })?;
    if origin.is_empty() {
        anyhow::bail!("--log `{s}`: the origin is empty");
    }
    Ok((origin.to_string(), key))
}

fn serve(dir: &Path, listen: &str, logs: &[String]) -> anyhow::Result<ExitCode> {
    let cosigner = load(dir)?;
    let logs = logs.iter().map(|l| parse_log(l)).collect::<anyhow::Result<Vec<_>>>()?;
    let store = writ_witness::store::Store::open(&dir.join(DB))?;
    let witness = Arc::new(writ_witness::Witness::new(cosigner, logs, store));
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on `{listen}`"))?;
        let addr = listener.local_addr().context("listener address")?;
        eprintln!("writ witness {} listening on http://{addr}", witness.verifier().name());
        println!("http://{addr}");
        writ_witness::server::serve(listener, witness).await.context("the witness server failed")
    })?;
    Ok(ExitCode::SUCCESS)
}
