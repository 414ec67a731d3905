//! What callers send and what the authority answers: the wire types moved to
//! `writ_api::wire` (the contract), re-exported here so paths keep working.

pub use writ_api::wire::*;
