//! The trust root: which keys are trusted, for what, and until when.
//!
//! The algorithm of every key is pinned here (only `ed25519` exists in
//! version 1); nothing in an artifact can change it. A key's window bounds
//! when it may *issue*: a retired key's writs stay valid until they expire,
//! a revoked key's never verify.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::b64;
use crate::keys::{KeyId, PublicKey};
use crate::limits::{MAX_LIST, MAX_STRING, MAX_TRUST_KEYS, MAX_TRUST_ROOT_BYTES};
use crate::time::Timestamp;

/// The only trust-root version this core reads.
pub const TRUST_ROOT_VERSION: u32 = 1;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Signs writs.
    Issuer,
    /// Approves requests.
    Approver,
    /// Submits requests.
    Requester,
    /// Runs writs and signs execution records and host evidence.
    Gate,
    /// Signs ledger checkpoints.
    Ledger,
    /// Signs trust-root versions (see [`crate::trust_chain`]).
    Root,
}

impl Role {
    /// Parses a role name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "issuer" => Self::Issuer,
            "approver" => Self::Approver,
            "requester" => Self::Requester,
            "gate" => Self::Gate,
            "ledger" => Self::Ledger,
            "root" => Self::Root,
            _ => return None,
        })
    }
}

/// Signature algorithm pinned to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Ed25519, verified with `verify_strict`.
    Ed25519,
}

/// One key as written in the trust-root file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKeyFile {
    /// Who holds it (a person, service or host name). For a ledger key, the
    /// signed-note key name (the log origin).
    pub name: String,
    /// What it may do.
    pub roles: Vec<Role>,
    /// Groups it belongs to (approver groups, requester teams).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Pinned algorithm.
    pub algorithm: Algorithm,
    /// Base64 of the raw 32-byte public key.
    pub public_key: String,
    /// Hex SHA-256 of the raw public key (checked on load).
    pub key_id: KeyId,
    /// Start of the window in which it may sign.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub not_before: Option<Timestamp>,
    /// End of the window in which it may sign (retirement).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub not_after: Option<Timestamp>,
    /// Revoked keys verify nothing, ever.
    #[serde(default)]
    pub revoked: bool,
    /// Gate keys only: the host names (patterns as in a writ's `hosts`) this
    /// gate may assert; empty: not bound (issue 9, item 9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Gate keys only: the labels this gate may assert; empty: not bound.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Gate keys only: this gate may run programs in the weaker isolation
    /// mode (not root: same uid, no cgroup), and its records say so.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub allow_weaker_isolation: bool,
    /// Ledger keys only: the witnesses whose cosignatures (C2SP
    /// `tlog-cosignature`) this log's checkpoints need (see [`crate::witness`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<crate::witness::WitnessFile>,
    /// Ledger keys only: how many distinct `witnesses` must have cosigned
    /// the checkpoint of a receipt (k of n).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub witness_quorum: Option<u32>,
    /// Issuer and ledger keys only: a signature suite other than plain
    /// Ed25519 (`ed25519+ml-dsa-65`, see [`crate::hybrid`]); absent: Ed25519.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub suite: Option<crate::hybrid::Suite>,
    /// With `suite` `ed25519+ml-dsa-65`: base64 of the 1952-byte ML-DSA-65
    /// public key (`public_key` holds the Ed25519 half, `key_id` its id).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub ml_dsa_public_key: Option<String>,
}

/// The trust-root file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRootFile {
    /// Always [`TRUST_ROOT_VERSION`].
    pub version: u32,
    /// Longest validity (`not_after - issued_at`) a writ may have.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub max_writ_lifetime_secs: Option<u64>,
    /// Gates must see a ledger receipt before running a writ.
    #[serde(default)]
    pub require_receipt: bool,
    /// Gates must know a fresh revocation status before running a writ.
    #[serde(default)]
    pub require_status: bool,
    /// How old a status response may be, in seconds.
    #[serde(default = "default_status_age")]
    pub status_max_age_secs: u64,
    /// Longest lifetime (`not_after - not_before`) of a writ a gate may run
    /// offline (without asking the authority about revocation).
    #[serde(default = "default_offline_lifetime")]
    pub max_offline_lifetime_secs: u64,
    /// How far after the authority's clock an approval's signed time may lie
    /// (approvers' clocks drift), in seconds; absent:
    /// [`DEFAULT_APPROVAL_SKEW_SECS`], at most [`MAX_APPROVAL_SKEW_SECS`].
    /// See [`TrustRootFile::approval_skew`].
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub approval_skew_secs: Option<u64>,
    /// The keys.
    pub keys: Vec<TrustedKeyFile>,
    /// Passkeys (WebAuthn credentials) of approvers; see [`crate::webauthn`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passkeys: Vec<TrustedPasskeyFile>,
}

