//! What `exec` and `proxy` share: where the gate's facts, trust root,
//! authority, key and spool come from.
//!
//! Precedence: the gate configuration file ([`crate::config`]) fixes what it
//! sets; flags fill in what it leaves open, and a flag that contradicts it is
//! a usage error. Mode: `--offline` runs offline; otherwise the gate is
//! online when an authority is known (`--authority`, the file's `authority`,
//! or the embedded authority of `writ exec --home`), and offline when none
//! is. Offline, the core admits only writs that say `offline: true`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use writ_api::GateApi;
use writ_core::{Denial, DenialCode, HostFacts, SigningKey, TrustRoot};
use writ_gate::{Recorder, Spool};

use crate::config::GateConfig;
use crate::exit::UsageError;
use crate::files;

/// The spool path when neither the configuration nor `--spool` names one.
pub const DEFAULT_SPOOL: &str = "/var/lib/writ/gate.spool";

/// Where a gate verifies writs against and where it records.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// The gate's configuration file (default: /etc/writ/gate.toml when it
    /// exists): host name and labels, authority, key, trust root, spool.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The trust-root file (unless the configuration names it).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Without contacting the authority (the writ must say `offline: true`).
    #[arg(long, conflicts_with = "authority")]
    pub offline: bool,
    /// Online through the authority at URL (unless the configuration names one).
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
    /// The gate's private key (online): its key must be in the trust root
    /// with the `gate` role.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The durable local spool of this gate's records (see docs/gate.md).
    #[arg(long, value_name = "FILE", env = "WRIT_SPOOL")]
    pub spool: Option<PathBuf>,
    /// A host label to require of this run (must be one the configuration
    /// lists; repeatable).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
}

/// The embedded authority of `writ exec --home DIR` (the `writ` binary
/// passes it; `writ-gate` has none).
#[derive(Clone)]
pub struct Embedded {
    /// The authority as a gate sees it.
    pub api: Arc<dyn GateApi>,
    /// Its trust root file.
    pub trust: PathBuf,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("trust", &self.trust).finish_non_exhaustive()
    }
}

/// The gate's settings after the configuration and the flags met.
pub struct Resolved {
    /// The configuration file's contents.
    pub config: GateConfig,
    /// The trust root.
    pub trust: TrustRoot,
    /// The spool path.
    pub spool: PathBuf,
    /// This host's facts.
    pub host: HostFacts,
    /// The authority, when online (`Err`: it was asked for but cannot be
    /// used, a `status_unknown` denial).
    pub online: Result<Option<Arc<dyn GateApi>>, Denial>,
    /// The gate's key, which signs every record (`Err`: named but it does
    /// not load; `Ok(None)`: none named).
    pub key: Result<Option<Arc<SigningKey>>, String>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved").field("spool", &self.spool).field("host", &self.host).finish_non_exhaustive()
    }
}

fn pick<T: PartialEq + Clone>(
    what: &str,
    file: Option<&T>,
    flag: Option<&T>,
    show: impl Fn(&T) -> String,
) -> anyhow::Result<Option<T>> {
    match (file, flag) {
        (Some(f), Some(g)) if f != g => Err(UsageError(format!(
            "--{what} `{}` contradicts the gate configuration, which sets `{}`; drop the flag",
            show(g),
            show(f)
        ))
        .into()),
        (Some(f), _) => Ok(Some(f.clone())),
        (None, g) => Ok(g.cloned()),
    }
}

impl GateArgs {
    /// Loads the configuration and combines it with the flags.
    ///
    /// # Errors
    /// A configuration that does not load, a flag that contradicts it, no
    /// trust root, or a trust root that does not load.
    pub fn resolve(&self, embedded: Option<Embedded>) -> anyhow::Result<Resolved> {
        let config = GateConfig::load(self.config.as_deref())?;
        let show = |p: &PathBuf| p.display().to_string();
        let trust_path = pick("trust", config.trust.as_ref(), self.trust.as_ref(), show)?
            .or_else(|| embedded.as_ref().map(|e| e.trust.clone()))
            .ok_or_else(|| UsageError("pass --trust FILE (the trust root to verify against)".into()))?;
        let trust = crate::trust::load_for_gate(&trust_path, config.trust_pin.as_ref(), files::now()?)?;
        let spool = pick("spool", config.spool.as_ref(), self.spool.as_ref(), show)?
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SPOOL));
        let key = pick("key", config.key.as_ref(), self.key.as_ref(), show)?;
        let authority = pick("authority", config.authority.as_ref(), self.authority.as_ref(), String::clone)?;
        for l in &self.labels {
            if !config.labels.contains(l) {
                return Err(UsageError(format!(
                    "--label `{l}` is not a label of this host; host labels come from the gate configuration{}",
                    config.path.as_ref().map(|p| format!(" `{}`", p.display())).unwrap_or_default()
                ))
                .into());
            }
        }
        let host = HostFacts { hostname: config.hostname.clone().unwrap_or_default(), labels: config.labels.clone() };
        let online = if self.offline {
            Ok(None)
        } else if let Some(e) = embedded {
            Ok(Some(e.api))
        } else if let Some(url) = authority {
            let options = config.client_options()?;
            connect(&url, key.as_deref(), &options).map(Some)
        } else {
            Ok(None)
        };
        let signing =
            key.as_deref().map(|p| files::read_private_key(p).map(Arc::new).map_err(|e| format!("{e:#}"))).transpose();
        Ok(Resolved { config, trust, spool, host, online, key: signing })
    }
}

/// A client for the authority at `url` signing with the gate key at `key`,
/// reaching it with `options` (gate.toml's `tls_ca`, `tls_client_cert`, `tls_client_key`).
///
/// # Errors
/// `status_unknown` when there is no key, it does not load, or the URL is bad.
pub fn connect(url: &str, key: Option<&Path>, options: &writ_client::Options) -> Result<Arc<dyn GateApi>, Denial> {
    let unknown = |d: String| Denial::new(DenialCode::StatusUnknown, d);
    let key_path = key.ok_or_else(|| unknown("online modes need the gate's key: pass --key FILE".into()))?;
    let key = files::read_private_key(key_path).map_err(|e| unknown(format!("{e:#}")))?;
    let client =
        writ_client::Client::with_options(url, key, options).map_err(|e| unknown(format!("authority `{url}`: {e}")))?;
    Ok(Arc::new(client))
}

impl Resolved {
    /// The recorder: online with the spool as fallback, else the spool;
    /// every record signed with the gate's key.
    ///
    /// # Errors
    /// `record_failed` when the spool cannot be opened (offline), or there
    /// is no usable gate key of the trust root to sign with; `scope_host`
    /// when the trust root binds that key to other host facts than the
    /// configuration's ([`writ_gate::check_gate_key`]).
    pub fn recorder(&self, online: Option<&Arc<dyn GateApi>>) -> Result<Recorder, Denial> {
        let key = self.key.clone().map_err(|e| {
            Denial::new(DenialCode::RecordFailed, format!("the gate's key, which signs its records: {e}"))
        })?;
        writ_gate::check_gate_key(&self.trust, key.as_ref().map(|k| k.key_id()), &self.host)?;
        let recorder = match online {
            Some(api) => Recorder::online(api.clone(), self.trust.clone()).with_fallback(self.spool.clone()),
            None => Spool::open(&self.spool)
                .map(Recorder::offline)
                .map_err(|e| Denial::new(DenialCode::RecordFailed, format!("cannot open the spool: {e}")))?,
        };
        Ok(match key {
            Some(k) => recorder.signed_by(k),
            None => recorder,
        })
    }
}
