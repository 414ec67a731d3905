//! The authority's trust root: a chain of signed, versioned, logged
//! trust-root versions (`writ_core::trust_chain`) kept in the home.
//!
//! ```text
//! HOME/trust/root.pin       hex digest of version 1 (written once, by `writ init`)
//! HOME/trust/<n>.root.json  signed version n, byte for byte as published
//! HOME/trust/<n>.logged     ledger index of version n's `key_change` entry
//! HOME/trust.json           a copy of the document in force, for reading; edits are refused
//! HOME/root.key             the first root key (`writ init`); move it offline
//! ```
//!
//! A version is in force only when it verifies as a chain from the pin
//! *and* the ledger entry its `.logged` file names is its `key_change`
//! record. [`TrustStore::publish`] verifies a signed successor, appends its
//! `key_change` entries to the ledger (durable), and only then writes the
//! `.logged` file and puts the version in force. Anything else found in the
//! home — an edited `trust.json`, a version file that is not logged or does
//! not verify, missing files — is refused: the last good version stays in
//! force, the refusal is printed once on stderr and reported by
//! [`TrustStore::status`] (for `/readyz` and metrics) until it is resolved.
//!
//! A home without `trust/root.pin` (made before signed trust roots) is a
//! *legacy* home: `trust.json` is read as before, a broken edit keeps the
//! last good root (and is reported), and [`TrustStore::status`] says the root
//! is unsigned. [`sign_home`] turns it into a signed home.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use writ_core::entry::Entry;
use writ_core::keys::public_key_file;
use writ_core::trust::{Role, key_entry};
use writ_core::trust_chain::{self, RootError, RootErrorCode, SignedTrustRoot};
use writ_core::{Sha256Digest, SigningKey, Timestamp, TrustRoot};
use writ_ledger::Ledger;
use zeroize::Zeroizing;

use crate::error::{AuthorityError, Result};
use crate::home;

/// Directory of the signed versions, inside the home.
pub const TRUST_DIR: &str = "trust";
/// The pin of version 1, inside [`TRUST_DIR`].
pub const PIN_FILE: &str = "root.pin";
/// The root key `writ init` creates.
pub const ROOT_KEY: &str = "root.key";
/// How long a version made by `writ init` (or [`sign_home`]) stays valid.
pub const DEFAULT_ROOT_EXPIRY_SECS: i64 = 365 * 86_400;

fn cfg(msg: impl Into<String>) -> AuthorityError {
    AuthorityError::Config(msg.into())
}

/// The refusal of a trust-root version as an authority error.
fn refused(e: RootError) -> AuthorityError {
    let msg = e.to_string();
    match e.code {
        RootErrorCode::Malformed | RootErrorCode::TooLarge | RootErrorCode::Unsupported => {
            AuthorityError::Malformed(msg)
        }
        RootErrorCode::BadSignature => AuthorityError::BadSignature(msg),
        RootErrorCode::UnknownKey | RootErrorCode::QuorumNotMet => AuthorityError::Forbidden(msg),
        _ => AuthorityError::InvalidRequest(msg),
    }
}

/// Path of version `n` inside a home.
#[must_use]
pub fn version_path(home: &Path, n: u64) -> PathBuf {
    home.join(TRUST_DIR).join(format!("{n}.root.json"))
}

fn logged_path(home: &Path, n: u64) -> PathBuf {
    home.join(TRUST_DIR).join(format!("{n}.logged"))
}

/// Whether `home` keeps a signed trust root (has `trust/root.pin`).
#[must_use]
pub fn is_signed_home(home: &Path) -> bool {
    home.join(TRUST_DIR).join(PIN_FILE).is_file()
}

/// The pinned digest of version 1 of a signed home.
///
/// # Errors
/// When `trust/root.pin` is missing or not a digest.
pub fn read_pin(home: &Path) -> Result<Sha256Digest> {
    let path = home.join(TRUST_DIR).join(PIN_FILE);
    let text = fs::read_to_string(&path).map_err(|e| cfg(format!("cannot read `{}`: {e}", path.display())))?;
    Sha256Digest::from_hex(text.trim()).map_err(|e| cfg(format!("`{}`: {e}", path.display())))
}

/// Writes `bytes` to `path` through a fsynced temporary file and a rename,
/// then fsyncs the directory.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        home::random_hex::<8>()?
    ));
    let io = |e: std::io::Error| cfg(format!("cannot write `{}`: {e}", path.display()));
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io)?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

fn trust_json(root: &TrustRoot) -> String {
    format!("{}\n", root.to_json_pretty())
}

/// What was found on disk: the last good version and why anything after it
/// (or `trust.json`) is not in force.
struct Loaded {
    signed: SignedTrustRoot,
    problems: Vec<String>,
}

