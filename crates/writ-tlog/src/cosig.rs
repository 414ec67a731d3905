//! C2SP `tlog-cosignature` (<https://c2sp.org/tlog-cosignature>), the Ed25519
//! `cosignature/v1` type: a witness's statement that, as of its timestamp, the
//! checkpoint is the largest consistent tree head it has seen for the log.
//!
//! A cosignature is a note signature line `— <name> <base64(key id ‖ ts ‖ sig)>`
//! where
//! - the key id is `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ pubkey)[:4]`,
//! - `ts` is the POSIX timestamp, a big-endian `u64` at most 2^63 − 1,
//! - `sig` is the Ed25519 signature over
//!   `cosignature/v1\ntime <ts>\n` followed by the checkpoint text (the note
//!   body with its final newline, no signature lines).
//!
//! The verifier key string is `<name>+<hex key id>+<base64(0x04 ‖ pubkey)>`.
//! Witness policies ([`verify_quorum`]) count distinct trusted witnesses with
//! a valid cosignature; a line by a trusted witness that does not verify is an
//! error (as signed-note verifiers treat a known key's bad signature), lines
//! by unknown keys are ignored.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::TlogError;
use crate::note::{self, EM_DASH_PREFIX, NoteSignature, key_id_for, split_vkey, valid_key_name};

/// Signature type byte of Ed25519 `cosignature/v1` keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The header line of the signed message (domain separation).
pub const HEADER: &str = "cosignature/v1";
/// Largest timestamp a cosignature may carry.
pub const MAX_TIMESTAMP: u64 = (1 << 63) - 1;
/// Length of the signature bytes after the key id: timestamp and Ed25519 signature.
pub const TIMESTAMPED_SIGNATURE_LEN: usize = 8 + 64;

const WHAT: &str = "cosignature verifier key";

/// The cosignature key id of `(name, pubkey)`.
#[must_use]
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    key_id_for(name, ALG_COSIGNATURE_V1, public_key)
}

/// The message a cosigner signs: `cosignature/v1\ntime <ts>\n` ‖ `checkpoint_text`.
#[must_use]
pub fn signed_message(timestamp: u64, checkpoint_text: &str) -> String {
    format!("{HEADER}\ntime {timestamp}\n{checkpoint_text}")
}

/// A witness's public key: name, key id and Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for `name` and `key`.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] if `name` is not a valid key name.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, TlogError> {
        if !valid_key_name(name) {
            return Err(TlogError::Malformed {
                what: WHAT,
                detail: "key name must be non-empty, without spaces or `+`",
            });
        }
        Ok(Self { name: name.to_string(), id: key_id(name, key.as_bytes()), key })
    }

    /// Parse `<name>+<hex key id>+<base64(0x04 ‖ pubkey)>`.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] for any deviation, including another
    /// signature type or a key id that does not match the key.
    pub fn parse(s: &str) -> Result<Self, TlogError> {
        let (name, id, key) = split_vkey(s, ALG_COSIGNATURE_V1, WHAT)?;
        let v = Self::new(name, key)?;
        if v.id != id {
            return Err(TlogError::Malformed { what: WHAT, detail: "key id does not match the name and key" });
        }
        Ok(v)
    }

    /// The witness name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The Ed25519 public key.
    #[must_use]
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether the signature line `sig` is by this key (name and key id).
    #[must_use]
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.id
    }

    /// Verify the cosignature `sig` (a line matching this key) over
    /// `checkpoint_text`; returns its timestamp.
    ///
    /// # Errors
    /// [`TlogError::BadSignature`] when the line is not by this key, has the
    /// wrong length, a timestamp above 2^63 − 1, or a signature that fails.
    pub fn verify(&self, sig: &NoteSignature, checkpoint_text: &str) -> Result<u64, TlogError> {
        let bad = || TlogError::BadSignature { name: sig.name.clone() };
        if !self.matches(sig) {
            return Err(bad());
        }
        let raw: &[u8; TIMESTAMPED_SIGNATURE_LEN] = sig.signature.as_slice().try_into().map_err(|_| bad())?;
        let (ts, s) = raw.split_first_chunk::<8>().ok_or_else(bad)?;
        let timestamp = u64::from_be_bytes(*ts);
        if timestamp > MAX_TIMESTAMP {
            return Err(bad());
        }
        let s: [u8; 64] = s.try_into().map_err(|_| bad())?;
        let msg = signed_message(timestamp, checkpoint_text);
        self.key.verify_strict(msg.as_bytes(), &Signature::from_bytes(&s)).map_err(|_| bad())?;
        Ok(timestamp)
    }
}

