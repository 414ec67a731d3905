//! Witness policy of a log: which C2SP `tlog-witness` witnesses must have
//! cosigned (C2SP `tlog-cosignature`, `cosignature/v1`) the checkpoint a
//! receipt is proven against, and how many of them (k of n).
//!
//! The policy lives on the log's `ledger` key in the trust root:
//!
//! ```json
//! { "name": "writ.example/ledger", "roles": ["ledger"], …,
//!   "witnesses": [{"name": "w1.example", "key": "w1.example+1a2b3c4d+BM…"}],
//!   "witness_quorum": 1 }
//! ```
//!
//! `key` is the witness's verifier key string
//! `<name>+<hex key id>+<base64(0x04 ‖ Ed25519 public key)>` (what
//! `writ witness init` prints). A receipt's checkpoint passes when at least
//! `witness_quorum` distinct listed witnesses cosigned it; otherwise the writ
//! is denied with `witness_quorum`. A cosignature line by a listed witness
//! that does not verify over that checkpoint (made for another, older
//! checkpoint, or altered), or that is dated before the writ was issued
//! (beyond [`COSIGNATURE_SKEW_SECS`]), denies with `witness_stale`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use writ_tlog::cosig::{self, CosignatureVerifier, QuorumError};

use crate::denial::{Denial, DenialCode};
use crate::time::Timestamp;
use crate::trust::{Role, TrustedKeyFile};

/// Most witnesses one log may list.
pub const MAX_WITNESSES: usize = 32;
/// How far a cosignature's timestamp may precede the writ's `issued_at`
/// (clock skew between the authority and its witnesses), in seconds.
pub const COSIGNATURE_SKEW_SECS: i64 = 300;

/// One witness of a log, as written in the trust root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessFile {
    /// The witness's key name (its cosignature lines carry it).
    pub name: String,
    /// Its verifier key `<name>+<hex key id>+<base64(0x04 ‖ pubkey)>`.
    pub key: String,
    /// Where the authority submits checkpoints (the C2SP `tlog-witness`
    /// submission prefix, e.g. `https://witness.example`). Operational only:
    /// verification never reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The parsed witness policy of a ledger key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessPolicy {
    /// The witnesses, in trust-root order.
    pub witnesses: Vec<CosignatureVerifier>,
    /// How many must have cosigned.
    pub quorum: usize,
}

fn parse_witnesses(entry: &TrustedKeyFile) -> Result<Vec<CosignatureVerifier>, String> {
    let name = &entry.name;
    let mut out: Vec<CosignatureVerifier> = Vec::with_capacity(entry.witnesses.len());
    for w in &entry.witnesses {
        let v = CosignatureVerifier::parse(&w.key).map_err(|e| {
            format!("key `{name}`: witness `{}`: {e} (expected what `writ witness init` prints)", w.name)
        })?;
        if v.name() != w.name {
            return Err(format!("key `{name}`: witness `{}` has a key named `{}`", w.name, v.name()));
        }
        if out.iter().any(|o| o.name() == v.name()) {
            return Err(format!("key `{name}`: witness `{}` is listed twice", w.name));
        }
        out.push(v);
    }
    Ok(out)
}

/// Check the witness fields of a trust-root key: only on ledger keys, at
/// most [`MAX_WITNESSES`] distinct, parseable witnesses, and a quorum of
/// 1..=n exactly when witnesses are listed.
///
/// # Errors
/// What is wrong, naming the key.
pub fn validate(entry: &TrustedKeyFile) -> Result<(), String> {
    let name = &entry.name;
    if entry.witnesses.is_empty() && entry.witness_quorum.is_none() {
        return Ok(());
    }
    if !entry.roles.contains(&Role::Ledger) {
        return Err(format!("key `{name}`: witnesses and witness_quorum are for ledger keys only"));
    }
    if entry.witnesses.len() > MAX_WITNESSES {
        return Err(format!("key `{name}`: more than {MAX_WITNESSES} witnesses"));
    }
    parse_witnesses(entry)?;
    let n = entry.witnesses.len();
    match entry.witness_quorum {
        Some(k) if k >= 1 && (k as usize) <= n => Ok(()),
        Some(k) => Err(format!("key `{name}`: witness_quorum {k} must be between 1 and the {n} witnesses listed")),
        None => Err(format!("key `{name}`: {n} witnesses are listed but no witness_quorum (how many must cosign)")),
    }
}

/// The witness policy of a (validated) ledger key, `None` when it has none.
#[must_use]
pub fn policy(entry: &TrustedKeyFile) -> Option<WitnessPolicy> {
    let quorum = entry.witness_quorum? as usize;
    let witnesses = parse_witnesses(entry).ok()?;
    Some(WitnessPolicy { witnesses, quorum })
}

/// Check a receipt's signed checkpoint note against the witness policy of
/// the ledger key that signed it, for a writ issued at `issued_at`.
///
/// # Errors
/// `witness_stale` for a listed witness's cosignature that does not verify
/// over this checkpoint or predates the writ; `witness_quorum` when fewer
/// than the quorum of listed witnesses cosigned.
pub fn check(note: &[u8], policy: &WitnessPolicy, issued_at: Timestamp) -> Result<(), Denial> {
    let found = match cosig::cosignatures(note, &policy.witnesses) {
        Ok(f) => f,
        Err(e @ QuorumError::Invalid { .. }) => return Err(Denial::new(DenialCode::WitnessStale, format!("{e}"))),
        Err(e) => return Err(Denial::new(DenialCode::ReceiptInvalid, format!("{e}"))),
    };
    let earliest = issued_at.0.saturating_sub(COSIGNATURE_SKEW_SECS);
    if let Some(old) = found.iter().find(|c| i64::try_from(c.timestamp).unwrap_or(i64::MAX) < earliest) {
        return Err(Denial::new(
            DenialCode::WitnessStale,
            format!(
                "witness `{}` cosigned the receipt's checkpoint at {}, before the writ was issued ({}): a stale cosignature",
                old.name,
                Timestamp(i64::try_from(old.timestamp).unwrap_or(i64::MAX)).to_rfc3339(),
                issued_at.to_rfc3339()
            ),
        ));
    }
    if found.len() < policy.quorum {
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        return Err(Denial::new(
            DenialCode::WitnessQuorum,
            format!(
                "the receipt's checkpoint is cosigned by {} of the trust root's {} witnesses ({}), {} are required",
                found.len(),
                policy.witnesses.len(),
                if names.is_empty() { String::from("none") } else { names.join(", ") },
                policy.quorum
            ),
        ));
    }
    Ok(())
}