/// Whether version `v` is recorded in `ledger` at the index its `.logged`
/// file names.
fn check_logged(home: &Path, ledger: &Ledger, v: &SignedTrustRoot) -> std::result::Result<u64, String> {
    let n = v.version();
    let path = logged_path(home, n);
    let text = fs::read_to_string(&path)
        .map_err(|_| format!("version {n} is in `{TRUST_DIR}/` but not recorded in the ledger (no `{n}.logged`)"))?;
    let index: u64 = text.trim().parse().map_err(|_| format!("`{}` is not a ledger index", path.display()))?;
    let entry = ledger.entry(index).map_err(|e| {
        format!("version {n}: ledger entry {index} cannot be read ({e}); the ledger does not record it")
    })?;
    match Entry::decode(&entry) {
        Ok(e) if trust_chain::is_version_entry(&e, n, &v.digest()) => Ok(index),
        _ => {
            Err(format!("version {n}: ledger entry {index} is not its `key_change` record; the version is not logged"))
        }
    }
}

/// Reads and verifies the chain of a signed home from its pin. With a
/// ledger, a version counts only if it is logged; the walk stops at the
/// first version that is not, and says why.
fn load_chain(home: &Path, ledger: Option<&Ledger>) -> Result<Loaded> {
    let pin = read_pin(home)?;
    let read = |n: u64| -> Option<std::io::Result<Vec<u8>>> {
        let p = version_path(home, n);
        p.exists().then(|| fs::read(&p))
    };
    let first = read(1)
        .ok_or_else(|| {
            cfg(format!("`{}` is missing; the home's trust root cannot load", version_path(home, 1).display()))
        })?
        .map_err(|e| cfg(format!("cannot read `{}`: {e}", version_path(home, 1).display())))?;
    let mut current = trust_chain::verify_pinned(&first, &pin)
        .map_err(|e| cfg(format!("`{}` is not the pinned version 1: {e}", version_path(home, 1).display())))?;
    if let Some(l) = ledger {
        check_logged(home, l, &current).map_err(cfg)?;
    }
    let mut problems = Vec::new();
    for n in 2..=trust_chain::MAX_CHAIN_LENGTH as u64 {
        let Some(bytes) = read(n) else { break };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("cannot read `{}`: {e}", version_path(home, n).display()));
                break;
            }
        };
        let next = match trust_chain::verify_link(&current, &bytes) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("`{}` is refused: {e}", version_path(home, n).display()));
                break;
            }
        };
        if let Some(l) = ledger
            && let Err(e) = check_logged(home, l, &next)
        {
            problems.push(e);
            break;
        }
        current = next;
    }
    let view = home.join(home::TRUST);
    match fs::read(&view).map_err(|e| e.to_string()).and_then(|b| TrustRoot::from_json(&b).map_err(|e| e.to_string())) {
        Ok(t) if t.file() == current.trust().file() => {}
        Ok(_) => problems.push(format!(
            "`{}` differs from signed version {} (edited by hand?); the edit is not in force: change the trust root \
             with `writ trust propose`, `writ trust sign` and `writ trust publish`",
            view.display(),
            current.version()
        )),
        Err(e) => problems.push(format!(
            "`{}` does not hold signed version {} ({e}); the edit is not in force: change the trust root with \
             `writ trust propose`, `writ trust sign` and `writ trust publish`",
            view.display(),
            current.version()
        )),
    }
    Ok(Loaded { signed: current, problems })
}

/// Reads the newest version of a signed home that verifies from its pin
/// (without consulting the ledger: for proposing a successor, not for use).
///
/// # Errors
/// When the home is not signed or its version 1 does not verify.
pub fn read_current(home: &Path) -> Result<SignedTrustRoot> {
    Ok(load_chain(home, None)?.signed)
}

/// Files that change when anything relevant on disk changes.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Stamp(Vec<Option<(SystemTime, u64, u64)>>);

fn stamp(home: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt as _;
    // The inode too: files are replaced by rename, which a coarse mtime
    // tick could hide.
    let meta = |p: PathBuf| fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len(), m.ino())));
    // Creating, renaming or removing a file in `trust/` changes the
    // directory's mtime; `trust.json` is watched itself.
    Stamp(vec![meta(home.join(home::TRUST)), meta(home.join(TRUST_DIR))])
}

struct State {
    root: Arc<TrustRoot>,
    signed: Option<Arc<SignedTrustRoot>>,
    stamp: Stamp,
    refused: Option<String>,
}

/// The state of the trust root in force, for `/readyz` and metrics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrustStatus {
    /// The home keeps a signed, versioned trust root.
    pub signed: bool,
    /// Version in force.
    pub version: Option<u64>,
    /// Its digest (hex SHA-256 of the payload).
    pub digest: Option<String>,
    /// When it expires.
    pub expires: Option<Timestamp>,
    /// It has expired (at the `now` given to [`TrustStore::status`]).
    pub expired: bool,
    /// Why what is on disk is not in force (the last good version is).
    pub refused: Option<String>,
}

