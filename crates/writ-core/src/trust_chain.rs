//! Signed, versioned trust roots: the idea of TUF's root metadata in writ's
//! own format (specified in `docs/format.md`, "Trust root versions").
//!
//! A *trust-root version* is a DSSE envelope (payload type
//! [`TRUST_ROOT_PAYLOAD_TYPE`]) whose payload is a [`RootVersionFile`]: a
//! version number, the digest of the previous version's payload, an expiry,
//! the quorum of `root`-role keys that must sign the next version, and the
//! trust-root document itself ([`TrustRootFile`]). Its *digest* is the
//! SHA-256 of the payload bytes, so collecting signatures never changes it.
//!
//! - Version 1 is signed by a quorum of its own root keys and is trusted
//!   because its digest is pinned ([`verify_pinned`]).
//! - Version `n + 1` names version `n`'s digest and is signed by a quorum of
//!   the root keys of version `n` *and* a quorum of its own root keys
//!   ([`verify_successor`]), so a version can neither be forged by keys the
//!   previous version did not trust nor lock everyone out with keys nobody
//!   holds.
//! - Versions only move forward one at a time: an older or equal version is
//!   a rollback, a skipped version a gap; the newest version in use must not
//!   be expired ([`verify_chain`]).
//!
//! Every function is pure: the time comes in as an argument.
//!
//! ```
//! use writ_core::trust_chain::{self, RootErrorCode};
//! use writ_core::trust::{Role, key_entry};
//! use writ_core::{SigningKey, Timestamp, TrustRoot};
//!
//! let root = SigningKey::from_seed(&[1; 32]);
//! let mut trust = TrustRoot::empty();
//! trust.add(key_entry("root", vec![Role::Root], vec![], &root.public())).unwrap();
//! let expires = Timestamp(2_000_000_000);
//! let v1 = trust_chain::initial(trust.file().clone(), 1, expires).unwrap();
//! let v1 = trust_chain::sign(&v1, &root).unwrap();
//! let pin = trust_chain::parse(&v1).unwrap().digest();
//! let now = Timestamp(1_800_000_000);
//! let first = trust_chain::verify_chain(&pin, [v1.as_slice()], now).unwrap();
//! assert_eq!(first.version(), 1);
//!
//! // An unsigned successor is refused.
//! let v2 = trust_chain::propose(&first, trust.file().clone(), 1, expires).unwrap();
//! let err = trust_chain::verify_successor(&first, &v2, now).unwrap_err();
//! assert_eq!(err.code, RootErrorCode::QuorumNotMet);
//! ```

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString as _};
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::b64;
use crate::denial::{Denial, DenialCode};
use crate::digest::Sha256Digest;
use crate::dsse::{self, Envelope, EnvelopeSignature};
use crate::entry::{Entry, KeyChange};
use crate::keys::{KeyId, SIGNATURE_LEN, SigningKey};
use crate::limits::MAX_TRUST_ROOT_BYTES;
use crate::time::Timestamp;
use crate::trust::{Role, TrustRoot, TrustRootFile, TrustedKeyFile};

/// DSSE payload type of a trust-root version.
pub const TRUST_ROOT_PAYLOAD_TYPE: &str = "application/vnd.writ.trust-root+json";
/// The `_type` of a trust-root version payload.
pub const TRUST_ROOT_TYPE: &str = "https://writ.dev/trust-root/v1";
/// Largest signed trust-root version (the envelope JSON as received), in bytes.
pub const MAX_SIGNED_ROOT_BYTES: usize = 1536 * 1024;
/// Largest decoded payload of a trust-root version, in bytes.
pub const MAX_ROOT_PAYLOAD_BYTES: usize = MAX_TRUST_ROOT_BYTES;
/// Most signatures one trust-root version may carry.
pub const MAX_ROOT_SIGNATURES: usize = 32;
/// Largest `root_threshold`.
pub const MAX_ROOT_THRESHOLD: u32 = 16;
/// Most versions one call of [`verify_chain`] walks.
pub const MAX_CHAIN_LENGTH: usize = 1024;
/// `role` of the ledger `key_change` entry that records a whole version.
pub const KEY_CHANGE_ROLE: &str = "trust_root";

/// The payload of a trust-root version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootVersionFile {
    /// Always [`TRUST_ROOT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// 1 for the first version, then exactly one more than the previous.
    pub version: u64,
    /// Digest of the previous version's payload (absent in version 1 only).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_digest")]
    pub previous: Option<Sha256Digest>,
    /// After this instant the version may not be taken into use.
    pub expires: Timestamp,
    /// How many of this version's `root` keys must sign the next version
    /// (and this one).
    pub root_threshold: u32,
    /// The trust root in force while this version is current.
    pub trust: TrustRootFile,
}

mod opt_digest {
    use super::*;

