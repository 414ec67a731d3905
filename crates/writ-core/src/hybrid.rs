//! The hybrid suite `ed25519+ml-dsa-65`: an Ed25519 key and an ML-DSA-65
//! key (FIPS 204) that sign together, for the issuer and ledger roles.
//!
//! The suite of a key is pinned by the trust root (the key entry's optional
//! `suite` and `ml_dsa_public_key`), never read from an artifact. A hybrid
//! key's DSSE signature is the Ed25519 signature (64 bytes) followed by the
//! ML-DSA-65 signature (3309 bytes) over the same PAE bytes, in one `sig`
//! value; both must verify. A plain Ed25519 signature under a hybrid key, or
//! a hybrid signature under a plain key, is a suite mismatch. In a signed
//! note (checkpoints) the two halves are two signature lines under the same
//! key name (see [`writ_tlog::mldsa`]). The key id stays the SHA-256 of the
//! Ed25519 half; the ML-DSA half is pinned beside it.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use writ_tlog::mldsa;
use zeroize::Zeroizing;

use crate::b64;
use crate::dsse::{Envelope, EnvelopeSignature, pae};
use crate::keys::{PublicKey, SIGNATURE_LEN, SigningKey};

pub use writ_tlog::mldsa::PublicKey as MlDsaPublicKey;

/// The suite's name as written in the trust root.
pub const SUITE_NAME: &str = "ed25519+ml-dsa-65";
/// Length of a hybrid signature: Ed25519 (64) then ML-DSA-65 (3309).
pub const HYBRID_SIGNATURE_LEN: usize = SIGNATURE_LEN + mldsa::SIGNATURE_LEN;

/// A signature suite other than plain Ed25519, pinned per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Suite {
    /// Ed25519 and ML-DSA-65; both signatures must verify.
    #[serde(rename = "ed25519+ml-dsa-65")]
    Ed25519MlDsa65,
}

/// Why a signature does not verify under a key's pinned suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureFault {
    /// The signature has the shape of another suite (a plain Ed25519
    /// signature under a hybrid key — the ML-DSA half stripped — or a hybrid
    /// one under a plain key).
    SuiteMismatch,
    /// The signature has the suite's shape but a half does not verify.
    Invalid,
}

/// Checks `sig` over `msg` under `ed` and, for a hybrid key, `pq`.
///
/// # Errors
/// [`SignatureFault`] saying whether the shape or a signature was wrong.
pub fn verify_pinned(
    ed: &PublicKey,
    pq: Option<&MlDsaPublicKey>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), SignatureFault> {
    match pq {
        None if sig.len() == SIGNATURE_LEN => {
            if ed.verify_strict(msg, sig) {
                Ok(())
            } else {
                Err(SignatureFault::Invalid)
            }
        }
        None => Err(SignatureFault::SuiteMismatch),
        Some(pq) => {
            if sig.len() != HYBRID_SIGNATURE_LEN {
                return Err(SignatureFault::SuiteMismatch);
            }
            let (ed_sig, pq_sig) = sig.split_at(SIGNATURE_LEN);
            // Both halves are checked whatever the first gives.
            let ed_ok = ed.verify_strict(msg, ed_sig);
            let pq_ok = pq.verify(msg, pq_sig);
            if ed_ok && pq_ok { Ok(()) } else { Err(SignatureFault::Invalid) }
        }
    }
}

/// The ML-DSA-65 key a trust-root entry pins, checked: present exactly
/// when `suite` is `ed25519+ml-dsa-65`, and only on issuer and ledger keys
/// (the roles whose every signature check goes through the pinned suite).
///
/// # Errors
/// A message naming the key and what is wrong.
pub fn pinned_ml_dsa_key(entry: &crate::trust::TrustedKeyFile) -> Result<Option<MlDsaPublicKey>, String> {
    let name = &entry.name;
    match (entry.suite, &entry.ml_dsa_public_key) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(alloc::format!("key `{name}`: ml_dsa_public_key needs `suite`: \"{SUITE_NAME}\"")),
        (Some(Suite::Ed25519MlDsa65), None) => {
            Err(alloc::format!("key `{name}`: suite `{SUITE_NAME}` needs ml_dsa_public_key"))
        }
        (Some(Suite::Ed25519MlDsa65), Some(text)) => {
            if entry.roles.iter().any(|r| !matches!(r, crate::Role::Issuer | crate::Role::Ledger)) {
                return Err(alloc::format!("key `{name}`: suite `{SUITE_NAME}` is for issuer and ledger keys only"));
            }
            let raw = b64::decode(text, mldsa::PUBLIC_KEY_LEN)
                .map_err(|e| alloc::format!("key `{name}`: ml_dsa_public_key: {e}"))?;
            MlDsaPublicKey::from_bytes(&raw).map(Some).map_err(|e| alloc::format!("key `{name}`: {e}"))
        }
    }
}

