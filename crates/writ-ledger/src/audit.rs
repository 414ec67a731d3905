//! Audit: recompute the whole tree from the stored entries and check it
//! against the latest signed checkpoint, the stored tree hashes, and an
//! earlier checkpoint saved by the auditor.
//!
//! What each tampering looks like:
//! - a **modified** entry: its leaf hash differs from the stored leaf hash →
//!   [`Finding::ModifiedEntry`] with its index (and the root differs from the
//!   signed one if the attacker also rewrote the stored hashes);
//! - a **deleted** entry: a gap in the indices or fewer entries than the
//!   checkpoint covers → [`Finding::MissingEntry`];
//! - **swapped** / reordered entries: a leaf mismatch at each moved index;
//! - a **forged** checkpoint: the signature does not verify with the ledger's
//!   key → [`Finding::ForgedCheckpoint`];
//! - an **inconsistent** checkpoint (history rewritten and re-signed): the
//!   recomputed root at the saved checkpoint's size differs from the saved root
//!   → [`Finding::InconsistentWithSaved`], or the log shrank → [`Finding::Rollback`].

use writ_tlog::checkpoint::{self, Checkpoint};
use writ_tlog::hash::{EMPTY_ROOT, leaf_hash};
use writ_tlog::note::VerifierKey;
use writ_tlog::tree::{Frontier, stored_hash_index};
use writ_tlog::{Hash, note};

use std::sync::mpsc::{Receiver, sync_channel};

use crate::error::Result;
use crate::store::Store;

/// Rows read per store query.
pub const AUDIT_CHUNK: usize = 16_384;
/// Findings recorded in detail; further ones are only counted.
pub const MAX_FINDINGS: usize = 1000;

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The latest stored checkpoint does not verify with the ledger key.
    ForgedCheckpoint {
        /// Why.
        detail: String,
    },
    /// No checkpoint although entries exist.
    MissingCheckpoint,
    /// Entry missing (deleted) at this index.
    MissingEntry {
        /// Index.
        index: u64,
    },
    /// An entry present past the checkpoint's size, or out of place.
    UnexpectedEntry {
        /// Index.
        index: u64,
    },
    /// The entry at this index does not match the tree (modified, replaced or swapped).
    ModifiedEntry {
        /// Index.
        index: u64,
    },
    /// A stored interior tree hash does not match the stored leaves below it.
    StoredHashMismatch {
        /// Stored hash index.
        stored_index: u64,
    },
    /// The recomputed root differs from the signed checkpoint's root.
    RootMismatch {
        /// Tree size.
        size: u64,
    },
    /// The saved checkpoint does not verify with the ledger key.
    SavedCheckpointInvalid {
        /// Why.
        detail: String,
    },
    /// The recomputed tree at the saved checkpoint's size has another root:
    /// the log's history was rewritten since that checkpoint.
    InconsistentWithSaved {
        /// Saved checkpoint size.
        size: u64,
    },
    /// The log is smaller than a checkpoint it signed earlier.
    Rollback {
        /// Saved size.
        saved: u64,
        /// Current size.
        current: u64,
    },
    /// The store is smaller than the last checkpoint its key signed (the
    /// key's one-log record): an older backup, an empty or a second store.
    BehindLastSigned {
        /// Size the key last signed.
        last: u64,
        /// Size of the audited store.
        current: u64,
    },
    /// The store does not extend the last checkpoint its key signed: it is
    /// another log under the same key.
    ForkOfLastSigned {
        /// Size the key last signed.
        last: u64,
    },
    /// The key's one-log record is not a checkpoint signed by the key.
    LastSignedInvalid {
        /// Why.
        detail: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ForgedCheckpoint { detail } => {
                write!(f, "latest checkpoint is forged or altered: {detail}")
            }
            Self::MissingCheckpoint => write!(f, "ledger holds entries but no signed checkpoint"),
            Self::MissingEntry { index } => write!(f, "entry {index} is missing (deleted)"),
            Self::UnexpectedEntry { index } => {
                write!(f, "entry {index} is not covered by the signed checkpoint (inserted)")
            }
            Self::ModifiedEntry { index } => {
                write!(f, "entry {index} does not match the tree (modified, replaced or reordered)")
            }
            Self::StoredHashMismatch { stored_index } => {
                write!(f, "stored tree hash {stored_index} does not match the leaves below it")
            }
            Self::RootMismatch { size } => {
                write!(f, "tree recomputed from the entries (size {size}) does not match the signed checkpoint")
            }
            Self::SavedCheckpointInvalid { detail } => {
                write!(f, "saved checkpoint does not verify: {detail}")
            }
            Self::InconsistentWithSaved { size } => {
                write!(f, "history rewritten: the first {size} entries no longer hash to the saved checkpoint's root")
            }
            Self::Rollback { saved, current } => {
                write!(f, "ledger shrank: saved checkpoint has {saved} entries, ledger now {current}")
            }
            Self::BehindLastSigned { last, current } => write!(
                f,
                "this store holds {current} entries, but its key last signed {last}: it is an older backup, an empty store or not the store the home's key signs for"
            ),
            Self::ForkOfLastSigned { last } => write!(
                f,
                "this store does not extend the checkpoint of size {last} its key last signed: it is another log under the same key"
            ),
            Self::LastSignedInvalid { detail } => {
                write!(f, "the key's record of its last signed checkpoint does not verify: {detail}")
            }
        }
    }
}