    #[expect(clippy::ref_option, reason = "serde's `with` passes `&Option<T>`")]
    pub fn serialize<S: Serializer>(d: &Option<Sha256Digest>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&d.to_hex()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sha256Digest>, D::Error> {
        let s = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        Sha256Digest::from_hex(&s).map(Some).map_err(serde::de::Error::custom)
    }
}

/// Why a trust-root version was refused: a closed set of stable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RootErrorCode {
    /// Not a well-formed trust-root version (JSON, base64, fields, bounds, keys).
    Malformed,
    /// Larger than the format allows.
    TooLarge,
    /// Another payload type or `_type`.
    Unsupported,
    /// A signature by a root key does not verify.
    BadSignature,
    /// A signature is by a key that is not an active root key of the previous
    /// or of this version.
    UnknownKey,
    /// Fewer distinct root keys signed than a threshold demands.
    QuorumNotMet,
    /// The version is not newer than the one in force.
    Rollback,
    /// The version skips one or more versions.
    VersionGap,
    /// `previous` is not the digest of the version in force.
    PreviousMismatch,
    /// The version's `expires` has passed.
    Expired,
    /// The first version's digest is not the pinned one.
    PinMismatch,
}

impl RootErrorCode {
    /// Every code, in documentation order.
    pub const ALL: [Self; 11] = [
        Self::Malformed,
        Self::TooLarge,
        Self::Unsupported,
        Self::BadSignature,
        Self::UnknownKey,
        Self::QuorumNotMet,
        Self::Rollback,
        Self::VersionGap,
        Self::PreviousMismatch,
        Self::Expired,
        Self::PinMismatch,
    ];

    /// The stable snake_case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::Unsupported => "unsupported",
            Self::BadSignature => "bad_signature",
            Self::UnknownKey => "unknown_key",
            Self::QuorumNotMet => "quorum_not_met",
            Self::Rollback => "rollback",
            Self::VersionGap => "version_gap",
            Self::PreviousMismatch => "previous_mismatch",
            Self::Expired => "expired",
            Self::PinMismatch => "pin_mismatch",
        }
    }

    /// The writ denial code a gate reports when it cannot use a trust root
    /// for this reason.
    #[must_use]
    pub const fn denial_code(self) -> DenialCode {
        match self {
            Self::Malformed => DenialCode::Malformed,
            Self::TooLarge => DenialCode::TooLarge,
            Self::Unsupported => DenialCode::Unsupported,
            Self::BadSignature => DenialCode::BadSignature,
            Self::UnknownKey | Self::QuorumNotMet => DenialCode::UnknownKey,
            Self::Rollback | Self::VersionGap | Self::PreviousMismatch | Self::PinMismatch => DenialCode::LineageBroken,
            Self::Expired => DenialCode::Expired,
        }
    }
}

impl fmt::Display for RootErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused trust-root version: a stable code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("trust root refused ({code}): {detail}")]
pub struct RootError {
    /// Stable code.
    pub code: RootErrorCode,
    /// What is wrong, and where possible what to do.
    pub detail: String,
}

impl RootError {
    fn new(code: RootErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into() }
    }
}

impl From<RootError> for Denial {
    fn from(e: RootError) -> Self {
        Denial { code: e.code.denial_code(), detail: alloc::format!("trust root: {}", e.detail) }
    }
}

fn malformed(detail: impl Into<String>) -> RootError {
    RootError::new(RootErrorCode::Malformed, detail)
}

/// A trust-root version that parsed and whose document is valid, with its
/// signatures decoded but not checked. Read it to show a proposal; trust it
/// only through [`verify_pinned`], [`verify_successor`] or [`verify_chain`].
#[derive(Clone, Debug)]
pub struct UnverifiedTrustRoot {
    bytes: Vec<u8>,
    payload: Vec<u8>,
    digest: Sha256Digest,
    meta: RootVersionFile,
    trust: TrustRoot,
    signatures: Vec<(KeyId, Vec<u8>)>,
}

/// A trust-root version whose signatures, version and link to its
/// predecessor (or pin) checked out. Only the `verify_*` functions make one.
#[derive(Clone, Debug)]
pub struct SignedTrustRoot {
    inner: UnverifiedTrustRoot,
    signed_by: Vec<KeyId>,
}

