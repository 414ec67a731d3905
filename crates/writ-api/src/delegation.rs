//! Delegation over the API (`POST /v1/delegations`, `docs/api.md`): the
//! holder of a writ (the key its `lineage.holder` names) has signed a
//! narrower child of it (`writ_core::delegate`) and asks the authority to
//! record it, so that an online gate can get the child's status and count
//! its uses against the parent's.

use serde::{Deserialize, Serialize};

/// A delegated writ, as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationInput {
    /// The child writ: its DSSE envelope, as JSON text (the exact bytes
    /// the holder signed; their SHA-256 is the child's envelope digest).
    pub writ: String,
    /// Its ancestors, parent first: standard base64 of each envelope's
    /// bytes, as in the chain file `WRIT.chain` (`writ_core::delegate::Chain`).
    pub ancestors: Vec<String>,
}

/// A recorded delegated writ: the receipt of `POST /v1/delegations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationView {
    /// The child writ's id.
    pub writ_id: String,
    /// Its parent's id.
    pub parent_writ_id: String,
    /// The issued writ the chain starts at.
    pub root_writ_id: String,
    /// The request of the chain.
    pub request_id: String,
    /// Key id of the holder that signed the child.
    pub holder: String,
    /// The child's `lineage.depth`.
    pub depth: u32,
    /// `valid`, or `revoked` (it, or an ancestor, was revoked).
    pub state: String,
    /// Uses the child permits (`None` = not counted).
    pub uses: Option<u32>,
    /// The child's uses consumed (each one also consumed one of every
    /// ancestor's).
    pub used: u32,
    /// End of the child's validity.
    pub not_after: String,
    /// Ledger index of the `delegation` entry.
    pub index: u64,
    /// The receipt: C2SP tlog-proof text of the `delegation` entry, whose
    /// `extra` is the entry.
    pub receipt: String,
}
