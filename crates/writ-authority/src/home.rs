//! The authority's home directory: keys, trust root, policies, databases.
//!
//! ```text
//! HOME/issuer.key        issuer signing key (writ private-key format, or the hybrid one, 0600)
//! HOME/issuer.key.pub    its public key
//! HOME/ledger.key        ledger checkpoint key (signed-note format, 0600; writ-ledger)
//! HOME/trust.json        trust root: `authority` (issuer) + the ledger key (role ledger, named by the origin)
//! HOME/policies.cedar    Cedar policy set
//! HOME/ledger.sqlite     the transparency ledger (writ-ledger), HOME/tiles/ its C2SP tiles
//! HOME/state.sqlite      requests, votes, writs, nonces (this crate)
//! HOME/store.json        the one store this home's ledger and state live in (0600)
//! ```
//!
//! **One log per key.** A home is bound to exactly one store: its SQLite
//! files, or one PostgreSQL database and schema. The binding is recorded in
//! `store.json` by `writ init --database` or, for a home made without it,
//! by the first command that opens the authority; from then on every command
//! opens that store, and opening the home with another one is refused (see
//! [`resolve_store`]), so one ledger key never signs two logs.

use std::fs::{self, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use writ_core::hybrid::HybridSigningKey;
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
/// The store binding.
pub const STORE: &str = "store.json";

/// Longest writ lifetime a new home allows (the trust root's
/// `max_writ_lifetime_secs`).
pub const DEFAULT_MAX_WRIT_LIFETIME_SECS: u64 = 24 * 3600;
/// Longest lifetime of a writ a gate of a new home may run offline.
pub const DEFAULT_MAX_OFFLINE_LIFETIME_SECS: u64 = 300;

/// The store a home's ledger and state live in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Store {
    /// `ledger.sqlite` and `state.sqlite` in the home.
    Sqlite,
    /// One PostgreSQL database and schema (shared by replicas).
    Postgres {
        /// `postgres://` URL (the file is 0600: it may hold a password).
        url: String,
        /// Schema.
        schema: String,
    },
}

impl Store {
    /// What it is, for messages (no password).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite => "its SQLite files (ledger.sqlite, state.sqlite)".into(),
            Self::Postgres { url, schema } => format!("postgresql `{}` schema `{schema}`", redact(url)),
        }
    }

    /// Whether `other` names the same store: the same kind and, for
    /// PostgreSQL, the same hosts, ports, database, user and schema (the
    /// password and connection options may differ).
    #[must_use]
    pub fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Sqlite, Self::Sqlite) => true,
            (Self::Postgres { url: a, schema: sa }, Self::Postgres { url: b, schema: sb }) => {
                sa == sb && pg_identity(a).is_some_and(|x| pg_identity(b).is_some_and(|y| x == y))
            }
            _ => false,
        }
    }
}

/// `(hosts, ports, dbname, user)` of a PostgreSQL URL.
fn pg_identity(url: &str) -> Option<String> {
    let c: postgres::Config = url.parse().ok()?;
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.to_ascii_lowercase(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let mut ports: Vec<u16> = c.get_ports().to_vec();
    if ports.is_empty() {
        ports.push(5432);
    }
    let user = c.get_user().unwrap_or_default().to_string();
    let db = c.get_dbname().map_or_else(|| user.clone(), str::to_string);
    Some(format!("{hosts:?}|{ports:?}|{db}|{user}"))
}

/// A URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = url.get(s + 3..at).unwrap_or_default();
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", url.get(..s + 3).unwrap_or_default(), url.get(at + 1..).unwrap_or_default())
        }
        _ => url.to_string(),
    }
}