macro_rules! accessors {
    () => {
        /// The version number.
        #[must_use]
        pub fn version(&self) -> u64 {
            self.meta().version
        }
        /// SHA-256 of the payload: what pins and `previous` name.
        #[must_use]
        pub fn digest(&self) -> Sha256Digest {
            self.base().digest
        }
        /// The previous version's digest (`None` for version 1).
        #[must_use]
        pub fn previous(&self) -> Option<Sha256Digest> {
            self.meta().previous
        }
        /// When the version expires.
        #[must_use]
        pub fn expires(&self) -> Timestamp {
            self.meta().expires
        }
        /// How many root keys must sign the next version.
        #[must_use]
        pub fn root_threshold(&self) -> u32 {
            self.meta().root_threshold
        }
        /// The trust root this version puts in force.
        #[must_use]
        pub fn trust(&self) -> &TrustRoot {
            &self.base().trust
        }
        /// The parsed payload.
        #[must_use]
        pub fn file(&self) -> &RootVersionFile {
            self.meta()
        }
        /// The envelope exactly as received (what is stored and served).
        #[must_use]
        pub fn envelope_bytes(&self) -> &[u8] {
            &self.base().bytes
        }
        /// The payload bytes (what was signed, inside DSSE's PAE).
        #[must_use]
        pub fn payload(&self) -> &[u8] {
            &self.base().payload
        }
        /// The key ids the envelope claims signed it, in envelope order.
        #[must_use]
        pub fn claimed_signers(&self) -> Vec<KeyId> {
            self.base().signatures.iter().map(|(k, _)| *k).collect()
        }
        /// The active (not revoked) `root` keys of this version.
        #[must_use]
        pub fn root_keys(&self) -> Vec<KeyId> {
            root_keys(&self.base().trust).into_iter().collect()
        }
    };
}

impl UnverifiedTrustRoot {
    fn base(&self) -> &UnverifiedTrustRoot {
        self
    }
    fn meta(&self) -> &RootVersionFile {
        &self.meta
    }
    accessors!();
}

impl SignedTrustRoot {
    fn base(&self) -> &UnverifiedTrustRoot {
        &self.inner
    }
    fn meta(&self) -> &RootVersionFile {
        &self.inner.meta
    }
    accessors!();

    /// The key ids whose signatures verified and counted, sorted.
    #[must_use]
    pub fn signed_by(&self) -> &[KeyId] {
        &self.signed_by
    }

    /// Whether the version has expired at `now` (a version is in force up to,
    /// not including, its `expires`).
    #[must_use]
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires()
    }

    /// Refuses a version that has expired at `now`.
    ///
    /// # Errors
    /// [`RootErrorCode::Expired`].
    pub fn check_fresh(&self, now: Timestamp) -> Result<(), RootError> {
        if self.is_expired(now) {
            return Err(RootError::new(
                RootErrorCode::Expired,
                alloc::format!(
                    "version {} expired at {}; the root keys must sign and publish a newer version",
                    self.version(),
                    self.expires()
                ),
            ));
        }
        Ok(())
    }
}

/// The active `root` keys of a trust root.
fn root_keys(trust: &TrustRoot) -> BTreeSet<KeyId> {
    trust.keys().iter().filter(|k| k.has_role(Role::Root) && !k.entry.revoked).map(|k| k.entry.key_id).collect()
}

/// Parses a trust-root version strictly, checking its document and its
/// root-key settings; signatures are decoded, not checked (there may be none).
///
/// # Errors
/// [`RootErrorCode::TooLarge`], [`RootErrorCode::Unsupported`] or
/// [`RootErrorCode::Malformed`], naming the problem.
pub fn parse(bytes: &[u8]) -> Result<UnverifiedTrustRoot, RootError> {
    if bytes.len() > MAX_SIGNED_ROOT_BYTES {
        return Err(RootError::new(
            RootErrorCode::TooLarge,
            alloc::format!("the signed trust root is {} bytes; the limit is {MAX_SIGNED_ROOT_BYTES}", bytes.len()),
        ));
    }
    let env: Envelope = crate::json::from_slice(bytes).map_err(|e| malformed(alloc::format!("envelope: {e}")))?;
    if env.payload_type != TRUST_ROOT_PAYLOAD_TYPE {
        return Err(RootError::new(
            RootErrorCode::Unsupported,
            alloc::format!("payload type `{}` is not `{TRUST_ROOT_PAYLOAD_TYPE}`", env.payload_type),
        ));
    }
    if env.signatures.len() > MAX_ROOT_SIGNATURES {
        return Err(RootError::new(
            RootErrorCode::TooLarge,
            alloc::format!("more than {MAX_ROOT_SIGNATURES} signatures"),
        ));
    }
    let payload = b64::decode(&env.payload, MAX_ROOT_PAYLOAD_BYTES)
        .map_err(|e| malformed(alloc::format!("envelope payload: {e}")))?;
    let mut signatures: Vec<(KeyId, Vec<u8>)> = Vec::with_capacity(env.signatures.len());
    for s in &env.signatures {
        let keyid =
            KeyId::parse(&s.keyid).map_err(|e| malformed(alloc::format!("signature keyid `{}`: {e}", s.keyid)))?;
        let sig = b64::decode(&s.sig, SIGNATURE_LEN).map_err(|e| malformed(alloc::format!("signature: {e}")))?;
        if sig.len() != SIGNATURE_LEN {
            return Err(malformed("a signature is not 64 bytes"));
        }
        if signatures.iter().any(|(k, _)| *k == keyid) {
            return Err(malformed(alloc::format!("key {keyid} signed twice")));
        }
        signatures.push((keyid, sig));
    }
    let meta: RootVersionFile =
        crate::json::from_slice(&payload).map_err(|e| malformed(alloc::format!("payload: {e}")))?;
    let trust = check_meta(&meta)?;
    Ok(UnverifiedTrustRoot {
        bytes: bytes.to_vec(),
        digest: Sha256Digest::of(&payload),
        payload,
        meta,
        trust,
        signatures,
    })
}

