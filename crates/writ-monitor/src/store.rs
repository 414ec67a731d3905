//! The entries read so far, as the read-only [`Store`] the semantic audit
//! scans.

use writ_ledger::LedgerError;
use writ_ledger::{Batch, Store};
use writ_tlog::Hash;

/// Entries in ledger order, from index 0.
#[derive(Debug)]
pub struct EntriesStore(pub Vec<Vec<u8>>);

fn read_only() -> LedgerError {
    LedgerError::Inconsistent(
        "the monitor's copy of the log holds entries only; it is read by the semantic audit".into(),
    )
}

impl Store for EntriesStore {
    fn size(&mut self) -> writ_ledger::Result<u64> {
        Ok(self.0.len() as u64)
    }

    fn latest_checkpoint(&mut self) -> writ_ledger::Result<Option<Vec<u8>>> {
        Err(read_only())
    }

    fn state(&mut self) -> writ_ledger::Result<(u64, Option<Vec<u8>>)> {
        Err(read_only())
    }

    fn read_hashes(&mut self, _: &[u64]) -> writ_ledger::Result<Vec<Hash>> {
        Err(read_only())
    }

    fn scan_hashes(&mut self, _: u64, _: usize) -> writ_ledger::Result<Vec<(u64, Hash)>> {
        Err(read_only())
    }

    fn scan_entries(&mut self, start: u64, limit: usize) -> writ_ledger::Result<Vec<(u64, Vec<u8>)>> {
        let from = usize::try_from(start).unwrap_or(usize::MAX);
        Ok((start..).zip(self.0.iter().skip(from).take(limit).cloned()).collect())
    }

    fn commit(&mut self, _: &Batch<'_>) -> writ_ledger::Result<()> {
        Err(read_only())
    }
}
