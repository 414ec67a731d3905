//! `trust pin` / `trust update`: the gate holds a signed trust-root version
//! it pinned by digest and moves it forward only through signed successors
//! (docs/trust.md, "What the authority serves, and how gates pin").
//!
//! The held root is a file (`--out` / `--trust`, or the gate configuration's
//! `trust`) holding the newest accepted version, byte for byte as served,
//! next to `FILE.versions/<n>.root.json`: every version accepted since the
//! pin, so that a gate configuration naming `trust_pin` can verify the held
//! root as a chain from that pin each time it loads it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use writ_core::trust_chain::{self, MAX_CHAIN_LENGTH, MAX_SIGNED_ROOT_BYTES, RootError, SignedTrustRoot};
use writ_core::{Sha256Digest, Timestamp, TrustRoot};

use crate::config::GateConfig;
use crate::exit::{UsageError, denied};
use crate::files;

/// Manage the gate's pinned, signed trust root.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// The action.
    #[command(subcommand)]
    pub action: TrustAction,
}

/// `trust` actions.
#[derive(Debug, clap::Subcommand)]
pub enum TrustAction {
    /// Fetch the authority's trust root and hold it only if its digest is the pin.
    Pin(PinArgs),
    /// Fetch the versions after the one held; accept only signed successors
    /// (77 with the code when refused; the held root is kept).
    Update(UpdateArgs),
}

/// `trust pin`.
#[derive(Debug, clap::Args)]
pub struct PinArgs {
    /// The authority's URL.
    #[arg(long, value_name = "URL")]
    pub authority: String,
    /// The digest got out of band (`HOME/trust/root.pin`, or what `writ
    /// trust publish` / `writ trust verify` printed), 64 hex digits.
    #[arg(long, value_name = "HEX")]
    pub digest: String,
    /// Where to hold it (default: the gate configuration's `trust`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The gate's configuration file (default: /etc/writ/gate.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `trust update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// The authority's URL (default: the gate configuration's `authority`).
    #[arg(long, value_name = "URL")]
    pub authority: Option<String>,
    /// The held trust root (default: the gate configuration's `trust`).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// The gate's configuration file (default: /etc/writ/gate.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Evaluate expiry at this time instead of now (RFC 3339; for tests).
    #[arg(long, value_parser = files::parse_time, hide = true)]
    pub now: Option<Timestamp>,
}

/// Runs `trust`.
///
/// # Errors
/// Usage errors, unreadable files, an unreachable authority.
pub fn run(args: TrustArgs, prog: &str) -> anyhow::Result<ExitCode> {
    match args.action {
        TrustAction::Pin(a) => pin(&a, prog),
        TrustAction::Update(a) => update(&a, prog),
    }
}

fn parse_digest(hex: &str) -> anyhow::Result<Sha256Digest> {
    Sha256Digest::from_hex(hex.trim())
        .map_err(|e| UsageError(format!("--digest `{hex}` is not a sha256 digest (64 hex digits): {e}")).into())
}

fn fetch(url: &str, version: Option<u64>) -> anyhow::Result<Vec<u8>> {
    writ_client::fetch_trust_root(url, version, &writ_client::Options::default()).map_err(|e| {
        let what = version.map_or_else(|| "the trust root".to_owned(), |n| format!("trust-root version {n}"));
        anyhow::anyhow!("cannot fetch {what} from `{url}`: {} ({})", e.message, e.code)
    })
}

fn refuse(prog: &str, what: &str, e: &RootError) -> ExitCode {
    eprintln!("{prog}: denied ({}): {what}: {} ({})", e.code.denial_code(), e.detail, e.code.as_str());
    denied()
}

