//! What a gate needs from the authority.

use crate::ApiError;

/// The authority's acknowledgement of a gate record.
///
/// A gate counts a record as recorded only after it checked `receipt`
/// (a C2SP tlog-proof of exactly the bytes it sent, under a checkpoint
/// signed by the ledger key of its trust root); `writ_gate::record` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAck {
    /// The entry's ledger index.
    pub index: u64,
    /// The receipt: C2SP tlog-proof text whose `extra` is the entry.
    pub receipt: Vec<u8>,
}

/// The authority as a gate sees it: signed status (consuming a use) and
/// records. Implemented in-process by `writ-authority` and over HTTP by
/// `writ-client`.
pub trait GateApi: Send + Sync {
    /// A signed status response for `writ_id` bound to `nonce`, consuming one
    /// use when `consume`; open it with `writ_core::status::open`.
    ///
    /// # Errors
    /// [`ApiErrorCode::Replayed`](crate::ApiErrorCode::Replayed) when no use
    /// is left, `unknown_writ`, transport and authority failures.
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, ApiError>;

    /// Appends a gate record (the bytes of `writ_core::entry::Entry::encode`:
    /// `exec_start`, `exec_end`, `denial`) to the ledger.
    ///
    /// # Errors
    /// The authority refused the record, or could not be reached.
    fn record(&self, entry: &[u8]) -> Result<RecordAck, ApiError>;

    /// Status and the durable `exec_start` in one call: the authority
    /// refuses the start of a revoked writ (`already_revoked`) or one with
    /// no use left (`replayed`); otherwise it consumes a use (when
    /// `consume`), appends `entry` (a signed `exec_start` gate record of
    /// `writ_id`) and signs the status bound to `nonce`, all in one
    /// transaction, so no revocation or other start can come between the
    /// check and the record.
    ///
    /// The default answers `not_found`: an implementation without it (a
    /// relay, an older authority) makes the gate ask [`Self::status`] and
    /// [`Self::record`] in turn.
    ///
    /// # Errors
    /// As [`Self::status`] and [`Self::record`]; `already_revoked`.
    fn start(&self, writ_id: &str, consume: bool, nonce: &str, entry: &[u8]) -> Result<StartAck, ApiError> {
        let _ = (writ_id, consume, nonce, entry);
        Err(ApiError::new(crate::ApiErrorCode::NotFound, "this authority does not take a combined start"))
    }
}

/// The authority's answer to [`GateApi::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartAck {
    /// The signed status response (open it with `writ_core::status::open`).
    pub status: Vec<u8>,
    /// The acknowledgement of the `exec_start` record (check it like any
    /// other record's).
    pub record: RecordAck,
}
