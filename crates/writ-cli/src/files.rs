//! File helpers shared by the subcommands: bounded reads, private key files,
//! atomic writes, and the wall clock (the only clock writ reads lives in the
//! binaries, never in the core).

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use writ_core::keys::{PublicKey, SigningKey, parse_public_key_file};
use zeroize::Zeroizing;

// The helpers the gate commands need too live once, in writ-gate-cli.
pub use writ_gate_cli::files::{
    hash_file, now, parse_time, read_bounded, read_private_key, read_trust, resolve_program,
};

/// Header of a private key file.
const PRIVATE_PREFIX: &str = "ed25519-secret ";

/// Writes `bytes` to a new file with `mode`, refusing to replace one.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create `{}` (it must not exist yet)", path.display()))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).with_context(|| format!("cannot write `{}`", path.display()))
}

/// Replaces `path` atomically (write a temporary file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("writ")));
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, bytes, 0o644)?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace `{}`", path.display()))
}

/// Writes a private key file (mode 0600) for `key`.
pub fn write_private_key(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    let text = Zeroizing::new(format!("{PRIVATE_PREFIX}{}\n", writ_core::b64::encode(&key.seed()[..])));
    write_new(path, text.as_bytes(), 0o600)
}

/// Loads a public key file; returns the key and the name written in it.
pub fn read_public_key(path: &Path) -> anyhow::Result<(PublicKey, Option<String>)> {
    let text = String::from_utf8(read_bounded(path, 1024)?).context("public key file is not text")?;
    parse_public_key_file(&text).map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))
}

/// 32 random bytes from the operating system.
pub fn random_seed() -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut_slice()).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(seed)
}

/// A fresh UUIDv7, lowercase.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// A DSSE envelope (for commands that edit one, like the demo's tampering step).
pub use writ_core::dsse::Envelope;
