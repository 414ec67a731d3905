//! The hook through which a ledger's checkpoints get witnessed (C2SP
//! `tlog-witness`): an implementation submits checkpoints to witnesses and
//! keeps the latest one they cosigned (`writ_witness::submit::Submitter`
//! over HTTP). The ledger itself does no networking; it only asks the hook,
//! when building a receipt, for a cosigned checkpoint covering the entry,
//! and the hook answers within its documented bound.

use std::sync::Arc;

use crate::checkpoint::SignedCheckpoint;
use crate::ledger::Ledger;

/// Gets checkpoints cosigned by witnesses.
pub trait Witnessing: Send + Sync + std::fmt::Debug {
    /// A checkpoint covering at least `size` entries whose note carries the
    /// witnesses' cosignature lines after the log's signature, getting one
    /// cosigned if needed (consistency proofs come from `ledger`). Returns
    /// `None` when the witnesses did not cosign one within the hook's bound:
    /// the caller then goes on with the bare checkpoint.
    fn witnessed(&self, ledger: &Ledger, size: u64) -> Option<Arc<SignedCheckpoint>>;

    /// The latest cosigned checkpoint, without contacting any witness.
    fn latest(&self) -> Option<Arc<SignedCheckpoint>>;
}