impl TrustStatus {
    /// Signed, not expired, nothing refused.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.signed && !self.expired && self.refused.is_none()
    }

    /// One line for `/readyz` detail and logs.
    #[must_use]
    pub fn summary(&self) -> String {
        let base = match (self.signed, self.version, &self.digest) {
            (true, Some(v), Some(d)) => format!("trust root version {v} ({})", d.get(..16).unwrap_or(d)),
            _ => "trust root unsigned (legacy home: run `writ trust sign-home`)".to_owned(),
        };
        let mut s = base;
        if self.expired {
            s.push_str(", expired: publish a newer version");
        }
        if let Some(r) = &self.refused {
            s.push_str(", refused: ");
            s.push_str(r);
        }
        s
    }
}

/// What [`TrustStore::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The version now in force.
    pub version: u64,
    /// Its digest.
    pub digest: Sha256Digest,
    /// Ledger index of its `key_change` entry.
    pub ledger_index: u64,
    /// How many `key_change` entries were appended (0: it was in force already).
    pub entries: usize,
}

/// The authority's trust root, loaded from the home and reloaded when the
/// files change. Safe to share between threads.
pub struct TrustStore {
    home: PathBuf,
    state: RwLock<State>,
    publishing: Mutex<()>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore").field("home", &self.home).finish_non_exhaustive()
    }
}

fn report(problems: &[String]) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let text = problems.join("; ");
    eprintln!("writ-authority: trust root: {text}; keeping the last good version");
    Some(text)
}

fn load_legacy(home: &Path) -> Result<TrustRoot> {
    let path = home.join(home::TRUST);
    let bytes = fs::read(&path).map_err(|e| cfg(format!("cannot read `{}`: {e}", path.display())))?;
    TrustRoot::from_json(&bytes).map_err(|e| cfg(format!("`{}`: {e}", path.display())))
}

impl TrustStore {
    /// Loads the trust root of `home`, checking every signed version against
    /// `ledger`. Problems after a good version are reported, not fatal.
    ///
    /// # Errors
    /// [`AuthorityError::Config`] when no trust root can load at all: a
    /// legacy `trust.json` that does not parse, a missing or unpinned
    /// version 1, or a version 1 the ledger does not record.
    pub fn open(home: &Path, ledger: &Ledger) -> Result<Self> {
        let stamp = stamp(home);
        let state = if is_signed_home(home) {
            let l = load_chain(home, Some(ledger))?;
            State {
                root: Arc::new(l.signed.trust().clone()),
                signed: Some(Arc::new(l.signed)),
                stamp,
                refused: report(&l.problems),
            }
        } else {
            State { root: Arc::new(load_legacy(home)?), signed: None, stamp, refused: None }
        };
        Ok(Self { home: home.to_path_buf(), state: RwLock::new(state), publishing: Mutex::new(()) })
    }

    /// The trust root in force. When the files changed since the last call
    /// they are read again: a newer version that verifies from the pin and is
    /// logged is taken into use (published by another process); anything
    /// else is refused and reported, and the last good root stays.
    pub fn current(&self, ledger: &Ledger) -> Arc<TrustRoot> {
        let now = stamp(&self.home);
        {
            let g = self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if g.stamp == now {
                return g.root.clone();
            }
        }
        let mut g = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.stamp != now {
            g.stamp = now;
            self.reload(&mut g, ledger);
        }
        g.root.clone()
    }

    fn reload(&self, g: &mut State, ledger: &Ledger) {
        // A version published by another process (`writ trust publish`
        // while this one serves) is logged in the ledger before its files
        // appear: re-read the store so its `key_change` entry is seen here.
        // The store must still extend this process's last checkpoint.
        let stale = ledger.refresh().err().map(|e| {
            let m = format!("the ledger could not be re-read ({e}), so versions logged since are not seen");
            eprintln!("writ-authority: trust root: {m}");
            m
        });
        self.reload_files(g, ledger);
        if let (Some(m), Some(r)) = (stale, g.refused.as_mut()) {
            r.push_str("; ");
            r.push_str(&m);
        }
    }

