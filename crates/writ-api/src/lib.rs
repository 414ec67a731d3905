//! writ-api: the authority's contract, shared by everyone who talks to it.
//!
//! - [`error`]: [`ApiError`] with the closed [`ApiErrorCode`] enum (stable
//!   snake_case names and their HTTP statuses; nobody matches error strings);
//! - [`wire`]: the JSON types of `docs/api.md` (requests, views, votes), with
//!   the request limits of the writ format;
//! - [`httpsig`]: the RFC 9421 request-signature profile every `/v1` call uses;
//! - [`approval`]: the approval-signing protocol (what an approver checks and signs);
//! - [`gate`]: [`GateApi`], what a gate needs (signed status with use
//!   consumption, records with a verifiable acknowledgement);
//! - [`operator`]: [`OperatorApi`], what requesters, approvers and operators need;
//! - [`delegation`]: recording a holder-signed child writ (`POST /v1/delegations`).
//!
//! Implementations: `writ-authority` (in-process) and `writ-client` (HTTP).
//! A caller holds a `dyn GateApi` / `dyn OperatorApi` and never knows which.
#![forbid(unsafe_code)]

pub mod approval;
pub mod delegation;
pub mod error;
pub mod gate;
pub mod httpsig;
pub mod operator;
pub mod wire;

pub use error::{ApiError, ApiErrorCode};
pub use gate::{GateApi, RecordAck, StartAck};
pub use operator::{IdempotencyKey, OperatorApi};

/// The HTTP header that carries an [`IdempotencyKey`].
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