/// A hybrid private key: both seeds, wiped on drop.
pub struct HybridSigningKey {
    ed: SigningKey,
    pq: mldsa::SigningKey,
}

impl HybridSigningKey {
    /// Builds the pair from an Ed25519 seed and an ML-DSA-65 seed (the
    /// randomness comes from the caller).
    #[must_use]
    pub fn from_seeds(ed_seed: &[u8; 32], pq_seed: &[u8; 32]) -> Self {
        Self { ed: SigningKey::from_seed(ed_seed), pq: mldsa::SigningKey::from_seed(pq_seed) }
    }

    /// The Ed25519 half (its key id is the hybrid key's id).
    #[must_use]
    pub fn ed25519(&self) -> &SigningKey {
        &self.ed
    }

    /// The ML-DSA-65 half.
    #[must_use]
    pub fn ml_dsa(&self) -> &mldsa::SigningKey {
        &self.pq
    }

    /// The ML-DSA-65 public key.
    #[must_use]
    pub fn ml_dsa_public(&self) -> MlDsaPublicKey {
        self.pq.public()
    }

    /// Signs `msg`: Ed25519 signature ‖ ML-DSA-65 signature.
    ///
    /// # Errors
    /// Only if ML-DSA's rejection loop gives up (probability below 2^-100).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, &'static str> {
        let mut out = self.ed.sign(msg);
        out.extend_from_slice(&self.pq.sign(msg)?);
        Ok(out)
    }

    /// The trust-root entry for this key.
    #[must_use]
    pub fn key_entry(&self, name: &str, roles: Vec<crate::Role>, groups: Vec<String>) -> crate::trust::TrustedKeyFile {
        let mut e = crate::trust::key_entry(name, roles, groups, &self.ed.public());
        e.suite = Some(Suite::Ed25519MlDsa65);
        e.ml_dsa_public_key = Some(b64::encode(self.ml_dsa_public().as_bytes()));
        e
    }

    /// The signed-note signer of a hybrid ledger key named `name`.
    ///
    /// # Errors
    /// `name` is not a valid note key name.
    pub fn note_signer(&self, name: &str) -> Result<writ_tlog::note::NoteSigner, writ_tlog::TlogError> {
        Ok(writ_tlog::note::NoteSigner::new(name, self.ed.as_dalek().clone())?
            .with_ml_dsa(mldsa::SigningKey::from_seed(&self.pq.seed())))
    }
}

impl core::fmt::Debug for HybridSigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "HybridSigningKey({}, secret elided)", self.ed.key_id())
    }
}

/// Signs `payload` into a DSSE envelope (compact JSON) with one hybrid
/// signature.
///
/// # Errors
/// Only if ML-DSA signing fails (see [`HybridSigningKey::sign`]).
pub fn sign_envelope(payload_type: &str, payload: &[u8], key: &HybridSigningKey) -> Result<Vec<u8>, &'static str> {
    let sig = key.sign(&pae(payload_type, payload))?;
    let env = Envelope {
        payload: b64::encode(payload),
        payload_type: payload_type.into(),
        signatures: alloc::vec![EnvelopeSignature { keyid: key.ed.key_id().0.to_hex(), sig: b64::encode(&sig) }],
    };
    serde_json::to_vec(&env).map_err(|_| "envelope does not serialize")
}

/// Header of a hybrid public key file.
pub const PUBLIC_PREFIX: &str = "ed25519+ml-dsa-65 ";
/// Header of a hybrid private key file.
pub const PRIVATE_PREFIX: &str = "ed25519+ml-dsa-65-secret ";

/// The text form of a hybrid public key file:
/// `ed25519+ml-dsa-65 <base64 Ed25519 key> <base64 ML-DSA-65 key> [name]`.
#[must_use]
pub fn public_key_file(key: &HybridSigningKey, name: Option<&str>) -> String {
    let ed = b64::encode(&key.ed.public().to_bytes());
    let pq = b64::encode(key.ml_dsa_public().as_bytes());
    match name {
        Some(n) => alloc::format!("{PUBLIC_PREFIX}{ed} {pq} {n}\n"),
        None => alloc::format!("{PUBLIC_PREFIX}{ed} {pq}\n"),
    }
}

