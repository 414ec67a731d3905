//! `writ keygen`: create an Ed25519 (or hybrid Ed25519 + ML-DSA-65) key pair.

use std::path::PathBuf;
use std::process::ExitCode;

use writ_core::SigningKey;
use writ_core::hybrid::{self, HybridSigningKey};
use writ_core::keys::public_key_file;

use crate::files;

/// Create an Ed25519 key pair: FILE (private, mode 0600) and FILE.pub.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes to FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// A name recorded in the public key file (e.g. the holder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The signature suite: `ed25519`, or `hybrid` (Ed25519 + ML-DSA-65,
    /// both signing; for issuer and ledger keys, docs/format.md §17).
    #[arg(long, value_enum, default_value = "ed25519")]
    pub suite: KeySuite,
}

/// `writ keygen --suite`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeySuite {
    /// Plain Ed25519.
    Ed25519,
    /// `ed25519+ml-dsa-65`: an Ed25519 and an ML-DSA-65 key that sign together.
    Hybrid,
}

pub fn run(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let pub_path = pub_path(&args.out);
    if pub_path.exists() {
        anyhow::bail!("`{}` already exists; choose another --out", pub_path.display());
    }
    if args.suite == KeySuite::Hybrid {
        let key = HybridSigningKey::from_seeds(&*files::random_seed()?, &*files::random_seed()?);
        files::write_new(&args.out, hybrid::private_key_file(&key).as_bytes(), 0o600)?;
        files::write_new(&pub_path, hybrid::public_key_file(&key, args.name.as_deref()).as_bytes(), 0o644)?;
        println!("{}", key.ed25519().key_id());
        eprintln!(
            "wrote {} (private, 0600) and {} (suite {})",
            args.out.display(),
            pub_path.display(),
            hybrid::SUITE_NAME
        );
        return Ok(ExitCode::SUCCESS);
    }
    let key = SigningKey::from_seed(&*files::random_seed()?);
    files::write_private_key(&args.out, &key)?;
    files::write_new(&pub_path, public_key_file(&key.public(), args.name.as_deref()).as_bytes(), 0o644)?;
    println!("{}", key.key_id());
    eprintln!("wrote {} (private, 0600) and {}", args.out.display(), pub_path.display());
    Ok(ExitCode::SUCCESS)
}

/// `FILE.pub` beside `FILE`.
pub fn pub_path(path: &std::path::Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}