    fn reload_files(&self, g: &mut State, ledger: &Ledger) {
        match (&g.signed, is_signed_home(&self.home)) {
            (None, false) => match load_legacy(&self.home) {
                Ok(root) => {
                    g.root = Arc::new(root);
                    g.refused = None;
                }
                Err(e) => g.refused = report(&[e.to_string()]),
            },
            (None, true) => match load_chain(&self.home, Some(ledger)) {
                // The home was signed by another process (`sign_home`).
                Ok(l) => {
                    g.root = Arc::new(l.signed.trust().clone());
                    g.signed = Some(Arc::new(l.signed));
                    g.refused = report(&l.problems);
                }
                Err(e) => g.refused = report(&[e.to_string()]),
            },
            (Some(cur), _) => match load_chain(&self.home, Some(ledger)) {
                Ok(l) if l.signed.version() < cur.version() => {
                    let mut p = vec![format!(
                        "version {} is in force but the home's files end at version {}",
                        cur.version(),
                        l.signed.version()
                    )];
                    p.extend(l.problems);
                    g.refused = report(&p);
                }
                Ok(l) if l.signed.version() == cur.version() && l.signed.digest() != cur.digest() => {
                    g.refused = report(&[format!("version {} on disk is not the one in force", cur.version())]);
                }
                Ok(l) => {
                    if l.signed.version() > cur.version() {
                        eprintln!(
                            "writ-authority: trust root version {} ({}) is in force",
                            l.signed.version(),
                            l.signed.digest()
                        );
                    }
                    g.root = Arc::new(l.signed.trust().clone());
                    g.signed = Some(Arc::new(l.signed));
                    g.refused = report(&l.problems);
                }
                Err(e) => g.refused = report(&[e.to_string()]),
            },
        }
    }

    /// The signed version in force (`None` for a legacy home).
    pub fn signed(&self, ledger: &Ledger) -> Option<Arc<SignedTrustRoot>> {
        self.current(ledger);
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner).signed.clone()
    }

    /// The envelope of the version in force, as `GET /v1/trust` serves it
    /// (`None` for a legacy home: serve `trust.json` as before).
    pub fn signed_bytes(&self, ledger: &Ledger) -> Option<Vec<u8>> {
        self.signed(ledger).map(|s| s.envelope_bytes().to_vec())
    }

    /// The envelope of version `n`, if it is the version in force or an
    /// earlier one (for a gate walking the chain from its pin).
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn version_bytes(&self, ledger: &Ledger, n: u64) -> Result<Option<Vec<u8>>> {
        let Some(cur) = self.signed(ledger) else { return Ok(None) };
        if n == 0 || n > cur.version() {
            return Ok(None);
        }
        if n == cur.version() {
            return Ok(Some(cur.envelope_bytes().to_vec()));
        }
        let p = version_path(&self.home, n);
        fs::read(&p).map(Some).map_err(|e| cfg(format!("cannot read `{}`: {e}", p.display())))
    }

    /// The state of the trust root at `now` (call [`TrustStore::current`]
    /// first to pick up changes).
    pub fn status(&self, now: Timestamp) -> TrustStatus {
        let g = self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &g.signed {
            Some(s) => TrustStatus {
                signed: true,
                version: Some(s.version()),
                digest: Some(s.digest().to_hex()),
                expires: Some(s.expires()),
                expired: s.is_expired(now),
                refused: g.refused.clone(),
            },
            None => TrustStatus {
                signed: false,
                version: None,
                digest: None,
                expires: None,
                expired: false,
                refused: g.refused.clone(),
            },
        }
    }

    /// Puts a signed successor of the version in force into force: verifies
    /// it at `now` ([`trust_chain::verify_successor`]), appends its
    /// `key_change` entries to `ledger` (durable when this returns), and only
    /// then records it in the home and uses it. Publishing the version in
    /// force again changes nothing.
    ///
    /// `keep` is asked before anything is written whether the authority can
    /// still work under the new trust root (its issuer and ledger keys).
    ///
    /// # Errors
    /// A legacy home; the version's refusal (its stable code is in the
    /// message); `keep`'s refusal; ledger and file errors (then the version
    /// is not in force).
    pub fn publish(
        &self,
        ledger: &Ledger,
        bytes: &[u8],
        now: Timestamp,
        keep: &dyn Fn(&TrustRoot) -> Result<()>,
    ) -> Result<Published> {
        let _one = self.publishing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(cur) = self.signed(ledger) else {
            return Err(cfg(format!(
                "the trust root of `{}` is not signed (a legacy home); sign it first with `writ trust sign-home --home {}`",
                self.home.display(),
                self.home.display()
            )));
        };
        let claimed = trust_chain::parse(bytes).map_err(refused)?;
        if claimed.digest() == cur.digest() {
            let index = check_logged(&self.home, ledger, &cur).map_err(cfg)?;
            return Ok(Published { version: cur.version(), digest: cur.digest(), ledger_index: index, entries: 0 });
        }
        let next = trust_chain::verify_successor(&cur, bytes, now).map_err(refused)?;
        keep(next.trust())?;
        let n = next.version();
        let path = version_path(&self.home, n);
        // A publication interrupted after its append left the version file
        // without `.logged`: find its record rather than logging it twice.
        let earlier = match fs::read(&path) {
            Ok(b) if b == next.envelope_bytes() => find_version_entry(ledger, n, &next.digest())?,
            _ => None,
        };
        let (index, appended) = match earlier {
            Some(i) => (i, 0),
            None => {
                // The version file first: without its `.logged` file it is not in force.
                write_atomic(&path, next.envelope_bytes(), 0o644)?;
                let entries = trust_chain::key_change_entries(Some(&cur), &next, now);
                (append(ledger, &entries)?, entries.len())
            }
        };
        write_atomic(&logged_path(&self.home, n), format!("{index}\n").as_bytes(), 0o644)?;
        write_atomic(&self.home.join(home::TRUST), trust_json(next.trust()).as_bytes(), 0o644)?;
        let mut g = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.root = Arc::new(next.trust().clone());
        g.signed = Some(Arc::new(next.clone()));
        g.stamp = stamp(&self.home);
        g.refused = None;
        eprintln!("writ-authority: trust root version {n} ({}) is in force (ledger entry {index})", next.digest());
        Ok(Published { version: n, digest: next.digest(), ledger_index: index, entries: appended })
    }
}