impl Finding {
    /// Stable snake_case name (JSON output).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::ForgedCheckpoint { .. } => "forged_checkpoint",
            Self::MissingCheckpoint => "missing_checkpoint",
            Self::MissingEntry { .. } => "missing_entry",
            Self::UnexpectedEntry { .. } => "unexpected_entry",
            Self::ModifiedEntry { .. } => "modified_entry",
            Self::StoredHashMismatch { .. } => "stored_hash_mismatch",
            Self::RootMismatch { .. } => "root_mismatch",
            Self::SavedCheckpointInvalid { .. } => "saved_checkpoint_invalid",
            Self::InconsistentWithSaved { .. } => "inconsistent_with_saved",
            Self::Rollback { .. } => "rollback",
            Self::BehindLastSigned { .. } => "behind_last_signed",
            Self::ForkOfLastSigned { .. } => "fork_of_last_signed",
            Self::LastSignedInvalid { .. } => "last_signed_invalid",
        }
    }

    /// The entry index this finding names, if any.
    #[must_use]
    pub fn index(&self) -> Option<u64> {
        match self {
            Self::MissingEntry { index } | Self::UnexpectedEntry { index } | Self::ModifiedEntry { index } => {
                Some(*index)
            }
            _ => None,
        }
    }
}

/// The outcome of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Size of the latest checkpoint (or entry count without one).
    pub size: u64,
    /// Root recomputed from the entries.
    pub root: Hash,
    /// Entries read.
    pub entries_checked: u64,
    /// The latest checkpoint, if it parsed.
    pub checkpoint: Option<Checkpoint>,
    /// Size of the saved checkpoint checked, if one was given.
    pub saved_size: Option<u64>,
    /// Problems, at most [`MAX_FINDINGS`].
    pub findings: Vec<Finding>,
    /// Total number of problems (including those not recorded).
    pub finding_count: u64,
}

impl AuditReport {
    /// Whether the ledger passed.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.finding_count == 0
    }

    /// Add a finding (counted; kept in detail up to [`MAX_FINDINGS`]).
    pub fn push(&mut self, f: Finding) {
        self.finding_count += 1;
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(f);
        }
    }
}

struct Findings {
    list: Vec<Finding>,
    count: u64,
}

impl Findings {
    fn push(&mut self, f: Finding) {
        self.count += 1;
        if self.list.len() < MAX_FINDINGS {
            self.list.push(f);
        }
    }
}

/// Stored hashes delivered in increasing id order by a reader thread,
/// consumed in increasing id order.
struct HashCursor {
    buf: std::collections::VecDeque<(u64, Hash)>,
    rx: Receiver<Vec<(u64, Hash)>>,
    closed: bool,
}

impl HashCursor {
    /// The stored hash at `id`, or None if the store has none.
    fn get(&mut self, id: u64) -> Option<Hash> {
        loop {
            while let Some(&(i, h)) = self.buf.front() {
                if i < id {
                    self.buf.pop_front();
                } else if i == id {
                    self.buf.pop_front();
                    return Some(h);
                } else {
                    return None;
                }
            }
            if self.closed {
                return None;
            }
            match self.rx.recv() {
                Ok(more) => self.buf.extend(more),
                Err(_) => self.closed = true,
            }
        }
    }
}