fn check_meta(meta: &RootVersionFile) -> Result<TrustRoot, RootError> {
    if meta.type_ != TRUST_ROOT_TYPE {
        return Err(RootError::new(
            RootErrorCode::Unsupported,
            alloc::format!("`_type` `{}` is not `{TRUST_ROOT_TYPE}`", meta.type_),
        ));
    }
    if meta.version == 0 || meta.version > i64::MAX as u64 {
        return Err(malformed("`version` must be between 1 and 2^63-1"));
    }
    match (meta.version, meta.previous) {
        (1, Some(_)) => return Err(malformed("version 1 has no `previous`")),
        (v, None) if v > 1 => return Err(malformed(alloc::format!("version {v} must name its `previous` version"))),
        _ => {}
    }
    let trust = TrustRoot::from_file(meta.trust.clone()).map_err(|e| malformed(e.to_string()))?;
    for k in trust.keys() {
        if k.has_role(Role::Root) && (k.entry.not_before.is_some() || k.entry.not_after.is_some()) {
            return Err(malformed(alloc::format!(
                "root key `{}` has a signing window; root keys are retired by a new version that drops or revokes them",
                k.entry.name
            )));
        }
    }
    let active = root_keys(&trust).len();
    if meta.root_threshold == 0 || meta.root_threshold > MAX_ROOT_THRESHOLD {
        return Err(malformed(alloc::format!("`root_threshold` must be between 1 and {MAX_ROOT_THRESHOLD}")));
    }
    if active < meta.root_threshold as usize {
        return Err(malformed(alloc::format!(
            "`root_threshold` is {} but the version lists {active} active root key(s); add `root` keys or lower the threshold",
            meta.root_threshold
        )));
    }
    Ok(trust)
}

/// Checks the signatures of `v` against the root keys of `quorums` (each a
/// trust root and its threshold, with the version name used in messages).
/// With `strict`, a signature by any other key is refused; otherwise it is
/// ignored (it cannot be checked without the version that lists its key).
fn check_quorums(
    v: &UnverifiedTrustRoot,
    quorums: &[(&TrustRoot, u32, u64)],
    strict: bool,
) -> Result<Vec<KeyId>, RootError> {
    let input = dsse::pae(TRUST_ROOT_PAYLOAD_TYPE, &v.payload);
    let sets: Vec<BTreeSet<KeyId>> = quorums.iter().map(|(t, _, _)| root_keys(t)).collect();
    let mut verified = BTreeSet::new();
    for (kid, sig) in &v.signatures {
        let key = quorums
            .iter()
            .zip(&sets)
            .find(|(_, set)| set.contains(kid))
            .and_then(|((t, _, _), _)| t.key(kid))
            .map(|k| k.key);
        let Some(key) = key else {
            if strict {
                let names: Vec<String> = quorums.iter().map(|(_, _, n)| alloc::format!("{n}")).collect();
                return Err(RootError::new(
                    RootErrorCode::UnknownKey,
                    alloc::format!(
                        "version {} carries a signature by key {kid}, which is not an active root key of version {}",
                        v.meta.version,
                        names.join(" or ")
                    ),
                ));
            }
            continue;
        };
        if !key.verify_strict(&input, sig) {
            return Err(RootError::new(
                RootErrorCode::BadSignature,
                alloc::format!("the signature of root key {kid} on version {} does not verify", v.meta.version),
            ));
        }
        verified.insert(*kid);
    }
    for ((_, threshold, name), set) in quorums.iter().zip(&sets) {
        let got = set.intersection(&verified).count();
        if got < *threshold as usize {
            return Err(RootError::new(
                RootErrorCode::QuorumNotMet,
                alloc::format!(
                    "version {} is signed by {got} of the root keys of version {name}; it needs {threshold}: \
                     have more root keys run `writ trust sign`",
                    v.meta.version
                ),
            ));
        }
    }
    Ok(verified.into_iter().collect())
}