/// A passkey (WebAuthn ES256 credential) as written in the trust-root file.
/// Passkeys only approve: their signatures are WebAuthn assertions, which
/// only approvals ([`crate::webauthn`]) are defined for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedPasskeyFile {
    /// Who holds it.
    pub name: String,
    /// What it may do: only `approver`.
    pub roles: Vec<Role>,
    /// Approver groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Base64 of the 65-byte uncompressed SEC1 P-256 public key.
    pub public_key: String,
    /// Hex SHA-256 of the uncompressed public key (checked on load).
    pub key_id: KeyId,
    /// Base64url (no padding) of the credential id.
    pub credential_id: String,
    /// The WebAuthn relying-party id the credential is scoped to.
    pub rp_id: String,
    /// Assertions must carry the User Verified flag.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub user_verification: bool,
    /// Start of the window in which it may sign.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub not_before: Option<Timestamp>,
    /// End of the window in which it may sign.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "non_null")]
    pub not_after: Option<Timestamp>,
    /// Revoked passkeys verify nothing, ever.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub revoked: bool,
}

/// A passkey of a loaded trust root.
#[derive(Clone, Debug)]
pub struct TrustedPasskey {
    /// As written in the file.
    pub entry: TrustedPasskeyFile,
    /// The parsed credential.
    pub credential: crate::webauthn::Credential,
}

impl TrustedPasskey {
    /// Whether its window covers `t`.
    #[must_use]
    pub fn valid_at(&self, t: Timestamp) -> bool {
        self.entry.not_before.is_none_or(|nb| t >= nb) && self.entry.not_after.is_none_or(|na| t < na)
    }
}

/// An approver's key of either kind.
#[derive(Clone, Copy, Debug)]
pub enum ApproverKey<'a> {
    /// An Ed25519 key.
    Ed25519(&'a TrustedKey),
    /// A passkey.
    Passkey(&'a TrustedPasskey),
}

impl ApproverKey<'_> {
    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Ed25519(k) => &k.entry.name,
            Self::Passkey(k) => &k.entry.name,
        }
    }

    /// Its groups.
    #[must_use]
    pub fn groups(&self) -> &[String] {
        match self {
            Self::Ed25519(k) => &k.entry.groups,
            Self::Passkey(k) => &k.entry.groups,
        }
    }

    /// Whether it is an approver key, not revoked, whose window covers `t`.
    #[must_use]
    pub fn may_approve_at(&self, t: Timestamp) -> bool {
        match self {
            Self::Ed25519(k) => k.has_role(Role::Approver) && !k.entry.revoked && k.valid_at(t),
            Self::Passkey(k) => k.entry.roles.contains(&Role::Approver) && !k.entry.revoked && k.valid_at(t),
        }
    }

    /// Checks an approval's signature (`sig`, base64) over `input`: an
    /// Ed25519 key's by `verify_strict` (and no WebAuthn parts), a passkey's
    /// as a WebAuthn assertion whose challenge is `input`.
    ///
    /// # Errors
    /// A message naming what failed (a passkey's begins with its
    /// [`crate::webauthn::AssertionError::code`]).
    pub fn verify_approval(
        &self,
        input: &[u8],
        sig: &str,
        webauthn: Option<&crate::webauthn::AssertionParts>,
    ) -> Result<(), String> {
        match (self, webauthn) {
            (Self::Ed25519(k), None) => {
                let sig = b64::decode(sig, crate::keys::SIGNATURE_LEN).map_err(String::from)?;
                if k.key.verify_strict(input, &sig) { Ok(()) } else { Err("the signature does not verify".into()) }
            }
            (Self::Ed25519(_), Some(_)) => Err("an Ed25519 key's approval carries WebAuthn parts".into()),
            (Self::Passkey(_), None) => Err("a passkey's approval has no WebAuthn parts".into()),
            (Self::Passkey(k), Some(parts)) => {
                let a = crate::webauthn::Assertion::decode(parts, sig).map_err(|e| alloc::format!("{e}"))?;
                crate::webauthn::verify_assertion(&k.credential, input, &a).map_err(|e| alloc::format!("{e}"))
            }
        }
    }
}

