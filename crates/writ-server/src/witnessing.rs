//! Witnessed checkpoints: when the trust root gives the authority's ledger
//! key a witness policy (`witnesses` with a submission `url`,
//! `witness_quorum`), the server has its ledger's checkpoints cosigned by
//! those witnesses ([`writ_witness::submit::Submitter`]): every receipt
//! waits, at most [`writ_witness::submit::DEFAULT_TIMEOUT`], for a
//! checkpoint covering its entry that carries a quorum of cosignatures, and
//! `GET /v1/log/witnessed-checkpoint` serves the latest one.
//!
//! The policy is read when the server starts; a trust-root version that
//! changes the witnesses takes effect at the next start.

use std::sync::Arc;

use writ_authority::Authority;
use writ_core::trust::Role;
use writ_witness::submit::{DEFAULT_TIMEOUT, Endpoint, Submitter};

/// Start witnessing the authority's ledger if its trust root asks for it.
/// Returns the witnesses it submits to (none: not witnessed).
pub fn install(authority: &Arc<Authority>) -> usize {
    let trust = authority.trust();
    let origin = authority.ledger().origin().to_string();
    let Some(key) =
        trust.keys().iter().find(|k| k.has_role(Role::Ledger) && !k.entry.revoked && k.entry.name == origin)
    else {
        return 0;
    };
    let Some(policy) = writ_core::witness::policy(&key.entry) else { return 0 };
    let endpoints: Vec<Endpoint> = key
        .entry
        .witnesses
        .iter()
        .zip(policy.witnesses)
        .filter_map(|(w, verifier)| w.url.clone().map(|url| Endpoint { url, verifier }))
        .collect();
    if endpoints.len() < policy.quorum {
        eprintln!(
            "writ-server: the trust root requires {} witness cosignatures for `{origin}` but gives a submission url for only {} witnesses; receipts will lack the quorum",
            policy.quorum,
            endpoints.len()
        );
    }
    let n = endpoints.len();
    let submitter = Submitter::new(endpoints, policy.quorum, DEFAULT_TIMEOUT);
    authority.ledger().set_witnessing(Some(Arc::new(submitter.clone())));
    // Have the current checkpoint cosigned now, off the caller's thread.
    let a = authority.clone();
    let started = std::thread::Builder::new().name("writ-witness-start".into()).spawn(move || {
        if let Err(e) = submitter.witness_now(a.ledger()) {
            eprintln!("writ-server: witnessing `{}`: {e}", a.ledger().origin());
        }
    });
    if let Err(e) = started {
        eprintln!("writ-server: cannot start witnessing: {e}");
    }
    n
}
