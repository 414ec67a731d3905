//! The ledger: a sequencer thread with group commit in front of a [`Store`].

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use writ_tlog::checkpoint::{self, Checkpoint};
use writ_tlog::hash::{EMPTY_ROOT, leaf_hash};
use writ_tlog::note::{NoteSigner, VerifierKey};
use writ_tlog::tile::{MAX_BUNDLE_ENTRY, Tile};
use writ_tlog::tlog_proof::TlogProof;
use writ_tlog::tree::{self, Frontier};
use writ_tlog::{Hash, proof};

use crate::checkpoint::SignedCheckpoint;
use crate::error::{LedgerError, Result};
use crate::guard::{LastSigned, check_extends};
#[cfg(feature = "postgres")]
use crate::postgres::PgStore;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteStore;
use crate::store::{Batch, Store};
use crate::tiles;

/// Most entries one [`Ledger::entries`] call returns.
pub const MAX_RANGE: u64 = 4096;

/// Where a ledger's store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database and the schema to use in it.
    Postgres {
        /// `postgres://` URL.
        url: String,
        /// Schema name.
        schema: String,
    },
}

impl Location {
    /// `postgres://…` / `postgresql://…` URLs select PostgreSQL (schema
    /// `schema`); anything else is a SQLite file path.
    #[must_use]
    pub fn parse(s: &str, schema: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Self::Postgres { url: s.to_string(), schema: schema.to_string() }
        } else {
            Self::Sqlite(PathBuf::from(s))
        }
    }

    /// Open a new connection to the store.
    ///
    /// # Errors
    /// Store errors; [`LedgerError::Config`] for a backend this build was
    /// compiled without (cargo features `sqlite`, `postgres`).
    pub fn connect(&self) -> Result<Box<dyn Store>> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(p) => Ok(Box::new(SqliteStore::open(p)?)),
            #[cfg(not(feature = "sqlite"))]
            Self::Sqlite(p) => Err(LedgerError::Config(format!(
                "cannot open the sqlite ledger `{}`: this build has no sqlite support; rebuild writ-ledger with feature `sqlite`",
                p.display()
            ))),
            #[cfg(feature = "postgres")]
            Self::Postgres { url, schema } => Ok(Box::new(PgStore::connect(url, schema)?)),
            #[cfg(not(feature = "postgres"))]
            Self::Postgres { schema, .. } => Err(LedgerError::Config(format!(
                "cannot open the postgresql ledger schema `{schema}`: this build has no postgresql support; rebuild writ-ledger with feature `postgres`"
            ))),
        }
    }
}

impl Location {
    /// How errors name the store (never the URL: it may hold a password).
    fn describe(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("sqlite `{}`", p.display()),
            Self::Postgres { schema, .. } => format!("postgresql schema `{schema}`"),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "{}", p.display()),
            Self::Postgres { schema, .. } => write!(f, "postgresql schema `{schema}`"),
        }
    }
}

/// Tuning knobs.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// Appends that may wait for the sequencer before [`LedgerError::Busy`].
    pub max_pending: usize,
    /// Most entries per group commit.
    pub max_batch: usize,
    /// Write C2SP tiles into this directory after each commit.
    pub tiles_dir: Option<PathBuf>,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self { max_pending: 65_536, max_batch: 8_192, tiles_dir: None }
    }
}

/// Proof that an entry is in the ledger: index, inclusion proof and the
/// signed checkpoint it is proven against.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Entry index.
    pub index: u64,
    /// Inclusion proof against `checkpoint`.
    pub inclusion: Vec<Hash>,
    /// The covering signed checkpoint.
    pub checkpoint: Arc<SignedCheckpoint>,
}

impl Receipt {
    /// The receipt as a C2SP `tlog-proof@v1` whose `extra` line carries
    /// `extra` (writ receipts carry the issuance entry itself, so a gate can
    /// check it with nothing but the ledger key; see `writ_core::receipt`).
    #[must_use]
    pub fn to_tlog_proof_with_extra(&self, extra: Vec<u8>) -> TlogProof {
        TlogProof { extra: Some(extra), ..self.to_tlog_proof() }
    }

    /// The receipt as a C2SP `tlog-proof@v1`.
    #[must_use]
    pub fn to_tlog_proof(&self) -> TlogProof {
        TlogProof {
            extra: None,
            index: self.index,
            hashes: self.inclusion.clone(),
            checkpoint: self.checkpoint.note.as_bytes().to_vec(),
        }
    }
}

/// A committed job: the index of its first entry, the covering checkpoint
/// and (when asked) the inclusion proof of its last entry in that checkpoint.
type Committed = (u64, Arc<SignedCheckpoint>, Option<Vec<Hash>>);
type Outcome = std::result::Result<Committed, String>;
type Reply = SyncSender<Outcome>;

/// Entries of one job are committed together, in order, at contiguous
/// indices; the reply carries the index of the first and, when the flag is
/// set, the inclusion proof of the last (built by the sequencer from the
/// batch it just committed: one tree pass per batch, no store reads).
enum Job {
    Append(Vec<Vec<u8>>, Reply, bool),
    /// Re-read the store (see [`Ledger::refresh`]); the reply is the size.
    Refresh(SyncSender<std::result::Result<u64, String>>),
    Shutdown,
}

struct Shared {
    origin: String,
    verifier: VerifierKey,
    location: Location,
    reader: Mutex<Box<dyn Store>>,
    latest: RwLock<Arc<SignedCheckpoint>>,
    failure: Mutex<Option<String>>,
    tile_error: Mutex<Option<String>>,
    max_pending: usize,
    witnessing: RwLock<Option<Arc<dyn crate::witnessing::Witnessing>>>,
    integration: RwLock<Option<IntegrationObserver>>,
    queued: std::sync::atomic::AtomicU64,
}