/// Parses a hybrid public key file: both halves and the optional name.
///
/// # Errors
/// A message when the text is not `ed25519+ml-dsa-65 <base64> <base64> [name]`.
pub fn parse_public_key_file(text: &str) -> Result<(PublicKey, MlDsaPublicKey, Option<String>), &'static str> {
    const FORM: &str =
        "a hybrid public key file reads `ed25519+ml-dsa-65 <base64 ed25519 key> <base64 ml-dsa-65 key> [name]`";
    let body = text.strip_suffix('\n').unwrap_or(text);
    let rest = body.strip_prefix(PUBLIC_PREFIX).ok_or(FORM)?;
    let mut parts = rest.splitn(3, ' ');
    let (Some(ed), Some(pq)) = (parts.next(), parts.next()) else { return Err(FORM) };
    let name = match parts.next() {
        Some(n) if !n.is_empty() && !n.contains('\n') => Some(String::from(n)),
        Some(_) => return Err(FORM),
        None => None,
    };
    let ed = PublicKey::from_bytes(&b64::decode(ed, 32)?)?;
    let pq = MlDsaPublicKey::from_bytes(&b64::decode(pq, mldsa::PUBLIC_KEY_LEN)?)?;
    Ok((ed, pq, name))
}

/// The text of a hybrid private key file (wiped on drop):
/// `ed25519+ml-dsa-65-secret <base64 Ed25519 seed> <base64 ML-DSA-65 seed>`.
#[must_use]
pub fn private_key_file(key: &HybridSigningKey) -> Zeroizing<String> {
    Zeroizing::new(alloc::format!(
        "{PRIVATE_PREFIX}{} {}\n",
        b64::encode(&key.ed.seed()[..]),
        b64::encode(&key.pq.seed()[..])
    ))
}

/// Parses a hybrid private key file.
///
/// # Errors
/// A message when the text is not a hybrid private key file.
pub fn parse_private_key_file(text: &str) -> Result<HybridSigningKey, &'static str> {
    const FORM: &str = "a hybrid private key file reads `ed25519+ml-dsa-65-secret <base64 seed> <base64 seed>`";
    let rest = text.trim_end().strip_prefix(PRIVATE_PREFIX).ok_or(FORM)?;
    let (ed, pq) = rest.split_once(' ').ok_or(FORM)?;
    let seed = |s: &str| -> Result<Zeroizing<[u8; 32]>, &'static str> {
        let raw = Zeroizing::new(b64::decode(s, 32)?);
        let arr: [u8; 32] = raw.as_slice().try_into().map_err(|_| "a private key seed is 32 bytes")?;
        Ok(Zeroizing::new(arr))
    };
    let (ed, pq) = (seed(ed)?, seed(pq)?);
    Ok(HybridSigningKey::from_seeds(&ed, &pq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> HybridSigningKey {
        HybridSigningKey::from_seeds(&[1; 32], &[2; 32])
    }

    #[test]
    fn both_halves_must_verify_and_the_shape_is_pinned() {
        let k = key();
        let sig = k.sign(b"msg").unwrap();
        assert_eq!(sig.len(), HYBRID_SIGNATURE_LEN);
        let (ed, pq) = (k.ed25519().public(), k.ml_dsa_public());
        assert_eq!(verify_pinned(&ed, Some(&pq), b"msg", &sig), Ok(()));
        // Stripped to the Ed25519 half.
        assert_eq!(verify_pinned(&ed, Some(&pq), b"msg", &sig[..64]), Err(SignatureFault::SuiteMismatch));
        // A hybrid signature where the key is pinned plain.
        assert_eq!(verify_pinned(&ed, None, b"msg", &sig), Err(SignatureFault::SuiteMismatch));
        // The ML-DSA half of another message swapped in.
        let other = k.sign(b"other").unwrap();
        let mut swapped = sig[..64].to_vec();
        swapped.extend_from_slice(&other[64..]);
        assert_eq!(verify_pinned(&ed, Some(&pq), b"msg", &swapped), Err(SignatureFault::Invalid));
        // The Ed25519 half of another message swapped in.
        let mut swapped = other[..64].to_vec();
        swapped.extend_from_slice(&sig[64..]);
        assert_eq!(verify_pinned(&ed, Some(&pq), b"msg", &swapped), Err(SignatureFault::Invalid));
    }

    #[test]
    fn key_files_round_trip() {
        let k = key();
        let (ed, pq, name) = parse_public_key_file(&public_key_file(&k, Some("authority"))).unwrap();
        assert_eq!((ed, &pq, name.as_deref()), (k.ed25519().public(), &k.ml_dsa_public(), Some("authority")));
        let back = parse_private_key_file(&private_key_file(&k)).unwrap();
        assert_eq!(back.sign(b"x").unwrap(), k.sign(b"x").unwrap());
        assert!(parse_public_key_file(&crate::keys::public_key_file(&ed, None)).is_err());
        assert!(parse_private_key_file("ed25519-secret AAAA").is_err());
    }
}
