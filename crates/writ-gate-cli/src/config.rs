//! The gate's configuration file: what this host is and where it records,
//! set by whoever administers the host, not by whoever invokes the gate.
//!
//! ```toml
//! # /etc/writ/gate.toml (owned by root, not writable by group or others)
//! hostname  = "build-01"              # the host name writs are matched against
//! labels    = ["prod", "eu"]          # the labels this host carries
//! authority = "https://authority:7300" # online by default when set
//! key       = "/etc/writ/gate.key"    # the gate's private key (role `gate`)
//! trust     = "/etc/writ/trust.json"  # the trust root (plain, or signed: `writ-gate trust pin`)
//! trust_pin = "<64 hex>"              # optional: the signed root must verify from this digest
//! spool     = "/var/lib/writ/gate.spool"
//! tls_ca          = "/etc/writ/authority-ca.pem" # optional: verify an https:// authority with this CA
//! tls_client_cert = "/etc/writ/gate.crt"         # optional: TLS client certificate (`writ serve --tls-client-ca`)
//! tls_client_key  = "/etc/writ/gate.crt.key"     # its private key (0600)
//! ```
//!
//! The file is a small strict subset of TOML: `key = "string"` and
//! `key = ["string", …]` lines, `#` comments; unknown keys, repeated keys and
//! anything else are errors. It is read from `--config FILE`, else from
//! [`DEFAULT_PATH`] when that exists. It must be owned by root or by the
//! user the gate runs as, and not be writable by group or others; only a
//! gate that runs as root with a root-owned file has host facts its invoker
//! cannot choose.
//!
//! A value the file sets cannot be changed by a flag: passing a different
//! `--trust`, `--authority`, `--key` or `--spool` is a usage error, and a
//! `--label` must be one the file lists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Where the gate looks for its configuration without `--config`.
pub const DEFAULT_PATH: &str = "/etc/writ/gate.toml";
/// Largest configuration file read.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// The gate's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateConfig {
    /// The file it came from (`None`: no file, every field empty).
    pub path: Option<PathBuf>,
    /// This host's name.
    pub hostname: Option<String>,
    /// This host's labels.
    pub labels: BTreeSet<String>,
    /// The authority's URL.
    pub authority: Option<String>,
    /// The gate's private key.
    pub key: Option<PathBuf>,
    /// The trust root.
    pub trust: Option<PathBuf>,
    /// The spool.
    pub spool: Option<PathBuf>,
    /// The digest the held signed trust root must verify from.
    pub trust_pin: Option<writ_core::Sha256Digest>,
    /// CA certificates (PEM) to verify an `https://` authority with.
    pub tls_ca: Option<PathBuf>,
    /// The TLS client certificate chain (PEM) the gate presents.
    pub tls_client_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_client_key: Option<PathBuf>,
}

impl GateConfig {
    /// Loads `explicit`, else [`DEFAULT_PATH`] when it exists, else an empty
    /// configuration.
    ///
    /// # Errors
    /// The file cannot be read, is owned by someone else or writable by
    /// others, or does not parse.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_PATH).exists() => PathBuf::from(DEFAULT_PATH),
            None => return Ok(Self::default()),
        };
        check_owner(&path)?;
        let bytes = crate::files::read_bounded(&path, MAX_CONFIG_BYTES)?;
        let text = String::from_utf8(bytes).with_context(|| format!("`{}` is not UTF-8", path.display()))?;
        let mut c = parse(&text).with_context(|| format!("gate configuration `{}`", path.display()))?;
        c.path = Some(path);
        Ok(c)
    }

    /// How writ-client reaches the authority: the `tls_ca`, `tls_client_cert`
    /// and `tls_client_key` files, read.
    ///
    /// # Errors
    /// A file that cannot be read; a client certificate without its key or
    /// the other way round.
    pub fn client_options(&self) -> anyhow::Result<writ_client::Options> {
        if self.tls_client_cert.is_some() != self.tls_client_key.is_some() {
            bail!(
                "gate configuration{}: `tls_client_cert` and `tls_client_key` go together; set both or neither",
                self.path.as_ref().map(|p| format!(" `{}`", p.display())).unwrap_or_default()
            );
        }
        let read = |p: &Option<PathBuf>| p.as_deref().map(|p| crate::files::read_bounded(p, 1 << 20)).transpose();
        Ok(writ_client::Options {
            ca_pem: read(&self.tls_ca)?,
            client_cert_pem: read(&self.tls_client_cert)?,
            client_key_pem: read(&self.tls_client_key)?,
            ..writ_client::Options::default()
        })
    }
}

