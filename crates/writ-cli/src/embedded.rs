//! The one thing `writ` adds to the gate commands of `writ-gate`: the
//! embedded authority of `--home DIR`, as a [`writ_api::GateApi`] in this
//! process ([`writ_authority::api::HomeGate`]). The lean `writ-gate` binary
//! has no such mode: it links no authority.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use writ_authority::api::HomeGate;
use writ_core::{Denial, DenialCode};
use writ_gate_cli::gate::Embedded;

/// The embedded authority in `home`, acting as the gate whose private key is
/// at `key`.
///
/// # Errors
/// `status_unknown` when there is no key, it does not load, or the home
/// cannot be opened or does not know the key.
pub fn embedded(home: &Path, key: Option<&Path>) -> Result<Embedded, Denial> {
    let unknown = |d: String| Denial::new(DenialCode::StatusUnknown, d);
    let key_path = key.ok_or_else(|| unknown("online modes need the gate's key: pass --key FILE".into()))?;
    let key = writ_gate_cli::files::read_private_key(key_path).map_err(|e| unknown(format!("{e:#}")))?;
    let gate =
        HomeGate::open(home, key.key_id()).map_err(|e| unknown(format!("authority in `{}`: {e}", home.display())))?;
    let trust = gate.trust_path();
    Ok(Embedded { api: Arc::new(gate), trust })
}

/// `--home DIR` for the gate commands of `writ`.
#[derive(Debug, Clone, clap::Args)]
pub struct HomeArg {
    /// Online through the embedded authority in DIR (this process).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["offline", "authority"])]
    pub home: Option<PathBuf>,
}
