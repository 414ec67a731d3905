//! The RFC 9421 request-signature profile: moved to the contract
//! (`writ_api::httpsig`), re-exported here.

pub use writ_api::httpsig::*;