/// Called with each append's integration latency: from entering the
/// sequencer queue to the reply carrying the durably stored signed
/// checkpoint that covers it (see [`Ledger::set_integration_observer`]).
pub type IntegrationObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// An append in the sequencer queue: counted in [`Ledger::queued`] until
/// its reply is read (or it is dropped), timed from its submission.
struct Pending {
    rx: Receiver<Outcome>,
    since: Instant,
    shared: Arc<Shared>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.shared.queued.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An open ledger. Cheap to share behind an `Arc`; every method takes `&self`
/// and is safe to call from many threads.
///
/// The API is blocking. From async code, call it inside
/// `tokio::task::spawn_blocking` (the PostgreSQL client is blocking too).
pub struct Ledger {
    shared: Arc<Shared>,
    tx: SyncSender<Job>,
    sequencer: Option<JoinHandle<()>>,
    tile_writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("origin", &self.shared.origin)
            .field("location", &self.shared.location)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The one-log-per-key guard of a ledger opened from a key file.
struct Guard {
    last: LastSigned,
    location: String,
}

impl Guard {
    fn check(
        &self,
        last: &Checkpoint,
        size: u64,
        root: &Hash,
        hashes: impl FnMut(&[u64]) -> Result<Vec<Hash>>,
    ) -> Result<()> {
        check_extends(last, self.last.path(), &self.location, size, root, hashes)
    }
}

/// Check the stored state against the latest signed checkpoint and rebuild
/// the frontier. Signs and stores the empty checkpoint for a new ledger.
///
/// INVARIANT: the sequencer only ever extends a state that matches the
/// checkpoint it signed last, so it can never sign two inconsistent
/// checkpoints, also across restarts. With a `guard`, "signed last" is what
/// the key signed, whatever store it signed it for: a store that does not
/// extend it (older backup, empty store, second store) is refused here,
/// before anything is signed.
fn recover(
    store: &mut dyn Store,
    signer: &NoteSigner,
    guard: Option<&Guard>,
) -> Result<(Frontier, Arc<SignedCheckpoint>)> {
    let origin = signer.verifier().name().to_string();
    let _locked = guard.map(|g| g.last.lock()).transpose()?;
    let last = match guard {
        Some(g) => g.last.read(&origin, signer.verifier())?,
        None => None,
    };
    // INVARIANT: size and checkpoint come from one read (one snapshot); two
    // separate reads could straddle another writer's commit.
    let (size, note) = store.state()?;
    let Some(note) = note else {
        if size != 0 {
            return Err(LedgerError::Inconsistent(format!("store holds {size} entries but no signed checkpoint")));
        }
        if let (Some(g), Some(l)) = (guard, &last) {
            g.check(&l.checkpoint, 0, &EMPTY_ROOT, |_| Ok(Vec::new()))?;
        }
        let cp = Checkpoint::new(&origin, 0, EMPTY_ROOT);
        let note = cp.sign(signer)?;
        store.commit(&Batch { start: 0, entries: &[], hashes: &[], checkpoint: note.as_bytes() })?;
        let signed = Arc::new(SignedCheckpoint { note, checkpoint: cp });
        if let Some(g) = guard {
            g.last.record(&signed, last.as_ref().map(|l| &l.checkpoint))?;
        }
        return Ok((Frontier::new(), signed));
    };
    let cp = checkpoint::open(&note, &origin, signer.verifier()).map_err(|e| {
        LedgerError::Inconsistent(format!("latest stored checkpoint does not verify with this ledger's key: {e}"))
    })?;
    if cp.size != size {
        return Err(LedgerError::Inconsistent(format!(
            "store holds {size} entries but its latest checkpoint covers {}",
            cp.size
        )));
    }
    let nodes: Vec<u64> = Frontier::nodes(size).iter().map(|n| n.stored_index()).collect();
    let frontier = Frontier::from_parts(size, store.read_hashes(&nodes)?)?;
    if frontier.root() != cp.root {
        return Err(LedgerError::Inconsistent(format!(
            "stored tree of size {size} does not have the root of the latest signed checkpoint"
        )));
    }
    let note = String::from_utf8(note).map_err(|_| LedgerError::Corrupt("checkpoint is not UTF-8".into()))?;
    let signed = Arc::new(SignedCheckpoint { note, checkpoint: cp });
    if let Some(g) = guard {
        if let Some(l) = &last {
            g.check(&l.checkpoint, size, &signed.checkpoint.root, |ix| store.read_hashes(ix))?;
        }
        // The store is ahead of (and extends) the record, or this key has
        // no record yet (a home from before the guard): adopt its state.
        g.last.record(&signed, last.as_ref().map(|l| &l.checkpoint))?;
    }
    Ok((frontier, signed))
}

impl Ledger {
    /// Open the ledger at `location`, signing checkpoints with `signer` (whose
    /// key name is the log origin). Checks the stored state against the last
    /// signed checkpoint before accepting appends.
    ///
    /// # Errors
    /// Store errors; [`LedgerError::Inconsistent`] if the store does not match
    /// its latest signed checkpoint (or that was signed by another key).
    ///
    /// This does not keep the one-log-per-key record: use
    /// [`Ledger::open_keyed`] (or [`Ledger::open_home`]) for a key that lives
    /// in a file, which every production ledger does.
    pub fn open(location: Location, signer: NoteSigner, opts: LedgerOptions) -> Result<Self> {
        Self::open_guarded(location, signer, None, opts)
    }

    /// Open the ledger at `location`, signing with the key file at
    /// `key_path`, and keep the key to one log: the last checkpoint the key
    /// signed is recorded beside it ([`crate::guard::last_signed_path`]),
    /// and no checkpoint is signed whose tree does not extend it.
    ///
    /// # Errors
    /// As [`Ledger::open`]; [`LedgerError::Fork`] when the store does not
    /// extend what the key last signed (an older backup, an empty store or
    /// a second store under the same key); key-file errors.
    pub fn open_keyed(location: Location, key_path: &Path, opts: LedgerOptions) -> Result<Self> {
        let signer = crate::key::load(key_path)?;
        let guard = Guard { last: LastSigned::open(key_path)?, location: location.describe() };
        Self::open_guarded(location, signer, Some(guard), opts)
    }

