//! Inclusion and consistency proof verification, RFC 9162 §2.1.3.2 and §2.1.4.2.
//!
//! A proof longer than [`MAX_PROOF_HASHES`] is rejected before any hashing.

use crate::TlogError;
use crate::hash::{Hash, node_hash};

/// The most hashes a proof can need in a tree of up to 2^64 − 1 leaves
/// (a consistency proof has at most 2·log₂ n hashes, but never more than this
/// for trees the ledger will ever hold: 2^63 leaves).
pub const MAX_PROOF_HASHES: usize = 128;

/// Recompute the root from an inclusion proof (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`TlogError::IndexOutOfRange`] if `index >= size`, [`TlogError::InclusionMismatch`]
/// if the proof has the wrong shape for `(index, size)`.
pub fn root_from_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Result<Hash, TlogError> {
    if index >= size {
        return Err(TlogError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(TlogError::TooLarge { what: "inclusion proof", max: MAX_PROOF_HASHES });
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(TlogError::InclusionMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(TlogError::InclusionMismatch);
    }
    Ok(r)
}

/// Verify that `leaf` is at `index` in the tree of `size` leaves with root `root`.
///
/// # Errors
/// As [`root_from_inclusion`], plus [`TlogError::InclusionMismatch`] when the
/// recomputed root differs.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), TlogError> {
    let got = root_from_inclusion(index, size, leaf, proof)?;
    if ct_eq(&got, root) { Ok(()) } else { Err(TlogError::InclusionMismatch) }
}

/// Verify that the tree of `size1` leaves with root `root1` is a prefix of the
/// tree of `size2` leaves with root `root2` (RFC 9162 §2.1.4.2).
///
/// # Errors
/// [`TlogError::SizeDecreased`] if `size1 > size2`; [`TlogError::ConsistencyMismatch`]
/// if the proof does not connect the two roots.
pub fn verify_consistency(size1: u64, size2: u64, proof: &[Hash], root1: &Hash, root2: &Hash) -> Result<(), TlogError> {
    if size1 > size2 {
        return Err(TlogError::SizeDecreased { old: size1, new: size2 });
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(TlogError::TooLarge { what: "consistency proof", max: MAX_PROOF_HASHES });
    }
    if size1 == size2 {
        return if proof.is_empty() && ct_eq(root1, root2) { Ok(()) } else { Err(TlogError::ConsistencyMismatch) };
    }
    if size1 == 0 {
        // Every tree extends the empty tree; the proof must be empty.
        return if proof.is_empty() { Ok(()) } else { Err(TlogError::ConsistencyMismatch) };
    }
    // 1. If size1 is a power of two, the old root is the first path element.
    let (first, rest): (&Hash, &[Hash]) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        match proof.split_first() {
            Some((f, r)) => (f, r),
            None => return Err(TlogError::ConsistencyMismatch),
        }
    };
    let mut fnode = size1 - 1;
    let mut snode = size2 - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = *first;
    let mut sr = *first;
    for c in rest {
        if snode == 0 {
            return Err(TlogError::ConsistencyMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode == 0 && ct_eq(&fr, root1) && ct_eq(&sr, root2) { Ok(()) } else { Err(TlogError::ConsistencyMismatch) }
}

fn ct_eq(a: &Hash, b: &Hash) -> bool {
    // Hashes are public, but a constant-time compare costs nothing here.
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