/// The trust-root use cases of the authority (the server and the CLI call
/// these).
impl crate::Authority {
    /// Publishes a signed successor of the trust root in force (see
    /// [`TrustStore::publish`]): verified at `now`, logged as `key_change`,
    /// then in force.
    ///
    /// # Errors
    /// See [`TrustStore::publish`].
    pub fn publish_trust(&self, bytes: &[u8], now: Timestamp) -> Result<Published> {
        let issuer = self.issuer_key_id();
        let origin = self.ledger().origin().to_owned();
        // A version without this authority's issuer or ledger key would stop
        // it from opening, and so from publishing the fix: refuse it here.
        let keep = |t: &TrustRoot| -> Result<()> {
            if !t
                .key(&issuer)
                .is_some_and(|k| k.has_role(Role::Issuer) && !k.entry.revoked && k.entry.not_after.is_none())
            {
                return Err(AuthorityError::InvalidRequest(format!(
                    "the new version does not keep this authority's issuer key {issuer} as an active issuer; \
                     the authority could not run under it"
                )));
            }
            if !t.keys().iter().any(|k| k.has_role(Role::Ledger) && k.entry.name == origin && !k.entry.revoked) {
                return Err(AuthorityError::InvalidRequest(format!(
                    "the new version lists no ledger key named `{origin}`; receipts would not verify"
                )));
            }
            Ok(())
        };
        self.trust_store().publish(self.ledger(), bytes, now, &keep)
    }

    /// The trust root's state at `now`, for `/readyz` detail and metrics.
    pub fn trust_status(&self, now: Timestamp) -> TrustStatus {
        let _ = self.trust();
        self.trust_store().status(now)
    }

    /// The signed version in force, as `GET /v1/trust` serves it (`None`: a
    /// legacy home; serve `trust.json`).
    pub fn signed_trust(&self) -> Option<Vec<u8>> {
        self.trust_store().signed_bytes(self.ledger())
    }

    /// Version `n` of the trust root if it is in force or older (`GET
    /// /v1/trust/versions/{n}`), for gates walking the chain from their pin.
    ///
    /// # Errors
    /// When the stored file cannot be read.
    pub fn trust_version(&self, n: u64) -> Result<Option<Vec<u8>>> {
        self.trust_store().version_bytes(self.ledger(), n)
    }

    /// Changes the trust root with the home's own root key
    /// (`HOME/root.key`): the version in force, edited by `edit`, proposed
    /// as the next version, signed with that key and published (logged, then
    /// in force). For a new home and for tests; once the root keys are
    /// offline, use `writ trust propose/sign/publish`.
    ///
    /// # Errors
    /// No `HOME/root.key`, a legacy home, `edit`'s error, or a refusal of the
    /// version (e.g. `quorum_not_met` when that key alone is not a quorum).
    pub fn amend_trust(&self, now: Timestamp, edit: impl FnOnce(&mut TrustRoot) -> Result<()>) -> Result<Published> {
        let key = home::read_private_key(&self.home().join(ROOT_KEY))?;
        let cur = self.trust_store().signed(self.ledger()).ok_or_else(|| {
            cfg(format!(
                "the trust root of `{}` is not signed (a legacy home); sign it first with `writ trust sign-home`",
                self.home().display()
            ))
        })?;
        let mut doc = cur.trust().clone();
        edit(&mut doc)?;
        let unsigned =
            trust_chain::propose(&cur, doc.file().clone(), cur.root_threshold(), now.plus(DEFAULT_ROOT_EXPIRY_SECS))
                .map_err(refused)?;
        let signed = trust_chain::sign(&unsigned, &key).map_err(refused)?;
        self.publish_trust(&signed, now)
    }

