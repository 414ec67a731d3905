//! Gate records: `exec_start`, `exec_end` and `denial` entries signed by the
//! gate that wrote them (issue 9, item 6).
//!
//! A gate record is the entry's canonical encoding ([`Entry::encode`], the
//! *body*) followed by a **gate trailer**: three more fields in the same
//! `tag:u8 len:u16be value` framing, with tags above every tag an entry kind
//! defines, so they can only come last (specified in `docs/format.md`,
//! "Gate records"):
//!
//! ```text
//! record   = body [nonce] [weakened] key_id signature
//! nonce    = 0xEF 0x0010 16 bytes     random, chosen once per record by the gate (optional)
//! weakened = 0xF0 len:u16be list      what the weaker isolation mode left out (optional)
//! key_id   = 0xF1 0x0020 32 bytes     raw SHA-256 of the gate's public key
//! signature= 0xF2 0x0040 64 bytes     Ed25519 over PAE(GATE_RECORD_PAYLOAD_TYPE, record up to here)
//! ```
//!
//! The signature covers every byte before its own field, under DSSE's
//! pre-authentication encoding with its own payload type (so no writ, status
//! or approval signature can be replayed as a record signature, nor the
//! reverse).
//!
//! The **nonce** makes two runs distinct records: two legitimate runs of one
//! writ on one host in the same second have identical entries, and the
//! authority logs a record's exact bytes once (a re-sent record is answered
//! with its first index). Gates draw a fresh nonce for every record they sign
//! ([`GateRecord::sign_with_nonce`]) and keep the signed bytes, so a re-send
//! after a crash is still the same bytes. A record without a trailer is an unsigned entry, byte for byte
//! what `Entry::encode` gives. [`Entry::decode`] reads both and returns the
//! entry; [`GateRecord::decode`] also returns the trailer, and
//! `GateRecord::decode(b)?.encode()? == b` for every record it accepts.
//!
//! ```
//! use writ_core::entry::{Denial, Entry};
//! use writ_core::gate_record::GateRecord;
//! use writ_core::{SigningKey, Timestamp};
//! let gate = SigningKey::from_seed(&[7; 32]);
//! let e = Entry::Denial(Denial {
//!     time: Timestamp(1_700_000_000), request_id: None, writ_id: None,
//!     code: "malformed".into(), detail: "not a writ".into(), host: Some("build-01".into()),
//! });
//! let bytes = GateRecord::sign(e.clone(), Vec::new(), &gate).unwrap();
//! let r = GateRecord::decode(&bytes).unwrap();
//! assert_eq!((&r.entry, r.signer()), (&e, Some(gate.key_id())));
//! assert!(r.verify_with(&gate.public()));
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::digest::Sha256Digest;
use crate::dsse::pae;
use crate::entry::{Entry, EntryError, EntryKind, MAX_ENTRY_BYTES, MAX_LIST_ITEMS, MAX_STR_BYTES};
use crate::keys::{KeyId, PublicKey, SIGNATURE_LEN, SigningKey};
use crate::trust::{Role, TrustRoot, TrustedKey};

/// The DSSE payload type a gate record's signature is made under.
pub const GATE_RECORD_PAYLOAD_TYPE: &str = "application/vnd.writ.gate-record.v1";
/// Tag of the optional per-record nonce (16 bytes).
pub const TAG_NONCE: u8 = 0xEF;
/// Length of the nonce.
pub const NONCE_LEN: usize = 16;
/// Tag of the optional `weakened` list.
pub const TAG_WEAKENED: u8 = 0xF0;
/// Tag of the gate key id.
pub const TAG_GATE_KEY: u8 = 0xF1;
/// Tag of the gate signature.
pub const TAG_GATE_SIGNATURE: u8 = 0xF2;

/// The signature part of a gate record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSignature {
    /// The gate key that signed.
    pub key_id: KeyId,
    /// Ed25519 signature over [`GateRecord::signing_input`].
    pub signature: [u8; SIGNATURE_LEN],
}