/// The checking half of the audit: recomputes the tree and compares.
struct Checker<'a> {
    size: u64,
    saved: Option<&'a Checkpoint>,
    ent: Frontier,
    stored_tree: Option<Frontier>,
    cursor: HashCursor,
    next: u64,
    checked: u64,
    fs: Findings,
}

impl Checker<'_> {
    fn step(&mut self, idx: u64, data: Option<&[u8]>) {
        let zero = [0u8; 32];
        let stored_leaf = self.cursor.get(stored_hash_index(0, idx));
        let leaf = match data {
            Some(d) => leaf_hash(d),
            None => {
                self.fs.push(Finding::MissingEntry { index: idx });
                stored_leaf.unwrap_or(zero)
            }
        };
        if data.is_some() && stored_leaf != Some(leaf) {
            self.fs.push(Finding::ModifiedEntry { index: idx });
            if self.stored_tree.is_none() {
                self.stored_tree = Some(self.ent.clone());
            }
        }
        let new = self.ent.append(leaf);
        let check = match self.stored_tree.as_mut() {
            Some(st) => st.append(stored_leaf.unwrap_or(zero)),
            None => new,
        };
        for (sid, h) in check.into_iter().skip(1) {
            if self.cursor.get(sid) != Some(h) {
                self.fs.push(Finding::StoredHashMismatch { stored_index: sid });
            }
        }
        if let Some(s) = self.saved
            && self.ent.size() == s.size
            && self.ent.root() != s.root
        {
            self.fs.push(Finding::InconsistentWithSaved { size: s.size });
        }
    }

    /// Check a chunk of entries; afterwards every leaf below `upto` is checked.
    fn chunk(&mut self, rows: Vec<(u64, Vec<u8>)>, upto: u64) {
        for (idx, data) in rows {
            if idx >= self.size || idx < self.next {
                continue; // past the audited size: checked after the scan
            }
            while self.next < idx {
                self.step(self.next, None);
                self.next += 1;
            }
            self.step(idx, Some(&data));
            self.checked += 1;
            self.next = idx + 1;
        }
        while self.next < upto.min(self.size) {
            self.step(self.next, None);
            self.next += 1;
        }
    }
}

