//! Tree geometry: which hashes a log stores, the compact right edge of a
//! growing tree, and which stored hashes an inclusion or consistency proof
//! needs.
//!
//! A log stores, for every *complete* subtree, its root hash: the node at
//! `(level, index)` covers leaves `[index·2^level, (index+1)·2^level)`. Those
//! hashes never change once written. They are numbered with the "stored hash
//! index" of Go's `golang.org/x/mod/sumdb/tlog` ([`stored_hash_index`]): the
//! hashes created by appending leaf `n` get consecutive numbers, so a store can
//! keep them in an append-only table keyed by one integer. Every proof is a
//! function of O(log n) of those hashes (see [`inclusion_proof`] and
//! [`consistency_proof`]), so proof generation is a handful of indexed reads.

use alloc::vec::Vec;

use crate::TlogError;
use crate::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};

/// The largest tree this crate handles: 2^48 leaves. Bounds keep index
/// arithmetic far away from overflow.
pub const MAX_TREE_SIZE: u64 = 1 << 48;

/// A node of the tree: the root of the complete subtree of `2^level` leaves
/// starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves (0 = leaf).
    pub level: u8,
    /// Position among the nodes of that level.
    pub index: u64,
}

impl NodeId {
    /// The stored-hash index of this node.
    #[must_use]
    pub fn stored_index(self) -> u64 {
        stored_hash_index(self.level, self.index)
    }
}

/// The position at which the hash of node `(level, index)` is stored
/// (Go `tlog.StoredHashIndex`): level `L`'s `n`th hash follows level `L+1`'s
/// `2n+1`th; level 0's `n`th is at `n + n/2 + n/4 + …`.
#[must_use]
pub fn stored_hash_index(level: u8, index: u64) -> u64 {
    let mut n = index;
    for _ in 0..level {
        n = n.wrapping_mul(2).wrapping_add(1);
    }
    let mut i: u64 = 0;
    while n > 0 {
        i = i.wrapping_add(n);
        n >>= 1;
    }
    i.wrapping_add(u64::from(level))
}

/// Number of hashes stored for a tree of `size` leaves
/// (the stored index of the next leaf).
#[must_use]
pub fn stored_hash_count(size: u64) -> u64 {
    stored_hash_index(0, size)
}

/// The maximal complete subtrees that make up leaves `[lo, hi)`, left to
/// right, each aligned to its size. In an RFC 9162 tree, the hash of
/// `[lo, hi)` (for `lo` aligned as it is in every recursive call) is the
/// right fold of these nodes' hashes with [`node_hash`].
#[must_use]
pub fn range_nodes(lo: u64, hi: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut lo = lo;
    while lo < hi {
        let mut level: u32 = 0;
        // grow while lo stays aligned and the subtree fits
        while level < 63 {
            let next = level + 1;
            let size = 1u64 << next;
            if !lo.is_multiple_of(size) || lo.saturating_add(size) > hi {
                break;
            }
            level = next;
        }
        out.push(NodeId { level: level as u8, index: lo >> level });
        lo += 1u64 << level;
    }
    out
}

/// Fold the hashes of [`range_nodes`] into the subtree hash (right fold).
#[must_use]
pub fn fold_range(hashes: &[Hash]) -> Hash {
    let mut it = hashes.iter().rev();
    let Some(last) = it.next() else {
        return EMPTY_ROOT;
    };
    let mut h = *last;
    for left in it {
        h = node_hash(left, &h);
    }
    h
}

