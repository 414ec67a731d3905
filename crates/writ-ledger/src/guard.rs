//! One log per key: the last checkpoint a ledger key signed, kept beside the
//! key, and the check that every new signature extends it.
//!
//! A ledger key must never sign two checkpoints that are not consistent (the
//! same size with different roots, or a tree that does not contain an
//! earlier one): a third party holding both would have proof of a fork.
//! The store alone cannot guarantee that: an operator can restore an older
//! backup, point the authority at an empty database, or serve the same home
//! from a second store (a SQLite file here, a PostgreSQL schema there). So
//! the sequencer keeps the last checkpoint it signed in a file next to the
//! key (`ledger.key` → `ledger.checkpoint`) and, before every signature,
//! proves that the tree it is about to sign extends that checkpoint. If it
//! does not, it refuses with [`LedgerError::Fork`] and signs nothing.
//!
//! The file is written atomically (temporary file, fsync, rename, fsync of
//! the directory) after the store committed the batch and before the new
//! checkpoint is handed to anyone. Sequencers that share a key file on one
//! machine serialize check, sign, commit and record under an exclusive lock
//! on the key file, so two of them cannot both pass the check and then sign
//! different successors.
//!
//! A key without the file (a home from before this guard) adopts the
//! store's checkpoint the first time it is opened (trust on first use).

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use writ_tlog::Hash;
use writ_tlog::checkpoint::{self, Checkpoint};
use writ_tlog::note::VerifierKey;
use writ_tlog::{proof, tree};

use crate::checkpoint::SignedCheckpoint;
use crate::error::{LedgerError, Result};

/// Largest last-signed checkpoint file accepted.
pub const MAX_LAST_SIGNED_FILE: u64 = 16 * 1024;

/// The last-signed checkpoint file that belongs to the key file `key_path`:
/// the same name with the extension `checkpoint` (`ledger.key` →
/// `ledger.checkpoint`).
#[must_use]
pub fn last_signed_path(key_path: &Path) -> PathBuf {
    key_path.with_extension("checkpoint")
}

/// The last checkpoint a key signed, and the lock that serializes signers
/// sharing the key file.
#[derive(Debug)]
pub struct LastSigned {
    path: PathBuf,
    key_path: PathBuf,
    /// The key file, opened for locking (`flock`) only.
    lock_file: File,
}

/// Holds the exclusive lock on the key file; released on drop.
#[derive(Debug)]
pub struct Locked<'a>(&'a File);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl LastSigned {
    /// The guard of the key file at `key_path`.
    ///
    /// # Errors
    /// I/O errors opening the key file.
    pub fn open(key_path: &Path) -> Result<Self> {
        let lock_file = File::open(key_path)
            .map_err(|e| LedgerError::io(format!("cannot open ledger key `{}`", key_path.display()), e))?;
        Ok(Self { path: last_signed_path(key_path), key_path: key_path.to_path_buf(), lock_file })
    }

    /// The file holding the last signed checkpoint.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the exclusive signing lock (blocks while another sequencer of
    /// this key on this machine is between its check and its record).
    ///
    /// # Errors
    /// I/O errors.
    pub fn lock(&self) -> Result<Locked<'_>> {
        self.lock_file
            .lock()
            .map_err(|e| LedgerError::io(format!("cannot lock ledger key `{}`", self.key_path.display()), e))?;
        Ok(Locked(&self.lock_file))
    }

    /// The last checkpoint this key signed, if the file exists. The note
    /// must verify with `verifier` under `origin`.
    ///
    /// # Errors
    /// I/O errors; [`LedgerError::Config`] for a file that is not a
    /// checkpoint signed by this key.
    pub fn read(&self, origin: &str, verifier: &VerifierKey) -> Result<Option<SignedCheckpoint>> {
        let ctx = || format!("cannot read the last signed checkpoint `{}`", self.path.display());
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LedgerError::io(ctx(), e)),
        };
        let mut buf = Vec::new();
        (&mut f).take(MAX_LAST_SIGNED_FILE + 1).read_to_end(&mut buf).map_err(|e| LedgerError::io(ctx(), e))?;
        let bad = |why: String| {
            LedgerError::Config(format!(
                "`{}` is not a checkpoint signed by ledger key `{origin}` ({why}); it records what this key last signed, so restore it from a backup of this home rather than deleting it",
                self.path.display()
            ))
        };
        if buf.len() as u64 > MAX_LAST_SIGNED_FILE {
            return Err(bad("too large".into()));
        }
        let cp = checkpoint::open(&buf, origin, verifier).map_err(|e| bad(e.to_string()))?;
        let note = String::from_utf8(buf).map_err(|_| bad("not UTF-8".into()))?;
        Ok(Some(SignedCheckpoint { note, checkpoint: cp }))
    }

    /// Record `cp` as the last signed checkpoint: atomically and durably
    /// (temporary file, fsync, rename, fsync of the directory). Never moves
    /// the record back: a checkpoint not larger than `current` (what the
    /// caller just read under the lock) is not written.
    ///
    /// # Errors
    /// I/O errors.
    pub fn record(&self, cp: &SignedCheckpoint, current: Option<&Checkpoint>) -> Result<()> {
        if current.is_some_and(|c| c.size >= cp.checkpoint.size) {
            return Ok(());
        }
        let ctx = |what: &str| format!("cannot {what} the last signed checkpoint `{}`", self.path.display());
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or("ledger.checkpoint");
        let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), TMP_SEQ.fetch_add(1, Ordering::Relaxed)));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(cp.note.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            LedgerError::io(ctx("write"), e)
        })
    }
}

/// Check that a tree of `size` entries with `root` extends `last`, reading
/// the hashes of the tree through `hashes` (stored hash indexes).
///
/// # Errors
/// [`LedgerError::Fork`] when it does not; errors of `hashes`.
pub(crate) fn check_extends(
    last: &Checkpoint,
    last_path: &Path,
    location: &str,
    size: u64,
    root: &Hash,
    hashes: impl FnMut(&[u64]) -> Result<Vec<Hash>>,
) -> Result<()> {
    let fork = |what: String| LedgerError::Fork {
        origin: last.origin.clone(),
        last_size: last.size,
        last_path: last_path.display().to_string(),
        location: location.to_string(),
        what,
    };
    if size < last.size {
        return Err(fork(if size == 0 {
            "is empty".to_string()
        } else {
            format!("holds only {size} entries (an older backup, or another store)")
        }));
    }
    let p = tree::consistency_proof(last.size, size, hashes)?;
    proof::verify_consistency(last.size, size, &p, &last.root, root)
        .map_err(|_| fork(format!("holds a different tree of {size} entries (another store under the same key)")))
}
