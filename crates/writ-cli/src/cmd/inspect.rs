//! `writ inspect`: decode a writ without trusting it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::files;

/// Decode a writ without verifying it (output is labelled UNVERIFIED).
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The writ (DSSE envelope JSON).
    pub writ: PathBuf,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let bytes = files::read_bounded(&args.writ, writ_core::limits::MAX_ENVELOPE_BYTES)?;
    let env = writ_core::dsse::decode(&bytes).map_err(|e| anyhow::anyhow!("`{}`: {e}", args.writ.display()))?;
    let statement: serde_json::Value = serde_json::from_slice(&env.payload).context("the payload is not JSON")?;
    println!("UNVERIFIED — decoded without checking any signature; use `writ verify` before trusting it");
    println!("payloadType: {}", env.payload_type);
    for (kid, _) in &env.signatures {
        println!("signature by key: {kid}");
    }
    println!("envelope sha256: {}", writ_core::Sha256Digest::of(&bytes));
    println!("{}", serde_json::to_string_pretty(&statement)?);
    Ok(ExitCode::SUCCESS)
}