    fn open_guarded(location: Location, signer: NoteSigner, guard: Option<Guard>, opts: LedgerOptions) -> Result<Self> {
        let mut writer = location.connect()?;
        let (frontier, latest) = recover(writer.as_mut(), &signer, guard.as_ref())?;
        let reader = location.connect()?;
        let shared = Arc::new(Shared {
            origin: signer.verifier().name().to_string(),
            verifier: signer.verifier().clone(),
            location: location.clone(),
            reader: Mutex::new(reader),
            latest: RwLock::new(latest.clone()),
            failure: Mutex::new(None),
            tile_error: Mutex::new(None),
            max_pending: opts.max_pending.max(1),
            witnessing: RwLock::new(None),
            integration: RwLock::new(None),
            queued: std::sync::atomic::AtomicU64::new(0),
        });
        let (tile_tx, tile_writer) = match &opts.tiles_dir {
            Some(dir) => {
                let (ttx, trx) = mpsc::channel::<Arc<SignedCheckpoint>>();
                let dir = dir.clone();
                let sh = shared.clone();
                let from = tiles::published_size(&dir, &sh.origin, &sh.verifier);
                let _ = ttx.send(latest.clone());
                let h = std::thread::Builder::new()
                    .name("writ-ledger-tiles".into())
                    .spawn(move || tile_loop(&sh, &dir, from, &trx))
                    .map_err(|e| LedgerError::io("cannot start the tile writer thread", e))?;
                (Some(ttx), Some(h))
            }
            None => (None, None),
        };
        let (tx, rx) = mpsc::sync_channel(shared.max_pending);
        let sh = shared.clone();
        let max_batch = opts.max_batch.max(1);
        let sequencer = std::thread::Builder::new()
            .name("writ-ledger-sequencer".into())
            .spawn(move || {
                let mut seq = Sequencer { shared: sh, store: Some(writer), frontier, latest, signer, guard, tile_tx };
                seq.run(&rx, max_batch);
            })
            .map_err(|e| LedgerError::io("cannot start the ledger sequencer thread", e))?;
        Ok(Self { shared, tx, sequencer: Some(sequencer), tile_writer })
    }

    /// Open the SQLite ledger in a home directory: `ledger.sqlite`,
    /// `ledger.key` (created with `origin` if missing), `ledger.checkpoint`
    /// (what the key last signed) and `tiles/`.
    ///
    /// # Errors
    /// As [`Ledger::open_keyed`], plus directory errors.
    pub fn open_home(home: &Path, origin: &str, opts: LedgerOptions) -> Result<Self> {
        Self::open_home_at(home, Location::Sqlite(home.join("ledger.sqlite")), origin, opts)
    }

    /// Open the ledger of a home directory bound to the store `location`
    /// (its `ledger.sqlite` or a PostgreSQL schema): the key is the home's
    /// `ledger.key` (created with `origin` if missing), guarded as in
    /// [`Ledger::open_keyed`]; tiles go to the home's `tiles/` unless
    /// `opts` names another directory.
    ///
    /// # Errors
    /// As [`Ledger::open_keyed`], plus directory errors.
    pub fn open_home_at(home: &Path, location: Location, origin: &str, mut opts: LedgerOptions) -> Result<Self> {
        std::fs::create_dir_all(home)
            .map_err(|e| LedgerError::io(format!("cannot create writ home `{}`", home.display()), e))?;
        let key_path = home.join("ledger.key");
        crate::key::load_or_create(&key_path, origin)?;
        if opts.tiles_dir.is_none() {
            opts.tiles_dir = Some(home.join("tiles"));
        }
        Self::open_keyed(location, &key_path, opts)
    }

    /// The log origin (the checkpoint key name).
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// The verifier key that checks this ledger's checkpoints.
    #[must_use]
    pub fn verifier(&self) -> &VerifierKey {
        &self.shared.verifier
    }

