//! The ledger's checkpoint-signing key file.
//!
//! `ledger.key` holds one line in the signed-note private-key format of
//! `golang.org/x/mod/sumdb/note`:
//! `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ Ed25519 seed)>`. The name
//! is the log's origin. A hybrid (`ed25519+ml-dsa-65`) key adds a second
//! line `ML-DSA-65+<base64 ML-DSA-65 seed>`; its notes carry both signature
//! lines. The file is created with mode 0600 and refused when group or
//! others can read it.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use writ_tlog::note::{self, NoteSigner};
use zeroize::Zeroizing;

use crate::error::{LedgerError, Result};

const PREFIX: &str = "PRIVATE+KEY+";
/// Prefix of the ML-DSA-65 seed line of a hybrid ledger key.
const ML_DSA_PREFIX: &str = "ML-DSA-65+";
/// Largest key file accepted.
pub const MAX_KEY_FILE: u64 = 1024;

/// A fresh signer for `origin` with a random key.
///
/// # Errors
/// [`LedgerError::Config`] if the OS RNG fails or `origin` is not a valid key name.
pub fn generate(origin: &str) -> Result<NoteSigner> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut())
        .map_err(|e| LedgerError::Config(format!("cannot draw a random ledger key: {e}")))?;
    NoteSigner::new(origin, SigningKey::from_bytes(&seed))
        .map_err(|e| LedgerError::Config(format!("invalid ledger origin `{origin}`: {e}")))
}

/// Encode a signer's private key in the key-file format.
#[must_use]
pub fn encode(signer_name: &str, key_id: u32, seed: &[u8; 32]) -> Zeroizing<String> {
    let mut raw = Zeroizing::new(Vec::with_capacity(33));
    raw.push(note::ALG_ED25519);
    raw.extend_from_slice(seed);
    Zeroizing::new(format!("{PREFIX}{signer_name}+{key_id:08x}+{}\n", STANDARD.encode(&*raw)))
}

/// Parse the key-file format.
///
/// # Errors
/// [`LedgerError::Config`] naming what is wrong.
pub fn decode(text: &str) -> Result<NoteSigner> {
    let bad = |what: &str| LedgerError::Config(format!("invalid ledger key file: {what}"));
    let mut lines = text.trim_end_matches('\n').split('\n');
    let first = lines.next().unwrap_or_default();
    let pq = match (lines.next(), lines.next()) {
        (None, _) => None,
        (Some(line), None) => {
            let b64 =
                line.strip_prefix(ML_DSA_PREFIX).ok_or_else(|| bad("the second line is not `ML-DSA-65+<seed>`"))?;
            let raw = Zeroizing::new(STANDARD.decode(b64).map_err(|_| bad("ML-DSA-65 seed is not base64"))?);
            let seed: Zeroizing<[u8; 32]> =
                Zeroizing::new(raw.as_slice().try_into().map_err(|_| bad("ML-DSA-65 seed must be 32 bytes"))?);
            Some(writ_tlog::mldsa::SigningKey::from_seed(&seed))
        }
        (Some(_), Some(_)) => return Err(bad("more than two lines")),
    };
    let rest = first.strip_prefix(PREFIX).ok_or_else(|| bad("missing `PRIVATE+KEY+` prefix"))?;
    // Split from the left: names never contain `+`, base64 may.
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected `PRIVATE+KEY+<name>+<key id>+<key>`"));
    };
    let raw = Zeroizing::new(STANDARD.decode(b64).map_err(|_| bad("key is not base64"))?);
    let Some((&alg, seed)) = raw.split_first() else {
        return Err(bad("empty key"));
    };
    if alg != note::ALG_ED25519 {
        return Err(bad("only Ed25519 (0x01) keys are supported"));
    }
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(seed.try_into().map_err(|_| bad("Ed25519 seed must be 32 bytes"))?);
    let signer = NoteSigner::new(name, SigningKey::from_bytes(&seed)).map_err(|e| bad(&e.to_string()))?;
    if format!("{:08x}", signer.verifier().key_id()) != id {
        return Err(bad("key id does not match the key"));
    }
    Ok(match pq {
        Some(pq) => signer.with_ml_dsa(pq),
        None => signer,
    })
}