fn largest_pow2_below(n: u64) -> u64 {
    // n >= 2
    let mut k = 1u64;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The leaf ranges whose subtree hashes form the inclusion proof of `index`
/// in a tree of `size` leaves, in proof order (RFC 9162 §2.1.3.1 `PATH`).
///
/// # Errors
/// [`TlogError::IndexOutOfRange`] if `index >= size`.
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, TlogError> {
    if index >= size || size > MAX_TREE_SIZE {
        return Err(TlogError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = largest_pow2_below(hi - lo);
        if index < lo + k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    Ok(out)
}

/// The leaf ranges whose subtree hashes form the consistency proof from
/// `size1` to `size2`, in proof order (RFC 9162 §2.1.4.1 `SUBPROOF`).
///
/// # Errors
/// [`TlogError::SizeDecreased`] if `size1 > size2`.
pub fn consistency_ranges(size1: u64, size2: u64) -> Result<Vec<(u64, u64)>, TlogError> {
    if size1 > size2 || size2 > MAX_TREE_SIZE {
        return Err(TlogError::SizeDecreased { old: size1, new: size2 });
    }
    let mut out = Vec::new();
    if size1 == 0 || size1 == size2 {
        return Ok(out);
    }
    let (mut lo, mut hi) = (0u64, size2);
    let mut complete = true; // the b flag of SUBPROOF
    loop {
        let m = size1 - lo;
        let n = hi - lo;
        if m == n {
            if !complete {
                out.push((lo, hi));
            }
            break;
        }
        let k = largest_pow2_below(n);
        if m <= k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            complete = false;
        }
    }
    out.reverse();
    Ok(out)
}

/// Gather the stored hashes for `ranges` with one call to `read` (given
/// stored-hash indexes, returning hashes in the same order) and fold each range.
fn ranges_to_hashes<E: From<TlogError>>(
    ranges: &[(u64, u64)],
    read: impl FnOnce(&[u64]) -> Result<Vec<Hash>, E>,
) -> Result<Vec<Hash>, E> {
    let mut counts = Vec::with_capacity(ranges.len());
    let mut indexes = Vec::new();
    for &(lo, hi) in ranges {
        let nodes = range_nodes(lo, hi);
        counts.push(nodes.len());
        indexes.extend(nodes.iter().map(|n| n.stored_index()));
    }
    let hashes = read(&indexes)?;
    if hashes.len() != indexes.len() {
        return Err(TlogError::ReaderMismatch { got: hashes.len(), want: indexes.len() }.into());
    }
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest: &[Hash] = &hashes;
    for c in counts {
        let (now, later) =
            rest.split_at_checked(c).ok_or(TlogError::ReaderMismatch { got: hashes.len(), want: indexes.len() })?;
        out.push(fold_range(now));
        rest = later;
    }
    Ok(out)
}

/// Build the inclusion proof of leaf `index` in the tree of `size` leaves,
/// reading stored hashes (by stored-hash index) through `read`, in one call.
///
/// # Errors
/// Range errors as [`inclusion_ranges`]; whatever `read` returns.
pub fn inclusion_proof<E: From<TlogError>>(
    index: u64,
    size: u64,
    read: impl FnOnce(&[u64]) -> Result<Vec<Hash>, E>,
) -> Result<Vec<Hash>, E> {
    ranges_to_hashes(&inclusion_ranges(index, size)?, read)
}

/// Build the consistency proof from `size1` to `size2`.
///
/// # Errors
/// Range errors as [`consistency_ranges`]; whatever `read` returns.
pub fn consistency_proof<E: From<TlogError>>(
    size1: u64,
    size2: u64,
    read: impl FnOnce(&[u64]) -> Result<Vec<Hash>, E>,
) -> Result<Vec<Hash>, E> {
    ranges_to_hashes(&consistency_ranges(size1, size2)?, read)
}

/// The root hash of the tree of `size` leaves, from stored hashes.
///
/// # Errors
/// Whatever `read` returns.
pub fn tree_root<E: From<TlogError>>(size: u64, read: impl FnOnce(&[u64]) -> Result<Vec<Hash>, E>) -> Result<Hash, E> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let v = ranges_to_hashes(&[(0, size)], read)?;
    Ok(v.first().copied().unwrap_or(EMPTY_ROOT))
}

/// The compact right edge of a growing tree: one hash per set bit of its size
/// (the maximal complete subtrees of `[0, size)`, left to right). Appending a
/// leaf costs O(1) amortised and yields exactly the hashes a log must store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild from the hashes of [`Frontier::nodes`]`(size)`, left to right.
    ///
    /// # Errors
    /// [`TlogError::ReaderMismatch`] if the count does not match `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, TlogError> {
        let want = size.count_ones() as usize;
        if hashes.len() != want {
            return Err(TlogError::ReaderMismatch { got: hashes.len(), want });
        }
        Ok(Self { size, hashes })
    }

    /// The nodes whose hashes make up the frontier of a tree of `size` leaves.
    #[must_use]
    pub fn nodes(size: u64) -> Vec<NodeId> {
        range_nodes(0, size)
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier hashes, left to right.
    #[must_use]
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Append a leaf hash. Returns the new stored hashes as
    /// `(stored index, hash)`, in increasing index order: the leaf, then every
    /// subtree it completed.
    pub fn append(&mut self, leaf: Hash) -> Vec<(u64, Hash)> {
        let n = self.size;
        let mut out = Vec::with_capacity(2);
        out.push((stored_hash_index(0, n), leaf));
        let mut h = leaf;
        let mut level: u8 = 0;
        while (n >> level) & 1 == 1 {
            let Some(left) = self.hashes.pop() else { break };
            h = node_hash(&left, &h);
            level += 1;
            out.push((stored_hash_index(level, n >> level), h));
        }
        self.hashes.push(h);
        self.size += 1;
        out
    }

    /// Append an entry (hashing it as a leaf).
    pub fn append_entry(&mut self, entry: &[u8]) -> Vec<(u64, Hash)> {
        self.append(leaf_hash(entry))
    }

    /// The root hash of the current tree.
    #[must_use]
    pub fn root(&self) -> Hash {
        fold_range(&self.hashes)
    }
}