impl core::fmt::Display for CosignatureVerifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut raw = [0u8; 33];
        raw[0] = ALG_COSIGNATURE_V1;
        raw[1..].copy_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, STANDARD.encode(raw))
    }
}

/// A witness's signing key.
pub struct Cosigner {
    verifier: CosignatureVerifier,
    key: SigningKey,
}

impl core::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cosigner").field("verifier", &self.verifier).finish_non_exhaustive()
    }
}

impl Cosigner {
    /// A cosigner named `name` with `key`.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] if `name` is not a valid key name.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, TlogError> {
        Ok(Self { verifier: CosignatureVerifier::new(name, key.verifying_key())?, key })
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> &CosignatureVerifier {
        &self.verifier
    }

    /// The cosignature line (with its final newline) of `checkpoint_text` at `timestamp`.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] for a timestamp above 2^63 − 1.
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> Result<String, TlogError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(TlogError::Malformed { what: "cosignature", detail: "timestamp must not exceed 2^63 - 1" });
        }
        let sig = self.key.sign(signed_message(timestamp, checkpoint_text).as_bytes());
        let mut raw = Vec::with_capacity(4 + TIMESTAMPED_SIGNATURE_LEN);
        raw.extend_from_slice(&self.verifier.id.to_be_bytes());
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!("{EM_DASH_PREFIX}{} {}\n", self.verifier.name, STANDARD.encode(raw)))
    }
}

/// A valid cosignature found by [`verify_quorum`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness name.
    pub name: String,
    /// Its timestamp.
    pub timestamp: u64,
}

/// Why a witness policy was not met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumError {
    /// The note does not parse.
    Note(TlogError),
    /// A line by a trusted witness does not verify over this checkpoint
    /// (made for another checkpoint, or altered).
    Invalid {
        /// The witness.
        name: String,
    },
    /// Fewer than `want` distinct trusted witnesses cosigned.
    Short {
        /// Valid cosignatures found.
        got: usize,
        /// The quorum.
        want: usize,
    },
}

impl core::fmt::Display for QuorumError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Note(e) => write!(f, "the checkpoint note does not parse: {e}"),
            Self::Invalid { name } => write!(
                f,
                "the cosignature of witness `{name}` does not verify over this checkpoint (made for another checkpoint, or altered)"
            ),
            Self::Short { got, want } => {
                write!(f, "{got} of the trust root's witnesses cosigned this checkpoint, {want} are required")
            }
        }
    }
}

/// The valid cosignatures of `note` (a signed checkpoint note with
/// cosignature lines) by `witnesses`, one per witness (its first valid line).
///
/// # Errors
/// [`QuorumError::Note`] if the note does not parse, [`QuorumError::Invalid`]
/// if a line by one of `witnesses` does not verify.
pub fn cosignatures(note_bytes: &[u8], witnesses: &[CosignatureVerifier]) -> Result<Vec<Cosigned>, QuorumError> {
    let n = note::parse(note_bytes).map_err(QuorumError::Note)?;
    let mut out: Vec<Cosigned> = Vec::new();
    for sig in &n.signatures {
        let Some(w) = witnesses.iter().find(|w| w.matches(sig)) else {
            continue; // not a trusted witness: ignored, per spec
        };
        let timestamp = w.verify(sig, &n.text).map_err(|_| QuorumError::Invalid { name: w.name.clone() })?;
        if !out.iter().any(|c| c.name == w.name) {
            out.push(Cosigned { name: w.name.clone(), timestamp });
        }
    }
    Ok(out)
}

/// Check that at least `quorum` distinct `witnesses` cosigned `note`.
///
/// # Errors
/// As [`cosignatures`], and [`QuorumError::Short`] below the quorum.
pub fn verify_quorum(
    note_bytes: &[u8],
    witnesses: &[CosignatureVerifier],
    quorum: usize,
) -> Result<Vec<Cosigned>, QuorumError> {
    let found = cosignatures(note_bytes, witnesses)?;
    if found.len() < quorum {
        return Err(QuorumError::Short { got: found.len(), want: quorum });
    }
    Ok(found)
}