    /// The latest signed checkpoint.
    #[must_use]
    pub fn latest_checkpoint(&self) -> Arc<SignedCheckpoint> {
        self.shared.latest.read().map(|g| g.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Number of entries covered by the latest checkpoint.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.latest_checkpoint().checkpoint.size
    }

    /// Install (or remove) the observer of integration latency: it is
    /// called once per acknowledged append job with the time from entering
    /// the sequencer queue to being covered by a signed checkpoint.
    pub fn set_integration_observer(&self, f: Option<IntegrationObserver>) {
        *self.shared.integration.write().unwrap_or_else(std::sync::PoisonError::into_inner) = f;
    }

    /// Append jobs in the sequencer queue or being committed now (the
    /// integration backlog).
    #[must_use]
    pub fn queued(&self) -> u64 {
        self.shared.queued.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn submit(&self, entries: Vec<Vec<u8>>, proof: bool) -> Result<Pending> {
        if let Some(e) = entries.iter().find(|e| e.len() > MAX_BUNDLE_ENTRY) {
            return Err(LedgerError::EntryTooLarge { size: e.len(), max: MAX_BUNDLE_ENTRY });
        }
        if let Some(f) = lock(&self.shared.failure).clone() {
            return Err(LedgerError::Stopped(f));
        }
        let (rtx, rrx) = mpsc::sync_channel(1);
        let since = Instant::now();
        match self.tx.try_send(Job::Append(entries, rtx, proof)) {
            Ok(()) => {
                self.shared.queued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(Pending { rx: rrx, since, shared: self.shared.clone() })
            }
            Err(TrySendError::Full(_)) => Err(LedgerError::Busy { pending: self.shared.max_pending }),
            Err(TrySendError::Disconnected(_)) => Err(LedgerError::Stopped("the ledger was closed".into())),
        }
    }

    fn wait(p: &Pending) -> Result<Committed> {
        match p.rx.recv() {
            Ok(Ok(v)) => {
                let observer =
                    p.shared.integration.read().map(|g| g.clone()).unwrap_or_else(|e| e.into_inner().clone());
                if let Some(f) = observer {
                    f(p.since.elapsed());
                }
                Ok(v)
            }
            Ok(Err(e)) => Err(LedgerError::Stopped(e)),
            Err(_) => Err(LedgerError::Stopped("the sequencer exited before committing the entry".into())),
        }
    }

    /// Append one entry; returns its index once it is durably stored (and
    /// covered by a durably stored signed checkpoint).
    ///
    /// # Errors
    /// [`LedgerError::EntryTooLarge`], [`LedgerError::Busy`] when the queue is
    /// full, [`LedgerError::Stopped`] when the commit failed.
    pub fn append(&self, entry: Vec<u8>) -> Result<u64> {
        let rx = self.submit(vec![entry], false)?;
        Ok(Self::wait(&rx)?.0)
    }

    /// Append one entry and return its receipt: index, inclusion proof and
    /// the signed checkpoint that covers it.
    ///
    /// # Errors
    /// As [`Ledger::append`], plus store errors while building the proof.
    pub fn append_with_receipt(&self, entry: Vec<u8>) -> Result<Receipt> {
        let rx = self.submit(vec![entry], true)?;
        let (index, checkpoint, proof) = Self::wait(&rx)?;
        let (inclusion, checkpoint) = self.receipt_parts(index, checkpoint, proof)?;
        Ok(Receipt { index, inclusion, checkpoint })
    }

    /// Append several entries as one unit: they get contiguous indices in the
    /// order given and are committed in the same durable transaction (all or
    /// none), with one wait for the group commit. Returns their index range
    /// once they are durably stored and covered by a durably stored signed
    /// checkpoint. An empty list appends nothing.
    ///
    /// # Errors
    /// As [`Ledger::append`]. On any error none of the entries is
    /// acknowledged; the store holds either all of them or none.
    pub fn append_many(&self, entries: Vec<Vec<u8>>) -> Result<Range<u64>> {
        if entries.is_empty() {
            let size = self.size();
            return Ok(size..size);
        }
        let n = entries.len() as u64;
        let rx = self.submit(entries, false)?;
        let (start, _, _) = Self::wait(&rx)?;
        Ok(start..start + n)
    }

    /// [`Ledger::append_many`], plus the receipt of the last entry (the
    /// checkpoint covers all of them).
    ///
    /// # Errors
    /// As [`Ledger::append_many`]; [`LedgerError::OutOfRange`] for an empty
    /// list (there is no last entry); store errors while building the proof.
    pub fn append_many_with_receipt(&self, entries: Vec<Vec<u8>>) -> Result<(Range<u64>, Receipt)> {
        if entries.is_empty() {
            return Err(LedgerError::OutOfRange { index: 0, size: 0 });
        }
        let n = entries.len() as u64;
        let rx = self.submit(entries, true)?;
        let (start, checkpoint, proof) = Self::wait(&rx)?;
        let index = start + n - 1;
        let (inclusion, checkpoint) = self.receipt_parts(index, checkpoint, proof)?;
        Ok((start..start + n, Receipt { index, inclusion, checkpoint }))
    }

    /// The inclusion proof of `index` and the checkpoint it is proven
    /// against: the sequencer's proof against the commit's own checkpoint,
    /// unless witnessing gives a cosigned (possibly later) checkpoint, whose
    /// proof is read from the store.
    fn receipt_parts(
        &self,
        index: u64,
        bare: Arc<SignedCheckpoint>,
        proof: Option<Vec<Hash>>,
    ) -> Result<(Vec<Hash>, Arc<SignedCheckpoint>)> {
        let checkpoint = self.witnessed_or(bare.clone(), index + 1);
        match proof {
            Some(p) if Arc::ptr_eq(&checkpoint, &bare) => Ok((p, checkpoint)),
            _ => Ok((self.inclusion_proof(index, checkpoint.checkpoint.size)?, checkpoint)),
        }
    }

    /// Re-read the store: entries another process appended to it under the
    /// same key (e.g. `writ trust publish` while a server runs) become
    /// visible to [`Ledger::size`], [`Ledger::entries`] and the proofs. The
    /// stored tree is checked as when opening: it must extend the latest
    /// checkpoint this ledger knows and verify under its key, else nothing
    /// changes and the error says why. Returns the size now covered.
    ///
    /// # Errors
    /// [`LedgerError::Stopped`] naming the failure: a closed or stopped
    /// ledger, a store that cannot be read or no longer extends the last
    /// checkpoint.
    pub fn refresh(&self) -> Result<u64> {
        let (rtx, rrx) = mpsc::sync_channel(1);
        self.tx.send(Job::Refresh(rtx)).map_err(|_| LedgerError::Stopped("the ledger was closed".into()))?;
        rrx.recv()
            .map_err(|_| LedgerError::Stopped("the sequencer exited before re-reading the store".into()))?
            .map_err(LedgerError::Stopped)
    }

    /// Have this ledger's checkpoints witnessed: receipts are then proven
    /// against a checkpoint `w` got cosigned (when it gets one within its
    /// bound), and [`Ledger::witnessed_checkpoint`] serves the latest.
    /// `None` stops witnessing.
    pub fn set_witnessing(&self, w: Option<Arc<dyn crate::witnessing::Witnessing>>) {
        *self.shared.witnessing.write().unwrap_or_else(std::sync::PoisonError::into_inner) = w;
    }

    fn witnessing(&self) -> Option<Arc<dyn crate::witnessing::Witnessing>> {
        self.shared.witnessing.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The latest checkpoint the witnesses cosigned (its note carries their
    /// cosignature lines), `None` when this ledger is not witnessed or
    /// nothing was cosigned yet.
    #[must_use]
    pub fn witnessed_checkpoint(&self) -> Option<Arc<SignedCheckpoint>> {
        self.witnessing().and_then(|w| w.latest())
    }

    /// A cosigned checkpoint covering `size` entries when witnessing is on
    /// and the witnesses cosign one in time, else `bare`.
    fn witnessed_or(&self, bare: Arc<SignedCheckpoint>, size: u64) -> Arc<SignedCheckpoint> {
        match self.witnessing() {
            Some(w) => w.witnessed(self, size).filter(|c| c.checkpoint.size >= size).unwrap_or(bare),
            None => bare,
        }
    }

    /// Run `f` on the reader connection; after a connection-level failure
    /// (e.g. the database restarted) reconnect once and retry.
    fn with_reader<T>(&self, mut f: impl FnMut(&mut dyn Store) -> Result<T>) -> Result<T> {
        let mut r = lock(&self.shared.reader);
        match f(r.as_mut()) {
            Err(e) if e.is_storage() => {
                *r = self.shared.location.connect()?;
                f(r.as_mut())
            }
            other => other,
        }
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] unless `index < size <= self.size()`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        let cur = self.size();
        if index >= size || size > cur {
            return Err(LedgerError::OutOfRange { index, size: cur });
        }
        self.with_reader(|r| tree::inclusion_proof(index, size, |ix| r.read_hashes(ix)))
    }

    /// Consistency proof from size `old` to size `new`.
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] unless `old <= new <= self.size()`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        let cur = self.size();
        if old > new || new > cur {
            return Err(LedgerError::OutOfRange { index: new, size: cur });
        }
        self.with_reader(|r| tree::consistency_proof(old, new, |ix| r.read_hashes(ix)))
    }

    /// Entries `[start, end)`, at most [`MAX_RANGE`] at once.
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] for a range past the tree or too long;
    /// [`LedgerError::Corrupt`] if an entry is missing.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let size = self.size();
        if start > end || end > size || end - start > MAX_RANGE {
            return Err(LedgerError::OutOfRange { index: end, size });
        }
        let rows = self.with_reader(|r| r.scan_entries(start, (end - start) as usize))?;
        let mut out = Vec::with_capacity(rows.len());
        for (i, (idx, data)) in rows.into_iter().enumerate() {
            if idx != start + i as u64 {
                return Err(LedgerError::Corrupt(format!("entry {} is missing", start + i as u64)));
            }
            out.push(data);
        }
        if out.len() as u64 != end - start {
            return Err(LedgerError::Corrupt(format!("entry {} is missing", start + out.len() as u64)));
        }
        Ok(out)
    }