/// Audit the ledger whose checkpoints `verifier` signs (its name is the
/// origin). `store` and `hash_store` are two connections to the same store:
/// entries and stored hashes are read in parallel while this thread hashes.
/// `saved` is an earlier checkpoint note the auditor kept.
/// `progress(done, total)` is called after each chunk.
///
/// Appends that land while the audit runs are not flagged: the audit covers
/// the checkpoint it read first.
///
/// # Errors
/// Store errors only; every integrity problem is a [`Finding`].
pub fn audit(
    store: &mut dyn Store,
    hash_store: &mut dyn Store,
    verifier: &VerifierKey,
    saved: Option<&[u8]>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<AuditReport> {
    let origin = verifier.name();
    let mut fs = Findings { list: Vec::new(), count: 0 };
    // One snapshot: a commit landing between two reads would look like tampering.
    let (state_size, latest) = store.state()?;
    let checkpoint = match &latest {
        None => {
            if state_size > 0 {
                fs.push(Finding::MissingCheckpoint);
            }
            None
        }
        Some(n) => match checkpoint::open(n, origin, verifier) {
            Ok(c) => Some(c),
            Err(e) => {
                fs.push(Finding::ForgedCheckpoint { detail: e.to_string() });
                // keep auditing against the unverified body, if it parses
                note::parse(n).ok().and_then(|u| Checkpoint::parse(&u.text).ok())
            }
        },
    };
    let size = checkpoint.as_ref().map_or(state_size, |c| c.size);
    let saved_cp = match saved {
        None => None,
        Some(b) => match checkpoint::open(b, origin, verifier) {
            Ok(c) => Some(c),
            Err(e) => {
                fs.push(Finding::SavedCheckpointInvalid { detail: e.to_string() });
                None
            }
        },
    };
    if let Some(s) = &saved_cp {
        if s.size > size {
            fs.push(Finding::Rollback { saved: s.size, current: size });
        } else if s.size == 0 && s.root != EMPTY_ROOT {
            fs.push(Finding::InconsistentWithSaved { size: 0 });
        }
    }

    let (htx, hrx) = sync_channel::<Vec<(u64, Hash)>>(4);
    let (etx, erx) = sync_channel::<(Vec<(u64, Vec<u8>)>, u64)>(2);
    let mut checker = Checker {
        size,
        saved: saved_cp.as_ref(),
        ent: Frontier::new(),
        stored_tree: None,
        cursor: HashCursor { buf: Default::default(), rx: hrx, closed: false },
        next: 0,
        checked: 0,
        fs,
    };
    let hash_end = stored_hash_index(0, size);
    let (entry_result, hash_result, checker) = std::thread::scope(|sc| {
        let hashes = sc.spawn(move || -> Result<()> {
            let mut at = 0u64;
            while at < hash_end {
                let got = hash_store.scan_hashes(at, AUDIT_CHUNK * 4)?;
                let Some(&(last, _)) = got.last() else { break };
                at = last + 1;
                let got: Vec<(u64, Hash)> = got.into_iter().filter(|(i, _)| *i < hash_end).collect();
                if htx.send(got).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let worker = sc.spawn(move || {
            while let Ok((rows, upto)) = erx.recv() {
                checker.chunk(rows, upto);
            }
            while checker.next < checker.size {
                let n = checker.next;
                checker.step(n, None);
                checker.next += 1;
            }
            // Drop the real receiver so the hash reader cannot block on a full channel.
            let (_unused, closed) = sync_channel(1);
            checker.cursor.rx = closed;
            checker
        });
        let entry_result = (|| -> Result<()> {
            let mut next_entry: u64 = 0;
            while next_entry < size {
                let want = ((size - next_entry) as usize).min(AUDIT_CHUNK);
                let rows = store.scan_entries(next_entry, want)?;
                let last = rows.len() < want;
                if let Some(&(i, _)) = rows.last() {
                    next_entry = i + 1;
                }
                let upto = if last { size } else { next_entry.min(size) };
                if etx.send((rows, upto)).is_err() {
                    break;
                }
                progress(upto, size);
                if last {
                    break;
                }
            }
            Ok(())
        })();
        drop(etx);
        let checker = worker.join();
        let hash_result = hashes.join();
        (entry_result, hash_result, checker)
    });
    entry_result?;
    hash_result.map_err(|_| crate::LedgerError::Corrupt("audit hash reader thread panicked".into()))??;
    let mut checker = checker.map_err(|_| crate::LedgerError::Corrupt("audit worker thread panicked".into()))?;
    progress(size, size);
    let root = checker.ent.root();
    if let Some(c) = &checkpoint
        && c.root != root
    {
        checker.fs.push(Finding::RootMismatch { size });
    }
    // Entries past the audited checkpoint are tampering only if the ledger did
    // not legitimately grow meanwhile.
    let now = store.size()?;
    if now == state_size {
        if let Some(&(i, _)) = store.scan_entries(size, 1)?.first() {
            checker.fs.push(Finding::UnexpectedEntry { index: i });
        }
        if state_size < size {
            checker.fs.push(Finding::MissingEntry { index: state_size });
        }
    }
    Ok(AuditReport {
        size,
        root,
        entries_checked: checker.checked,
        checkpoint,
        saved_size: saved_cp.as_ref().map(|c| c.size),
        findings: checker.fs.list,
        finding_count: checker.fs.count,
    })
}

/// Check an audited store against `record`, the last checkpoint its key
/// signed (the key's one-log record, [`crate::guard`]): the store must hold
/// at least that many entries and its tree (the root the audit recomputed,
/// `report.root`) must extend it. Adds a finding to `report` otherwise.
///
/// # Errors
/// Store errors.
pub fn check_last_signed(
    store: &mut dyn Store,
    report: &mut AuditReport,
    record: &[u8],
    verifier: &VerifierKey,
) -> Result<()> {
    let finding = match checkpoint::open(record, verifier.name(), verifier) {
        Err(e) => Some(Finding::LastSignedInvalid { detail: e.to_string() }),
        Ok(last) if last.size > report.size => {
            Some(Finding::BehindLastSigned { last: last.size, current: report.size })
        }
        Ok(last) => {
            let consistent = writ_tlog::tree::consistency_proof(last.size, report.size, |ix| store.read_hashes(ix))
                .ok()
                .is_some_and(|p| {
                    writ_tlog::proof::verify_consistency(last.size, report.size, &p, &last.root, &report.root).is_ok()
                });
            (!consistent).then_some(Finding::ForkOfLastSigned { last: last.size })
        }
    };
    if let Some(f) = finding {
        report.push(f);
    }
    Ok(())
}
