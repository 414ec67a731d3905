//! Where the authority is and who is calling: flags, then environment
//! variables (`WRIT_AUTHORITY`, `WRIT_KEY`, `WRIT_HOME`, `WRIT_CA`,
//! `WRIT_DATABASE_URL`), then the config file
//! (`$XDG_CONFIG_HOME/writ/config.toml`, else `~/.config/writ/config.toml`,
//! or `$WRIT_CONFIG`), then `./.writ`.
//!
//! ```toml
//! authority = "https://authority.example:7300"
//! key = "/home/me/.config/writ/me.key"
//! ca = "/etc/writ/ca.pem"      # trust this CA for https:// (default: system roots)
//! tls_client_cert = "me.crt"   # a TLS client certificate, for `writ serve --tls-client-ca`
//! tls_client_key = "me.crt.key"
//! home = "/var/lib/writ"       # embedded mode, when no authority is set
//! ```
//!
//! The commands get a `Box<dyn OperatorApi>` from [`ConnArgs::open`]: either
//! the authority in-process on a home ([`writ_authority::api::Local`]) or a
//! signing HTTP client ([`writ_client::Client`]); they never know which.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use writ_api::{ApiError, ApiErrorCode, IdempotencyKey, OperatorApi};
use writ_core::SigningKey;

use crate::exit::{self, UsageError};
use crate::files;

/// The config file's contents.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Authority URL.
    pub authority: Option<String>,
    /// Private key file.
    pub key: Option<PathBuf>,
    /// Authority home (embedded mode).
    pub home: Option<PathBuf>,
    /// CA certificates (PEM) for `https://`.
    pub ca: Option<PathBuf>,
    /// TLS client certificate chain (PEM).
    pub tls_client_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_client_key: Option<PathBuf>,
}

/// The config file's path, if one is configured or present.
pub fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WRIT_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("writ").join("config.toml"))
}

/// Reads the config file (absent = empty; `$WRIT_CONFIG` must exist).
///
/// # Errors
/// A file that exists but does not parse, naming the file and the field.
pub fn load() -> anyhow::Result<ConfigFile> {
    let Some(path) = config_path() else { return Ok(ConfigFile::default()) };
    let explicit = std::env::var_os("WRIT_CONFIG").is_some();
    if !explicit && !path.exists() {
        return Ok(ConfigFile::default());
    }
    let bytes = files::read_bounded(&path, 64 * 1024)?;
    let text = String::from_utf8(bytes).with_context(|| format!("config file `{}` is not UTF-8", path.display()))?;
    let cfg: ConfigFile = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!("config file `{}`: {}", path.display(), e.to_string().trim_end().replace('\n', " "))
    })?;
    // Relative paths in the file are relative to the file.
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let rel = |p: Option<PathBuf>| p.map(|p| if p.is_relative() { dir.join(p) } else { p });
    Ok(ConfigFile {
        key: rel(cfg.key),
        home: rel(cfg.home),
        ca: rel(cfg.ca),
        authority: cfg.authority,
        tls_client_cert: rel(cfg.tls_client_cert),
        tls_client_key: rel(cfg.tls_client_key),
    })
}