/// An entry with its optional gate trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRecord {
    /// The entry.
    pub entry: Entry,
    /// The record's nonce, when it has one (gates always set it).
    pub nonce: Option<[u8; NONCE_LEN]>,
    /// What the weaker isolation mode (allowed by the trust root for this
    /// gate) left out of the run, e.g. `run_as`, `cgroup`.
    pub weakened: Vec<String>,
    /// The gate's signature, when signed.
    pub gate: Option<GateSignature>,
}

/// Why a gate record is not accepted as signed by a gate of a trust root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateRecordError {
    /// The bytes are not an entry (or not a well-formed gate record).
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The record carries no gate signature.
    #[error("the {0} record carries no gate signature; gates sign their records with their gate key")]
    Unsigned(&'static str),
    /// The signature does not verify under a gate key of the trust root
    /// valid at the record's time.
    #[error("the {kind} record's gate signature does not verify: {why}")]
    BadSignature {
        /// Entry kind.
        kind: &'static str,
        /// What failed.
        why: String,
    },
}

impl GateRecordError {
    /// The stable code: `unsigned_gate_record`, `bad_gate_signature`, or
    /// `malformed`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Entry(_) => "malformed",
            Self::Unsigned(_) => "unsigned_gate_record",
            Self::BadSignature { .. } => "bad_gate_signature",
        }
    }
}

/// Whether entries of `kind` are gate records (may carry a gate trailer).
#[must_use]
pub fn is_gate_kind(kind: EntryKind) -> bool {
    matches!(kind, EntryKind::ExecStart | EntryKind::ExecEnd | EntryKind::Denial)
}

fn push_field(out: &mut Vec<u8>, tag: u8, v: &[u8]) -> Result<(), EntryError> {
    let len = u16::try_from(v.len()).map_err(|_| EntryError::TooLarge { size: v.len() })?;
    out.push(tag);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(v);
    Ok(())
}

fn encode_list(items: &[String]) -> Result<Vec<u8>, EntryError> {
    if items.len() > MAX_LIST_ITEMS {
        return Err(EntryError::FieldTooLong { field: "weakened", max: MAX_LIST_ITEMS });
    }
    let mut v = Vec::new();
    for it in items {
        let len = u16::try_from(it.len())
            .ok()
            .filter(|_| it.len() <= MAX_STR_BYTES)
            .ok_or(EntryError::FieldTooLong { field: "weakened", max: MAX_STR_BYTES })?;
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(it.as_bytes());
    }
    Ok(v)
}

fn decode_list(mut v: &[u8]) -> Result<Vec<String>, EntryError> {
    if v.is_empty() {
        return Err(EntryError::Malformed("a present list field must not be empty"));
    }
    let mut out = Vec::new();
    while !v.is_empty() {
        if out.len() >= MAX_LIST_ITEMS {
            return Err(EntryError::FieldTooLong { field: "weakened", max: MAX_LIST_ITEMS });
        }
        let (len, r) = v.split_first_chunk::<2>().ok_or(EntryError::Malformed("truncated list item length"))?;
        let (item, r) = r
            .split_at_checked(usize::from(u16::from_be_bytes(*len)))
            .ok_or(EntryError::Malformed("truncated list item"))?;
        let s = core::str::from_utf8(item).map_err(|_| EntryError::Malformed("list item is not valid UTF-8"))?;
        out.push(String::from(s));
        v = r;
    }
    Ok(out)
}

/// Where the gate trailer starts: the offset of the first field whose tag
/// is [`TAG_NONCE`] or above (`None`: no trailer). Only the framing is
/// read; the body is decoded strictly afterwards.
fn trailer_start(bytes: &[u8]) -> Option<usize> {
    let mut pos = 2;
    while let Some(&tag) = bytes.get(pos) {
        if tag >= TAG_NONCE {
            return Some(pos);
        }
        let len: [u8; 2] = bytes.get(pos + 1..pos + 3)?.try_into().ok()?;
        pos += 3 + usize::from(u16::from_be_bytes(len));
    }
    None
}

impl GateRecord {
    /// An unsigned record of `entry`.
    #[must_use]
    pub fn unsigned(entry: Entry) -> Self {
        Self { entry, nonce: None, weakened: Vec::new(), gate: None }
    }

    /// The key that signed, when signed.
    #[must_use]
    pub fn signer(&self) -> Option<KeyId> {
        self.gate.as_ref().map(|g| g.key_id)
    }

