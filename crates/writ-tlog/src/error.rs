use alloc::string::String;

/// Every way a transparency-log check or parse can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogError {
    /// A leaf index at or past the tree size.
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("tree size {new} is smaller than earlier size {old}: the log went backwards")]
    SizeDecreased {
        /// Earlier size.
        old: u64,
        /// Later size.
        new: u64,
    },
    /// An inclusion proof that does not lead to the expected root.
    #[error("inclusion proof does not lead to the checkpoint's root hash")]
    InclusionMismatch,
    /// A consistency proof that does not connect the two roots.
    #[error("consistency proof does not connect the two tree heads: the log was rewritten")]
    ConsistencyMismatch,
    /// Input that does not follow the format.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which format.
        what: &'static str,
        /// What is wrong with it.
        detail: &'static str,
    },
    /// Input over a `MAX_*` bound.
    #[error("{what} is larger than the limit of {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A signature by a trusted key that does not verify.
    #[error("signature by trusted key `{name}` does not verify: the note was altered or forged")]
    BadSignature {
        /// Key name.
        name: String,
    },
    /// No signature by any trusted key.
    #[error("note carries no signature by a trusted key; check the verifier key you passed")]
    NoKnownSignature,
    /// Checkpoint origin differs from the expected one.
    #[error("checkpoint origin `{got}` is not the expected `{want}`")]
    WrongOrigin {
        /// Found.
        got: String,
        /// Expected.
        want: String,
    },
    /// A hash lookup came back with the wrong number of hashes.
    #[error("hash reader returned {got} hashes, {want} were asked for")]
    ReaderMismatch {
        /// Returned.
        got: usize,
        /// Asked.
        want: usize,
    },
}
