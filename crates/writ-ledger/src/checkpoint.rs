//! A signed checkpoint: the note the sequencer signed and its parsed body.
//!
//! Its own module so that the sequencer (`ledger.rs`) and the tile writer
//! (`tiles.rs`) both depend on it without depending on each other.

use writ_tlog::checkpoint::Checkpoint;

/// A checkpoint together with its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The signed note, byte-exact.
    pub note: String,
    /// Its parsed body.
    pub checkpoint: Checkpoint,
}
