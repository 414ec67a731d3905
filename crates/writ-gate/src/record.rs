//! Where a gate's `exec_start`, `exec_end` and `denial` entries go, written
//! once for `exec` and the proxy.
//!
//! A [`Recorder`] is either **online** (a [`GateApi`]: the authority, in
//! process or over HTTP) or **offline** (the durable local [`Spool`]). Online,
//! a record counts as recorded only when the authority's acknowledgement
//! *verifies*: its receipt must be a C2SP tlog-proof whose entry is exactly
//! the bytes sent, included under a checkpoint signed by a ledger key of the
//! gate's trust root ([`check_ack`]). A relay that answers `201` itself, a
//! proof of another entry, or a checkpoint signed by anyone else is a failed
//! record: for an `exec_start` that means `record_failed`, and nothing runs.
//!
//! Every record is a signed gate record (`writ_core::gate_record`): the
//! entry, what the weaker isolation mode left out of the run (if anything),
//! the gate key's id and its Ed25519 signature. A recorder without the
//! gate's key records nothing ([`RecordError::Unsigned`]), so a gate without
//! its key runs nothing.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use writ_api::{ApiError, GateApi, RecordAck};
use writ_core::entry::Entry;
use writ_core::gate_record::GateRecord;
use writ_core::tlog::note::VerifierKey;
use writ_core::tlog::tlog_proof::TlogProof;
use writ_core::{Denial, DenialCode, Role, SigningKey, TrustRoot};

use crate::spool::{Durability, Spool, SpoolError};

/// Where a record ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// In the ledger, at this index (the acknowledgement verified).
    Ledger {
        /// The entry's ledger index.
        index: u64,
    },
    /// In the local spool, for `sync`.
    Spooled,
}

/// Why a record was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The authority refused the record or could not be reached.
    #[error("the authority did not take the record ({}): {}", .0.code, .0.message)]
    Api(ApiError),
    /// The authority answered, but its acknowledgement does not prove the
    /// record is in the ledger.
    #[error("the authority's acknowledgement does not prove the record: {0}")]
    Unproven(String),
    /// The spool could not take it.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The entry does not encode.
    #[error("entry: {0}")]
    Encode(String),
    /// The recorder has no gate key to sign records with.
    #[error("this gate has no key to sign its records with: pass --key FILE or set `key` in the gate configuration")]
    Unsigned,
    /// Not recorded online, then spooled for `sync` (a warning, not a loss).
    #[error("{0} (spooled for `sync`)")]
    SpooledInstead(Box<RecordError>),
}