fn default_status_age() -> u64 {
    300
}

/// Default of [`TrustRootFile::max_offline_lifetime_secs`]: ten minutes, so a
/// revoked writ cannot run offline for longer than that.
pub const DEFAULT_MAX_OFFLINE_LIFETIME_SECS: u64 = 600;

fn default_offline_lifetime() -> u64 {
    DEFAULT_MAX_OFFLINE_LIFETIME_SECS
}

/// Default of [`TrustRootFile::approval_skew_secs`].
pub const DEFAULT_APPROVAL_SKEW_SECS: u64 = 30;
/// Largest [`TrustRootFile::approval_skew_secs`] a trust root may set.
pub const MAX_APPROVAL_SKEW_SECS: u64 = 300;

impl TrustRootFile {
    /// The allowance for an approval signed after the authority's clock:
    /// `approval_skew_secs`, or [`DEFAULT_APPROVAL_SKEW_SECS`] when absent.
    #[must_use]
    pub fn approval_skew(&self) -> u64 {
        self.approval_skew_secs.unwrap_or(DEFAULT_APPROVAL_SKEW_SECS)
    }
}

/// An optional member is absent or has a value; `null` is refused.
fn non_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A key of a loaded trust root.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// As written in the file.
    pub entry: TrustedKeyFile,
    /// The parsed key.
    pub key: PublicKey,
    /// The ML-DSA-65 half of a hybrid key (its suite pinned here).
    pub ml_dsa: Option<crate::hybrid::MlDsaPublicKey>,
}

impl TrustedKey {
    /// Checks `sig` over `msg` under this key's pinned suite: 64 bytes of
    /// Ed25519 for a plain key, Ed25519 ‖ ML-DSA-65 for a hybrid one.
    ///
    /// # Errors
    /// Whether the signature had another suite's shape or did not verify.
    pub fn verify_signature(&self, msg: &[u8], sig: &[u8]) -> Result<(), crate::hybrid::SignatureFault> {
        crate::hybrid::verify_pinned(&self.key, self.ml_dsa.as_ref(), msg, sig)
    }

    /// The signed-note verifier of this key (a ledger key's checkpoints):
    /// for a hybrid key, one that requires both signature lines.
    ///
    /// # Errors
    /// The name is not a valid note key name.
    pub fn note_verifier(&self) -> Result<writ_tlog::note::VerifierKey, writ_tlog::TlogError> {
        let v = writ_tlog::note::VerifierKey::new(&self.entry.name, *self.key.as_dalek())?;
        Ok(match &self.ml_dsa {
            Some(pq) => v.with_ml_dsa(pq.clone()),
            None => v,
        })
    }

    /// Whether it holds `role`.
    #[must_use]
    pub fn has_role(&self, role: Role) -> bool {
        self.entry.roles.contains(&role)
    }

    /// Whether its window covers `t`.
    #[must_use]
    pub fn valid_at(&self, t: Timestamp) -> bool {
        self.entry.not_before.is_none_or(|nb| t >= nb) && self.entry.not_after.is_none_or(|na| t < na)
    }

    /// Whether the trust root binds this gate key to host facts that do not
    /// include `hostname` and `labels`: `Some(what is wrong)`, else `None`
    /// (also when the key binds none).
    #[must_use]
    pub fn host_binding_error<'l>(
        &self,
        hostname: &str,
        labels: impl IntoIterator<Item = &'l String>,
    ) -> Option<String> {
        let e = &self.entry;
        if !e.hosts.is_empty() && !e.hosts.iter().any(|p| crate::glob::host_match(p, hostname)) {
            return Some(alloc::format!(
                "gate key `{}` is bound by the trust root to host {}, not `{hostname}`",
                e.name,
                e.hosts.join(", ")
            ));
        }
        if !e.labels.is_empty() {
            let stray: Vec<&str> = labels.into_iter().filter(|l| !e.labels.contains(l)).map(String::as_str).collect();
            if !stray.is_empty() {
                return Some(alloc::format!(
                    "gate key `{}` is bound by the trust root to labels {}, not {}",
                    e.name,
                    e.labels.join(", "),
                    stray.join(", ")
                ));
            }
        }
        None
    }
}

