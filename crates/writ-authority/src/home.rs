//! The authority's home directory: keys, trust root, policies, databases.
//!
//! ```text
//! HOME/issuer.key        issuer signing key (writ private-key format, 0600)
//! HOME/issuer.key.pub    its public key
//! HOME/ledger.key        ledger checkpoint key (signed-note format, 0600; writ-ledger)
//! HOME/trust.json        trust root: `authority` (issuer) + the ledger key (role ledger, named by the origin)
//! HOME/policies.cedar    Cedar policy set
//! HOME/ledger.sqlite     the transparency ledger (writ-ledger), HOME/tiles/ its C2SP tiles
//! HOME/state.sqlite      requests, votes, writs, nonces (this crate)
//! ```

use std::fs::{self, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use writ_core::keys::public_key_file;
use writ_core::trust::{Role, key_entry};
use writ_core::{PublicKey, SigningKey, TrustRoot};
use zeroize::Zeroizing;

use crate::error::{AuthorityError, Result};

/// Header of a writ private key file (the same format `writ keygen` writes).
pub const PRIVATE_PREFIX: &str = "ed25519-secret ";

/// File names inside a home directory.
pub const ISSUER_KEY: &str = "issuer.key";
/// Trust root file.
pub const TRUST: &str = "trust.json";
/// Policy file.
pub const POLICIES: &str = "policies.cedar";
/// Ledger key file.
pub const LEDGER_KEY: &str = "ledger.key";
/// State database.
pub const STATE_DB: &str = "state.sqlite";
/// Ledger database.
pub const LEDGER_DB: &str = "ledger.sqlite";

/// What `init` created.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The home directory.
    pub home: PathBuf,
    /// Issuer key id.
    pub issuer_key_id: String,
    /// Ledger origin (checkpoint key name).
    pub origin: String,
    /// The ledger's verifier key string (`<name>+<id>+<key>`).
    pub ledger_vkey: String,
}

fn cfg(e: impl std::fmt::Display) -> AuthorityError {
    AuthorityError::Config(e.to_string())
}

/// Writes a new file with `mode`, refusing to replace one, and fsyncs it.
///
/// # Errors
/// I/O errors, including "already exists".
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| cfg(format!("cannot create `{}`: {e}", path.display())))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| cfg(format!("cannot write `{}`: {e}", path.display())))
}

/// Reads a writ private key file (`ed25519-secret <base64 seed>`), refusing
/// one that group or others can read.
///
/// # Errors
/// A message naming the file and the problem.
pub fn read_private_key(path: &Path) -> Result<SigningKey> {
    let meta = fs::metadata(path).map_err(|e| cfg(format!("cannot open key `{}`: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(cfg(format!(
            "private key `{}` is readable by others; run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    let mut text = Zeroizing::new(String::new());
    fs::File::open(path)
        .and_then(|f| f.take(256).read_to_string(&mut text))
        .map_err(|e| cfg(format!("cannot read key `{}`: {e}", path.display())))?;
    let b64 = text
        .trim_end()
        .strip_prefix(PRIVATE_PREFIX)
        .ok_or_else(|| cfg(format!("`{}` is not a writ private key", path.display())))?;
    let seed = Zeroizing::new(writ_core::b64::decode(b64, 32).map_err(|e| cfg(format!("`{}`: {e}", path.display())))?);
    let arr: Zeroizing<[u8; 32]> = Zeroizing::new(
        seed.as_slice().try_into().map_err(|_| cfg(format!("`{}`: a key seed is 32 bytes", path.display())))?,
    );
    Ok(SigningKey::from_seed(&arr))
}

fn write_private_key(path: &Path, key: &SigningKey) -> Result<()> {
    let text = Zeroizing::new(format!("{PRIVATE_PREFIX}{}\n", writ_core::b64::encode(&key.seed()[..])));
    write_new(path, text.as_bytes(), 0o600)
}

fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::getrandom(b.as_mut_slice())
        .map_err(|e| AuthorityError::Internal(format!("no randomness from the OS: {e}")))?;
    Ok(b)
}

/// Random hex of `N` bytes.
///
/// # Errors
/// When the OS has no randomness.
pub fn random_hex<const N: usize>() -> Result<String> {
    Ok(hex::encode(*random_bytes::<N>()?))
}

/// Creates a new authority home: issuer key, ledger key, trust root, the
/// default (deny-by-default) policy set, the ledger and the state database.
/// Refuses a directory that already holds any of these files.
///
/// # Errors
/// [`AuthorityError::Config`] when the home exists or cannot be written.
pub fn init(home: &Path) -> Result<InitReport> {
    for f in [ISSUER_KEY, TRUST, POLICIES, LEDGER_KEY, STATE_DB, LEDGER_DB] {
        if home.join(f).exists() {
            return Err(cfg(format!(
                "`{}` already holds a writ home (`{f}` exists); refusing to overwrite it, choose another --home",
                home.display()
            )));
        }
    }
    fs::create_dir_all(home).map_err(|e| cfg(format!("cannot create `{}`: {e}", home.display())))?;
    let _ = fs::set_permissions(home, fs::Permissions::from_mode(0o700));
    let issuer = SigningKey::from_seed(&*random_bytes::<32>()?);
    write_private_key(&home.join(ISSUER_KEY), &issuer)?;
    write_new(
        &home.join(format!("{ISSUER_KEY}.pub")),
        public_key_file(&issuer.public(), Some("authority")).as_bytes(),
        0o644,
    )?;
    let origin = format!("writ.local/{}", random_hex::<4>()?);
    let signer = create_ledger_key(&home.join(LEDGER_KEY), &origin)?;
    let ledger_pub = PublicKey::from_bytes(signer.verifier().public_key().as_bytes()).map_err(cfg)?;
    let mut trust = TrustRoot::empty();
    trust.add(key_entry("authority", vec![Role::Issuer], Vec::new(), &issuer.public())).map_err(cfg)?;
    trust.add(key_entry(&origin, vec![Role::Ledger], Vec::new(), &ledger_pub)).map_err(cfg)?;
    write_new(&home.join(TRUST), format!("{}\n", trust.to_json_pretty()).as_bytes(), 0o644)?;
    write_new(&home.join(POLICIES), writ_policy::DEFAULT_POLICIES.as_bytes(), 0o644)?;
    let ledger = writ_ledger::Ledger::open_home(home, &origin, writ_ledger::LedgerOptions::default())?;
    let vkey = ledger.verifier().to_string();
    ledger.close();
    drop(crate::db::Db::open_sqlite(&home.join(STATE_DB))?);
    Ok(InitReport { home: home.to_path_buf(), issuer_key_id: issuer.key_id().to_string(), origin, ledger_vkey: vkey })
}

/// Creates the ledger key, retrying while the created file does not load
/// back. (`writ_ledger::key::decode` splits the key line on `+` from the
/// right, so a key whose base64 contains `+` does not load; reported to the
/// ledger crate. Drawing another key is harmless.)
fn create_ledger_key(path: &Path, origin: &str) -> Result<writ_core::tlog::note::NoteSigner> {
    for _ in 0..64 {
        let signer = writ_ledger::key::create(path, origin)?;
        if writ_ledger::key::load(path).is_ok() {
            return Ok(signer);
        }
        fs::remove_file(path).map_err(|e| cfg(format!("cannot replace `{}`: {e}", path.display())))?;
    }
    Err(cfg("cannot create a ledger key that loads back"))
}