/// The store `home` is bound to; `None` for a home not bound yet.
///
/// # Errors
/// [`AuthorityError::Config`] for an unreadable or malformed `store.json`.
pub fn store(home: &Path) -> Result<Option<Store>> {
    let path = home.join(STORE);
    match fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| cfg(format!("`{}` is not a store binding ({e}); restore it from a backup", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(cfg(format!("cannot read `{}`: {e}", path.display()))),
    }
}

/// Record that `home` is bound to `store` (once; the file is never replaced).
///
/// # Errors
/// I/O errors; an existing binding.
pub fn bind_store(home: &Path, store: &Store) -> Result<()> {
    let text = serde_json::to_string_pretty(store).map_err(|e| cfg(e.to_string()))?;
    write_new(&home.join(STORE), format!("{text}\n").as_bytes(), 0o600)
}

/// The store a command must open for `home`, given the `--database` /
/// `--schema` it was asked for (`None` = whatever the home is bound to),
/// and whether the binding still has to be recorded (after a successful
/// open).
///
/// # Errors
/// [`AuthorityError::Config`] when the home is bound to another store, or
/// (unbound) when it is asked to use PostgreSQL while its SQLite ledger
/// already holds entries under the same key.
pub fn resolve_store(home: &Path, database: Option<&str>, schema: &str) -> Result<(Store, bool)> {
    let asked = database.map(|url| Store::Postgres { url: url.to_string(), schema: schema.to_string() });
    match (store(home)?, asked) {
        (Some(bound), None) => Ok((bound, false)),
        (Some(bound), Some(asked)) if bound.same_as(&asked) => Ok((asked, false)),
        (Some(bound), Some(asked)) => Err(cfg(format!(
            "home `{}` is bound to {}, not {}: one ledger key signs one log; open it without --database, or create a new home for that store with `writ init --home DIR --database URL`",
            home.display(),
            bound.describe(),
            asked.describe()
        ))),
        (None, None) => Ok((Store::Sqlite, true)),
        (None, Some(asked)) => {
            let local = home.join(LEDGER_DB);
            if local.exists() {
                let origin = writ_ledger::key::load(&home.join(LEDGER_KEY))
                    .map(|k| k.verifier().name().to_string())
                    .unwrap_or_else(|_| "writ.local/unnamed".into());
                let l = writ_ledger::Ledger::open_home(home, &origin, writ_ledger::LedgerOptions::default())?;
                let n = l.size();
                l.close();
                if n > 0 {
                    return Err(cfg(format!(
                        "home `{}` already keeps its ledger in `{LEDGER_DB}` ({n} entries) under its ledger key; serving it from {} would start a second log under the same key: keep using the SQLite files, or create a new home with `writ init --home DIR --database URL`",
                        home.display(),
                        asked.describe()
                    )));
                }
            }
            Ok((asked, true))
        }
    }
}

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
    let text = read_key_text(path)?;
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

/// The authority's issuer key: plain Ed25519, or the hybrid
/// `ed25519+ml-dsa-65` suite (`writ init --suite hybrid`), which signs every
/// writ and status response with both halves.
#[derive(Debug)]
pub enum IssuerKey {
    /// Plain Ed25519.
    Ed25519(SigningKey),
    /// Ed25519 + ML-DSA-65.
    Hybrid(HybridSigningKey),
}

impl IssuerKey {
    /// The key id (of the Ed25519 half for a hybrid key).
    #[must_use]
    pub fn key_id(&self) -> writ_core::KeyId {
        self.ed25519().key_id()
    }

    /// The Ed25519 key (the whole key, or a hybrid key's first half).
    #[must_use]
    pub fn ed25519(&self) -> &SigningKey {
        match self {
            Self::Ed25519(k) => k,
            Self::Hybrid(k) => k.ed25519(),
        }
    }

    /// Signs a writ statement into its DSSE envelope.
    ///
    /// # Errors
    /// As [`writ_core::issue::sign`].
    pub fn sign_writ(&self, statement: &writ_core::model::Statement) -> Result<Vec<u8>> {
        match self {
            Self::Ed25519(k) => writ_core::issue::sign(statement, k),
            Self::Hybrid(k) => writ_core::issue::sign_hybrid(statement, k),
        }
        .map_err(AuthorityError::Internal)
    }

    /// Signs a status response.
    ///
    /// # Errors
    /// Only if ML-DSA signing fails.
    pub fn sign_status(&self, statement: &writ_core::status::StatusStatement) -> Result<Vec<u8>> {
        match self {
            Self::Ed25519(k) => Ok(writ_core::status::sign(statement, k)),
            Self::Hybrid(k) => {
                writ_core::status::sign_hybrid(statement, k).map_err(|e| AuthorityError::Internal(e.into()))
            }
        }
    }
}

/// Reads the issuer key file: a writ private key, or a hybrid one
/// (`ed25519+ml-dsa-65-secret …`).
///
/// # Errors
/// As [`read_private_key`].
pub fn read_issuer_key(path: &Path) -> Result<IssuerKey> {
    let text = read_key_text(path)?;
    if text.starts_with(writ_core::hybrid::PRIVATE_PREFIX) {
        return writ_core::hybrid::parse_private_key_file(&text)
            .map(IssuerKey::Hybrid)
            .map_err(|e| cfg(format!("`{}`: {e}", path.display())));
    }
    read_private_key(path).map(IssuerKey::Ed25519)
}

/// The text of a private key file, refused when group or others can read it.
fn read_key_text(path: &Path) -> Result<Zeroizing<String>> {
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
    Ok(text)
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
    init_in(home, &Store::Sqlite)
}

/// [`init`] with the ledger and state in `store`, and the home bound to it.
///
/// # Errors
/// As [`init`]; database errors.
pub fn init_in(home: &Path, store: &Store) -> Result<InitReport> {
    init_with(home, store, false)
}

/// [`init_in`] with hybrid `ed25519+ml-dsa-65` issuer and ledger keys when
/// `hybrid`: the trust root pins the suite and the ML-DSA-65 half of both,
/// writs and status responses carry both signatures, checkpoints both
/// signature lines.
///
/// # Errors
/// As [`init_in`].
pub fn init_with(home: &Path, store: &Store, hybrid: bool) -> Result<InitReport> {
    for f in [ISSUER_KEY, TRUST, POLICIES, LEDGER_KEY, STATE_DB, LEDGER_DB, STORE] {
        if home.join(f).exists() {
            return Err(cfg(format!(
                "`{}` already holds a writ home (`{f}` exists); refusing to overwrite it, choose another --home",
                home.display()
            )));
        }
    }
    fs::create_dir_all(home).map_err(|e| cfg(format!("cannot create `{}`: {e}", home.display())))?;
    let _ = fs::set_permissions(home, fs::Permissions::from_mode(0o700));
    let issuer_entry = if hybrid {
        let issuer = HybridSigningKey::from_seeds(&*random_bytes::<32>()?, &*random_bytes::<32>()?);
        write_new(&home.join(ISSUER_KEY), writ_core::hybrid::private_key_file(&issuer).as_bytes(), 0o600)?;
        write_new(
            &home.join(format!("{ISSUER_KEY}.pub")),
            writ_core::hybrid::public_key_file(&issuer, Some("authority")).as_bytes(),
            0o644,
        )?;
        issuer.key_entry("authority", vec![Role::Issuer], Vec::new())
    } else {
        let issuer = SigningKey::from_seed(&*random_bytes::<32>()?);
        write_private_key(&home.join(ISSUER_KEY), &issuer)?;
        write_new(
            &home.join(format!("{ISSUER_KEY}.pub")),
            public_key_file(&issuer.public(), Some("authority")).as_bytes(),
            0o644,
        )?;
        key_entry("authority", vec![Role::Issuer], Vec::new(), &issuer.public())
    };
    let issuer_key_id = issuer_entry.key_id.to_string();
    let origin = format!("writ.local/{}", random_hex::<4>()?);
    let signer = if hybrid {
        writ_ledger::key::create_hybrid(&home.join(LEDGER_KEY), &origin)?
    } else {
        create_ledger_key(&home.join(LEDGER_KEY), &origin)?
    };
    let ledger_pub = PublicKey::from_bytes(signer.verifier().public_key().as_bytes()).map_err(cfg)?;
    let mut ledger_entry = key_entry(&origin, vec![Role::Ledger], Vec::new(), &ledger_pub);
    if let Some(pq) = signer.verifier().ml_dsa() {
        ledger_entry.suite = Some(writ_core::hybrid::Suite::Ed25519MlDsa65);
        ledger_entry.ml_dsa_public_key = Some(writ_core::b64::encode(pq.as_bytes()));
    }
    let mut trust = TrustRoot::empty();
    // Safe defaults: gates need the ledger receipt and a fresh status from
    // the authority (so revocation and use counts are enforced), and no writ
    // lives longer than a day; writs a gate may run offline live briefly.
    trust
        .settings_mut()
        .require_receipt(true)
        .require_status(true)
        .max_writ_lifetime_secs(Some(DEFAULT_MAX_WRIT_LIFETIME_SECS))
        .max_offline_lifetime_secs(DEFAULT_MAX_OFFLINE_LIFETIME_SECS);
    trust.add(issuer_entry).map_err(cfg)?;
    trust.add(ledger_entry).map_err(cfg)?;
    write_new(&home.join(TRUST), format!("{}\n", trust.to_json_pretty()).as_bytes(), 0o644)?;
    write_new(&home.join(POLICIES), writ_policy::DEFAULT_POLICIES.as_bytes(), 0o644)?;
    let (location, db) = match store {
        Store::Sqlite => (writ_ledger::Location::Sqlite(home.join(LEDGER_DB)), None),
        Store::Postgres { url, schema } => (
            writ_ledger::Location::Postgres { url: url.clone(), schema: schema.clone() },
            Some(crate::db::Db::open_postgres(url, schema)?),
        ),
    };
    let ledger = writ_ledger::Ledger::open_home_at(home, location, &origin, writ_ledger::LedgerOptions::default())?;
    let vkey = ledger.verifier().to_string();
    ledger.close();
    match db {
        Some(db) => drop(db),
        None => drop(crate::db::Db::open_sqlite(&home.join(STATE_DB))?),
    }
    // A PostgreSQL home is bound now; a SQLite home by the first command
    // that opens it (so `writ serve --database` may still adopt a home whose
    // SQLite ledger is empty; see `resolve_store`).
    if matches!(store, Store::Postgres { .. }) {
        bind_store(home, store)?;
    }
    Ok(InitReport { home: home.to_path_buf(), issuer_key_id, origin, ledger_vkey: vkey })
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
