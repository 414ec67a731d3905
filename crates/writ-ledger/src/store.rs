//! The storage contract behind the ledger.

use writ_tlog::Hash;

use crate::error::Result;

/// One group-committed batch: entries `start..start+entries.len()`, the
/// stored hashes they create, and the signed checkpoint that covers them.
#[derive(Debug)]
pub struct Batch<'a> {
    /// Index of the first entry; must equal the stored size.
    pub start: u64,
    /// Entry bytes.
    pub entries: &'a [Vec<u8>],
    /// `(stored hash index, hash)`, contiguous and increasing.
    pub hashes: &'a [(u64, Hash)],
    /// The signed checkpoint note for size `start + entries.len()`.
    pub checkpoint: &'a [u8],
}

/// Persistent state of a ledger: entries, stored tree hashes and the latest
/// signed checkpoint.
///
/// INVARIANT: `commit` is atomic and durable — when it returns `Ok`, the
/// entries, hashes and checkpoint survive a crash or power loss together, and
/// when it fails none of them is visible. A store never holds a checkpoint of
/// a size other than its entry count.
pub trait Store: Send {
    /// Number of committed entries.
    ///
    /// # Errors
    /// Storage errors.
    fn size(&mut self) -> Result<u64>;

    /// The latest signed checkpoint note, if any batch was committed.
    ///
    /// # Errors
    /// Storage errors.
    fn latest_checkpoint(&mut self) -> Result<Option<Vec<u8>>>;

    /// The committed size and the latest signed checkpoint note, read
    /// together in one snapshot (so another writer's commit cannot fall
    /// between them).
    ///
    /// # Errors
    /// Storage errors.
    fn state(&mut self) -> Result<(u64, Option<Vec<u8>>)>;

    /// Stored hashes by stored-hash index, in the order asked.
    ///
    /// # Errors
    /// [`crate::LedgerError::Corrupt`] if one is missing; storage errors.
    fn read_hashes(&mut self, indexes: &[u64]) -> Result<Vec<Hash>>;

    /// Up to `limit` stored hashes with index `>= start`, in order, as stored
    /// (gaps are visible: used by audit).
    ///
    /// # Errors
    /// Storage errors.
    fn scan_hashes(&mut self, start: u64, limit: usize) -> Result<Vec<(u64, Hash)>>;

    /// Up to `limit` entries with index `>= start`, in order, as stored
    /// (gaps are visible: used by audit and range reads).
    ///
    /// # Errors
    /// Storage errors.
    fn scan_entries(&mut self, start: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>>;

    /// Commit a batch atomically and durably.
    ///
    /// # Errors
    /// [`crate::LedgerError::Conflict`] if the stored size is not `batch.start`;
    /// storage errors.
    fn commit(&mut self, batch: &Batch<'_>) -> Result<()>;
}