/// Checks that `ack` proves `sent` is in the ledger of `trust`; returns its
/// index.
///
/// # Errors
///
/// A message naming what does not hold: not a tlog-proof, another entry,
/// an index that disagrees, or no trusted ledger key signed the checkpoint.
pub fn check_ack(trust: &TrustRoot, sent: &[u8], ack: &RecordAck) -> Result<u64, String> {
    let proof = TlogProof::parse(&ack.receipt).map_err(|e| format!("the receipt is not a tlog-proof: {e}"))?;
    match proof.extra.as_deref() {
        Some(extra) if extra == sent => {}
        Some(_) => return Err("the receipt is for another entry than the one sent".into()),
        None => return Err("the receipt carries no entry (`extra` line)".into()),
    }
    if proof.index != ack.index {
        return Err(format!("the receipt proves index {}, the answer says {}", proof.index, ack.index));
    }
    let mut last = String::from("the trust root lists no ledger key");
    for k in trust.keys().iter().filter(|k| k.has_role(Role::Ledger) && !k.entry.revoked) {
        let verifier = match VerifierKey::new(&k.entry.name, *k.key.as_dalek()) {
            Ok(v) => v,
            Err(e) => {
                last = format!("ledger key `{}`: {e}", k.entry.name);
                continue;
            }
        };
        match proof.verify_entry(sent, &k.entry.name, &verifier) {
            Ok(v) => return Ok(v.index),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("no trusted ledger key proves it: {last}"))
}

/// The signed bytes of the gate record of `e`, with a fresh random nonce
/// (`writ_core::gate_record`): two runs with identical entries — the same
/// writ, host, program and argv in the same second — are two records, which
/// the authority logs and counts separately, while a re-send of these bytes
/// (after a crash, from the spool) is still recognised as the same record.
///
/// # Errors
/// [`RecordError::Encode`] when the entry does not encode or no random
/// nonce can be drawn (the record is then not made: fail closed).
pub fn sign_record(key: &SigningKey, e: &Entry, weakened: &[String]) -> Result<Vec<u8>, RecordError> {
    let mut nonce = [0u8; writ_core::gate_record::NONCE_LEN];
    getrandom::getrandom(&mut nonce).map_err(|err| RecordError::Encode(format!("no random nonce: {err}")))?;
    GateRecord::sign_with_nonce(e.clone(), nonce, weakened.to_vec(), key)
        .map_err(|err| RecordError::Encode(err.to_string()))
}

enum Sink {
    Online { api: Arc<dyn GateApi>, trust: TrustRoot },
    Spool(Arc<Spool>),
}

/// A gate's records: online with verified acknowledgements, or offline in
/// the spool. Online, records the authority does not take (other than the
/// `exec_start` that gates a run) go to the fallback spool, when one is set.
pub struct Recorder {
    sink: Sink,
    key: Option<Arc<SigningKey>>,
    fallback: Option<PathBuf>,
    fallback_spool: OnceLock<Result<Spool, String>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.sink {
            Sink::Online { .. } => "online".to_owned(),
            Sink::Spool(s) => format!("spool `{}`", s.path().display()),
        };
        f.debug_struct("Recorder")
            .field("sink", &kind)
            .field("key", &self.key.as_ref().map(|k| k.key_id()))
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl Recorder {
    /// Records with the authority behind `api`, checking each acknowledgement
    /// against the ledger keys of `trust`.
    pub fn online(api: Arc<dyn GateApi>, trust: TrustRoot) -> Self {
        Self { sink: Sink::Online { api, trust }, key: None, fallback: None, fallback_spool: OnceLock::new() }
    }

    /// Records in the spool (offline).
    pub fn offline(spool: Spool) -> Self {
        Self { sink: Sink::Spool(Arc::new(spool)), key: None, fallback: None, fallback_spool: OnceLock::new() }
    }

    /// Signs every record with the gate's key (its key id and signature go
    /// into the record; the authority and the audit check them against the
    /// `gate` keys of the trust root).
    #[must_use]
    pub fn signed_by(mut self, key: Arc<SigningKey>) -> Self {
        self.key = Some(key);
        self
    }

    /// The id of the key records are signed with.
    #[must_use]
    pub fn key_id(&self) -> Option<writ_core::KeyId> {
        self.key.as_ref().map(|k| k.key_id())
    }

    /// The signed bytes of the gate record of `e` (with what the weaker
    /// isolation mode left out of the run, if anything).
    ///
    /// # Errors
    /// [`RecordError::Unsigned`] without a key; [`RecordError::Encode`].
    pub fn sign(&self, e: &Entry, weakened: &[String]) -> Result<Vec<u8>, RecordError> {
        sign_record(self.key.as_deref().ok_or(RecordError::Unsigned)?, e, weakened)
    }

    /// Online: where records the authority did not take go (opened when
    /// first needed).
    #[must_use]
    pub fn with_fallback(mut self, spool: PathBuf) -> Self {
        self.fallback = Some(spool);
        self
    }

    /// The authority, when online.
    pub fn api(&self) -> Option<&Arc<dyn GateApi>> {
        match &self.sink {
            Sink::Online { api, .. } => Some(api),
            Sink::Spool(_) => None,
        }
    }

    /// Sends encoded entry bytes to the authority and checks the answer
    /// (what a drain of the spool needs).
    ///
    /// # Errors
    ///
    /// [`RecordError::Api`], [`RecordError::Unproven`]; offline, nothing is
    /// sent and the answer is [`RecordError::Api`] with `unavailable`.
    pub fn send_verified(&self, bytes: &[u8]) -> Result<u64, RecordError> {
        let Sink::Online { api, trust } = &self.sink else {
            return Err(RecordError::Api(ApiError::new(
                writ_api::ApiErrorCode::Unavailable,
                "an offline recorder has no authority to send to",
            )));
        };
        let ack = api.record(bytes).map_err(RecordError::Api)?;
        check_ack(trust, bytes, &ack).map_err(RecordError::Unproven)
    }

    /// Records `e` durably: in the ledger with a verified acknowledgement, or
    /// fsynced in the spool. This is the one for an `exec_start`: `Err`
    /// means the run must not start.
    ///
    /// # Errors
    ///
    /// [`RecordError`] naming why.
    pub fn record(&self, e: &Entry) -> Result<Recorded, RecordError> {
        self.record_weakened(e, &[])
    }

    /// [`Self::record`] of a run the weaker isolation mode left `weakened`
    /// out of (the record says so).
    ///
    /// # Errors
    /// As [`Self::record`].
    pub fn record_weakened(&self, e: &Entry, weakened: &[String]) -> Result<Recorded, RecordError> {
        self.record_bytes(&self.sign(e, weakened)?, Durability::Sync)
    }

    /// Offline: [`Self::record`] for an async caller. Signs and writes the
    /// record now and returns a future that resolves once it is durable in
    /// the spool, without parking a thread while the group commit syncs
    /// ([`Spool::durable`]). `Ok` from the future means the same as `Ok`
    /// from [`Self::record`]: the run may start. Online, `None`: the
    /// authority's round trip blocks, so call [`Self::record`] off the
    /// reactor.
    ///
    /// # Errors
    /// As [`Self::record`], from the call (signing, writing) or the future
    /// (the sync).
    pub fn record_spooled(
        &self,
        e: &Entry,
    ) -> Option<Result<impl std::future::Future<Output = Result<Recorded, RecordError>> + Send + 'static, RecordError>>
    {
        let Sink::Spool(spool) = &self.sink else { return None };
        let written = self.sign(e, &[]).and_then(|bytes| spool.write_pending(&bytes).map_err(RecordError::from));
        Some(written.map(|pending| {
            let durable = spool.durable(pending);
            async move {
                durable.await?;
                Ok(Recorded::Spooled)
            }
        }))
    }

    fn record_bytes(&self, bytes: &[u8], durability: Durability) -> Result<Recorded, RecordError> {
        match &self.sink {
            Sink::Spool(s) => {
                s.append_bytes(bytes, durability)?;
                Ok(Recorded::Spooled)
            }
            Sink::Online { .. } => self.send_verified(bytes).map(|index| Recorded::Ledger { index }),
        }
    }

    /// Records `e` (an `exec_end` or a `denial`); online, when the authority
    /// does not take it, appends it to the fallback spool. With
    /// [`Durability::Lazy`] an offline append skips its `fdatasync` (see
    /// [`Durability`]).
    ///
    /// # Errors
    ///
    /// [`RecordError::SpooledInstead`] (a warning: it is in the spool) or
    /// the error that lost it.
    pub fn record_or_spool(&self, e: &Entry, durability: Durability) -> Result<Recorded, RecordError> {
        self.record_or_spool_weakened(e, &[], durability)
    }

    /// [`Self::record_or_spool`] of a run the weaker isolation mode left
    /// `weakened` out of.
    ///
    /// # Errors
    /// As [`Self::record_or_spool`].
    pub fn record_or_spool_weakened(
        &self,
        e: &Entry,
        weakened: &[String],
        durability: Durability,
    ) -> Result<Recorded, RecordError> {
        let bytes = self.sign(e, weakened)?;
        match self.record_bytes(&bytes, durability) {
            Ok(r) => Ok(r),
            Err(err @ (RecordError::Api(_) | RecordError::Unproven(_))) => {
                let Some(path) = &self.fallback else { return Err(err) };
                let spool = self
                    .fallback_spool
                    .get_or_init(|| Spool::open(path).map_err(|e| e.to_string()))
                    .as_ref()
                    .map_err(|e| RecordError::Encode(e.clone()));
                match spool.map(|s| s.append_bytes(&bytes, Durability::Sync)) {
                    Ok(Ok(())) => Err(RecordError::SpooledInstead(Box::new(err))),
                    _ => Err(err),
                }
            }
            Err(other) => Err(other),
        }
    }
}

/// The trust root's entry for this gate's key: a non-revoked `gate` key
/// whose host binding (`hosts`, `labels`, when it has any) covers `host`.
/// A gate runs nothing without one: its records would not verify
/// (`record_failed`), or it would assert host facts it is not bound to
/// (`scope_host`).
///
/// # Errors
/// The [`Denial`] naming what is wrong.
pub fn check_gate_key<'t>(
    trust: &'t TrustRoot,
    key: Option<writ_core::KeyId>,
    host: &writ_core::HostFacts,
) -> Result<&'t writ_core::trust::TrustedKey, Denial> {
    let id = key.ok_or_else(|| start_not_recorded(&RecordError::Unsigned))?;
    let k = trust.key(&id).filter(|k| k.has_role(Role::Gate) && !k.entry.revoked).ok_or_else(|| {
        Denial::new(
            DenialCode::RecordFailed,
            format!("this gate's key {id} is not a gate key of the trust root, so its records would not verify; add it with `writ trust add --role gate`"),
        )
    })?;
    if let Some(why) = k.host_binding_error(&host.hostname, &host.labels) {
        return Err(Denial::new(
            DenialCode::ScopeHost,
            format!("{why}; fix the host facts in the gate configuration, or the key's binding in the trust root"),
        ));
    }
    Ok(k)
}

/// The `denial` entry for `d` on host `host`, labelled with the writ id the
/// (possibly bad) writ claims.
pub fn denial_entry(d: &Denial, writ: &[u8], host: &str) -> Entry {
    Entry::Denial(writ_core::entry::Denial {
        time: crate::timestamp_now(),
        request_id: None,
        writ_id: writ_core::Unverified::claimed_id(writ),
        code: d.code.as_str().to_owned(),
        detail: d.detail.chars().take(1024).collect(),
        host: Some(host.to_owned()),
    })
}

/// Records the denial `d` (best effort: the run is denied either way).
///
/// # Errors
///
/// As [`Recorder::record_or_spool`].
pub fn record_denial(recorder: &Recorder, d: &Denial, writ: &[u8], host: &str) -> Result<Recorded, RecordError> {
    recorder.record_or_spool(&denial_entry(d, writ, host), Durability::Sync)
}

/// The denial for an `exec_start` that was not recorded.
pub(crate) fn start_not_recorded(e: &RecordError) -> Denial {
    Denial::new(DenialCode::RecordFailed, format!("exec_start not recorded: {e}"))
}