fn pin(a: &PinArgs, prog: &str) -> anyhow::Result<ExitCode> {
    let config = GateConfig::load(a.config.as_deref())?;
    let out = a.out.clone().or(config.trust).ok_or_else(|| {
        UsageError("pass --out FILE (where to hold the trust root), or set `trust` in the gate configuration".into())
    })?;
    let pin = parse_digest(&a.digest)?;
    if let Some(p) = &config.trust_pin
        && *p != pin
    {
        return Err(UsageError(format!(
            "--digest `{pin}` contradicts the gate configuration's `trust_pin = \"{p}\"`; drop the flag or fix the file"
        ))
        .into());
    }
    let bytes = fetch(&a.authority, None)?;
    let root = match trust_chain::verify_pinned(&bytes, &pin) {
        Ok(r) => r,
        Err(e) => return Ok(refuse(prog, &format!("the trust root `{}` serves", a.authority), &e)),
    };
    // A new pin starts a new history.
    let _ = fs::remove_dir_all(versions_dir(&out));
    store(&out, &[&root])?;
    println!(
        "pinned version {}  digest {}  expires {}  -> {}",
        root.version(),
        root.digest(),
        root.expires(),
        out.display()
    );
    if root.is_expired(files::now()?) {
        eprintln!("{prog}: warning: version {} has expired: run `{prog} trust update`", root.version());
    }
    Ok(ExitCode::SUCCESS)
}

fn update(a: &UpdateArgs, prog: &str) -> anyhow::Result<ExitCode> {
    let config = GateConfig::load(a.config.as_deref())?;
    let path = a.trust.clone().or_else(|| config.trust.clone()).ok_or_else(|| {
        UsageError("pass --trust FILE (the held trust root), or set `trust` in the gate configuration".into())
    })?;
    let url = a
        .authority
        .clone()
        .or_else(|| config.authority.clone())
        .ok_or_else(|| UsageError("pass --authority URL, or set `authority` in the gate configuration".into()))?;
    let now = match a.now {
        Some(t) => t,
        None => files::now()?,
    };
    let held = match load_held(&path, config.trust_pin.as_ref())? {
        Held::Signed(h) => *h,
        Held::Plain(_) => bail!(
            "`{}` is a plain trust.json, not a pinned signed root; run `{prog} trust pin --authority URL --digest HEX --out {}` first",
            path.display(),
            path.display()
        ),
    };
    let served = fetch(&url, None)?;
    let served_version = trust_chain::parse(&served).map(|v| v.version());
    let newer: Vec<Vec<u8>> = match served_version {
        Ok(v) if v > held.version() => {
            if v - held.version() > MAX_CHAIN_LENGTH as u64 {
                bail!("`{url}` serves version {v}, more than {MAX_CHAIN_LENGTH} after the held {}", held.version());
            }
            let mut out = Vec::new();
            for n in held.version() + 1..v {
                out.push(fetch(&url, Some(n))?);
            }
            out.push(served);
            out
        }
        Ok(_) if trust_chain::parse(&served).is_ok_and(|v| v.digest() == held.digest()) => Vec::new(),
        // Older, equal with another digest, or unreadable: let the check name it.
        _ => vec![served],
    };
    let next = match trust_chain::verify_updates(&held, newer.iter().map(Vec::as_slice), now) {
        Ok(n) => n,
        Err(e) => {
            let r = refuse(prog, &format!("update from `{url}`"), &e);
            eprintln!("{prog}: keeping version {} (digest {}) in `{}`", held.version(), held.digest(), path.display());
            return Ok(r);
        }
    };
    if next.digest() == held.digest() {
        println!("up to date: version {}  digest {}  expires {}", held.version(), held.digest(), held.expires());
        return Ok(ExitCode::SUCCESS);
    }
    // Re-verify each step to store every accepted version (history for `trust_pin`).
    let mut accepted = Vec::with_capacity(newer.len());
    let mut cur = held.clone();
    for b in &newer {
        cur = trust_chain::verify_link(&cur, b).map_err(|e| anyhow::anyhow!("{}", e.detail))?;
        accepted.push(cur.clone());
    }
    let refs: Vec<&SignedTrustRoot> = accepted.iter().collect();
    store(&path, &refs)?;
    println!(
        "updated version {} -> {}  digest {}  expires {}",
        held.version(),
        next.version(),
        next.digest(),
        next.expires()
    );
    Ok(ExitCode::SUCCESS)
}

fn versions_dir(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".versions");
    PathBuf::from(s)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace `{}`", path.display()))
}