/// Trusts a version because its digest is `pin` and a quorum of its own root
/// keys signed it. Its expiry is not checked here (it may be the start of a
/// chain that leads to a current version): see [`verify_chain`] and
/// [`SignedTrustRoot::check_fresh`].
///
/// # Errors
/// Parse errors; [`RootErrorCode::PinMismatch`]; a bad signature by one of
/// its root keys; [`RootErrorCode::QuorumNotMet`].
pub fn verify_pinned(bytes: &[u8], pin: &Sha256Digest) -> Result<SignedTrustRoot, RootError> {
    let v = parse(bytes)?;
    if v.digest != *pin {
        return Err(RootError::new(
            RootErrorCode::PinMismatch,
            alloc::format!("version {} has digest {}, not the pinned {pin}", v.meta.version, v.digest),
        ));
    }
    // Version 1 is signed by its own root keys only; a later pinned version
    // also carries its predecessor's signatures, which cannot be checked here.
    let strict = v.meta.version == 1;
    let signed_by = check_quorums(&v, &[(&v.trust, v.meta.root_threshold, v.meta.version)], strict)?;
    Ok(SignedTrustRoot { inner: v, signed_by })
}

fn successor(prev: &SignedTrustRoot, next_bytes: &[u8]) -> Result<SignedTrustRoot, RootError> {
    let v = parse(next_bytes)?;
    let (pv, nv) = (prev.version(), v.meta.version);
    if nv <= pv {
        return Err(RootError::new(
            RootErrorCode::Rollback,
            alloc::format!("version {nv} is not newer than version {pv} in force; a trust root never goes back"),
        ));
    }
    if nv != pv + 1 {
        return Err(RootError::new(
            RootErrorCode::VersionGap,
            alloc::format!("version {nv} does not follow version {pv}; supply versions {} to {nv} in order", pv + 1),
        ));
    }
    if v.meta.previous != Some(prev.digest()) {
        return Err(RootError::new(
            RootErrorCode::PreviousMismatch,
            alloc::format!(
                "version {nv} names previous {}, but version {pv} in force has digest {}",
                v.meta.previous.map_or_else(|| "nothing".into(), |d| d.to_hex()),
                prev.digest()
            ),
        ));
    }
    let signed_by =
        check_quorums(&v, &[(prev.trust(), prev.root_threshold(), pv), (&v.trust, v.meta.root_threshold, nv)], true)?;
    Ok(SignedTrustRoot { inner: v, signed_by })
}

/// Verifies `next_bytes` as the successor of `prev` exactly as
/// [`verify_successor`] does, except for its expiry: for history (a stored
/// chain, an audit), never to take a version into use.
///
/// # Errors
/// As [`verify_successor`], without `expired`.
pub fn verify_link(prev: &SignedTrustRoot, next_bytes: &[u8]) -> Result<SignedTrustRoot, RootError> {
    successor(prev, next_bytes)
}

/// Verifies `next_bytes` as the successor of `prev` at `now`: exactly one
/// version newer, naming `prev`'s digest, signed by a quorum of `prev`'s root
/// keys and a quorum of its own, every signature by one of those keys, and
/// not expired at `now`.
///
/// # Errors
/// [`RootError`] with its code: parse errors, `rollback`, `version_gap`,
/// `previous_mismatch`, `unknown_key`, `bad_signature`, `quorum_not_met`,
/// `expired`.
pub fn verify_successor(
    prev: &SignedTrustRoot,
    next_bytes: &[u8],
    now: Timestamp,
) -> Result<SignedTrustRoot, RootError> {
    let next = successor(prev, next_bytes)?;
    next.check_fresh(now)?;
    Ok(next)
}

/// Verifies a chain of versions from a pinned digest: the first is the
/// pinned version ([`verify_pinned`]), each next one its successor, and the
/// last must not be expired at `now` (earlier ones may be: they are history).
/// Returns the last version.
///
/// # Errors
/// An empty chain or one longer than [`MAX_CHAIN_LENGTH`] is `malformed`;
/// otherwise the first refusal, with the version it concerns in the message.
pub fn verify_chain<'a>(
    pin: &Sha256Digest,
    versions: impl IntoIterator<Item = &'a [u8]>,
    now: Timestamp,
) -> Result<SignedTrustRoot, RootError> {
    let mut it = versions.into_iter();
    let first = it.next().ok_or_else(|| malformed("the chain has no version"))?;
    let mut current = verify_pinned(first, pin)?;
    let mut n = 1usize;
    for bytes in it {
        n += 1;
        if n > MAX_CHAIN_LENGTH {
            return Err(malformed(alloc::format!("the chain is longer than {MAX_CHAIN_LENGTH} versions")));
        }
        current = successor(&current, bytes)?;
    }
    current.check_fresh(now)?;
    Ok(current)
}

