//! C2SP `signed-note` (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! A note is UTF-8 text ending in `\n`, a blank line, then signature lines
//! `— <name> <base64(key id[4] ‖ signature[64])>\n`. The Ed25519 key id is the
//! first four bytes (big-endian) of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pubkey)`, the
//! verifier key string is `<name>+<hex key id>+<base64(0x01 ‖ pubkey)>`.
//!
//! Verification follows the spec: signatures by keys the verifier does not
//! know are ignored, a signature by a known key that fails rejects the note,
//! and a note with no verified known signature is rejected.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::TlogError;
use crate::hash::sha256;

/// Largest note accepted, in bytes.
pub const MAX_NOTE_SIZE: usize = 64 * 1024;
/// Most signature lines accepted (the spec asks for at least 16).
pub const MAX_NOTE_SIGNATURES: usize = 100;
/// Longest key name accepted, in bytes.
pub const MAX_KEY_NAME: usize = 256;
/// Signature type byte of Ed25519 keys.
pub const ALG_ED25519: u8 = 0x01;

pub(crate) const EM_DASH_PREFIX: &str = "\u{2014} ";
const WHAT: &str = "signed note";

fn malformed(detail: &'static str) -> TlogError {
    TlogError::Malformed { what: WHAT, detail }
}

/// Whether `name` is a valid key name: non-empty, bounded, no whitespace
/// (Unicode), no `+`.
#[must_use]
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_KEY_NAME
        && !name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The Ed25519 note key id of `(name, pubkey)`.
#[must_use]
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    key_id_for(name, ALG_ED25519, public_key)
}

/// `SHA-256(name ‖ 0x0A ‖ alg ‖ pubkey)[:4]`, big-endian: the key id of a
/// signature type `alg` (0x01 note signatures, 0x04 cosignatures).
pub(crate) fn key_id_for(name: &str, alg: u8, public_key: &[u8; 32]) -> u32 {
    let mut buf = Vec::with_capacity(name.len() + 2 + 32);
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'\n');
    buf.push(alg);
    buf.extend_from_slice(public_key);
    let h = sha256(&buf);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// Split a verifier key string `<name>+<hex key id>+<base64(alg ‖ pubkey)>`
/// whose signature type byte must be `alg`: the name, the stated key id and
/// the Ed25519 key. The caller checks the id against the key.
pub(crate) fn split_vkey<'a>(
    s: &'a str,
    alg: u8,
    what: &'static str,
) -> Result<(&'a str, u32, VerifyingKey), TlogError> {
    let bad = |detail| TlogError::Malformed { what, detail };
    if s.len() > MAX_KEY_NAME + 64 {
        return Err(TlogError::TooLarge { what, max: MAX_KEY_NAME + 64 });
    }
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(hex_id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected `<name>+<key id>+<key>`"));
    };
    if hex_id.len() != 8 || !hex_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad("key id must be 8 lowercase hex digits"));
    }
    let id = u32::from_str_radix(hex_id, 16).map_err(|_| bad("key id is not hex"))?;
    let raw = STANDARD.decode(b64).map_err(|_| bad("key is not standard base64"))?;
    let Some((&got, pk)) = raw.split_first() else {
        return Err(bad("key is empty"));
    };
    if got != alg {
        return Err(bad(if alg == ALG_ED25519 {
            "unsupported signature algorithm (only Ed25519, 0x01)"
        } else {
            "unsupported signature type (only Ed25519 cosignature/v1, 0x04)"
        }));
    }
    let pk: [u8; 32] = pk.try_into().map_err(|_| bad("Ed25519 key must be 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad("invalid Ed25519 public key"))?;
    Ok((name, id, key))
}

/// A verifier: a key name and an Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
    /// The ML-DSA-65 half of a hybrid (`ed25519+ml-dsa-65`) key: its
    /// signature line is then required beside the Ed25519 one.
    ml_dsa: Option<crate::mldsa::PublicKey>,
}