/// A validated trust root.
#[derive(Clone, Debug)]
pub struct TrustRoot {
    file: TrustRootFile,
    keys: Vec<TrustedKey>,
    by_id: BTreeMap<KeyId, usize>,
    passkeys: Vec<TrustedPasskey>,
}

/// Why a trust root was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    /// Not parseable.
    #[error("trust root is not valid: {0}")]
    Parse(String),
    /// Semantically wrong.
    #[error("trust root is not valid: {0}")]
    Invalid(String),
}

impl TrustRoot {
    /// An empty version-1 trust root.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            file: TrustRootFile {
                version: TRUST_ROOT_VERSION,
                max_writ_lifetime_secs: None,
                require_receipt: false,
                require_status: false,
                status_max_age_secs: default_status_age(),
                max_offline_lifetime_secs: DEFAULT_MAX_OFFLINE_LIFETIME_SECS,
                approval_skew_secs: None,
                keys: Vec::new(),
                passkeys: Vec::new(),
            },
            keys: Vec::new(),
            by_id: BTreeMap::new(),
            passkeys: Vec::new(),
        }
    }

    /// Parses and validates a trust-root file.
    ///
    /// # Errors
    /// [`TrustError`] naming the problem: size, JSON, version, a key whose id
    /// does not match its bytes, a duplicate key id.
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustError> {
        if bytes.len() > MAX_TRUST_ROOT_BYTES {
            return Err(TrustError::Parse(alloc::format!("larger than {MAX_TRUST_ROOT_BYTES} bytes")));
        }
        let file: TrustRootFile = crate::json::from_slice(bytes).map_err(TrustError::Parse)?;
        Self::from_file(file)
    }

    /// Validates a parsed trust-root file.
    ///
    /// # Errors
    /// See [`TrustRoot::from_json`].
    pub fn from_file(file: TrustRootFile) -> Result<Self, TrustError> {
        if file.version != TRUST_ROOT_VERSION {
            return Err(TrustError::Invalid(alloc::format!(
                "version {} is not supported (expected {TRUST_ROOT_VERSION})",
                file.version
            )));
        }
        if file.keys.len() > MAX_TRUST_KEYS {
            return Err(TrustError::Invalid(alloc::format!("more than {MAX_TRUST_KEYS} keys")));
        }
        if file.keys.len() + file.passkeys.len() > MAX_TRUST_KEYS {
            return Err(TrustError::Invalid(alloc::format!("more than {MAX_TRUST_KEYS} keys and passkeys")));
        }
        if let Some(s) = file.approval_skew_secs
            && s > MAX_APPROVAL_SKEW_SECS
        {
            return Err(TrustError::Invalid(alloc::format!(
                "approval_skew_secs {s} is more than {MAX_APPROVAL_SKEW_SECS}; fix the approvers' clocks instead"
            )));
        }
        let mut root = Self {
            keys: Vec::new(),
            by_id: BTreeMap::new(),
            passkeys: Vec::new(),
            file: TrustRootFile { keys: Vec::new(), passkeys: Vec::new(), ..file.clone() },
        };
        for entry in file.keys {
            root.insert(entry)?;
        }
        for entry in file.passkeys {
            root.insert_passkey(entry)?;
        }
        Ok(root)
    }

    fn insert_passkey(&mut self, entry: TrustedPasskeyFile) -> Result<(), TrustError> {
        let name = entry.name.clone();
        let bad = |m: &str| TrustError::Invalid(alloc::format!("passkey `{name}`: {m}"));
        if name.is_empty() || name.len() > MAX_STRING || entry.groups.len() > MAX_LIST {
            return Err(bad("name or groups out of bounds"));
        }
        if entry.roles.is_empty() || entry.roles.iter().any(|r| *r != Role::Approver) {
            return Err(bad("a passkey's only role is `approver` (WebAuthn assertions sign approvals only)"));
        }
        let raw = b64::decode(&entry.public_key, crate::webauthn::PUBLIC_KEY_LEN)
            .map_err(|e| bad(&alloc::format!("public_key: {e}")))?;
        let id = crate::webauthn::b64url_decode(&entry.credential_id, crate::webauthn::MAX_CREDENTIAL_ID)
            .map_err(|e| bad(&alloc::format!("credential_id: {e}")))?;
        let credential =
            crate::webauthn::Credential::new(&raw, id, entry.rp_id.clone(), entry.user_verification).map_err(&bad)?;
        if credential.key_id() != entry.key_id {
            return Err(bad(&alloc::format!(
                "key_id {} does not match its public key (expected {})",
                entry.key_id,
                credential.key_id()
            )));
        }
        if let (Some(nb), Some(na)) = (entry.not_before, entry.not_after)
            && nb >= na
        {
            return Err(bad("not_before must be before not_after"));
        }
        if self.by_id.contains_key(&entry.key_id) || self.passkey(&entry.key_id).is_some() {
            return Err(TrustError::Invalid(alloc::format!("key id {} is listed twice", entry.key_id)));
        }
        self.file.passkeys.push(entry.clone());
        self.passkeys.push(TrustedPasskey { entry, credential });
        Ok(())
    }

    /// Adds a passkey.
    ///
    /// # Errors
    /// As for loading: a bad passkey, or a key id already listed.
    pub fn add_passkey(&mut self, entry: TrustedPasskeyFile) -> Result<(), TrustError> {
        if self.keys.len() + self.passkeys.len() >= MAX_TRUST_KEYS {
            return Err(TrustError::Invalid(alloc::format!("more than {MAX_TRUST_KEYS} keys and passkeys")));
        }
        self.insert_passkey(entry)
    }

    /// Looks a passkey up by key id.
    #[must_use]
    pub fn passkey(&self, id: &KeyId) -> Option<&TrustedPasskey> {
        self.passkeys.iter().find(|p| p.entry.key_id == *id)
    }

    /// All passkeys, in file order.
    #[must_use]
    pub fn passkeys(&self) -> &[TrustedPasskey] {
        &self.passkeys
    }

    /// The approver key (Ed25519 or passkey) with id `id`.
    #[must_use]
    pub fn approver(&self, id: &KeyId) -> Option<ApproverKey<'_>> {
        self.key(id).map(ApproverKey::Ed25519).or_else(|| self.passkey(id).map(ApproverKey::Passkey))
    }

    fn insert(&mut self, entry: TrustedKeyFile) -> Result<(), TrustError> {
        let name = entry.name.clone();
        if name.is_empty() || name.len() > MAX_STRING || entry.groups.len() > MAX_LIST {
            return Err(TrustError::Invalid(alloc::format!("key `{name}`: name or groups out of bounds")));
        }
        if entry.roles.is_empty() {
            return Err(TrustError::Invalid(alloc::format!("key `{name}` has no role")));
        }
        let raw = b64::decode(&entry.public_key, 32)
            .map_err(|e| TrustError::Invalid(alloc::format!("key `{name}`: public_key: {e}")))?;
        let key = PublicKey::from_bytes(&raw).map_err(|e| TrustError::Invalid(alloc::format!("key `{name}`: {e}")))?;
        if key.key_id() != entry.key_id {
            return Err(TrustError::Invalid(alloc::format!(
                "key `{name}`: key_id {} does not match its public key (expected {})",
                entry.key_id,
                key.key_id()
            )));
        }
        if let (Some(nb), Some(na)) = (entry.not_before, entry.not_after)
            && nb >= na
        {
            return Err(TrustError::Invalid(alloc::format!("key `{name}`: not_before must be before not_after")));
        }
        let gate_facts = !entry.hosts.is_empty() || !entry.labels.is_empty() || entry.allow_weaker_isolation;
        if gate_facts && !entry.roles.contains(&Role::Gate) {
            return Err(TrustError::Invalid(alloc::format!(
                "key `{name}`: hosts, labels and allow_weaker_isolation are for gate keys only"
            )));
        }
        if entry.hosts.len() > MAX_LIST
            || entry.labels.len() > MAX_LIST
            || entry.hosts.iter().chain(&entry.labels).any(|h| h.is_empty() || h.len() > MAX_STRING)
        {
            return Err(TrustError::Invalid(alloc::format!("key `{name}`: hosts or labels out of bounds")));
        }
        crate::witness::validate(&entry).map_err(TrustError::Invalid)?;
        let ml_dsa = crate::hybrid::pinned_ml_dsa_key(&entry).map_err(TrustError::Invalid)?;
        if self.by_id.contains_key(&entry.key_id) || self.passkey(&entry.key_id).is_some() {
            return Err(TrustError::Invalid(alloc::format!("key id {} is listed twice", entry.key_id)));
        }
        self.by_id.insert(entry.key_id, self.keys.len());
        self.file.keys.push(entry.clone());
        self.keys.push(TrustedKey { entry, key, ml_dsa });
        Ok(())
    }

    /// Adds a key.
    ///
    /// # Errors
    /// As for loading: a bad key, or one already listed.
    pub fn add(&mut self, entry: TrustedKeyFile) -> Result<(), TrustError> {
        if self.keys.len() + self.passkeys.len() >= MAX_TRUST_KEYS {
            return Err(TrustError::Invalid(alloc::format!("more than {MAX_TRUST_KEYS} keys")));
        }
        self.insert(entry)
    }

    /// Looks a key up by id.
    #[must_use]
    pub fn key(&self, id: &KeyId) -> Option<&TrustedKey> {
        self.by_id.get(id).and_then(|&i| self.keys.get(i))
    }

    /// The key whose signature on `env` verified: the first signature by a
    /// key of this trust root with `role`, not revoked, whose window contains
    /// `at`, and whose signature verifies. Whatever the artifact then claims
    /// (host-evidence labels, say) is to be trusted from *this* key, never from
    /// the first signature's key id, which anyone can put first.
    #[must_use]
    pub fn verified_signer(
        &self,
        env: &crate::dsse::DecodedEnvelope,
        role: Role,
        at: Timestamp,
    ) -> Option<&TrustedKey> {
        let input = env.signing_input();
        env.signatures.iter().find_map(|(kid, sig)| {
            self.key(kid).filter(|k| {
                k.has_role(role) && !k.entry.revoked && k.valid_at(at) && k.verify_signature(&input, sig).is_ok()
            })
        })
    }

    /// All keys, in file order.
    #[must_use]
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The file form (for writing back).
    #[must_use]
    pub fn file(&self) -> &TrustRootFile {
        &self.file
    }

    /// Mutable policy settings (lifetime, receipt and status requirements).
    pub fn settings_mut(&mut self) -> TrustSettings<'_> {
        TrustSettings { file: &mut self.file }
    }

    /// Pretty JSON of the file form.
    #[must_use]
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.file).unwrap_or_default()
    }
}