/// Moves a held version forward: `newer` are the versions after `held`, in
/// order (a gate fetches them from the authority); each must be the
/// successor of the one before, and the last must not be expired at `now`.
/// With no newer version, `held` itself must not be expired.
///
/// # Errors
/// The first refusal (see [`verify_successor`]); more than
/// [`MAX_CHAIN_LENGTH`] versions is `malformed`.
pub fn verify_updates<'a>(
    held: &SignedTrustRoot,
    newer: impl IntoIterator<Item = &'a [u8]>,
    now: Timestamp,
) -> Result<SignedTrustRoot, RootError> {
    let mut current = held.clone();
    for (i, bytes) in newer.into_iter().enumerate() {
        if i >= MAX_CHAIN_LENGTH {
            return Err(malformed(alloc::format!("more than {MAX_CHAIN_LENGTH} versions")));
        }
        current = successor(&current, bytes)?;
    }
    current.check_fresh(now)?;
    Ok(current)
}

fn envelope(meta: &RootVersionFile, signatures: Vec<EnvelopeSignature>) -> Result<Vec<u8>, RootError> {
    let payload = serde_json::to_vec(meta).map_err(|e| malformed(e.to_string()))?;
    let env = Envelope { payload: b64::encode(&payload), payload_type: TRUST_ROOT_PAYLOAD_TYPE.into(), signatures };
    let bytes = serde_json::to_vec(&env).map_err(|e| malformed(e.to_string()))?;
    // What we write, we must read back.
    parse(&bytes)?;
    Ok(bytes)
}

/// An unsigned version 1 of `trust`.
///
/// # Errors
/// When the document is invalid or lists fewer active root keys than
/// `root_threshold`.
pub fn initial(trust: TrustRootFile, root_threshold: u32, expires: Timestamp) -> Result<Vec<u8>, RootError> {
    let meta =
        RootVersionFile { type_: TRUST_ROOT_TYPE.into(), version: 1, previous: None, expires, root_threshold, trust };
    envelope(&meta, Vec::new())
}

/// An unsigned successor of `prev` putting `trust` in force.
///
/// # Errors
/// When the document is invalid or lists fewer active root keys than
/// `root_threshold`.
pub fn propose(
    prev: &SignedTrustRoot,
    trust: TrustRootFile,
    root_threshold: u32,
    expires: Timestamp,
) -> Result<Vec<u8>, RootError> {
    let meta = RootVersionFile {
        type_: TRUST_ROOT_TYPE.into(),
        version: prev.version().saturating_add(1),
        previous: Some(prev.digest()),
        expires,
        root_threshold,
        trust,
    };
    envelope(&meta, Vec::new())
}

/// Adds `key`'s signature to a version (signed or not). The payload is not
/// changed, so neither is the digest.
///
/// # Errors
/// Parse errors; `malformed` when `key` already signed it; `too_large` when
/// it carries [`MAX_ROOT_SIGNATURES`] already.
pub fn sign(bytes: &[u8], key: &SigningKey) -> Result<Vec<u8>, RootError> {
    let v = parse(bytes)?;
    let kid = key.key_id();
    if v.signatures.iter().any(|(k, _)| *k == kid) {
        return Err(malformed(alloc::format!("key {kid} already signed version {}", v.meta.version)));
    }
    if v.signatures.len() >= MAX_ROOT_SIGNATURES {
        return Err(RootError::new(
            RootErrorCode::TooLarge,
            alloc::format!("version {} already carries {MAX_ROOT_SIGNATURES} signatures", v.meta.version),
        ));
    }
    let mut sigs: Vec<EnvelopeSignature> =
        v.signatures.iter().map(|(k, s)| EnvelopeSignature { keyid: k.0.to_hex(), sig: b64::encode(s) }).collect();
    let sig = key.sign(&dsse::pae(TRUST_ROOT_PAYLOAD_TYPE, &v.payload));
    sigs.push(EnvelopeSignature { keyid: kid.0.to_hex(), sig: b64::encode(&sig) });
    let env =
        Envelope { payload: b64::encode(&v.payload), payload_type: TRUST_ROOT_PAYLOAD_TYPE.into(), signatures: sigs };
    let out = serde_json::to_vec(&env).map_err(|e| malformed(e.to_string()))?;
    parse(&out)?;
    Ok(out)
}

/// The stable name of a role (as written in trust-root files).
#[must_use]
pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Issuer => "issuer",
        Role::Approver => "approver",
        Role::Requester => "requester",
        Role::Gate => "gate",
        Role::Ledger => "ledger",
        Role::Root => "root",
    }
}

fn roles_text(k: &TrustedKeyFile) -> String {
    let names: Vec<&str> = k.roles.iter().map(|r| role_name(*r)).collect();
    names.join(",")
}

