//! Ledger receipts: proof that a writ's issuance is in the transparency log.

use crate::denial::{Denial, DenialCode};
use crate::digest::Sha256Digest;
use crate::model::Predicate;
use crate::trust::TrustRoot;

/// Checks a receipt against the writ it accompanies.
///
/// # Errors
/// `receipt_invalid` when the receipt does not prove the issuance.
pub fn check(_receipt: &[u8], _trust: &TrustRoot, _p: &Predicate, _envelope: &Sha256Digest) -> Result<(), Denial> {
    Err(Denial::new(DenialCode::ReceiptInvalid, "receipt verification is not available in this build"))
}
