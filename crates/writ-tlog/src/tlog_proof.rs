//! C2SP `tlog-proof@v1` (<https://c2sp.org/tlog-proof>): an offline proof that
//! one entry is in the log, checkable with only the log's verifier key.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <n>
//! <base64 inclusion hash>       (zero or more)
//!
//! <signed checkpoint note>
//! ```
//! Verification order: leaf hash → log signature on the checkpoint →
//! inclusion of the leaf in that checkpoint.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::TlogError;
use crate::checkpoint::{self, Checkpoint};
use crate::hash::{Hash, leaf_hash};
use crate::note::{MAX_NOTE_SIZE, VerifierKey};
use crate::proof::{MAX_PROOF_HASHES, verify_inclusion};

/// The header line.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest `extra` data accepted, in bytes (one ledger entry fits).
pub const MAX_EXTRA: usize = 65_535;
/// Largest proof accepted, in bytes: header, base64 extra, index, up to
/// [`MAX_PROOF_HASHES`] hash lines and a note.
pub const MAX_TLOG_PROOF_SIZE: usize = MAX_NOTE_SIZE + (MAX_EXTRA / 3 + 1) * 4 + 64 + MAX_PROOF_HASHES * 46;

/// A parsed, unverified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque extra data.
    pub extra: Option<Vec<u8>>,
    /// Leaf index.
    pub index: u64,
    /// Inclusion proof hashes.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

/// What a verified proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// Leaf index of the entry.
    pub index: u64,
    /// The checkpoint (signature verified) that includes it.
    pub checkpoint: Checkpoint,
    /// The extra data, if any.
    pub extra: Option<Vec<u8>>,
}

impl TlogProof {
    /// Serialise.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::new();
        s.push_str(HEADER);
        s.push('\n');
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", STANDARD.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            s.push_str(&STANDARD.encode(h));
            s.push('\n');
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Parse strictly.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] / [`TlogError::TooLarge`] on any deviation.
    pub fn parse(data: &[u8]) -> Result<Self, TlogError> {
        let bad = |detail| TlogError::Malformed { what: "tlog proof", detail };
        if data.len() > MAX_TLOG_PROOF_SIZE {
            return Err(TlogError::TooLarge { what: "tlog proof", max: MAX_TLOG_PROOF_SIZE });
        }
        let s = core::str::from_utf8(data).map_err(|_| bad("not valid UTF-8"))?;
        let (head, note) = s.split_once("\n\n").ok_or(bad("missing blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(bad("missing `c2sp.org/tlog-proof@v1` header"));
        }
        let mut line = lines.next().ok_or(bad("missing index line"))?;
        let mut extra = None;
        if let Some(e) = line.strip_prefix("extra ") {
            let v = STANDARD.decode(e).map_err(|_| bad("extra is not standard base64"))?;
            if v.len() > MAX_EXTRA {
                return Err(TlogError::TooLarge { what: "tlog proof extra data", max: MAX_EXTRA });
            }
            extra = Some(v);
            line = lines.next().ok_or(bad("missing index line"))?;
        }
        let idx = line.strip_prefix("index ").ok_or(bad("missing index line"))?;
        if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) || (idx.len() > 1 && idx.starts_with('0')) {
            return Err(bad("index must be decimal without leading zeros"));
        }
        let index: u64 = idx.parse().map_err(|_| bad("index does not fit in 64 bits"))?;
        let mut hashes = Vec::new();
        for l in lines {
            if hashes.len() >= MAX_PROOF_HASHES {
                return Err(TlogError::TooLarge { what: "tlog proof hashes", max: MAX_PROOF_HASHES });
            }
            let h: Hash = STANDARD
                .decode(l)
                .map_err(|_| bad("hash is not standard base64"))?
                .try_into()
                .map_err(|_| bad("hash must be 32 bytes"))?;
            hashes.push(h);
        }
        Ok(Self { extra, index, hashes, checkpoint: note.as_bytes().to_vec() })
    }

    /// Verify that `entry` is in the log whose checkpoints `verifier` signs
    /// under `origin`.
    ///
    /// # Errors
    /// Checkpoint signature / origin errors, then inclusion errors.
    pub fn verify_entry(&self, entry: &[u8], origin: &str, verifier: &VerifierKey) -> Result<VerifiedProof, TlogError> {
        self.verify_leaf(&leaf_hash(entry), origin, verifier)
    }

    /// As [`TlogProof::verify_entry`] with a precomputed leaf hash.
    ///
    /// # Errors
    /// As [`TlogProof::verify_entry`].
    pub fn verify_leaf(&self, leaf: &Hash, origin: &str, verifier: &VerifierKey) -> Result<VerifiedProof, TlogError> {
        let cp = checkpoint::open(&self.checkpoint, origin, verifier)?;
        verify_inclusion(self.index, cp.size, leaf, &self.hashes, &cp.root)?;
        Ok(VerifiedProof { index: self.index, checkpoint: cp, extra: self.extra.clone() })
    }
}