/// The ledger entries that record `next` being put in force after `prev`
/// (`None` for version 1), at `time`. The first is the version itself:
/// `key_change` with `key_id` = the version's digest (hex), `role` =
/// [`KEY_CHANGE_ROLE`], `change` = `version <n>`. Then one `key_change` per
/// key that changed: `add` (new key id), `revoke` (newly revoked), `retire`
/// (dropped from the document), `update` (roles, groups or window changed);
/// `role` lists the key's roles. `actor` is always the comma-separated key
/// ids whose signatures counted.
#[must_use]
pub fn key_change_entries(prev: Option<&SignedTrustRoot>, next: &SignedTrustRoot, time: Timestamp) -> Vec<Entry> {
    let ids: Vec<String> = next.signed_by().iter().map(|k| k.0.to_hex()).collect();
    let actor = ids.join(",");
    let mut out = alloc::vec![Entry::KeyChange(KeyChange {
        time,
        key_id: next.digest().to_hex(),
        role: KEY_CHANGE_ROLE.into(),
        change: alloc::format!("version {}", next.version()),
        actor: actor.clone(),
    })];
    let mut push = |k: &TrustedKeyFile, change: &str| {
        out.push(Entry::KeyChange(KeyChange {
            time,
            key_id: k.key_id.0.to_hex(),
            role: roles_text(k),
            change: change.into(),
            actor: actor.clone(),
        }));
    };
    let old = prev.map(|p| p.trust());
    for k in next.trust().keys() {
        let e = &k.entry;
        match old.and_then(|o| o.key(&e.key_id)) {
            None => push(e, "add"),
            Some(o) if !o.entry.revoked && e.revoked => push(e, "revoke"),
            Some(o) if o.entry != *e => push(e, "update"),
            Some(_) => {}
        }
    }
    if let Some(o) = old {
        for k in o.keys() {
            if next.trust().key(&k.entry.key_id).is_none() {
                push(&k.entry, "retire");
            }
        }
    }
    out
}

