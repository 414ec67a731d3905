//! ML-DSA-65 (FIPS 204), the post-quantum half of writ's hybrid suite
//! `ed25519+ml-dsa-65`, and its signed-note signature type.
//!
//! Every ML-DSA signature writ makes or checks is the pure (not pre-hashed)
//! `ML-DSA.Sign` of FIPS 204 over the very bytes the Ed25519 half signs, with
//! the context string [`CONTEXT`], in its deterministic variant (writ's core
//! draws no randomness; FIPS 204 §3.4 permits it).
//!
//! In a signed note the ML-DSA signature is a line of its own beside the
//! Ed25519 line, under the same key name. C2SP signed-note assigns no type
//! byte to ML-DSA, so the line uses the reserved type `0xff` followed by the
//! identifier [`NOTE_TYPE_ID`]: its key id is
//! `SHA-256(name ‖ 0x0A ‖ 0xff ‖ "writ.dev/ml-dsa-65" ‖ pubkey)[:4]`.

use alloc::vec::Vec;

use ml_dsa::{EncodedVerifyingKey, KeyExport as _, MlDsa65, Signature};

use crate::TlogError;
use crate::hash::sha256;
use crate::note::UnverifiedNote;

/// Length of an encoded ML-DSA-65 public key (FIPS 204 `pkEncode`).
pub const PUBLIC_KEY_LEN: usize = 1952;
/// Length of an encoded ML-DSA-65 signature (FIPS 204 `sigEncode`).
pub const SIGNATURE_LEN: usize = 3309;
/// FIPS 204 context string of every writ ML-DSA signature.
pub const CONTEXT: &[u8] = b"writ.dev/ed25519+ml-dsa-65";
/// Signed-note signature type byte of ML-DSA-65 lines (C2SP's reserved
/// "unassigned" type, followed by [`NOTE_TYPE_ID`]).
pub const NOTE_TYPE: u8 = 0xff;
/// The identifier after [`NOTE_TYPE`] in the key id hash.
pub const NOTE_TYPE_ID: &[u8] = b"writ.dev/ml-dsa-65";

/// An ML-DSA-65 public key, with its encoding.
#[derive(Clone)]
pub struct PublicKey {
    key: ml_dsa::VerifyingKey<MlDsa65>,
    bytes: Vec<u8>,
}

impl PublicKey {
    /// Decodes a 1952-byte encoded key.
    ///
    /// # Errors
    /// A message when the length is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, &'static str> {
        let enc =
            EncodedVerifyingKey::<MlDsa65>::try_from(bytes).map_err(|_| "an ml-dsa-65 public key is 1952 bytes")?;
        let key = ml_dsa::VerifyingKey::<MlDsa65>::decode(&enc);
        // pkDecode is total on 1952 bytes; re-encoding must give them back
        // (one key, one encoding).
        if key.encode().as_slice() != bytes {
            return Err("not the canonical encoding of an ml-dsa-65 public key");
        }
        Ok(Self { key, bytes: bytes.to_vec() })
    }

    /// The encoded key.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks an ML-DSA-65 signature over `msg` with context [`CONTEXT`].
    /// A signature that does not decode (wrong length, malformed hint) fails.
    #[must_use]
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        Signature::<MlDsa65>::try_from(sig).is_ok_and(|s| self.key.verify_with_context(msg, CONTEXT, &s))
    }

    /// The signed-note key id of this key under `name`.
    #[must_use]
    pub fn note_key_id(&self, name: &str) -> u32 {
        let mut buf = Vec::with_capacity(name.len() + 2 + NOTE_TYPE_ID.len() + PUBLIC_KEY_LEN);
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'\n');
        buf.push(NOTE_TYPE);
        buf.extend_from_slice(NOTE_TYPE_ID);
        buf.extend_from_slice(&self.bytes);
        let h = sha256(&buf);
        u32::from_be_bytes([h[0], h[1], h[2], h[3]])
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for PublicKey {}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let h = sha256(&self.bytes);
        write!(f, "MlDsa65PublicKey(sha256:{:02x}{:02x}{:02x}{:02x}…)", h[0], h[1], h[2], h[3])
    }
}

/// An ML-DSA-65 private key, kept as its 32-byte seed (FIPS 204 `ξ`) and
/// wiped on drop.
pub struct SigningKey(ml_dsa::SigningKey<MlDsa65>);

impl SigningKey {
    /// Derives the key pair from a 32-byte seed (`ML-DSA.KeyGen_internal`).
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ml_dsa::SigningKey::<MlDsa65>::from_seed(&(*seed).into()))
    }

    /// The seed, in a buffer wiped on drop.
    #[must_use]
    pub fn seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_seed().into())
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> PublicKey {
        let key = ml_dsa::Keypair::verifying_key(&self.0);
        let bytes = key.to_bytes().to_vec();
        PublicKey { key, bytes }
    }

    /// Signs `msg` (deterministic ML-DSA-65, context [`CONTEXT`]).
    ///
    /// # Errors
    /// Only if FIPS 204's rejection loop gives up, which for ML-DSA-65 has
    /// probability far below 2^-100.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, &'static str> {
        self.0
            .expanded_key()
            .sign_deterministic(msg, CONTEXT)
            .map(|s| s.encode().to_vec())
            .map_err(|_| "ml-dsa-65 signing failed")
    }
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MlDsa65SigningKey({:?}, secret elided)", self.public())
    }
}

/// Checks that `note` carries an ML-DSA-65 line by `(name, key)` and that
/// it verifies over the note text: the post-quantum half of a hybrid note
/// key. A stripped line and a line that fails are both a bad signature.
///
/// # Errors
/// [`TlogError::BadSignature`] naming the key.
pub fn check_note_line(note: &UnverifiedNote, name: &str, key: &PublicKey) -> Result<(), TlogError> {
    let id = key.note_key_id(name);
    let ok = note
        .signatures
        .iter()
        .any(|s| s.name == name && s.key_id == id && key.verify(note.text.as_bytes(), &s.signature));
    if ok { Ok(()) } else { Err(TlogError::BadSignature { name: alloc::format!("{name} (ml-dsa-65 half)") }) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn sign_verify_and_sizes() {
        let k = SigningKey::from_seed(&[3; 32]);
        let pk = k.public();
        assert_eq!(pk.as_bytes().len(), PUBLIC_KEY_LEN);
        let sig = k.sign(b"hello").unwrap();
        assert_eq!(sig.len(), SIGNATURE_LEN);
        assert!(pk.verify(b"hello", &sig));
        assert!(!pk.verify(b"hellp", &sig));
        assert!(!pk.verify(b"hello", &sig[..SIGNATURE_LEN - 1]));
        // Deterministic: the same seed and message give the same signature.
        assert_eq!(SigningKey::from_seed(&[3; 32]).sign(b"hello").unwrap(), sig);
        // Another key's signature does not verify.
        let other = SigningKey::from_seed(&[4; 32]).sign(b"hello").unwrap();
        assert!(!pk.verify(b"hello", &other));
        assert_eq!(PublicKey::from_bytes(pk.as_bytes()).unwrap(), pk);
        assert!(PublicKey::from_bytes(&pk.as_bytes()[1..]).is_err());
    }
}