    /// Turns a legacy home's trust root into signed version 1 (see
    /// [`sign_home`]) and puts it in force.
    ///
    /// # Errors
    /// See [`sign_home`].
    pub fn sign_trust_home(&self, now: Timestamp) -> Result<SignedHome> {
        let trust = self.trust();
        let s = sign_home(self.home(), self.ledger(), &trust, now)?;
        let _ = self.trust();
        Ok(s)
    }
}

/// The index of version `n`'s record in the ledger, searching from the end.
fn find_version_entry(ledger: &Ledger, n: u64, digest: &Sha256Digest) -> Result<Option<u64>> {
    const CHUNK: u64 = 1024;
    let mut end = ledger.size();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let batch = ledger.entries(start, end)?;
        for (i, bytes) in batch.iter().enumerate().rev() {
            if let Ok(e) = Entry::decode(bytes)
                && trust_chain::is_version_entry(&e, n, digest)
            {
                return Ok(Some(start + i as u64));
            }
        }
        end = start;
    }
    Ok(None)
}

/// Appends entries in one batch; returns the index of the first.
fn append(ledger: &Ledger, entries: &[Entry]) -> Result<u64> {
    let bytes = entries
        .iter()
        .map(|e| e.encode().map_err(|err| AuthorityError::InvalidRequest(err.to_string())))
        .collect::<Result<Vec<_>>>()?;
    Ok(ledger.append_many(bytes)?.start)
}

/// What [`sign_home`] created.
#[derive(Debug, Clone)]
pub struct SignedHome {
    /// Key id of the new root key (`HOME/root.key`).
    pub root_key_id: String,
    /// Digest of version 1: the pin gates set up with.
    pub pin: Sha256Digest,
    /// Ledger index of version 1's `key_change` entry.
    pub ledger_index: u64,
    /// When version 1 expires.
    pub expires: Timestamp,
}