fn check_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open gate configuration `{}`", path.display()))?;
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    if meta.uid() != 0 && meta.uid() != me {
        bail!(
            "gate configuration `{}` is owned by uid {}; it must be owned by root (or the gate's own user)",
            path.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "gate configuration `{}` is writable by group or others; run `chmod go-w {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

fn unquote(v: &str) -> anyhow::Result<String> {
    let inner = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .with_context(|| format!("`{v}` is not a \"quoted string\""))?;
    if inner.contains(['"', '\\']) || inner.chars().any(char::is_control) {
        bail!("`{v}`: quotes, backslashes and control characters are not supported");
    }
    Ok(inner.to_owned())
}

fn parse(text: &str) -> anyhow::Result<GateConfig> {
    let mut c = GateConfig::default();
    let mut seen = BTreeSet::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split_once(" #").map_or(raw, |(l, _)| l).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').with_context(|| format!("line {}: expected `key = value`", n + 1))?;
        let (key, value) = (key.trim(), value.trim());
        if !seen.insert(key.to_owned()) {
            bail!("line {}: `{key}` is set twice", n + 1);
        }
        let at = |e: anyhow::Error| e.context(format!("line {}", n + 1));
        match key {
            "hostname" => c.hostname = Some(unquote(value).map_err(at)?),
            "authority" => c.authority = Some(unquote(value).map_err(at)?),
            "key" => c.key = Some(PathBuf::from(unquote(value).map_err(at)?)),
            "trust" => c.trust = Some(PathBuf::from(unquote(value).map_err(at)?)),
            "spool" => c.spool = Some(PathBuf::from(unquote(value).map_err(at)?)),
            "tls_ca" => c.tls_ca = Some(PathBuf::from(unquote(value).map_err(at)?)),
            "tls_client_cert" => c.tls_client_cert = Some(PathBuf::from(unquote(value).map_err(at)?)),
            "tls_client_key" => c.tls_client_key = Some(PathBuf::from(unquote(value).map_err(at)?)),
            "trust_pin" => {
                let hex = unquote(value).map_err(at)?;
                c.trust_pin = Some(writ_core::Sha256Digest::from_hex(&hex).map_err(|e| {
                    anyhow::anyhow!("line {}: `trust_pin` `{hex}` is not a sha256 digest (64 hex digits): {e}", n + 1)
                })?);
            }
            "labels" => {
                let inner = value
                    .strip_prefix('[')
                    .and_then(|s| s.strip_suffix(']'))
                    .with_context(|| format!("line {}: `labels` is a list: [\"a\", \"b\"]", n + 1))?;
                for item in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    c.labels.insert(unquote(item).map_err(at)?);
                }
            }
            other => {
                bail!(
                    "line {}: unknown key `{other}` (known: hostname, labels, authority, key, trust, trust_pin, spool, tls_ca, tls_client_cert, tls_client_key)",
                    n + 1
                )
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_the_documented_example_and_refuses_the_rest() {
        let c = parse(
            "# gate\nhostname = \"build-01\"\nlabels = [\"prod\", \"eu\"] # where\nauthority = \"https://a:7300\"\nkey = \"/etc/writ/gate.key\"\n",
        )
        .unwrap();
        assert_eq!(c.hostname.as_deref(), Some("build-01"));
        assert_eq!(c.labels.iter().map(String::as_str).collect::<Vec<_>>(), ["eu", "prod"]);
        assert_eq!(c.authority.as_deref(), Some("https://a:7300"));
        assert_eq!(c.key, Some(PathBuf::from("/etc/writ/gate.key")));
        for bad in
            ["hostname = build", "hostname = \"a\"\nhostname = \"b\"", "colour = \"red\"", "labels = \"x\"", "junk"]
        {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_writable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gate.toml");
        std::fs::write(&p, "hostname = \"h\"\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(GateConfig::load(Some(&p)).unwrap_err().to_string().contains("writable"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(GateConfig::load(Some(&p)).unwrap().hostname.as_deref(), Some("h"));
    }
}