impl VerifierKey {
    /// A verifier for `name` and `key`.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] if `name` is not a valid key name.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, TlogError> {
        if !valid_key_name(name) {
            return Err(TlogError::Malformed {
                what: "verifier key",
                detail: "key name must be non-empty, without spaces or `+`",
            });
        }
        Ok(Self { name: name.to_string(), id: key_id(name, key.as_bytes()), key, ml_dsa: None })
    }

    /// The hybrid verifier: a note verifies under it only when it carries
    /// both a valid Ed25519 line and a valid ML-DSA-65 line (see
    /// [`crate::mldsa`]) for this name.
    #[must_use]
    pub fn with_ml_dsa(mut self, key: crate::mldsa::PublicKey) -> Self {
        self.ml_dsa = Some(key);
        self
    }

    /// The ML-DSA-65 half, for a hybrid key.
    #[must_use]
    pub fn ml_dsa(&self) -> Option<&crate::mldsa::PublicKey> {
        self.ml_dsa.as_ref()
    }

    /// Parse `<name>+<hex key id>+<base64(0x01 ‖ pubkey)>`.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] for any deviation, including a key id that
    /// does not match the key.
    pub fn parse(s: &str) -> Result<Self, TlogError> {
        let (name, id, key) = split_vkey(s, ALG_ED25519, "verifier key")?;
        let v = Self::new(name, key)?;
        if v.id != id {
            return Err(TlogError::Malformed {
                what: "verifier key",
                detail: "key id does not match the name and key",
            });
        }
        Ok(v)
    }

    /// The key name.
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
}

impl core::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, STANDARD.encode(raw))
    }
}

/// A note signer: a key name and an Ed25519 signing key.
pub struct NoteSigner {
    verifier: VerifierKey,
    key: SigningKey,
    ml_dsa: Option<crate::mldsa::SigningKey>,
}

impl core::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NoteSigner").field("verifier", &self.verifier).finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer for `name` with `key`.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] if `name` is not a valid key name.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, TlogError> {
        Ok(Self { verifier: VerifierKey::new(name, key.verifying_key())?, key, ml_dsa: None })
    }

    /// A hybrid signer: every note it signs carries an Ed25519 line and an
    /// ML-DSA-65 line.
    #[must_use]
    pub fn with_ml_dsa(mut self, key: crate::mldsa::SigningKey) -> Self {
        self.verifier.ml_dsa = Some(key.public());
        self.ml_dsa = Some(key);
        self
    }

    /// The matching verifier key.
    #[must_use]
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The signature line (with final newline) for `text`; for a hybrid
    /// signer, the Ed25519 line then the ML-DSA-65 line.
    #[must_use]
    pub fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&self.verifier.id.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        let mut out = format!("{EM_DASH_PREFIX}{} {}\n", self.verifier.name, STANDARD.encode(raw));
        if let Some(pq) = &self.ml_dsa {
            // Signing fails with probability below 2^-100 (FIPS 204); the
            // note then lacks the line and no hybrid verifier accepts it.
            if let Ok(sig) = pq.sign(text.as_bytes()) {
                let mut raw = Vec::with_capacity(4 + sig.len());
                let id = self.verifier.ml_dsa.as_ref().map_or(0, |k| k.note_key_id(&self.verifier.name));
                raw.extend_from_slice(&id.to_be_bytes());
                raw.extend_from_slice(&sig);
                out.push_str(&format!("{EM_DASH_PREFIX}{} {}\n", self.verifier.name, STANDARD.encode(raw)));
            }
        }
        out
    }

    /// Sign `text` into a complete note.
    ///
    /// # Errors
    /// [`TlogError::Malformed`] if `text` is empty, does not end in `\n`,
    /// contains a blank line or a control character other than `\n`.
    pub fn sign(&self, text: &str) -> Result<String, TlogError> {
        check_text(text)?;
        let mut out = String::with_capacity(text.len() + 120);
        out.push_str(text);
        out.push('\n');
        out.push_str(&self.signature_line(text));
        Ok(out)
    }
}

fn check_text(text: &str) -> Result<(), TlogError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(malformed("text must be non-empty and end with a newline"));
    }
    if text.starts_with('\n') || text.contains("\n\n") {
        return Err(malformed("text must not contain a blank line"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(malformed("text must not contain control characters"));
    }
    if text.len() > MAX_NOTE_SIZE {
        return Err(TlogError::TooLarge { what: "note", max: MAX_NOTE_SIZE });
    }
    Ok(())
}

/// One signature line of a note, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key id.
    pub key_id: u32,
    /// Signature bytes (64 for Ed25519; other algorithms may differ).
    pub signature: Vec<u8>,
}

