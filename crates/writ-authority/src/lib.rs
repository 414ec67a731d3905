//! writ-authority: the domain logic of the writ authority, without HTTP.
//!
//! An [`Authority`] opens a home directory (see [`home`]): the issuer key,
//! the trust root (identities: requesters, approvers, gates, with groups),
//! the Cedar policy set, the transparency ledger (`writ-ledger`) and the
//! state database (SQLite, or PostgreSQL shared by replicas). It then
//!
//! - takes requests ([`Authority::submit`]) from requester keys, evaluates
//!   policy (plus verified runtime evidence) and records `request` and
//!   `decision` entries;
//! - collects approvals ([`Authority::vote`]): each approver signs the
//!   request digest with their own key; separation of duties (no self
//!   approval, distinct approvers of the required group); a quorum of
//!   approvals issues, a quorum of denials ends the request;
//! - issues writs with their ledger receipt (index, inclusion proof, signed
//!   checkpoint, and the issuance entry itself), so gates can check offline
//!   that the writ was logged;
//! - revokes ([`Authority::revoke`]) and answers signed status, consuming
//!   single- and limited-use writs atomically ([`Authority::status`]).
//!
//! Time always comes in as an argument: the authority reads no clock.
//!
//! ```
//! use writ_authority::{Authority, Config, home};
//! let dir = tempfile::tempdir().unwrap();
//! let report = home::init(dir.path()).unwrap();
//! let authority = Authority::open(&Config::new(dir.path())).unwrap();
//! assert_eq!(authority.issuer_key_id().to_string(), report.issuer_key_id);
//! assert!(home::init(dir.path()).is_err(), "init refuses to overwrite");
//! ```
#![forbid(unsafe_code)]

pub mod api;
mod authority;
pub mod db;
pub mod delegation_state;
mod error;
pub mod home;
pub mod model;
pub mod state;
pub use authority::recover;
pub mod text;
pub mod trust_store;

pub use authority::Started;
pub use authority::VoteSignature;
pub use authority::{
    Authority, CallOptions, Config, DEFAULT_PENDING_TTL_SECS, Identity, MAX_OFFLINE_SECS, NONCE_TTL_SECS,
};
pub use error::{AuthorityError, ErrorKind, Result};
pub use writ_core::approval::Verdict;
