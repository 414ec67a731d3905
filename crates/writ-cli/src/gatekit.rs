//! What `writ exec` and `writ proxy` share as gates: the authority as a gate
//! needs it (signed status with use consumption, records), the sink their
//! `exec_start` / `exec_end` / `denial` entries go to (the authority, or the
//! durable local spool), and the denial entry itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use writ_authority::{Authority, AuthorityError, Config, Identity};
use writ_core::entry::Entry;
use writ_core::{Denial, DenialCode};
use writ_gate::{Spool, timestamp_now};
use writ_server::client::Client;

use crate::exit::UsageError;
use crate::files;

/// Where a gate verifies writs against and where it records: the options
/// `writ exec` and `writ proxy` share.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// The trust-root file (default: DIR/trust.json with --home).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Without contacting the authority (the default; the writ must allow it).
    #[arg(long, conflicts_with_all = ["home", "authority"])]
    pub offline: bool,
    /// Online through the embedded authority in DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "authority")]
    pub home: Option<PathBuf>,
    /// Online through the authority at URL.
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
    /// The gate's private key (online modes): its key must be in the
    /// authority's trust root with the `gate` role.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The durable local spool of this gate's records: offline all of them
    /// (each fsynced), online those the authority did not take; `writ sync`
    /// uploads them (see docs/gate.md).
    #[arg(long, value_name = "FILE", env = "WRIT_SPOOL", default_value = "/var/lib/writ/gate.spool")]
    pub spool: PathBuf,
}

impl GateArgs {
    /// `--trust FILE`, else the trust root of `--home DIR`.
    pub(crate) fn trust_path(&self) -> anyhow::Result<PathBuf> {
        match (&self.trust, &self.home) {
            (Some(t), _) => Ok(t.clone()),
            (None, Some(home)) => Ok(home.join(writ_authority::home::TRUST)),
            (None, None) => Err(UsageError("pass --trust FILE (the trust root to verify against)".into()).into()),
        }
    }

    /// The authority of the online modes; `None` offline.
    pub(crate) fn connect(&self) -> Result<Option<Arc<dyn Online>>, Denial> {
        connect(self.home.as_deref(), self.authority.as_deref(), self.key.as_deref())
    }
}

/// The authority, as a gate needs it: signed status (consuming a use) and
/// records.
pub(crate) trait Online: Send + Sync {
    /// A signed status response for `writ_id`, consuming one use when `consume`.
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, Denial>;
    /// Appends a gate record (`exec_start`, `exec_end`, `denial`) to the ledger.
    fn record(&self, entry: &[u8]) -> Result<(), String>;
}

/// The authority of a home directory, in this process. Opened once and
/// kept; the home's ledger has one sequencer at a time, so when another `writ`
/// process appended meanwhile (a `writ revoke`, another gate) our ledger
/// refuses to append, and the authority is opened again and the call retried
/// once.
struct Embedded {
    home: PathBuf,
    key_id: writ_core::KeyId,
    cached: std::sync::Mutex<Option<Authority>>,
}

impl Embedded {
    fn with<T>(&self, f: impl Fn(&Authority, &Identity) -> Result<T, AuthorityError>) -> Result<T, AuthorityError> {
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut retried = false;
        loop {
            let authority = match cached.take() {
                Some(a) => a,
                None => Authority::open(&Config::new(&self.home))?,
            };
            let me = authority.identify(&self.key_id, timestamp_now())?;
            let result = f(&authority, &me);
            match result {
                Err(AuthorityError::Ledger(_)) if !retried => retried = true,
                r => {
                    *cached = Some(authority);
                    return r;
                }
            }
        }
    }
}

fn status_denial(code: Option<&str>, detail: String) -> Denial {
    match code {
        Some("replayed") => Denial::new(DenialCode::Replayed, detail),
        Some("revoked") => Denial::new(DenialCode::Revoked, detail),
        _ => Denial::new(DenialCode::StatusUnknown, format!("no status from the authority: {detail}")),
    }
}

