//! Ed25519 keys and key ids.
//!
//! A key id is the lowercase hex SHA-256 of the raw 32-byte public key. The
//! algorithm is pinned by the trust root that lists a key, never read from an
//! artifact; signatures are checked with `verify_strict`, which rejects
//! small-order keys and non-canonical signatures.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use ed25519_dalek::{Signer as _, Verifier as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::digest::Sha256Digest;

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Identifies a public key: hex SHA-256 of its raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub Sha256Digest);

impl KeyId {
    /// Parses a 64-character lowercase hex key id.
    ///
    /// # Errors
    /// Returns a message when the text is not a key id.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        Sha256Digest::from_hex(text).map(Self).map_err(|_| "a key id must be 64 lowercase hex characters")
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_hex())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Builds a key from its 32 raw bytes.
    ///
    /// # Errors
    /// Fails when the bytes are not a valid curve point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, &'static str> {
        let arr: &[u8; 32] = bytes.try_into().map_err(|_| "an ed25519 public key is 32 bytes")?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(arr).map_err(|_| "not a valid ed25519 public key")?;
        if key.is_weak() {
            return Err("weak (small-order) ed25519 public key");
        }
        // One key, one encoding: a non-canonical encoding of a point (y ≥ p,
        // or the sign bit set on x = 0) would be a second key id for it.
        if key.to_edwards().compress().to_bytes() != *arr {
            return Err("not the canonical encoding of an ed25519 public key");
        }
        Ok(Self(key))
    }

    /// The raw 32 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key id (hex SHA-256 of the raw bytes).
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        KeyId(Sha256Digest::of(self.0.as_bytes()))
    }

    /// Checks `sig` over `msg` with `verify_strict`.
    #[must_use]
    pub fn verify_strict(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(arr) = <&[u8; SIGNATURE_LEN]>::try_from(sig) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(arr);
        self.0.verify_strict(msg, &sig).is_ok()
    }

    /// Checks with the permissive (RFC 8032 cofactorless) rule, only to let
    /// tests show that writ's choice is strictly tighter.
    #[doc(hidden)]
    #[must_use]
    pub fn verify_permissive(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(arr) = <&[u8; SIGNATURE_LEN]>::try_from(sig) else {
            return false;
        };
        self.0.verify(msg, &ed25519_dalek::Signature::from_bytes(arr)).is_ok()
    }

    /// The dalek key, for crates that need it (e.g. signed notes).
    #[must_use]
    pub fn as_dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

/// An Ed25519 private key; its seed is wiped from memory on drop.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Builds a key from a 32-byte seed (randomness comes from the caller: the
    /// core has none).
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The seed, in a buffer wiped on drop.
    #[must_use]
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The key id of the public half.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.public().key_id()
    }

    /// Signs `msg` (deterministic Ed25519).
    #[must_use]
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0.sign(msg).to_bytes().to_vec()
    }

    /// The dalek key, for crates that need it (e.g. signed notes).
    #[must_use]
    pub fn as_dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, secret elided)", self.key_id())
    }
}

/// The text form of a public key file: `ed25519 <base64 raw key> [name]`.
#[must_use]
pub fn public_key_file(key: &PublicKey, name: Option<&str>) -> String {
    match name {
        Some(n) => alloc::format!("ed25519 {} {n}\n", crate::b64::encode(&key.to_bytes())),
        None => alloc::format!("ed25519 {}\n", crate::b64::encode(&key.to_bytes())),
    }
}

/// Parses a public key file written by [`public_key_file`]; returns the key
/// and the optional name after it.
///
/// # Errors
/// Returns a message when the text is not `ed25519 <base64> [name]`.
pub fn parse_public_key_file(text: &str) -> Result<(PublicKey, Option<String>), &'static str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let rest = body.strip_prefix("ed25519 ").ok_or("a public key file reads `ed25519 <base64 key> [name]`")?;
    let (b64, name) = match rest.split_once(' ') {
        Some((k, n)) if !n.is_empty() && !n.contains('\n') => (k, Some(String::from(n))),
        Some(_) => return Err("a public key file reads `ed25519 <base64 key> [name]`"),
        None => (rest, None),
    };
    let bytes = crate::b64::decode(b64, 32)?;
    Ok((PublicKey::from_bytes(&bytes)?, name))
}

#[cfg(test)]
mod tests {

    /// Regression (issue 16 item 7): a non-canonical encoding (y + p) of a
    /// valid point was a second key id for the same key.
    #[test]
    fn non_canonical_public_keys_are_refused() {
        let mut refused = 0;
        for i in 2u8..=18 {
            let mut b = [0xffu8; 32];
            b[0] = 0xed + i;
            b[31] = 0x7f;
            if ed25519_dalek::VerifyingKey::from_bytes(&b).is_ok_and(|k| !k.is_weak()) {
                assert_eq!(
                    PublicKey::from_bytes(&b).err(),
                    Some("not the canonical encoding of an ed25519 public key")
                );
                refused += 1;
            }
        }
        assert!(refused > 0, "no non-canonical encoding of a valid point was tried");
    }

    use super::*;

    #[test]
    fn key_id_is_sha256_of_raw_key() {
        // RFC 8032 test 1 key pair.
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        let key = SigningKey::from_seed(&seed.try_into().unwrap());
        assert_eq!(
            hex::encode(key.public().to_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(key.key_id().0, Sha256Digest::of(&key.public().to_bytes()));
        // RFC 8032 test 1 signature of the empty message.
        assert_eq!(
            hex::encode(key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn public_key_file_round_trip() {
        let key = SigningKey::from_seed(&[7; 32]).public();
        assert_eq!(parse_public_key_file(&public_key_file(&key, None)).unwrap(), (key, None));
        let named = public_key_file(&key, Some("alice"));
        assert_eq!(parse_public_key_file(&named).unwrap(), (key, Some("alice".into())));
        assert!(parse_public_key_file("ssh-ed25519 AAAA").is_err());
    }
}
