//! `inspect`: decode a writ without trusting it.

use std::path::PathBuf;
use std::process::ExitCode;

use writ_core::Unverified;

use crate::files;

/// Decode a writ without verifying it (output is labelled UNVERIFIED).
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// The writ (DSSE envelope JSON).
    pub writ: PathBuf,
}

/// `inspect`.
///
/// # Errors
/// The file cannot be read or is not a writ envelope.
pub fn run(args: InspectArgs, prog: &str) -> anyhow::Result<ExitCode> {
    let bytes = files::read_bounded(&args.writ, writ_core::limits::MAX_ENVELOPE_BYTES)?;
    let w = Unverified::decode(&bytes).map_err(|d| anyhow::anyhow!("`{}`: {}", args.writ.display(), d.detail))?;
    println!("UNVERIFIED — decoded without checking any signature; use `{prog} verify` before trusting it");
    println!("payloadType: {}", w.payload_type());
    for kid in w.signers() {
        println!("signature by key: {kid}");
    }
    println!("envelope sha256: {}", w.envelope_digest());
    println!("{}", serde_json::to_string_pretty(w.statement())?);
    Ok(ExitCode::SUCCESS)
}