/// A parsed note whose signatures have not been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedNote {
    /// The signed text, with its final newline.
    pub text: String,
    /// Signature lines in order.
    pub signatures: Vec<NoteSignature>,
}

/// A note with at least one signature verified by a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    text: String,
    verified_by: Vec<(String, u32)>,
}

impl VerifiedNote {
    /// The signed text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }
    /// `(name, key id)` of the trusted keys whose signatures verified.
    #[must_use]
    pub fn verified_by(&self) -> &[(String, u32)] {
        &self.verified_by
    }
}

/// Parse a note without verifying it.
///
/// # Errors
/// [`TlogError::Malformed`] / [`TlogError::TooLarge`] for any deviation from the format.
pub fn parse(note: &[u8]) -> Result<UnverifiedNote, TlogError> {
    if note.len() > MAX_NOTE_SIZE {
        return Err(TlogError::TooLarge { what: "note", max: MAX_NOTE_SIZE });
    }
    let s = core::str::from_utf8(note).map_err(|_| malformed("not valid UTF-8"))?;
    let split = s.rfind("\n\n").ok_or(malformed("missing blank line before signatures"))?;
    let (text, sigs) = (s.get(..=split).unwrap_or(""), s.get(split + 2..).unwrap_or(""));
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(malformed("signature block must be non-empty and end with a newline"));
    }
    let mut signatures = Vec::new();
    for line in sigs.split_terminator('\n') {
        if signatures.len() >= MAX_NOTE_SIGNATURES {
            return Err(TlogError::TooLarge { what: "note signature count", max: MAX_NOTE_SIGNATURES });
        }
        let rest = line.strip_prefix(EM_DASH_PREFIX).ok_or(malformed("signature line must start with `— `"))?;
        let (name, b64) = rest.split_once(' ').ok_or(malformed("signature line must be `— <name> <signature>`"))?;
        if !valid_key_name(name) {
            return Err(malformed("invalid key name in signature line"));
        }
        let raw = STANDARD.decode(b64).map_err(|_| malformed("signature is not standard base64"))?;
        let (id, sig) = raw.split_first_chunk::<4>().ok_or(malformed("signature shorter than its key id"))?;
        let key_id = u32::from_be_bytes(*id);
        signatures.push(NoteSignature { name: name.to_string(), key_id, signature: sig.to_vec() });
    }
    Ok(UnverifiedNote { text: text.to_string(), signatures })
}

/// Parse and verify a note against trusted `verifiers`.
///
/// # Errors
/// Parse errors as [`parse`]; [`TlogError::BadSignature`] if a trusted key's
/// signature fails; [`TlogError::NoKnownSignature`] if no trusted key signed.
pub fn open(note: &[u8], verifiers: &[VerifierKey]) -> Result<VerifiedNote, TlogError> {
    let n = parse(note)?;
    let mut verified_by: Vec<(String, u32)> = Vec::new();
    for s in &n.signatures {
        let Some(v) = verifiers.iter().find(|v| v.name == s.name && v.id == s.key_id) else {
            continue; // unknown key: ignored, per spec
        };
        let bad = || TlogError::BadSignature { name: s.name.clone() };
        let sig: [u8; 64] = s.signature.as_slice().try_into().map_err(|_| bad())?;
        v.key.verify_strict(n.text.as_bytes(), &Signature::from_bytes(&sig)).map_err(|_| bad())?;
        if let Some(pq) = &v.ml_dsa {
            crate::mldsa::check_note_line(&n, &v.name, pq)?;
        }
        if !verified_by.iter().any(|(name, id)| *name == s.name && *id == s.key_id) {
            verified_by.push((s.name.clone(), s.key_id));
        }
    }
    if verified_by.is_empty() {
        return Err(TlogError::NoKnownSignature);
    }
    Ok(VerifiedNote { text: n.text, verified_by })
}
