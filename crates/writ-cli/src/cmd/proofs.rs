//! `writ proofs export DIR`: a self-contained static page plus proof bundle
//! that verifies a writ and its ledger receipt in any browser with no server
//! (open `DIR/index.html` from disk, offline).
//!
//! The writ and receipt come from a running authority's public read API
//! (`--writ ID` or `--index N`, with `--server`) or from files
//! (`--writ-file`, `--receipt`). The trust root embedded in the bundle is a
//! file you trust (`--trust`, default the home's `trust.json`), never the
//! server's; its SHA-256 is printed and shown on the page.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};
use writ_server::web::export;

/// Export proofs for offline verification.
#[derive(Debug, clap::Args)]
pub struct ProofsArgs {
    #[command(subcommand)]
    pub command: ProofsCommand,
}

/// `writ proofs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ProofsCommand {
    /// Write DIR/index.html and DIR/bundle.json: verifies with no server.
    Export(ExportArgs),
}

/// Arguments of `writ proofs export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Directory to write (created if missing).
    pub dir: PathBuf,
    /// Writ id to fetch from the authority.
    #[arg(long, conflicts_with_all = ["index", "writ_file"])]
    pub writ: Option<String>,
    /// Ledger index of an issuance to fetch from the authority.
    #[arg(long, conflicts_with = "writ_file")]
    pub index: Option<u64>,
    /// A writ file (DSSE envelope) instead of fetching.
    #[arg(long, value_name = "FILE")]
    pub writ_file: Option<PathBuf>,
    /// Its receipt (`.tlog-proof`), with `--writ-file`.
    #[arg(long, value_name = "FILE", requires = "writ_file")]
    pub receipt: Option<PathBuf>,
    /// The authority to fetch from.
    #[arg(long, env = "WRIT_SERVER", default_value = "http://127.0.0.1:7300")]
    pub server: String,
    /// The trust root to verify against (default: the home's trust.json).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// The authority home (for the default trust root).
    #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
}

pub fn run(args: ProofsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ProofsCommand::Export(a) => export_cmd(a),
    }
}

fn fetch_bundle(server: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    // The public read API needs no signature; the client signs every request
    // anyway, so it gets a throwaway key that nothing trusts.
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let client = writ_client::Client::new(server, writ_core::SigningKey::from_seed(&seed))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("`{server}` is not an authority URL (see --server)"))?;
    let (_, body) = client.call("GET", path, None, None).map_err(|e| anyhow::anyhow!("{e}")).with_context(|| {
        format!("cannot fetch `{path}` from `{server}`; is `writ serve` running there (see --server)?")
    })?;
    serde_json::from_slice(&body).with_context(|| format!("`{path}` did not answer a proof bundle"))
}

fn export_cmd(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let trust_path = a.trust.clone().unwrap_or_else(|| crate::cmd::init::home_dir(a.home.clone()).join("trust.json"));
    let trust = std::fs::read_to_string(&trust_path)
        .with_context(|| format!("cannot read the trust root `{}`; give one with --trust", trust_path.display()))?;
    // The canonical form `writ serve` publishes at /v1/trust/document, so the digest
    // printed here is the one the Proof Viewer pins.
    let trust = writ_core::TrustRoot::from_json(trust.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("`{}` is not a trust root", trust_path.display()))?
        .to_json_pretty();
    let trust_sha256 = hex::encode(Sha256::digest(trust.as_bytes()));
    let (writ, receipt, index, title) = match (&a.writ, a.index, &a.writ_file) {
        (_, _, Some(f)) => {
            let writ = std::fs::read_to_string(f).with_context(|| format!("cannot read `{}`", f.display()))?;
            let receipt = match &a.receipt {
                Some(r) => Some(std::fs::read_to_string(r).with_context(|| format!("cannot read `{}`", r.display()))?),
                None => None,
            };
            let title = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (writ, receipt, None, title)
        }
        (Some(id), _, None) => {
            let b = fetch_bundle(&a.server, &format!("/v1/public/writs/{}/bundle", url_part(id)))?;
            from_bundle(&b, id)?
        }
        (None, Some(i), None) => {
            let b = fetch_bundle(&a.server, &format!("/v1/public/bundle/{i}"))?;
            from_bundle(&b, &format!("entry {i}"))?
        }
        (None, None, None) => bail!("say what to export: --writ ID, --index N or --writ-file FILE"),
    };
    let bundle = serde_json::json!({
        "format": "writ-proof-bundle/v1",
        "trust": trust,
        "trust_sha256": trust_sha256,
        "index": index,
        "writ": writ,
        "receipt": receipt,
    });
    let text = serde_json::to_string_pretty(&bundle)?;
    std::fs::create_dir_all(&a.dir).with_context(|| format!("cannot create `{}`", a.dir.display()))?;
    let page = a.dir.join(export::PAGE_FILE);
    std::fs::write(a.dir.join(export::BUNDLE_FILE), format!("{text}\n"))
        .with_context(|| format!("cannot write into `{}`", a.dir.display()))?;
    std::fs::write(&page, export::offline_page(&text, &title))
        .with_context(|| format!("cannot write `{}`", page.display()))?;
    println!("{}", page.display());
    println!("trust root sha256 {trust_sha256}");
    Ok(ExitCode::SUCCESS)
}

fn from_bundle(b: &serde_json::Value, what: &str) -> anyhow::Result<(String, Option<String>, Option<u64>, String)> {
    let Some(writ) = b.get("writ").and_then(|w| w.as_str()) else {
        bail!("the authority holds no writ envelope for `{what}`; export an issuance, or use --writ-file");
    };
    let receipt = b.get("receipt").and_then(|r| r.as_str()).filter(|r| !r.is_empty()).map(str::to_string);
    let title = b
        .pointer("/decoded/writ_id")
        .and_then(|w| w.as_str())
        .map_or_else(|| what.to_string(), |w| format!("writ {w}"));
    Ok((writ.to_string(), receipt, b.get("index").and_then(serde_json::Value::as_u64), title))
}

fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
