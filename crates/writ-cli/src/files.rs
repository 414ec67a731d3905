//! File helpers shared by the subcommands: bounded reads, private key files,
//! atomic writes, and the wall clock (the only clock writ reads lives in the
//! binaries, never in the core).

use std::fs::{self, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use writ_core::keys::{PublicKey, SigningKey, parse_public_key_file};
use writ_core::{Timestamp, TrustRoot};
use zeroize::Zeroizing;

/// Header of a private key file.
const PRIVATE_PREFIX: &str = "ed25519-secret ";

/// Reads at most `max` bytes of `path`, failing (not truncating) when larger.
pub fn read_bounded(path: &Path, max: usize) -> anyhow::Result<Vec<u8>> {
    let file = fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut buf = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut buf).with_context(|| format!("cannot read `{}`", path.display()))?;
    if buf.len() > max {
        bail!("`{}` is larger than {max} bytes", path.display());
    }
    Ok(buf)
}

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

/// Loads a private key file, refusing one readable by group or others.
///
/// The refusals name the real cause: a public key (`.pub`) passed where the
/// private key belongs is told so before anything is said about its mode.
pub fn read_private_key(path: &Path) -> anyhow::Result<SigningKey> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = fs::metadata(path).with_context(|| format!("cannot open key `{}`", path.display()))?;
    if !meta.is_file() {
        bail!("key `{}` is not a file", path.display());
    }
    let text = Zeroizing::new(
        String::from_utf8(read_bounded(path, 4096).with_context(|| format!("key `{}`", path.display()))?)
            .map_err(|_| anyhow::anyhow!("key `{}` is not a writ key file (not text)", path.display()))?,
    );
    if parse_public_key_file(&text).is_ok() {
        let hint = path
            .to_str()
            .and_then(|p| p.strip_suffix(".pub"))
            .map(|p| format!("; pass the private key `{p}`"))
            .unwrap_or_else(|| "; pass the private key file from `writ keygen` (the one without `.pub`)".into());
        bail!("`{}` is a public key, not a private key{hint}", path.display());
    }
    let Some(b64) = text.trim_end().strip_prefix(PRIVATE_PREFIX) else {
        bail!(
            "`{}` is not a writ private key (expected `{PRIVATE_PREFIX}<base64>` from `writ keygen`)",
            path.display()
        );
    };
    if meta.permissions().mode() & 0o077 != 0 {
        bail!("private key `{}` is readable by others; run `chmod 600 {}`", path.display(), path.display());
    }
    let seed =
        Zeroizing::new(writ_core::b64::decode(b64, 32).map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))?);
    let arr: [u8; 32] = seed.as_slice().try_into().context("a private key seed is 32 bytes")?;
    let arr = Zeroizing::new(arr);
    Ok(SigningKey::from_seed(&arr))
}

/// Loads a public key file; returns the key and the name written in it.
pub fn read_public_key(path: &Path) -> anyhow::Result<(PublicKey, Option<String>)> {
    let text = String::from_utf8(read_bounded(path, 1024)?).context("public key file is not text")?;
    parse_public_key_file(&text).map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))
}

/// Loads a trust root.
pub fn read_trust(path: &Path) -> anyhow::Result<TrustRoot> {
    let bytes = read_bounded(path, writ_core::limits::MAX_TRUST_ROOT_BYTES)?;
    TrustRoot::from_json(&bytes).with_context(|| format!("`{}`", path.display()))
}

/// The current time from the system clock.
pub fn now() -> anyhow::Result<Timestamp> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock is before 1970")?
        .as_secs();
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX)).context("system clock is out of range")
}

/// Parses an RFC 3339 `--now`/`--not-before` style argument.
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(String::from)
}

/// Resolves a program name like a shell would (a name with `/` as given,
/// otherwise the first executable on `PATH`), then canonicalizes it.
pub fn resolve_program(name: &str) -> anyhow::Result<PathBuf> {
    let candidate = if name.contains('/') {
        PathBuf::from(name)
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .with_context(|| format!("program `{name}` was not found on PATH"))?
    };
    fs::canonicalize(&candidate).with_context(|| format!("program `{}` does not exist", candidate.display()))
}

/// sha256 of a file's contents.
pub fn hash_file(path: &Path) -> anyhow::Result<writ_core::Sha256Digest> {
    use sha2::Digest as _;
    let mut f = fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(writ_core::Sha256Digest(h.finalize().into()))
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
