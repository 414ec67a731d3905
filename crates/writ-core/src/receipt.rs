//! Ledger receipts: proof that a writ's issuance is in the transparency log.
//!
//! A receipt is a C2SP `tlog-proof@v1` whose `extra` line carries the
//! issuance entry itself (the canonical bytes of [`crate::entry::Entry::Issuance`]).
//! It is checked with nothing but the trust root: the entry must name this
//! writ (id and envelope digest), the checkpoint must be signed by a
//! trust-root key with role `ledger` whose name is the checkpoint's origin,
//! and the inclusion proof must lead from the entry's leaf hash to that
//! checkpoint's root. This is what lets a gate refuse a writ that was never
//! logged, even one signed with a stolen issuer key (invariant 7).
//!
//! A delegated writ (`docs/format.md` §18) is not issued but recorded: its
//! receipt carries the `delegation` entry the authority logged for it
//! ([`crate::entry::Entry::Delegation`]: this child's id and envelope
//! digest, and its parent's id).
//!
//! When the trust root gives that ledger key a witness policy, the
//! checkpoint note must also carry the cosignatures of a quorum of its
//! witnesses (see [`crate::witness`]): a log that shows a gate a fork cannot
//! get it cosigned by witnesses that saw the other branch.

use alloc::string::String;

use writ_tlog::tlog_proof::TlogProof;

use crate::denial::{Denial, DenialCode};
use crate::digest::Sha256Digest;
use crate::entry::Entry;
use crate::limits::MAX_RECEIPT_BYTES;
use crate::model::Predicate;
use crate::trust::{Role, TrustRoot};

fn invalid(detail: impl Into<String>) -> Denial {
    Denial::new(DenialCode::ReceiptInvalid, detail)
}

/// What a receipt proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptInfo {
    /// Ledger index of the issuance entry.
    pub index: u64,
    /// Size of the checkpoint that includes it.
    pub tree_size: u64,
    /// Origin (ledger name) of that checkpoint.
    pub origin: String,
}

/// Checks a receipt against the writ it accompanies.
///
/// # Errors
/// `receipt_invalid` when the receipt does not prove this writ's issuance.
pub fn check(receipt: &[u8], trust: &TrustRoot, p: &Predicate, envelope: &Sha256Digest) -> Result<ReceiptInfo, Denial> {
    if receipt.len() > MAX_RECEIPT_BYTES {
        return Err(invalid("receipt is too large"));
    }
    let proof = TlogProof::parse(receipt).map_err(|e| invalid(alloc::format!("receipt is not a tlog-proof: {e}")))?;
    let extra = proof.extra.as_deref().ok_or_else(|| invalid("receipt carries no issuance entry (`extra` line)"))?;
    match Entry::decode(extra) {
        Ok(Entry::Issuance(i)) if i.writ_id == p.id && i.envelope_digest == *envelope => {}
        Ok(Entry::Issuance(_)) => return Err(invalid("receipt proves the issuance of a different writ")),
        Ok(Entry::Delegation(d))
            if d.writ_id == p.id
                && d.envelope_digest == *envelope
                && p.lineage.parent.as_ref().is_some_and(|parent| parent.id == d.parent_writ_id) => {}
        Ok(Entry::Delegation(_)) => {
            return Err(invalid("receipt proves the delegation of a different writ (or of another parent)"));
        }
        Ok(other) => {
            return Err(invalid(alloc::format!("receipt entry is a {} entry, not an issuance", other.kind().as_str())));
        }
        Err(e) => return Err(invalid(alloc::format!("receipt entry does not decode: {e}"))),
    }
    let mut last_error = String::from("the trust root lists no ledger key");
    for k in trust.keys().iter().filter(|k| k.has_role(Role::Ledger) && !k.entry.revoked) {
        let verifier = match k.note_verifier() {
            Ok(v) => v,
            Err(e) => {
                last_error = alloc::format!("ledger key `{}`: {e}", k.entry.name);
                continue;
            }
        };
        match proof.verify_entry(extra, &k.entry.name, &verifier) {
            Ok(v) => {
                // The log's witness policy (trust root, k of n): the
                // checkpoint must carry the quorum's cosignatures.
                if let Some(policy) = crate::witness::policy(&k.entry) {
                    crate::witness::check(&proof.checkpoint, &policy, p.issued_at)?;
                }
                return Ok(ReceiptInfo { index: v.index, tree_size: v.checkpoint.size, origin: v.checkpoint.origin });
            }
            Err(e) => last_error = alloc::format!("{e}"),
        }
    }
    Err(invalid(alloc::format!("receipt does not verify against a trusted ledger key: {last_error}")))
}