    /// One entry.
    ///
    /// # Errors
    /// As [`Ledger::entries`].
    pub fn entry(&self, index: u64) -> Result<Vec<u8>> {
        self.entries(index, index.saturating_add(1))?.pop().ok_or(LedgerError::OutOfRange { index, size: self.size() })
    }

    /// An offline C2SP `tlog-proof` for entry `index` against the latest checkpoint.
    ///
    /// # Errors
    /// As [`Ledger::inclusion_proof`].
    pub fn prove(&self, index: u64) -> Result<TlogProof> {
        let cp = self.latest_checkpoint();
        let hashes = self.inclusion_proof(index, cp.checkpoint.size)?;
        Ok(TlogProof { extra: None, index, hashes, checkpoint: cp.note.as_bytes().to_vec() })
    }

    /// The bytes of a C2SP tile path (`tile/0/x001/234.p/5`,
    /// `tile/entries/000`) or `checkpoint`, as a static server would serve them.
    ///
    /// # Errors
    /// Malformed paths; [`LedgerError::OutOfRange`] for tiles past the
    /// latest checkpoint.
    pub fn read_tile(&self, path: &str) -> Result<Vec<u8>> {
        let cp = self.latest_checkpoint();
        if path == "checkpoint" {
            return Ok(cp.note.as_bytes().to_vec());
        }
        let tile = Tile::parse_path(path)?;
        self.with_reader(|r| tiles::tile_bytes(r, &tile, cp.checkpoint.size))
    }

    /// The last error of the background tile writer, if any.
    #[must_use]
    pub fn tile_error(&self) -> Option<String> {
        lock(&self.shared.tile_error).clone()
    }

    /// Verify a receipt offline against this ledger's key (convenience for tests
    /// and callers; gates use `writ_core::tlog` directly).
    ///
    /// # Errors
    /// Proof errors.
    pub fn verify_receipt(&self, entry: &[u8], receipt: &Receipt) -> Result<()> {
        let cp = checkpoint::open(receipt.checkpoint.note.as_bytes(), &self.shared.origin, &self.shared.verifier)?;
        proof::verify_inclusion(receipt.index, cp.size, &leaf_hash(entry), &receipt.inclusion, &cp.root)?;
        Ok(())
    }