/// Where the authority is and who is calling (shared by the operator commands).
#[derive(Debug, Clone, clap::Args)]
pub struct ConnArgs {
    /// Embedded: the authority home [env: WRIT_HOME; config `home`; default ./.writ].
    #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Remote: the authority's URL, `https://host:port` (or `http://` on loopback) [env: WRIT_AUTHORITY; config `authority`].
    #[arg(long, env = "WRIT_AUTHORITY", value_name = "URL")]
    pub authority: Option<String>,
    /// Your private key (from `writ keygen`); signs requests and votes [env: WRIT_KEY; config `key`].
    #[arg(long, env = "WRIT_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// CA certificates (PEM) to verify an `https://` authority with (default: the system roots) [env: WRIT_CA; config `ca`].
    #[arg(long, env = "WRIT_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// A TLS client certificate (PEM) to present to an authority that asks for one (`writ serve --tls-client-ca`) [env: WRIT_TLS_CLIENT_CERT; config `tls_client_cert`].
    #[arg(long, env = "WRIT_TLS_CLIENT_CERT", value_name = "FILE")]
    pub tls_client_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-client-cert [env: WRIT_TLS_CLIENT_KEY; config `tls_client_key`].
    #[arg(long, env = "WRIT_TLS_CLIENT_KEY", value_name = "FILE")]
    pub tls_client_key: Option<PathBuf>,
    /// Embedded mode: the PostgreSQL URL of the authority's state and ledger (replicas).
    #[arg(long, env = "WRIT_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// Embedded mode: the PostgreSQL schema.
    #[arg(long = "pg-schema", value_name = "NAME", default_value = "writ")]
    pub pg_schema: String,
    /// Idempotency key for a mutating call (default: a fresh random one); reuse the key a failed call printed to retry it safely.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Print JSON (shapes in docs/cli.md).
    #[arg(long)]
    pub json: bool,
}

/// An open connection: the contract, and the caller's key when one was given.
pub struct Conn {
    /// The authority, in-process or over HTTP.
    pub api: Box<dyn OperatorApi>,
    /// The caller's signing key (votes need it).
    pub key: Option<SigningKey>,
    /// Where (for messages).
    pub place: String,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("place", &self.place).finish_non_exhaustive()
    }
}

/// The host (and port) of a database URL, without credentials, for messages.
pub fn db_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |x| x.1);
    let rest = rest.rsplit_once('@').map_or(rest, |x| x.1);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if host.is_empty() { "localhost".into() } else { host.to_string() }
}

impl ConnArgs {
    /// The idempotency key for this invocation's mutating call.
    ///
    /// # Errors
    /// A usage error for a key outside the documented alphabet.
    pub fn idempotency(&self) -> anyhow::Result<IdempotencyKey> {
        match &self.idempotency_key {
            Some(k) => IdempotencyKey::new(k).map_err(|e| UsageError(format!("--idempotency-key: {e}")).into()),
            None => IdempotencyKey::random().map_err(anyhow::Error::new),
        }
    }

    /// Opens the authority. `need_key`: the command signs as the caller
    /// (always true for a remote authority).
    ///
    /// # Errors
    /// Usage errors (no key, both `--home` and `--authority`, a bad URL);
    /// a home or database that cannot be opened.
    pub fn open(&self, need_key: bool) -> anyhow::Result<Conn> {
        if self.home.is_some() && self.authority.is_some() {
            return Err(UsageError(
                "give either --home (embedded) or --authority (remote), not both (check WRIT_HOME and WRIT_AUTHORITY)"
                    .into(),
            )
            .into());
        }
        let file = if self.home.is_some() || (self.authority.is_some() && self.key.is_some()) {
            ConfigFile::default()
        } else {
            load()?
        };
        let key_path = self.key.clone().or(file.key);
        let authority = if self.home.is_some() { None } else { self.authority.clone().or(file.authority) };
        let key = match &key_path {
            Some(p) => Some(files::read_private_key(p)?),
            None if need_key || authority.is_some() => {
                return Err(UsageError(
                    "this command needs your private key: pass --key FILE (or set WRIT_KEY, or `key` in the config file)"
                        .into(),
                )
                .into());
            }
            None => None,
        };
        if let Some(url) = authority {
            let ca_path = self.ca.clone().or(file.ca);
            let ca_pem = match &ca_path {
                Some(p) => Some(files::read_bounded(p, 1 << 20)?),
                None => None,
            };
            let pem = |p: Option<PathBuf>| p.map(|p| files::read_bounded(&p, 1 << 20)).transpose();
            let opts = writ_client::Options {
                ca_pem,
                timeout: None,
                client_cert_pem: pem(self.tls_client_cert.clone().or(file.tls_client_cert))?,
                client_key_pem: pem(self.tls_client_key.clone().or(file.tls_client_key))?,
            };
            let Some(k) = key else { return Err(UsageError("pass --key FILE".into()).into()) };
            let signer = SigningKey::from_seed(&k.seed());
            let client = writ_client::Client::with_options(&url, signer, &opts).map_err(|e| UsageError(e.message))?;
            return Ok(Conn { place: client.base_url().to_string(), api: Box::new(client), key: Some(k) });
        }
        let home = crate::cmd::init::home_dir(self.home.clone().or(file.home));
        let mut cfg = writ_authority::Config::new(&home);
        cfg.database.clone_from(&self.database);
        cfg.schema.clone_from(&self.pg_schema);
        let authority =
            writ_authority::Authority::open(&cfg).map_err(|e| open_error(e, &home, self.database.as_deref()))?;
        let authority = Arc::new(authority);
        let api = match &key {
            Some(k) => writ_authority::api::Local::new(authority, k.key_id()),
            None => writ_authority::api::Local::operator(authority),
        };
        Ok(Conn { api: Box::new(api), key, place: home.display().to_string() })
    }
}

