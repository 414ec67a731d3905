//! writ-mcp: the writ gateway for MCP servers (`writ-gate mcp`).
//!
//! Every `tools/call` must present a writ whose scope has a `tool` action for
//! that tool name, whose argument rules accept the arguments (per field:
//! `exact`, `one_of`, `glob`, `range`; or `args_sha256`, the digest of the
//! whole argument object) and whose `definition_sha256`, when set, is the
//! digest of the tool's definition as the upstream last announced it in
//! `tools/list` (a changed description or schema denies `scope_action`).
//! The writ is checked by [`writ_gate::Gate`] (the same `writ_core::verify`
//! as every gate), recorded like an execution (a durable, verified
//! `exec_start` before the call goes upstream, an `exec_end` with the
//! result's digest after), and never forwarded.
//!
//! - [`gateway::Gateway`] decides, for any transport: what a client message
//!   becomes ([`gateway::Gateway::inbound`]) and what the upstream's answer
//!   becomes ([`gateway::Gateway::outbound`]).
//! - [`stdio`] wraps a stdio server (newline-delimited JSON-RPC on the
//!   child's stdin/stdout); [`http`] fronts a Streamable HTTP server.
//! - [`canon`]: the canonical JSON and digests a writ binds.
//!
//! Where the writ travels, the error shape, approvals and records:
//! `docs/agents.md`, section "MCP gateway".
#![forbid(unsafe_code)]

pub mod canon;
pub mod gateway;
pub mod http;
pub mod stdio;

pub use gateway::{Approvals, Config, Gateway, Inbound, Pending, Presented};