    /// Stop the sequencer after it commits everything queued, and wait for it.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // A blocking send: the shutdown marker queues behind pending appends.
        let _ = self.tx.send(Job::Shutdown);
        if let Some(h) = self.sequencer.take() {
            let _ = h.join();
        }
        if let Some(h) = self.tile_writer.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A committed batch: its first index, its checkpoint and the inclusion
/// proofs asked for, in the order asked.
type BatchCommitted = (u64, Arc<SignedCheckpoint>, Vec<Vec<Hash>>);

enum Attempt {
    Done(BatchCommitted),
    KeyAhead { expected: u64, found: u64 },
}

struct Sequencer {
    shared: Arc<Shared>,
    store: Option<Box<dyn Store>>,
    frontier: Frontier,
    latest: Arc<SignedCheckpoint>,
    signer: NoteSigner,
    guard: Option<Guard>,
    tile_tx: Option<mpsc::Sender<Arc<SignedCheckpoint>>>,
}

impl Sequencer {
    fn run(&mut self, rx: &Receiver<Job>, max_batch: usize) {
        let mut entries: Vec<Vec<u8>> = Vec::with_capacity(max_batch);
        // (reply, index of its first entry within the batch)
        // (reply, index of its first entry within the batch, offset of its
        // last entry when it wants that entry's inclusion proof)
        let mut replies: Vec<(Reply, u64, Option<u64>)> = Vec::with_capacity(max_batch);
        let mut refreshes = Vec::new();
        let mut stop = false;
        while !stop {
            match rx.recv() {
                Ok(Job::Append(e, r, p)) => {
                    let first = entries.len() as u64;
                    replies.push((r, first, (p && !e.is_empty()).then(|| first + e.len() as u64 - 1)));
                    entries.extend(e);
                }
                Ok(Job::Refresh(r)) => {
                    let _ = r.send(self.refresh());
                    continue;
                }
                Ok(Job::Shutdown) | Err(_) => break,
            }
            // Group commit: take whatever queued up while the last fsync ran.
            // A job is never split: its entries commit together or not at all.
            while entries.len() < max_batch {
                match rx.try_recv() {
                    Ok(Job::Append(e, r, p)) => {
                        let first = entries.len() as u64;
                        replies.push((r, first, (p && !e.is_empty()).then(|| first + e.len() as u64 - 1)));
                        entries.extend(e);
                    }
                    Ok(Job::Refresh(r)) => refreshes.push(r),
                    Ok(Job::Shutdown) => {
                        stop = true;
                        break;
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            let wanted: Vec<u64> = replies.iter().filter_map(|(_, _, w)| *w).collect();
            match self.commit_or_reset(&entries, &wanted) {
                Ok((start, cp, proofs)) => {
                    let mut proofs = proofs.into_iter();
                    for (r, offset, w) in replies.drain(..) {
                        let proof = if w.is_some() { proofs.next() } else { None };
                        let _ = r.send(Ok((start + offset, cp.clone(), proof)));
                    }
                }
                Err(e) => {
                    let msg = format!("append was not committed: {e}");
                    if matches!(e, LedgerError::Inconsistent(_) | LedgerError::Fork { .. }) {
                        *lock(&self.shared.failure) = Some(msg.clone());
                    }
                    for (r, _, _) in replies.drain(..) {
                        let _ = r.send(Err(msg.clone()));
                    }
                }
            }
            entries.clear();
            for r in refreshes.drain(..) {
                let _ = r.send(self.refresh());
            }
        }
    }

    /// Drop the store connection and reload: the tree and checkpoint the
    /// store holds now, checked to extend ours ([`Sequencer::reload`]).
    fn refresh(&mut self) -> std::result::Result<u64, String> {
        if let Some(f) = lock(&self.shared.failure).clone() {
            return Err(f);
        }
        self.store = None;
        self.reload().map_err(|e| format!("cannot re-read the ledger store: {e}"))?;
        Ok(self.latest.checkpoint.size)
    }

    /// [`Sequencer::commit`], dropping the store connection after any storage
    /// failure so the next batch reconnects and re-checks the state.
    fn commit_or_reset(&mut self, entries: &[Vec<u8>], wanted: &[u64]) -> Result<BatchCommitted> {
        let r = self.commit(entries, wanted);
        if r.as_ref()
            .is_err_and(|e| e.is_storage() || matches!(e, LedgerError::Conflict { .. } | LedgerError::Corrupt(_)))
        {
            self.store = None;
        }
        r
    }

    /// Reconnect and re-check state after a failed commit (the commit may or
    /// may not have landed; the store is the truth).
    fn reload(&mut self) -> Result<&mut Box<dyn Store>> {
        if self.store.is_none() {
            let mut s = self.shared.location.connect()?;
            let (f, latest) = recover(s.as_mut(), &self.signer, self.guard.as_ref())?;
            // INVARIANT: what the store holds now must extend what we last signed.
            let old = &self.latest.checkpoint;
            if latest.checkpoint.size < old.size {
                return Err(LedgerError::Inconsistent(format!(
                    "store went back from size {} to {}",
                    old.size, latest.checkpoint.size
                )));
            }
            let proof = tree::consistency_proof(old.size, latest.checkpoint.size, |ix| s.read_hashes(ix))?;
            proof::verify_consistency(old.size, latest.checkpoint.size, &proof, &old.root, &latest.checkpoint.root)
                .map_err(|e| LedgerError::Inconsistent(format!("store no longer extends our last checkpoint: {e}")))?;
            self.frontier = f;
            self.set_latest(latest);
            self.store = Some(s);
        }
        self.store.as_mut().ok_or_else(|| LedgerError::Stopped("no store connection".into()))
    }

    fn set_latest(&mut self, cp: Arc<SignedCheckpoint>) {
        self.latest = cp.clone();
        match self.shared.latest.write() {
            Ok(mut g) => *g = cp.clone(),
            Err(p) => *p.into_inner() = cp.clone(),
        }
        if let Some(t) = &self.tile_tx {
            let _ = t.send(cp);
        }
    }

    fn commit(&mut self, entries: &[Vec<u8>], wanted: &[u64]) -> Result<BatchCommitted> {
        if let Some(f) = lock(&self.shared.failure).clone() {
            return Err(LedgerError::Stopped(f));
        }
        let mut attempt = 0;
        loop {
            if let Err(e) = self.reload() {
                // brief back-off so a dead database does not spin the thread
                std::thread::sleep(Duration::from_millis(50));
                return Err(e);
            }
            match self.try_commit(entries, wanted)? {
                Attempt::Done(r) => return Ok(r),
                // The key signed past what this sequencer knows: another
                // sequencer on the same store (reload and go on) or on
                // another store (the reload refuses it with the reason).
                Attempt::KeyAhead { expected, found } => {
                    self.store = None;
                    attempt += 1;
                    if attempt > 1 {
                        return Err(LedgerError::Conflict { expected, found });
                    }
                }
            }
        }
    }

    fn try_commit(&mut self, entries: &[Vec<u8>], wanted: &[u64]) -> Result<Attempt> {
        let start = self.frontier.size();
        let mut next = self.frontier.clone();
        let mut hashes = Vec::with_capacity(entries.len() * 2);
        for e in entries {
            hashes.extend(next.append(leaf_hash(e)));
        }
        let new_size = next.size();
        let root = next.root();
        let old = self.latest.checkpoint.clone();
        // INVARIANT: never sign a checkpoint that is not consistent with the
        // last one: prove it from stored + new hashes and check the proof.
        let base = tree::stored_hash_count(start);
        let Some(store) = self.store.as_mut() else {
            return Err(LedgerError::Stopped("no store connection".into()));
        };
        let mut read = |ix: &[u64]| -> Result<Vec<Hash>> {
            let old_ix: Vec<u64> = ix.iter().copied().filter(|&i| i < base).collect();
            let stored = store.read_hashes(&old_ix)?;
            let mut it = stored.into_iter();
            ix.iter()
                .map(|&i| {
                    if i < base {
                        it.next().ok_or_else(|| LedgerError::Corrupt("short hash read".into()))
                    } else {
                        hashes
                            .get((i - base) as usize)
                            .map(|(_, h)| *h)
                            .ok_or_else(|| LedgerError::Corrupt(format!("hash {i} not in batch")))
                    }
                })
                .collect()
        };
        let proof = tree::consistency_proof(old.size, new_size, &mut read)?;
        proof::verify_consistency(old.size, new_size, &proof, &old.root, &root)
            .map_err(|e| LedgerError::Inconsistent(format!("new tree does not extend the last checkpoint: {e}")))?;
        // INVARIANT (one log per key): check, sign, commit and record happen
        // under the key's lock, against what the key last signed.
        let locked = self.guard.as_ref().map(|g| g.last.lock()).transpose()?;
        let last = match &self.guard {
            Some(g) => {
                let last = g.last.read(&self.shared.origin, &self.shared.verifier)?;
                if let Some(l) = &last {
                    if l.checkpoint.size > start {
                        return Ok(Attempt::KeyAhead { expected: start, found: l.checkpoint.size });
                    }
                    g.check(&l.checkpoint, new_size, &root, &mut read)?;
                }
                last
            }
            None => None,
        };
        let cp = Checkpoint::new(&self.shared.origin, new_size, root);
        let note = cp.sign(&self.signer)?;
        let batch = Batch { start, entries, hashes: &hashes, checkpoint: note.as_bytes() };
        if let Err(e) = store.commit(&batch) {
            self.store = None; // reconnect + re-check before the next batch
            return Err(e);
        }
        let signed = Arc::new(SignedCheckpoint { note, checkpoint: cp });
        if let Some(g) = &self.guard
            && let Err(e) = g.last.record(&signed, last.as_ref().map(|l| &l.checkpoint))
        {
            // Committed but not recorded: hand out nothing, reload next time.
            self.store = None;
            return Err(e);
        }
        drop(locked);
        // Receipts: the inclusion proofs of the entries that want one, from
        // the old frontier and the batch's own hashes (every node a proof of
        // an entry at or after `start` needs is one of them), in one pass;
        // the store is read only for a node that is in neither (none is).
        let proofs = if wanted.is_empty() {
            Vec::new()
        } else {
            let known: std::collections::HashMap<u64, Hash> = hashes
                .iter()
                .copied()
                .chain(
                    Frontier::nodes(start).iter().map(|n| n.stored_index()).zip(self.frontier.hashes().iter().copied()),
                )
                .collect();
            let mut out = Vec::with_capacity(wanted.len());
            for &off in wanted {
                let index = start + off;
                let p = tree::inclusion_proof(index, new_size, |ix: &[u64]| -> Result<Vec<Hash>> {
                    match ix.iter().map(|i| known.get(i).copied()).collect::<Option<Vec<Hash>>>() {
                        Some(v) => Ok(v),
                        None => store.read_hashes(ix),
                    }
                });
                match p {
                    Ok(p) => out.push(p),
                    // Committed, but a proof failed: hand out nothing and
                    // re-check the store before the next batch.
                    Err(e) => {
                        self.store = None;
                        return Err(e);
                    }
                }
            }
            out
        };
        self.frontier = next;
        self.set_latest(signed.clone());
        Ok(Attempt::Done((start, signed, proofs)))
    }
}

/// Least time between two tile publications. Each publication rewrites the
/// partial tiles and `checkpoint` (a file create, write, fsync and rename
/// each); under load, publishing after every group commit took a fifth to a
/// quarter of the authority's CPU. Tiles lag the ledger by at most this much
/// (plus the write); the final state is always published on close. Clients
/// needing a fresher view use the store-backed `Ledger::read_tile` / receipts.
const TILE_INTERVAL: Duration = Duration::from_secs(1);

fn tile_loop(shared: &Shared, dir: &Path, mut from: u64, rx: &Receiver<Arc<SignedCheckpoint>>) {
    let mut store: Option<Box<dyn Store>> = None;
    let mut last: Option<Instant> = None;
    while let Ok(mut cp) = rx.recv() {
        let mut closed = false;
        // throttle, keeping only the newest checkpoint: it covers the others
        if let Some(deadline) = last.map(|t| t + TILE_INTERVAL) {
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                match rx.recv_timeout(deadline - now) {
                    Ok(newer) => cp = newer,
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
        }
        while let Ok(newer) = rx.try_recv() {
            cp = newer;
        }
        last = Some(Instant::now());
        if store.is_none() {
            match shared.location.connect() {
                Ok(s) => store = Some(s),
                Err(e) => {
                    *lock(&shared.tile_error) = Some(e.to_string());
                    continue;
                }
            }
        }
        let Some(s) = store.as_mut() else { continue };
        match tiles::write_tiles(s.as_mut(), dir, from, &cp) {
            Ok(()) => {
                from = cp.checkpoint.size;
                *lock(&shared.tile_error) = None;
            }
            Err(e) => {
                *lock(&shared.tile_error) = Some(e.to_string());
                store = None;
            }
        }
        if closed {
            break;
        }
    }
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
mod tests {
    use super::*;

    /// A store whose every read is followed by a commit of another writer
    /// (a second ledger on the same database): the worst interleaving for a
    /// reader that reads its state in several queries.
    struct Racy {
        inner: SqliteStore,
        other: Ledger,
    }

    impl Racy {
        fn land(&self) {
            self.other.append(b"from the other writer".to_vec()).unwrap();
        }
    }

    impl Store for Racy {
        fn size(&mut self) -> Result<u64> {
            let r = self.inner.size();
            self.land();
            r
        }
        fn latest_checkpoint(&mut self) -> Result<Option<Vec<u8>>> {
            let r = self.inner.latest_checkpoint();
            self.land();
            r
        }
        fn state(&mut self) -> Result<(u64, Option<Vec<u8>>)> {
            let r = self.inner.state();
            self.land();
            r
        }
        fn read_hashes(&mut self, indexes: &[u64]) -> Result<Vec<Hash>> {
            let r = self.inner.read_hashes(indexes);
            self.land();
            r
        }
        fn scan_hashes(&mut self, start: u64, limit: usize) -> Result<Vec<(u64, Hash)>> {
            self.inner.scan_hashes(start, limit)
        }
        fn scan_entries(&mut self, start: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
            self.inner.scan_entries(start, limit)
        }
        fn commit(&mut self, batch: &Batch<'_>) -> Result<()> {
            self.inner.commit(batch)
        }
    }

    /// Regression: reloading the tree read the size and the checkpoint in two
    /// queries, so a commit landing in between failed the reload with "store
    /// holds N entries but its latest checkpoint covers N+1".
    #[test]
    fn recover_reads_size_and_checkpoint_in_one_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let key = dir.path().join("ledger.key");
        let signer = crate::key::create(&key, "writ.test/race").unwrap();
        let other =
            Ledger::open(Location::Sqlite(path.clone()), crate::key::load(&key).unwrap(), LedgerOptions::default())
                .unwrap();
        for i in 0..171u32 {
            other.append(i.to_be_bytes().to_vec()).unwrap();
        }
        let mut racy = Racy { inner: SqliteStore::open(&path).unwrap(), other };
        let (frontier, cp) = recover(&mut racy, &signer, None).unwrap();
        assert_eq!(cp.checkpoint.size, 171);
        assert_eq!(frontier.size(), 171);
        assert_eq!(frontier.root(), cp.checkpoint.root);
        // The audit reads its starting point the same way.
        let mut hashes = SqliteStore::open(&path).unwrap();
        let report =
            crate::audit::audit(&mut racy, &mut hashes, &signer.verifier().clone(), None, &mut |_, _| {}).unwrap();
        assert!(report.is_ok(), "{:?}", report.findings);
    }

    #[test]
    fn append_many_is_contiguous_ordered_and_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let signer = crate::key::generate("writ.test/many").unwrap();
        let l = Ledger::open(Location::Sqlite(dir.path().join("l.sqlite")), signer, LedgerOptions::default()).unwrap();
        l.append(b"first".to_vec()).unwrap();
        let before = l.latest_checkpoint();
        let (range, receipt) =
            l.append_many_with_receipt(vec![b"request".to_vec(), b"decision".to_vec(), b"issuance".to_vec()]).unwrap();
        assert_eq!(range, 1..4);
        assert_eq!(receipt.index, 3);
        l.verify_receipt(b"issuance", &receipt).unwrap();
        // one commit: exactly one new checkpoint, covering all three
        assert_eq!(receipt.checkpoint.checkpoint.size, 4);
        assert_eq!(before.checkpoint.size, 1);
        assert_eq!(l.entries(1, 4).unwrap(), vec![b"request".to_vec(), b"decision".to_vec(), b"issuance".to_vec()]);
        assert_eq!(l.append_many(Vec::new()).unwrap(), 4..4);
        assert!(l.append_many_with_receipt(Vec::new()).is_err());
        // too large: nothing of the job is appended
        let big = vec![0u8; MAX_BUNDLE_ENTRY + 1];
        assert!(matches!(l.append_many(vec![b"ok".to_vec(), big]), Err(LedgerError::EntryTooLarge { .. })));
        assert_eq!(l.size(), 4);
    }

    /// Receipts built by the sequencer (from the frontier and the batch)
    /// equal the proofs read back from the store, for every position in
    /// batches of every size.
    #[test]
    fn sequencer_built_receipts_match_the_stored_tree() {
        let dir = tempfile::tempdir().unwrap();
        let signer = crate::key::generate("writ.test/receipts").unwrap();
        let opts = LedgerOptions { max_batch: 7, ..LedgerOptions::default() };
        let l = Arc::new(Ledger::open(Location::Sqlite(dir.path().join("l.sqlite")), signer, opts).unwrap());
        l.append(b"zero".to_vec()).unwrap();
        let threads: Vec<_> = (0..6u8)
            .map(|t| {
                let l = l.clone();
                std::thread::spawn(move || {
                    (0..25u8)
                        .map(|j| {
                            let entries: Vec<Vec<u8>> = (0..=(j % 3)).map(|k| vec![t, j, k]).collect();
                            let last = entries.last().unwrap().clone();
                            let (range, r) = l.append_many_with_receipt(entries).unwrap();
                            assert_eq!(r.index, range.end - 1);
                            l.verify_receipt(&last, &r).unwrap();
                            r
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for t in threads {
            for r in t.join().unwrap() {
                let stored = l.inclusion_proof(r.index, r.checkpoint.checkpoint.size).unwrap();
                assert_eq!(r.inclusion, stored, "index {} in size {}", r.index, r.checkpoint.checkpoint.size);
            }
        }
    }

    #[test]
    fn concurrent_append_many_jobs_are_never_interleaved() {
        let dir = tempfile::tempdir().unwrap();
        let signer = crate::key::generate("writ.test/jobs").unwrap();
        let opts = LedgerOptions { max_batch: 4, ..LedgerOptions::default() };
        let l = Arc::new(Ledger::open(Location::Sqlite(dir.path().join("l.sqlite")), signer, opts).unwrap());
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for j in 0..20u8 {
                        let r = l.append_many((0..3u8).map(|k| vec![t, j, k]).collect()).unwrap();
                        assert_eq!(r.end - r.start, 3);
                        let got = l.entries(r.start, r.end).unwrap();
                        assert_eq!(got, (0..3u8).map(|k| vec![t, j, k]).collect::<Vec<_>>());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(l.size(), 8 * 20 * 3);
    }
}