/// Load the signer from `path`.
///
/// # Errors
/// I/O errors; [`LedgerError::Config`] for a malformed or world-readable file.
pub fn load(path: &Path) -> Result<NoteSigner> {
    let ctx = || format!("cannot read ledger key `{}`", path.display());
    let meta = std::fs::metadata(path).map_err(|e| LedgerError::io(ctx(), e))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(LedgerError::Config(format!("ledger key `{}` is too large to be a key file", path.display())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(LedgerError::Config(format!(
                "ledger key `{}` is readable by group or others; run `chmod 600 {}`",
                path.display(),
                path.display()
            )));
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| LedgerError::io(ctx(), e))?);
    decode(&text)
}

/// Create a new key file at `path` (mode 0600) for `origin`; fails if it exists.
///
/// # Errors
/// I/O errors (including "already exists").
pub fn create(path: &Path, origin: &str) -> Result<NoteSigner> {
    create_suite(path, origin, false)
}

/// [`create`] for a hybrid `ed25519+ml-dsa-65` key: the file gets the
/// ML-DSA-65 seed line and the signer signs every note with both halves.
///
/// # Errors
/// As [`create`].
pub fn create_hybrid(path: &Path, origin: &str) -> Result<NoteSigner> {
    create_suite(path, origin, true)
}

fn random_seed() -> Result<Zeroizing<[u8; 32]>> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut())
        .map_err(|e| LedgerError::Config(format!("cannot draw a random ledger key: {e}")))?;
    Ok(seed)
}

fn create_suite(path: &Path, origin: &str, hybrid: bool) -> Result<NoteSigner> {
    let seed = random_seed()?;
    let mut signer = NoteSigner::new(origin, SigningKey::from_bytes(&seed))
        .map_err(|e| LedgerError::Config(format!("invalid ledger origin `{origin}`: {e}")))?;
    let mut text = encode(origin, signer.verifier().key_id(), &seed);
    if hybrid {
        let pq_seed = random_seed()?;
        text.push_str(&format!("{ML_DSA_PREFIX}{}\n", STANDARD.encode(&pq_seed[..])));
        signer = signer.with_ml_dsa(writ_tlog::mldsa::SigningKey::from_seed(&pq_seed));
    }
    let ctx = || format!("cannot create ledger key `{}`", path.display());
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| LedgerError::io(ctx(), e))?;
    f.write_all(text.as_bytes()).map_err(|e| LedgerError::io(ctx(), e))?;
    f.sync_all().map_err(|e| LedgerError::io(ctx(), e))?;
    Ok(signer)
}

/// Load the key at `path`, creating it for `origin` if it does not exist.
///
/// # Errors
/// As [`load`] and [`create`].
pub fn load_or_create(path: &Path, origin: &str) -> Result<NoteSigner> {
    if path.exists() { load(path) } else { create(path, origin) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_roundtrip_including_plus_in_base64() {
        // Regression: a seed whose base64 contains `+` was split at the wrong `+`.
        for seed_byte in 0..=255u8 {
            let seed = [seed_byte; 32];
            let signer = NoteSigner::new("writ.localhost/ledger", SigningKey::from_bytes(&seed)).unwrap();
            let text = encode("writ.localhost/ledger", signer.verifier().key_id(), &seed);
            let back = decode(&text).unwrap();
            assert_eq!(back.verifier(), signer.verifier());
        }
        // the Go note package's documented key
        let go = decode("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").unwrap();
        assert_eq!(go.verifier().to_string(), "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
        assert!(decode("PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").is_err());
    }

    #[test]
    fn a_hybrid_key_file_loads_back_and_signs_both_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ledger.key");
        let s = create_hybrid(&p, "a.example/log").unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back.verifier(), s.verifier());
        assert!(back.verifier().ml_dsa().is_some());
        let note = back.sign("a.example/log\n1\nAAAA\n").unwrap();
        assert_eq!(note.lines().filter(|l| l.starts_with("\u{2014} a.example/log ")).count(), 2, "{note}");
        let text = std::fs::read_to_string(&p).unwrap();
        let first = text.lines().next().unwrap();
        assert!(decode(first).unwrap().verifier().ml_dsa().is_none(), "the first line alone is a plain key");
        assert!(decode(&format!("{first}\nML-DSA-65+AAAA\n")).is_err(), "a short seed is refused");
    }

    #[test]
    fn key_file_mode_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ledger.key");
        let s = create(&p, "a.example/log").unwrap();
        assert_eq!(load(&p).unwrap().verifier(), s.verifier());
        assert!(create(&p, "a.example/log").is_err(), "never overwrites a key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = load(&p).unwrap_err().to_string();
            assert!(e.contains("chmod 600"), "{e}");
        }
    }
}