impl Online for Embedded {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, Denial> {
        self.with(|a, me| a.status(me, writ_id, consume, Some(nonce.to_owned()), timestamp_now())).map_err(|e| {
            let code = matches!(e, AuthorityError::Replayed(_)).then_some("replayed");
            status_denial(code, e.to_string())
        })
    }
    fn record(&self, entry: &[u8]) -> Result<(), String> {
        self.with(|a, me| a.record(me, entry)).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// A remote authority over HTTP (requests signed with the gate's key).
struct Remote(Client);

impl Online for Remote {
    fn status(&self, writ_id: &str, consume: bool, nonce: &str) -> Result<Vec<u8>, Denial> {
        if writ_id.is_empty() || !writ_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(Denial::new(DenialCode::Malformed, format!("writ id `{writ_id}` is not a valid id")));
        }
        let body = json!({"consume": consume, "nonce": nonce}).to_string();
        self.0
            .raw("POST", &format!("/v1/writs/{writ_id}/status"), Some(body.as_bytes()))
            .map(|(_, b)| b)
            .map_err(|e| status_denial(e.code(), e.to_string()))
    }
    fn record(&self, entry: &[u8]) -> Result<(), String> {
        let body = json!({"entry": writ_core::b64::encode(entry)}).to_string();
        self.0.raw("POST", "/v1/records", Some(body.as_bytes())).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Where records go: the durable local spool (offline) or the authority.
pub(crate) enum Sink {
    Spool(Spool),
    Online(Arc<dyn Online>),
}

impl Sink {
    /// Records `e`: fsynced in the spool, or taken by the authority.
    pub(crate) fn record(&self, e: &Entry) -> Result<(), String> {
        match self {
            Self::Spool(s) => s.append(e).map_err(|e| e.to_string()),
            Self::Online(o) => o.record(&e.encode().map_err(|e| e.to_string())?),
        }
    }

    /// Records `e`; when the sink does not take it, appends it to the spool
    /// at `spool` for `writ sync`. `Err` says what happened (a warning: the
    /// entry is lost only when the spool failed too).
    pub(crate) fn record_or_spool(&self, e: &Entry, spool: &Path) -> Result<(), String> {
        match self.record(e) {
            Ok(()) => Ok(()),
            Err(err) => match open_spool(spool).map(|s| s.append(e)) {
                Ok(Ok(())) => Err(format!("{err} (spooled to `{}` for `writ sync`)", spool.display())),
                _ => Err(err),
            },
        }
    }
}

/// Opens (creating its directory) the spool at `path`; `record_failed` when
/// it cannot.
pub(crate) fn open_spool(path: &Path) -> Result<Spool, Denial> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    Spool::open(path).map_err(|e| Denial::new(DenialCode::RecordFailed, format!("cannot open the spool: {e}")))
}

fn nonce() -> Result<String, Denial> {
    let seed = files::random_seed().map_err(|e| Denial::new(DenialCode::Internal, e.to_string()))?;
    Ok(hex::encode(seed.get(..16).unwrap_or_default()))
}

/// Asks for the writ's status (consuming a use when `consume`) and checks the
/// signed answer.
pub(crate) fn fetch_status(
    online: &dyn Online,
    trust: &writ_core::TrustRoot,
    writ_id: &str,
    envelope: &writ_core::Sha256Digest,
    consume: bool,
) -> Result<writ_core::status::CheckedStatus, Denial> {
    let n = nonce()?;
    let bytes = online.status(writ_id, consume, &n)?;
    writ_core::status::open(&bytes, trust, writ_id, envelope, Some(&n))
}

/// The writ id as claimed (unverified; only labels a denial record).
pub(crate) fn claimed_writ_id(writ: &[u8]) -> Option<String> {
    let env = writ_core::dsse::decode(writ).ok()?;
    let v: Value = serde_json::from_slice(&env.payload).ok()?;
    let id = v.pointer("/predicate/id")?.as_str()?;
    (id.len() <= 128).then(|| id.to_owned())
}

/// The `denial` entry for `d` on this host, labelled with the writ id the
/// (possibly bad) writ claims.
pub(crate) fn denial_entry(d: &Denial, writ: &[u8], host: &str) -> Entry {
    Entry::Denial(writ_core::entry::Denial {
        time: timestamp_now(),
        request_id: None,
        writ_id: claimed_writ_id(writ),
        code: d.code.as_str().to_owned(),
        detail: d.detail.chars().take(1024).collect(),
        host: Some(host.to_owned()),
    })
}

/// The authority of `--home DIR` (in this process) or `--authority URL`,
/// acting as the gate whose private key is at `key`; `None` when neither is
/// given (offline).
pub(crate) fn connect(
    home: Option<&Path>,
    authority: Option<&str>,
    key: Option<&Path>,
) -> Result<Option<Arc<dyn Online>>, Denial> {
    if home.is_none() && authority.is_none() {
        return Ok(None);
    }
    let unknown = |d: String| Denial::new(DenialCode::StatusUnknown, d);
    let key_path = key.ok_or_else(|| unknown("online modes need the gate's key: pass --key FILE".into()))?;
    let key = files::read_private_key(key_path).map_err(|e| unknown(format!("{e:#}")))?;
    if let Some(url) = authority {
        return Ok(Some(Arc::new(Remote(Client::new(url, key)))));
    }
    let online = Embedded {
        home: home.map(Path::to_path_buf).unwrap_or_default(),
        key_id: key.key_id(),
        cached: std::sync::Mutex::new(None),
    };
    // Fail early (and clearly) on a missing home or an unknown gate key.
    online.with(|_, _| Ok(())).map_err(|e| unknown(format!("authority in `{}`: {e}", online.home.display())))?;
    Ok(Some(Arc::new(online)))
}
