//! `writ verify`: the gate's `verify` (`writ_gate_cli::verify`).

pub use writ_gate_cli::verify::{VerifyArgs, run};
