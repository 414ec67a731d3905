//! File helpers of the gate commands: bounded reads, the gate's private key,
//! the trust root, the clock.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use writ_core::keys::parse_public_key_file;
use writ_core::{SigningKey, Timestamp, TrustRoot};
use zeroize::Zeroizing;

/// Header of a private key file.
const PRIVATE_PREFIX: &str = "ed25519-secret ";

/// Reads at most `max` bytes of `path`, failing (not truncating) when larger.
///
/// # Errors
/// The file cannot be opened or read, or is larger than `max`.
pub fn read_bounded(path: &Path, max: usize) -> anyhow::Result<Vec<u8>> {
    let file = fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut buf = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut buf).with_context(|| format!("cannot read `{}`", path.display()))?;
    if buf.len() > max {
        bail!("`{}` is larger than {max} bytes", path.display());
    }
    Ok(buf)
}

/// Loads a private key file, refusing one readable by group or others.
///
/// The refusals name the real cause: a public key (`.pub`) passed where the
/// private key belongs is told so before anything is said about its mode.
/// # Errors
/// The path is not a file, is a public key, is readable by others, or is
/// not a writ private key.
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

/// Loads a trust root.
///
/// # Errors
/// The file is missing, too large or not a trust root.
pub fn read_trust(path: &Path) -> anyhow::Result<TrustRoot> {
    let bytes = read_bounded(path, writ_core::limits::MAX_TRUST_ROOT_BYTES)?;
    TrustRoot::from_json(&bytes).with_context(|| format!("`{}`", path.display()))
}

/// The current time from the system clock.
///
/// # Errors
/// The clock is before 1970 or out of range.
pub fn now() -> anyhow::Result<Timestamp> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock is before 1970")?
        .as_secs();
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX)).context("system clock is out of range")
}

/// Parses an RFC 3339 `--now` argument.
///
/// # Errors
/// Not an RFC 3339 UTC time.
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(String::from)
}

/// Resolves a program name like a shell would (a name with `/` as given,
/// otherwise the first executable on `PATH`), then canonicalizes it (for
/// `verify`, which only checks; `exec` never searches `PATH`).
///
/// # Errors
/// Not found, or does not exist.
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
///
/// # Errors
/// The file cannot be read.
pub fn hash_file(path: &Path) -> anyhow::Result<writ_core::Sha256Digest> {
    use sha2::Digest as _;
    let mut f = fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(writ_core::Sha256Digest(h.finalize().into()))
}