/// The error of opening an authority, naming the real cause: an
/// unreachable database names its host (never its credentials).
pub fn open_error(e: writ_authority::AuthorityError, home: &Path, database: Option<&str>) -> anyhow::Error {
    match (&e, database) {
        (writ_authority::AuthorityError::Database(_), Some(url)) => anyhow::anyhow!(
            "cannot reach the authority's database at `{}`: {e}; check that PostgreSQL runs there and the URL is right",
            db_host(url)
        ),
        _ => anyhow::anyhow!("cannot open the authority in `{}`: {e}", home.display()),
    }
}

/// An error of the contract, as the CLI reports it.
#[derive(Debug)]
pub struct Refusal(pub ApiError);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0.message, self.0.code)
    }
}

impl std::error::Error for Refusal {}

/// Wraps a contract error for [`finish`].
pub fn api(e: ApiError) -> anyhow::Error {
    anyhow::Error::new(Refusal(e))
}

/// Turns a refusal into its exit code after printing it (`--json`: the API's
/// error shape on stdout): 77 for a refusal (401/403/409), 1 otherwise.
pub fn finish(json: bool, r: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match r {
        Err(e) => match e.downcast::<Refusal>() {
            Ok(Refusal(err)) => {
                if json {
                    println!("{}", serde_json::to_string(&writ_api::wire::ErrorBody::from(&err)).unwrap_or_default());
                }
                let verb = if err.code.is_refusal() { "refused" } else { "error" };
                eprintln!("{verb}: {}: {}", err.code, err.message);
                if err.code == ApiErrorCode::Transport || err.code == ApiErrorCode::Timeout {
                    eprintln!(
                        "the outcome is unknown; retry with the same --idempotency-key to get the first outcome, never a second"
                    );
                }
                Ok(if err.code.is_refusal() { exit::denied() } else { exit::failure() })
            }
            Err(e) => Err(e),
        },
        ok => ok,
    }
}

/// Text shown to a person: control characters, escapes and newlines
/// rendered visibly (`\n`, `\u{1b}`), so nothing in a field can forge a line.
pub fn visible(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control()
                || c == '\\'
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn visible_escapes_what_could_forge_a_line() {
        assert_eq!(visible("a\nreason: forged"), "a\\nreason: forged");
        assert_eq!(visible("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(visible("tab\there"), "tab\\there");
        assert_eq!(visible("rtl\u{202e}x"), "rtl\\u{202e}x");
        assert_eq!(visible("plain /usr/bin/echo"), "plain /usr/bin/echo");
    }

    #[test]
    fn db_hosts_hide_credentials() {
        assert_eq!(db_host("postgres://u:secret@db.example:5433/writ?sslmode=require"), "db.example:5433");
        assert_eq!(db_host("postgres://127.0.0.1/test"), "127.0.0.1");
    }
}