/// Stores `versions` (in order, the last the newest) as the held root.
fn store(path: &Path, versions: &[&SignedTrustRoot]) -> anyhow::Result<()> {
    let Some(last) = versions.last() else { return Ok(()) };
    let dir = versions_dir(path);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for v in versions {
        write_atomic(&dir.join(format!("{}.root.json", v.version())), v.envelope_bytes())?;
    }
    write_atomic(path, last.envelope_bytes())
}

/// A trust-root file as the gate loads it.
#[derive(Debug)]
pub enum Held {
    /// A plain `trust.json` (a local root).
    Plain(TrustRoot),
    /// A signed version, verified (expiry not checked).
    Signed(Box<SignedTrustRoot>),
}

fn is_envelope(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.get("payloadType").is_some())
}

/// Loads a trust-root file: a plain `trust.json`, or a signed version
/// (an envelope). A signed version must carry its own quorum; with `pin`,
/// the held chain (`FILE.versions/`) must verify from the pinned version
/// to exactly this one. A plain file with `pin` set is refused.
///
/// # Errors
/// Unreadable, malformed, not verifying from the pin.
pub fn load_held(path: &Path, pin: Option<&Sha256Digest>) -> anyhow::Result<Held> {
    let bytes = files::read_bounded(path, MAX_SIGNED_ROOT_BYTES)?;
    if !is_envelope(&bytes) {
        if let Some(p) = pin {
            bail!(
                "`{}` is a plain trust.json but the gate configuration pins `trust_pin = \"{p}\"`; run `writ-gate trust pin` to hold the signed root",
                path.display()
            );
        }
        return Ok(Held::Plain(TrustRoot::from_json(&bytes).with_context(|| format!("`{}`", path.display()))?));
    }
    let shown =
        |e: RootError| anyhow::anyhow!("`{}`: trust root refused ({}): {}", path.display(), e.code.as_str(), e.detail);
    let unverified = trust_chain::parse(&bytes).map_err(shown)?;
    let Some(pin) = pin else {
        // Not pinned: the version must carry its own quorum.
        return Ok(Held::Signed(Box::new(trust_chain::verify_pinned(&bytes, &unverified.digest()).map_err(shown)?)));
    };
    if unverified.digest() == *pin {
        return Ok(Held::Signed(Box::new(trust_chain::verify_pinned(&bytes, pin).map_err(shown)?)));
    }
    // Walk the held history from the pinned version to this one.
    let dir = versions_dir(path);
    let mut start = None;
    for n in (1..unverified.version()).rev().take(MAX_CHAIN_LENGTH) {
        let Ok(b) = files::read_bounded(&dir.join(format!("{n}.root.json")), MAX_SIGNED_ROOT_BYTES) else { break };
        if trust_chain::parse(&b).is_ok_and(|v| v.digest() == *pin) {
            start = Some((n, b));
            break;
        }
    }
    let Some((n, first)) = start else {
        bail!(
            "`{}` (version {}) does not lead back to the pinned `trust_pin = \"{pin}\"` through `{}`; pin again with `writ-gate trust pin`",
            path.display(),
            unverified.version(),
            dir.display()
        );
    };
    let mut cur = trust_chain::verify_pinned(&first, pin).map_err(shown)?;
    for m in n + 1..unverified.version() {
        let b = files::read_bounded(&dir.join(format!("{m}.root.json")), MAX_SIGNED_ROOT_BYTES)?;
        cur = trust_chain::verify_link(&cur, &b).map_err(shown)?;
    }
    Ok(Held::Signed(Box::new(trust_chain::verify_link(&cur, &bytes).map_err(shown)?)))
}

/// Loads the trust root the gate verifies against: a plain `trust.json`
/// as is; a signed version verified (from `pin` when set) and unexpired at `now`.
///
/// # Errors
/// See [`load_held`]; an expired signed version.
pub fn load_for_gate(path: &Path, pin: Option<&Sha256Digest>, now: Timestamp) -> anyhow::Result<TrustRoot> {
    match load_held(path, pin)? {
        Held::Plain(t) => Ok(t),
        Held::Signed(s) => {
            s.check_fresh(now).map_err(|e| {
                anyhow::anyhow!(
                    "`{}`: trust root refused ({}): {}; run `writ-gate trust update`",
                    path.display(),
                    e.code.as_str(),
                    e.detail
                )
            })?;
            Ok(s.trust().clone())
        }
    }
}
