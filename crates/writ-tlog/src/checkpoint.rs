//! C2SP `tlog-checkpoint` (<https://c2sp.org/tlog-checkpoint>): the text a log signs.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <base64 root hash>\n
//! [extension lines]\n
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::TlogError;
use crate::hash::Hash;
use crate::note::{self, NoteSigner, VerifierKey};

/// Largest checkpoint body accepted, in bytes.
pub const MAX_CHECKPOINT_SIZE: usize = 16 * 1024;
/// Most extension lines accepted.
pub const MAX_EXTENSIONS: usize = 32;

/// A checkpoint body: origin, tree size, root hash and extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (conventionally a schema-less URL).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Extension lines, without their newlines.
    pub extensions: Vec<String>,
}

fn bad(detail: &'static str) -> TlogError {
    TlogError::Malformed { what: "checkpoint", detail }
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    #[must_use]
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self { origin: origin.to_string(), size, root, extensions: Vec::new() }
    }

    /// Format the body text (what gets signed).
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(self.origin.len() + 80);
        s.push_str(&self.origin);
        s.push('\n');
        s.push_str(&self.size.to_string());
        s.push('\n');
        s.push_str(&STANDARD.encode(self.root));
        s.push('\n');
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parse a body text strictly.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] / [`TlogError::TooLarge`] on any deviation.
    pub fn parse(text: &str) -> Result<Self, TlogError> {
        if text.len() > MAX_CHECKPOINT_SIZE {
            return Err(TlogError::TooLarge { what: "checkpoint", max: MAX_CHECKPOINT_SIZE });
        }
        if !text.ends_with('\n') {
            return Err(bad("must end with a newline"));
        }
        let mut lines = text.split_terminator('\n');
        let origin = lines.next().ok_or(bad("missing origin line"))?;
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(bad("origin line must be non-empty text"));
        }
        let size_s = lines.next().ok_or(bad("missing tree size line"))?;
        if size_s.is_empty()
            || !size_s.bytes().all(|b| b.is_ascii_digit())
            || (size_s.len() > 1 && size_s.starts_with('0'))
        {
            return Err(bad("tree size must be decimal without leading zeros"));
        }
        let size: u64 = size_s.parse().map_err(|_| bad("tree size does not fit in 64 bits"))?;
        let root_s = lines.next().ok_or(bad("missing root hash line"))?;
        let root: Hash = STANDARD
            .decode(root_s)
            .map_err(|_| bad("root hash is not standard base64"))?
            .try_into()
            .map_err(|_| bad("root hash must be 32 bytes"))?;
        let mut extensions = Vec::new();
        for l in lines {
            if extensions.len() >= MAX_EXTENSIONS {
                return Err(TlogError::TooLarge { what: "checkpoint extension lines", max: MAX_EXTENSIONS });
            }
            if l.is_empty() || l.chars().any(char::is_control) {
                return Err(bad("extension lines must be non-empty text"));
            }
            extensions.push(l.to_string());
        }
        Ok(Self { origin: origin.to_string(), size, root, extensions })
    }

    /// Sign this checkpoint into a C2SP signed note.
    ///
    /// # Errors
    /// As [`NoteSigner::sign`].
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, TlogError> {
        signer.sign(&self.to_text())
    }
}

/// Verify a signed checkpoint note with `verifier` and check its origin.
///
/// # Errors
/// Note errors as [`note::open`], checkpoint parse errors, and
/// [`TlogError::WrongOrigin`] if the origin is not `origin`.
pub fn open(note_bytes: &[u8], origin: &str, verifier: &VerifierKey) -> Result<Checkpoint, TlogError> {
    let n = note::open(note_bytes, core::slice::from_ref(verifier))?;
    let c = Checkpoint::parse(n.text())?;
    if c.origin != origin {
        return Err(TlogError::WrongOrigin { got: c.origin, want: origin.to_string() });
    }
    Ok(c)
}