/// Whether `entry` is the ledger record of version `v` (see
/// [`key_change_entries`]).
#[must_use]
pub fn is_version_entry(entry: &Entry, version: u64, digest: &Sha256Digest) -> bool {
    matches!(entry, Entry::KeyChange(k)
        if k.role == KEY_CHANGE_ROLE && k.key_id == digest.to_hex() && k.change == alloc::format!("version {version}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::key_entry;

    const NOW: Timestamp = Timestamp(1_800_000_000);
    const LATER: Timestamp = Timestamp(1_900_000_000);

    fn k(n: u8) -> SigningKey {
        SigningKey::from_seed(&[n; 32])
    }

    fn doc(roots: &[&SigningKey], extra: &[(&str, Role, &SigningKey)]) -> TrustRootFile {
        let mut t = TrustRoot::empty();
        for (i, r) in roots.iter().enumerate() {
            t.add(key_entry(&alloc::format!("root{i}"), alloc::vec![Role::Root], Vec::new(), &r.public())).unwrap();
        }
        for (name, role, key) in extra {
            t.add(key_entry(name, alloc::vec![*role], Vec::new(), &key.public())).unwrap();
        }
        t.file().clone()
    }

    fn signed(bytes: Vec<u8>, keys: &[&SigningKey]) -> Vec<u8> {
        keys.iter().fold(bytes, |b, key| sign(&b, key).unwrap())
    }

    fn v1() -> (Vec<u8>, SignedTrustRoot) {
        let bytes = signed(initial(doc(&[&k(1), &k(2)], &[]), 2, LATER).unwrap(), &[&k(1), &k(2)]);
        let pin = parse(&bytes).unwrap().digest();
        let root = verify_pinned(&bytes, &pin).unwrap();
        (bytes, root)
    }

    #[test]
    fn version_one_needs_its_own_quorum_and_the_pin() {
        let one = signed(initial(doc(&[&k(1), &k(2)], &[]), 2, LATER).unwrap(), &[&k(1)]);
        let pin = parse(&one).unwrap().digest();
        assert_eq!(verify_pinned(&one, &pin).unwrap_err().code, RootErrorCode::QuorumNotMet);
        let (bytes, root) = v1();
        assert_eq!(root.signed_by().len(), 2);
        assert_eq!(verify_pinned(&bytes, &Sha256Digest([0; 32])).unwrap_err().code, RootErrorCode::PinMismatch);
        // A stranger's signature on version 1 is refused, not ignored.
        let extra = sign(&bytes, &k(9)).unwrap();
        assert_eq!(verify_pinned(&extra, &root.digest()).unwrap_err().code, RootErrorCode::UnknownKey);
    }

    #[test]
    fn successor_rules() {
        let (_, one) = v1();
        let next_doc = doc(&[&k(1), &k(3)], &[("alice", Role::Requester, &k(5))]);
        let unsigned = propose(&one, next_doc, 1, LATER).unwrap();
        // Signed by the old quorum and the new one.
        let good = signed(unsigned.clone(), &[&k(1), &k(2)]);
        let two = verify_successor(&one, &good, NOW).unwrap();
        assert_eq!(two.version(), 2);
        assert_eq!(two.previous(), Some(one.digest()));
        // Only one old root key: quorum of version 1 not met.
        let weak = signed(unsigned.clone(), &[&k(1)]);
        let w = signed(unsigned.clone(), &[&k(3)]);
        assert_eq!(verify_successor(&one, &weak, NOW).unwrap_err().code, RootErrorCode::QuorumNotMet);
        assert_eq!(verify_successor(&one, &w, NOW).unwrap_err().code, RootErrorCode::QuorumNotMet);
        // A key of neither version.
        let stranger = signed(unsigned.clone(), &[&k(1), &k(2), &k(9)]);
        assert_eq!(verify_successor(&one, &stranger, NOW).unwrap_err().code, RootErrorCode::UnknownKey);
        // Rollback and gap.
        let (v1_bytes, _) = v1();
        assert_eq!(verify_successor(&two, &v1_bytes, NOW).unwrap_err().code, RootErrorCode::Rollback);
        assert_eq!(verify_successor(&two, &good, NOW).unwrap_err().code, RootErrorCode::Rollback);
        let three = signed(propose(&two, two.file().trust.clone(), 1, LATER).unwrap(), &[&k(1)]);
        assert_eq!(verify_successor(&one, &three, NOW).unwrap_err().code, RootErrorCode::VersionGap);
        assert!(verify_successor(&two, &three, NOW).is_ok());
        // Expired.
        assert_eq!(verify_successor(&one, &good, LATER).unwrap_err().code, RootErrorCode::Expired);
        // Whole chain.
        let last = verify_chain(&one.digest(), [v1_bytes.as_slice(), &good, &three], NOW).unwrap();
        assert_eq!(last.version(), 3);
        // A gate holding version 1 moves to 3 through 2, never around it.
        assert_eq!(verify_updates(&one, [good.as_slice(), &three], NOW).unwrap().version(), 3);
        assert_eq!(verify_updates(&one, [three.as_slice()], NOW).unwrap_err().code, RootErrorCode::VersionGap);
        assert_eq!(verify_updates(&one, [], LATER).unwrap_err().code, RootErrorCode::Expired);
    }

    #[test]
    fn size_limits_come_first() {
        let big = alloc::vec![b' '; MAX_SIGNED_ROOT_BYTES + 1];
        assert_eq!(parse(&big).unwrap_err().code, RootErrorCode::TooLarge);
        let (bytes, _) = v1();
        let mut env: Envelope = serde_json::from_slice(&bytes).unwrap();
        let s = env.signatures[0].clone();
        env.signatures = (0..=MAX_ROOT_SIGNATURES).map(|_| s.clone()).collect();
        assert_eq!(parse(&serde_json::to_vec(&env).unwrap()).unwrap_err().code, RootErrorCode::TooLarge);
    }

    #[test]
    fn tampered_signature_is_bad() {
        let (_, one) = v1();
        let good = signed(propose(&one, one.file().trust.clone(), 2, LATER).unwrap(), &[&k(1), &k(2)]);
        let mut env: Envelope = serde_json::from_slice(&good).unwrap();
        let other = sign(&propose(&one, doc(&[&k(1), &k(2)], &[]), 1, LATER).unwrap(), &k(2)).unwrap();
        let other: Envelope = serde_json::from_slice(&other).unwrap();
        env.signatures[1].sig = other.signatures[0].sig.clone();
        let bytes = serde_json::to_vec(&env).unwrap();
        assert_eq!(verify_successor(&one, &bytes, NOW).unwrap_err().code, RootErrorCode::BadSignature);
    }

    #[test]
    fn key_changes_are_listed() {
        let (_, one) = v1();
        let mut d = doc(&[&k(1), &k(2)], &[("alice", Role::Requester, &k(5))]);
        d.keys[1].revoked = true;
        let two = verify_successor(&one, &signed(propose(&one, d, 1, LATER).unwrap(), &[&k(1), &k(2)]), NOW).unwrap();
        let entries = key_change_entries(Some(&one), &two, NOW);
        let changes: Vec<(String, String)> = entries
            .iter()
            .map(|e| match e {
                Entry::KeyChange(k) => (k.role.clone(), k.change.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            changes,
            [
                ("trust_root".into(), "version 2".into()),
                ("root".into(), "revoke".into()),
                ("requester".into(), "add".into())
            ]
        );
        assert!(is_version_entry(&entries[0], 2, &two.digest()));
        assert!(!is_version_entry(&entries[0], 2, &one.digest()));
        for e in &entries {
            Entry::decode(&e.encode().unwrap()).unwrap();
        }
    }
}
