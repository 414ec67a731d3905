//! The one thing `writ` adds to the gate commands of `writ-gate`: the
//! embedded authority of `--home DIR`, as a [`writ_api::GateApi`] in this
//! process (through `writ_authority::api::Local`).
//!
//! The home's ledger has one sequencer at a time, so when another `writ`
//! process appended meanwhile (a `writ revoke`, another gate) our open ledger
//! refuses to append; the authority is then opened again and the call
//! retried once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use writ_api::{ApiError, ApiErrorCode, GateApi, RecordAck};
use writ_authority::api::Local;
use writ_authority::{Authority, Config};
use writ_core::{Denial, DenialCode, KeyId};
use writ_gate_cli::gate::Embedded;

struct Home {
    home: PathBuf,
    key_id: KeyId,
    cached: Mutex<Option<Arc<Authority>>>,
}

impl Home {
    fn with<T>(&self, f: impl Fn(&Local) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        let mut retried = false;
        loop {
            let authority = match cached.take() {
                Some(a) => a,
                None => Arc::new(Authority::open(&Config::new(&self.home)).map_err(ApiError::from)?),
            };
            let result = f(&Local::new(authority.clone(), self.key_id));
            match result {
                Err(e) if !retried && matches!(e.code, ApiErrorCode::Unavailable | ApiErrorCode::Busy) => {
                    retried = true
                }
                r => {
                    *cached = Some(authority);
                    return r;
                }
            }
        }
    }
}

impl GateApi for Home {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, ApiError> {
        self.with(|l| l.status(writ_id, consume, nonce))
    }
    fn record(&self, entry: &[u8]) -> Result<RecordAck, ApiError> {
        self.with(|l| GateApi::record(l, entry))
    }
}

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
    let h = Home { home: home.to_path_buf(), key_id: key.key_id(), cached: Mutex::new(None) };
    // Fail early (and clearly) on a missing home or an unknown gate key.
    h.with(|l| l.authority().identify(&key.key_id(), writ_authority::api::now()?).map(|_| ()).map_err(ApiError::from))
        .map_err(|e| unknown(format!("authority in `{}`: {e}", home.display())))?;
    Ok(Embedded { api: Arc::new(h), trust: home.join(writ_authority::home::TRUST) })
}

/// `--home DIR` for the gate commands of `writ`.
#[derive(Debug, Clone, clap::Args)]
pub struct HomeArg {
    /// Online through the embedded authority in DIR (this process).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["offline", "authority"])]
    pub home: Option<PathBuf>,
}