    /// Encodes, signs with `key` and returns the record's bytes, without a
    /// nonce (deterministic: for vectors and tests; gates use
    /// [`Self::sign_with_nonce`]).
    ///
    /// # Errors
    /// [`EntryError`] when the entry is over a limit or not a gate kind.
    pub fn sign(entry: Entry, weakened: Vec<String>, key: &SigningKey) -> Result<Vec<u8>, EntryError> {
        Self::sign_inner(&entry, None, &weakened, key)
    }

    /// As [`Self::sign`], with the record's `nonce` (a fresh random value per
    /// record, so that two identical runs are two records).
    ///
    /// # Errors
    /// As [`Self::sign`].
    pub fn sign_with_nonce(
        entry: Entry,
        nonce: [u8; NONCE_LEN],
        weakened: Vec<String>,
        key: &SigningKey,
    ) -> Result<Vec<u8>, EntryError> {
        Self::sign_inner(&entry, Some(&nonce), &weakened, key)
    }

    fn sign_inner(
        entry: &Entry,
        nonce: Option<&[u8; NONCE_LEN]>,
        weakened: &[String],
        key: &SigningKey,
    ) -> Result<Vec<u8>, EntryError> {
        let mut out = Self::unsigned_prefix(entry, nonce, weakened, &key.key_id())?;
        let sig = key.sign(&pae(GATE_RECORD_PAYLOAD_TYPE, &out));
        push_field(&mut out, TAG_GATE_SIGNATURE, &sig)?;
        if out.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge { size: out.len() });
        }
        Ok(out)
    }

    /// Body, nonce, `weakened` and key id: the bytes the signature covers
    /// (before PAE).
    fn unsigned_prefix(
        entry: &Entry,
        nonce: Option<&[u8; NONCE_LEN]>,
        weakened: &[String],
        key_id: &KeyId,
    ) -> Result<Vec<u8>, EntryError> {
        if !is_gate_kind(entry.kind()) {
            return Err(EntryError::Malformed("only exec_start, exec_end and denial entries are gate records"));
        }
        let mut out = entry.encode()?;
        if let Some(n) = nonce {
            push_field(&mut out, TAG_NONCE, n)?;
        }
        if !weakened.is_empty() {
            push_field(&mut out, TAG_WEAKENED, &encode_list(weakened)?)?;
        }
        push_field(&mut out, TAG_GATE_KEY, &key_id.0.0)?;
        Ok(out)
    }

    /// The canonical bytes (with the trailer when signed).
    ///
    /// # Errors
    /// [`EntryError`] when over a limit, or `weakened` without a signature.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let Some(g) = &self.gate else {
            if !self.weakened.is_empty() || self.nonce.is_some() {
                return Err(EntryError::Malformed("a gate trailer needs the gate's key id and signature"));
            }
            return self.entry.encode();
        };
        let mut out = Self::unsigned_prefix(&self.entry, self.nonce.as_ref(), &self.weakened, &g.key_id)?;
        push_field(&mut out, TAG_GATE_SIGNATURE, &g.signature)?;
        if out.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge { size: out.len() });
        }
        Ok(out)
    }

    /// What the signature signs: `PAE(GATE_RECORD_PAYLOAD_TYPE, body ‖
    /// nonce? ‖ weakened? ‖ key_id field)`.
    ///
    /// # Errors
    /// As [`Self::encode`]; an unsigned record has no signing input.
    pub fn signing_input(&self) -> Result<Vec<u8>, EntryError> {
        let g = self.gate.as_ref().ok_or(EntryError::Malformed("an unsigned record has no signing input"))?;
        Ok(pae(
            GATE_RECORD_PAYLOAD_TYPE,
            &Self::unsigned_prefix(&self.entry, self.nonce.as_ref(), &self.weakened, &g.key_id)?,
        ))
    }

    /// Decodes strictly: the body as [`Entry::decode`] would, then at most
    /// one well-formed trailer (on gate kinds only), nothing after it.
    ///
    /// # Errors
    /// [`EntryError`] naming the first deviation.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge { size: bytes.len() });
        }
        let Some(at) = trailer_start(bytes) else {
            return Ok(Self::unsigned(Entry::decode_body(bytes)?));
        };
        let (body, mut rest) = bytes.split_at(at);
        let entry = Entry::decode_body(body)?;
        if !is_gate_kind(entry.kind()) {
            let tag = rest.first().copied().unwrap_or(TAG_NONCE);
            return Err(EntryError::UnknownField { kind: entry.kind().as_str(), tag });
        }
        let mut field = |want: u8| -> Result<Option<&[u8]>, EntryError> {
            match rest.split_first() {
                Some((&tag, after)) if tag == want => {
                    let (len, r) =
                        after.split_first_chunk::<2>().ok_or(EntryError::Malformed("truncated field length"))?;
                    let (v, r) = r
                        .split_at_checked(usize::from(u16::from_be_bytes(*len)))
                        .ok_or(EntryError::Malformed("truncated field value"))?;
                    rest = r;
                    Ok(Some(v))
                }
                _ => Ok(None),
            }
        };
        let nonce = field(TAG_NONCE)?
            .map(|n| {
                <[u8; NONCE_LEN]>::try_from(n).map_err(|_| EntryError::Malformed("the nonce field must be 16 bytes"))
            })
            .transpose()?;
        let weakened = field(TAG_WEAKENED)?.map(decode_list).transpose()?.unwrap_or_default();
        let key = field(TAG_GATE_KEY)?.ok_or(EntryError::Malformed("a gate trailer needs the gate's key id"))?;
        let key_id = KeyId(Sha256Digest(
            key.try_into().map_err(|_| EntryError::Malformed("the gate key id field must be 32 bytes"))?,
        ));
        let sig =
            field(TAG_GATE_SIGNATURE)?.ok_or(EntryError::Malformed("a gate trailer needs the gate's signature"))?;
        let signature: [u8; SIGNATURE_LEN] =
            sig.try_into().map_err(|_| EntryError::Malformed("the gate signature field must be 64 bytes"))?;
        if let Some(&tag) = rest.first() {
            return Err(EntryError::UnknownField { kind: entry.kind().as_str(), tag });
        }
        Ok(Self { entry, nonce, weakened, gate: Some(GateSignature { key_id, signature }) })
    }

    /// Whether the signature verifies under `key` (`verify_strict`).
    #[must_use]
    pub fn verify_with(&self, key: &PublicKey) -> bool {
        match (&self.gate, self.signing_input()) {
            (Some(g), Ok(input)) => key.key_id() == g.key_id && key.verify_strict(&input, &g.signature),
            _ => false,
        }
    }

    /// The gate key of `trust` that signed this record: it names a key with
    /// the `gate` role, not revoked, whose window contains the record's time,
    /// and the signature verifies under it.
    ///
    /// # Errors
    /// [`GateRecordError::Unsigned`], [`GateRecordError::BadSignature`].
    pub fn verified_gate<'t>(&self, trust: &'t TrustRoot) -> Result<&'t TrustedKey, GateRecordError> {
        let kind = self.entry.kind().as_str();
        let g = self.gate.as_ref().ok_or(GateRecordError::Unsigned(kind))?;
        let bad = |why: String| GateRecordError::BadSignature { kind, why };
        let k = trust.key(&g.key_id).ok_or_else(|| bad(alloc::format!("key {} is not in the trust root", g.key_id)))?;
        if !k.has_role(Role::Gate) {
            return Err(bad(alloc::format!("key `{}` ({}) has no `gate` role", k.entry.name, g.key_id)));
        }
        if k.entry.revoked {
            return Err(bad(alloc::format!("gate key `{}` ({}) is revoked", k.entry.name, g.key_id)));
        }
        let time = self.entry.time();
        if !k.valid_at(time) {
            return Err(bad(alloc::format!("gate key `{}` is not valid at the record's time {time}", k.entry.name)));
        }
        if !self.verify_with(&k.key) {
            return Err(bad(alloc::format!("the signature is not gate key `{}`'s over this record", k.entry.name)));
        }
        Ok(k)
    }

    /// The host this record is about (`exec_*`: its host; a denial: its host
    /// when it names one).
    #[must_use]
    pub fn host(&self) -> Option<&str> {
        match &self.entry {
            Entry::ExecStart(e) => Some(&e.host),
            Entry::ExecEnd(e) => Some(&e.host),
            Entry::Denial(e) => e.host.as_deref(),
            _ => None,
        }
    }

    /// [`Entry::to_json`] plus `nonce` (hex), `weakened`, `gate_key_id` and
    /// `gate_signature` (standard base64) when present.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = self.entry.to_json();
        if let serde_json::Value::Object(m) = &mut v {
            if let Some(n) = &self.nonce {
                m.insert("nonce".into(), serde_json::Value::String(hex::encode(n)));
            }
            if !self.weakened.is_empty() {
                m.insert("weakened".into(), serde_json::json!(self.weakened));
            }
            if let Some(g) = &self.gate {
                m.insert("gate_key_id".into(), serde_json::Value::String(g.key_id.to_string()));
                m.insert("gate_signature".into(), serde_json::Value::String(crate::b64::encode(&g.signature)));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::entry::{ExecEnd, ExecStart, Revocation};
    use crate::time::Timestamp;
    use crate::trust::key_entry;
    use alloc::vec;

    fn gate() -> SigningKey {
        SigningKey::from_seed(&[0x47; 32])
    }

    fn start() -> Entry {
        Entry::ExecStart(ExecStart {
            time: Timestamp(1_700_000_000),
            request_id: "req-1".into(),
            writ_id: "writ-1".into(),
            host: "build-01".into(),
            program_digest: Sha256Digest([5; 32]),
            argv_digest: Sha256Digest([6; 32]),
        })
    }

    fn trust(entry: impl FnOnce(&mut crate::trust::TrustedKeyFile)) -> TrustRoot {
        let mut t = TrustRoot::empty();
        let mut e = key_entry("gate-1", vec![Role::Gate], vec![], &gate().public());
        entry(&mut e);
        t.add(e).unwrap();
        t
    }

    #[test]
    fn a_signed_record_roundtrips_and_verifies_under_its_gate_key() {
        let bytes = GateRecord::sign(start(), vec!["run_as".into()], &gate()).unwrap();
        assert_eq!(&bytes[..start().encode().unwrap().len()], &start().encode().unwrap()[..], "body first");
        let r = GateRecord::decode(&bytes).unwrap();
        assert_eq!(r.encode().unwrap(), bytes);
        assert_eq!(Entry::decode(&bytes).unwrap(), start(), "Entry::decode reads the entry of a record");
        assert_eq!(r.weakened, ["run_as"]);
        assert_eq!(r.verified_gate(&trust(|_| {})).unwrap().entry.name, "gate-1");
        // An unsigned entry is a record without trailer.
        let plain = start().encode().unwrap();
        assert_eq!(GateRecord::decode(&plain).unwrap(), GateRecord::unsigned(start()));
        assert_eq!(
            GateRecord::unsigned(start()).verified_gate(&trust(|_| {})).unwrap_err().code(),
            "unsigned_gate_record"
        );
    }

    #[test]
    fn every_change_to_a_signed_record_is_refused() {
        let bytes = GateRecord::sign(start(), vec!["cgroup".into()], &gate()).unwrap();
        let t = trust(|_| {});
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                if let Ok(r) = GateRecord::decode(&b) {
                    assert!(r.verified_gate(&t).is_err(), "byte {i} ^ {flip:#x} still verifies");
                }
            }
        }
        // The trailer dropped, or moved onto another kind: no longer signed / refused.
        let end = Entry::ExecEnd(ExecEnd {
            time: Timestamp(1_700_000_001),
            request_id: "req-1".into(),
            writ_id: "writ-1".into(),
            host: "build-01".into(),
            outcome: "exited".into(),
            exit_code: Some(0),
        });
        let signed_end = GateRecord::sign(end.clone(), vec![], &gate()).unwrap();
        let trailer = &bytes[start().encode().unwrap().len()..];
        let mut spliced = end.encode().unwrap();
        spliced.extend_from_slice(trailer);
        assert_eq!(GateRecord::decode(&spliced).unwrap().verified_gate(&t).unwrap_err().code(), "bad_gate_signature");
        assert!(GateRecord::decode(&signed_end).unwrap().verified_gate(&t).is_ok());
        let revocation = Entry::Revocation(Revocation {
            time: Timestamp(1),
            request_id: "r".into(),
            writ_id: "w".into(),
            revoked_by: "a".into(),
            reason: "x".into(),
        });
        let mut b = revocation.encode().unwrap();
        b.extend_from_slice(trailer);
        assert!(matches!(GateRecord::decode(&b), Err(EntryError::UnknownField { tag: TAG_WEAKENED, .. })));
        assert!(GateRecord::sign(revocation, vec![], &gate()).is_err());
        // Trailing bytes, a truncated trailer, a trailer without signature.
        let mut b = bytes.clone();
        b.extend_from_slice(&[0xF3, 0, 0]);
        assert!(GateRecord::decode(&b).is_err());
        for n in start().encode().unwrap().len() + 1..bytes.len() {
            assert!(GateRecord::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn the_key_must_be_a_valid_gate_key_of_the_trust_root() {
        let bytes = GateRecord::sign(start(), vec![], &gate()).unwrap();
        let r = GateRecord::decode(&bytes).unwrap();
        let code = |t: TrustRoot| r.verified_gate(&t).map(|_| ()).unwrap_err().code();
        assert_eq!(code(trust(|e| e.roles = vec![Role::Issuer])), "bad_gate_signature");
        assert_eq!(code(trust(|e| e.revoked = true)), "bad_gate_signature");
        assert_eq!(code(trust(|e| e.not_after = Some(Timestamp(1_700_000_000)))), "bad_gate_signature");
        assert_eq!(code(TrustRoot::empty()), "bad_gate_signature");
        // Another key's signature under this key id.
        let other = SigningKey::from_seed(&[0x48; 32]);
        let mut forged = r.clone();
        let sig = other.sign(&forged.signing_input().unwrap());
        forged.gate = Some(GateSignature { key_id: gate().key_id(), signature: sig.try_into().unwrap() });
        assert_eq!(code_of(&forged, &trust(|_| {})), "bad_gate_signature");
    }

    #[test]
    fn the_nonce_makes_identical_runs_distinct_signed_records() {
        let t = trust(|_| {});
        let a = GateRecord::sign_with_nonce(start(), [1; NONCE_LEN], vec!["run_as".into()], &gate()).unwrap();
        let b = GateRecord::sign_with_nonce(start(), [2; NONCE_LEN], vec!["run_as".into()], &gate()).unwrap();
        assert_ne!(a, b, "two runs with identical entries are two records");
        for bytes in [&a, &b] {
            let r = GateRecord::decode(bytes).unwrap();
            assert_eq!(&r.encode().unwrap(), bytes);
            assert_eq!(r.entry, start());
            assert_eq!(Entry::decode(bytes).unwrap(), start());
            assert!(r.verified_gate(&t).is_ok());
        }
        assert_eq!(GateRecord::decode(&a).unwrap().nonce, Some([1; NONCE_LEN]));
        assert_eq!(GateRecord::decode(&a).unwrap().to_json()["nonce"], "01".repeat(NONCE_LEN));
        // The nonce is signed: change it (or drop it) and the signature fails.
        let at = start().encode().unwrap().len();
        assert_eq!(a[at], TAG_NONCE);
        let mut changed = a.clone();
        changed[at + 3] ^= 0x01;
        assert_eq!(code_of(&GateRecord::decode(&changed).unwrap(), &t), "bad_gate_signature");
        let mut dropped = a[..at].to_vec();
        dropped.extend_from_slice(&a[at + 3 + NONCE_LEN..]);
        assert_eq!(code_of(&GateRecord::decode(&dropped).unwrap(), &t), "bad_gate_signature");
        // A nonce of another length, a nonce after the weakened list, a nonce without signature.
        let mut short = a[..at].to_vec();
        short.extend_from_slice(&[TAG_NONCE, 0, 15]);
        short.extend_from_slice(&a[at + 3 + 1..]);
        assert!(GateRecord::decode(&short).is_err());
        let mut unsigned = GateRecord::decode(&a).unwrap();
        unsigned.gate = None;
        assert!(unsigned.encode().is_err());
    }

    fn code_of(r: &GateRecord, t: &TrustRoot) -> &'static str {
        r.verified_gate(t).map(|_| ()).unwrap_err().code()
    }
}