/// Makes the trust root of `home` signed: creates a root key
/// (`HOME/root.key`, 0600, and `root.key.pub`), adds it with the `root` role
/// to `trust` (normally the home's `trust.json`), signs that as version 1
/// (quorum 1, expiring in [`DEFAULT_ROOT_EXPIRY_SECS`]), pins it, appends
/// its `key_change` entries to `ledger`, and writes `trust.json` to match.
/// `writ init` calls it for every new home; `writ trust sign-home` for a
/// legacy one.
///
/// # Errors
/// When the home is signed already or a file cannot be written.
pub fn sign_home(home: &Path, ledger: &Ledger, trust: &TrustRoot, now: Timestamp) -> Result<SignedHome> {
    let dir = home.join(TRUST_DIR);
    if is_signed_home(home) || home.join(ROOT_KEY).exists() {
        return Err(cfg(format!(
            "`{}` already has a signed trust root (`{}` or `{ROOT_KEY}` exists); refusing to replace it",
            home.display(),
            dir.join(PIN_FILE).display()
        )));
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut_slice())
        .map_err(|e| AuthorityError::Internal(format!("no randomness from the OS: {e}")))?;
    let root = SigningKey::from_seed(&seed);
    let text = Zeroizing::new(format!("{}{}\n", home::PRIVATE_PREFIX, writ_core::b64::encode(&root.seed()[..])));
    home::write_new(&home.join(ROOT_KEY), text.as_bytes(), 0o600)?;
    home::write_new(
        &home.join(format!("{ROOT_KEY}.pub")),
        public_key_file(&root.public(), Some("root")).as_bytes(),
        0o644,
    )?;
    let mut doc = trust.clone();
    doc.add(key_entry("root", vec![Role::Root], Vec::new(), &root.public())).map_err(|e| cfg(e.to_string()))?;
    let expires = now.plus(DEFAULT_ROOT_EXPIRY_SECS);
    let unsigned = trust_chain::initial(doc.file().clone(), 1, expires).map_err(refused)?;
    let bytes = trust_chain::sign(&unsigned, &root).map_err(refused)?;
    let pin = trust_chain::parse(&bytes).map_err(refused)?.digest();
    let v1 = trust_chain::verify_pinned(&bytes, &pin).map_err(refused)?;
    fs::create_dir_all(&dir).map_err(|e| cfg(format!("cannot create `{}`: {e}", dir.display())))?;
    let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
    write_atomic(&version_path(home, 1), v1.envelope_bytes(), 0o644)?;
    let index = append(ledger, &trust_chain::key_change_entries(None, &v1, now))?;
    write_atomic(&logged_path(home, 1), format!("{index}\n").as_bytes(), 0o644)?;
    write_atomic(&home.join(home::TRUST), trust_json(v1.trust()).as_bytes(), 0o644)?;
    // The pin last: until it exists the home is a legacy home.
    write_atomic(&dir.join(PIN_FILE), format!("{pin}\n").as_bytes(), 0o644)?;
    Ok(SignedHome { root_key_id: root.key_id().to_string(), pin, ledger_index: index, expires })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn setup() -> (tempfile::TempDir, Ledger, SigningKey) {
        let dir = tempfile::tempdir().unwrap();
        home::init(dir.path()).unwrap();
        let home = dir.path();
        let ledger = Ledger::open_home(home, "writ.local/unnamed", writ_ledger::LedgerOptions::default()).unwrap();
        if !is_signed_home(home) {
            let trust = load_legacy(home).unwrap();
            sign_home(home, &ledger, &trust, NOW).unwrap();
        }
        let root = home::read_private_key(&home.join(ROOT_KEY)).unwrap();
        (dir, ledger, root)
    }

    fn with_key(store: &TrustStore, ledger: &Ledger, name: &str, seed: u8, expires: Timestamp) -> Vec<u8> {
        let cur = store.signed(ledger).unwrap();
        let mut doc = cur.trust().clone();
        doc.add(key_entry(name, vec![Role::Requester], Vec::new(), &SigningKey::from_seed(&[seed; 32]).public()))
            .unwrap();
        trust_chain::propose(&cur, doc.file().clone(), cur.root_threshold(), expires).unwrap()
    }

    fn key_changes(ledger: &Ledger) -> Vec<writ_core::entry::KeyChange> {
        ledger
            .entries(0, ledger.size())
            .unwrap()
            .iter()
            .filter_map(|b| match Entry::decode(b).unwrap() {
                Entry::KeyChange(k) => Some(k),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_new_version_is_logged_before_it_is_used() {
        let (dir, ledger, root) = setup();
        let store = TrustStore::open(dir.path(), &ledger).unwrap();
        assert!(store.status(NOW).healthy(), "{:?}", store.status(NOW));
        let before = ledger.size();
        let v2 = trust_chain::sign(&with_key(&store, &ledger, "alice", 5, NOW.plus(3600)), &root).unwrap();
        let p = store.publish(&ledger, &v2, NOW, &|_| Ok(())).unwrap();
        assert_eq!(p.version, 2);
        assert_eq!(p.ledger_index, before);
        let kc = key_changes(&ledger);
        let last = &kc[kc.len() - 2];
        assert_eq!((last.role.as_str(), last.change.as_str()), ("trust_root", "version 2"));
        assert_eq!(last.key_id, p.digest.to_hex());
        assert_eq!(kc.last().unwrap().change, "add");
        assert!(store.current(&ledger).keys().iter().any(|k| k.entry.name == "alice"));
        // A publication interrupted after its append (no `.logged` yet) is
        // finished by publishing again, without a second record.
        let v3 = trust_chain::sign(&with_key(&store, &ledger, "bob", 6, NOW.plus(3600)), &root).unwrap();
        let p3 = store.publish(&ledger, &v3, NOW, &|_| Ok(())).unwrap();
        let size = ledger.size();
        fs::remove_file(logged_path(dir.path(), 3)).unwrap();
        let again = TrustStore::open(dir.path(), &ledger).unwrap();
        assert_eq!(again.status(NOW).version, Some(2), "not logged as far as the files say");
        let redo = again.publish(&ledger, &v3, NOW, &|_| Ok(())).unwrap();
        assert_eq!((redo.ledger_index, redo.entries, ledger.size()), (p3.ledger_index, 0, size));
        assert_eq!(again.status(NOW).version, Some(3));
        // Publishing it again is a no-op; another store (process) loads it.
        assert_eq!(again.publish(&ledger, &v3, NOW, &|_| Ok(())).unwrap().entries, 0);
        assert_eq!(ledger.size(), size);
        let other = TrustStore::open(dir.path(), &ledger).unwrap();
        assert_eq!(other.status(NOW).version, Some(3));
        assert!(other.status(NOW).healthy());
    }

    #[test]
    fn unsigned_stale_rolled_back_and_foreign_versions_are_refused() {
        let (dir, ledger, root) = setup();
        let store = TrustStore::open(dir.path(), &ledger).unwrap();
        let before = ledger.size();
        let unsigned = with_key(&store, &ledger, "alice", 5, NOW.plus(3600));
        let e = store.publish(&ledger, &unsigned, NOW, &|_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("quorum_not_met"), "{e}");
        let stranger = trust_chain::sign(&unsigned, &SigningKey::from_seed(&[9; 32])).unwrap();
        let e = store.publish(&ledger, &stranger, NOW, &|_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("unknown_key"), "{e}");
        let expired = trust_chain::sign(&with_key(&store, &ledger, "alice", 5, NOW), &root).unwrap();
        let e = store.publish(&ledger, &expired, NOW, &|_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        assert_eq!(ledger.size(), before, "nothing refused reaches the ledger");
        // Roll back: version 1 after version 2.
        let v1 = fs::read(version_path(dir.path(), 1)).unwrap();
        let v2 = trust_chain::sign(&with_key(&store, &ledger, "alice", 5, NOW.plus(3600)), &root).unwrap();
        store.publish(&ledger, &v2, NOW, &|_| Ok(())).unwrap();
        let e = store.publish(&ledger, &v1, NOW, &|_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("rollback"), "{e}");
        assert_eq!(store.status(NOW).version, Some(2));
    }

    #[test]
    fn hand_edits_and_unlogged_versions_are_refused_and_reported() {
        let (dir, ledger, root) = setup();
        let home = dir.path();
        let store = TrustStore::open(home, &ledger).unwrap();
        // A requester added to trust.json by hand.
        let view = home.join(home::TRUST);
        let mut edited = store.current(&ledger).as_ref().clone();
        edited
            .add(key_entry("eve", vec![Role::Requester], Vec::new(), &SigningKey::from_seed(&[7; 32]).public()))
            .unwrap();
        fs::write(&view, trust_json(&edited)).unwrap();
        assert!(!store.current(&ledger).keys().iter().any(|k| k.entry.name == "eve"));
        let st = store.status(NOW);
        assert!(!st.healthy());
        assert!(st.refused.as_deref().unwrap().contains("edited by hand"), "{st:?}");
        // A fresh open (a restart) refuses it too.
        assert!(
            !TrustStore::open(home, &ledger).unwrap().current(&ledger).keys().iter().any(|k| k.entry.name == "eve")
        );
        // A signed version dropped into trust/ without the ledger is not used.
        let v2 = trust_chain::sign(&with_key(&store, &ledger, "alice", 5, NOW.plus(3600)), &root).unwrap();
        fs::write(version_path(home, 2), &v2).unwrap();
        assert!(!store.current(&ledger).keys().iter().any(|k| k.entry.name == "alice"));
        assert!(store.status(NOW).refused.unwrap().contains("not recorded in the ledger"));
        // A forged `.logged` naming some other entry is not enough.
        fs::write(logged_path(home, 2), "0\n").unwrap();
        assert!(!store.current(&ledger).keys().iter().any(|k| k.entry.name == "alice"));
        assert!(store.status(NOW).refused.unwrap().contains("not its `key_change` record"));
        fs::remove_file(logged_path(home, 2)).unwrap();
        // Publishing it properly resolves everything (trust.json is rewritten).
        store.publish(&ledger, &v2, NOW, &|_| Ok(())).unwrap();
        assert!(store.status(NOW).healthy(), "{:?}", store.status(NOW));
        assert!(store.current(&ledger).keys().iter().any(|k| k.entry.name == "alice"));
        assert!(!store.current(&ledger).keys().iter().any(|k| k.entry.name == "eve"));
    }

    #[test]
    fn the_authority_publishes_and_guards_its_own_keys() {
        let (dir, ledger, _) = setup();
        drop(ledger);
        let a = crate::Authority::open(&crate::Config::new(dir.path())).unwrap();
        let alice = SigningKey::from_seed(&[5; 32]);
        assert!(a.identify(&alice.key_id(), NOW).is_err());
        let p = a
            .amend_trust(NOW, |t| {
                t.add(key_entry("alice", vec![Role::Requester], vec!["dev".into()], &alice.public()))
                    .map_err(|e| cfg(e.to_string()))
            })
            .unwrap();
        assert_eq!(a.trust_status(NOW).version, Some(p.version));
        assert!(a.identify(&alice.key_id(), NOW).is_ok());
        assert!(a.signed_trust().is_some());
        assert!(a.trust_version(1).unwrap().is_some());
        assert!(a.trust_version(p.version + 1).unwrap().is_none(), "nothing beyond the version in force is served");
        // A version that drops the authority's own issuer key is refused.
        let issuer = a.issuer_key_id();
        let e = a
            .amend_trust(NOW, |t| {
                let mut f = t.file().clone();
                f.keys.retain(|k| k.key_id != issuer);
                *t = TrustRoot::from_file(f).map_err(|e| cfg(e.to_string()))?;
                Ok(())
            })
            .unwrap_err();
        assert!(e.to_string().contains("issuer key"), "{e}");
        assert_eq!(a.trust_status(NOW).version, Some(p.version));
    }

    #[test]
    fn a_legacy_home_still_loads_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        home::init(dir.path()).unwrap();
        if is_signed_home(dir.path()) {
            return; // init signs homes: nothing legacy to test
        }
        let ledger =
            Ledger::open_home(dir.path(), "writ.local/unnamed", writ_ledger::LedgerOptions::default()).unwrap();
        let store = TrustStore::open(dir.path(), &ledger).unwrap();
        assert!(!store.status(NOW).signed);
        assert!(store.status(NOW).summary().contains("unsigned"));
        fs::write(dir.path().join(home::TRUST), "{").unwrap();
        store.current(&ledger);
        assert!(store.status(NOW).refused.is_some(), "a broken edit is reported");
    }
}