/// Settable trust-root options.
#[derive(Debug)]
pub struct TrustSettings<'a> {
    file: &'a mut TrustRootFile,
}

impl TrustSettings<'_> {
    /// Sets the maximum writ lifetime.
    pub fn max_writ_lifetime_secs(&mut self, v: Option<u64>) -> &mut Self {
        self.file.max_writ_lifetime_secs = v;
        self
    }
    /// Sets whether receipts are required.
    pub fn require_receipt(&mut self, v: bool) -> &mut Self {
        self.file.require_receipt = v;
        self
    }
    /// Sets whether a fresh status is required.
    pub fn require_status(&mut self, v: bool) -> &mut Self {
        self.file.require_status = v;
        self
    }
    /// Sets how old a status response may be.
    pub fn status_max_age_secs(&mut self, v: u64) -> &mut Self {
        self.file.status_max_age_secs = v;
        self
    }
    /// Sets the longest lifetime of a writ that may run offline.
    pub fn max_offline_lifetime_secs(&mut self, v: u64) -> &mut Self {
        self.file.max_offline_lifetime_secs = v;
        self
    }
    /// Sets the allowance for approvals signed after the authority's clock
    /// (`None`: the default); [`TrustRoot::from_file`] refuses more than
    /// [`MAX_APPROVAL_SKEW_SECS`].
    pub fn approval_skew_secs(&mut self, v: Option<u64>) -> &mut Self {
        self.file.approval_skew_secs = v;
        self
    }
}

/// Builds the file entry for a public key.
#[must_use]
pub fn key_entry(name: &str, roles: Vec<Role>, groups: Vec<String>, key: &PublicKey) -> TrustedKeyFile {
    TrustedKeyFile {
        name: name.into(),
        roles,
        groups,
        algorithm: Algorithm::Ed25519,
        public_key: b64::encode(&key.to_bytes()),
        key_id: key.key_id(),
        not_before: None,
        not_after: None,
        revoked: false,
        hosts: Vec::new(),
        labels: Vec::new(),
        allow_weaker_isolation: false,
        witnesses: Vec::new(),
        witness_quorum: None,
        suite: None,
        ml_dsa_public_key: None,
    }
}
