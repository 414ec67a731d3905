//! `writ serve`: run the authority's HTTP API, over TLS with `--tls-cert`/`--tls-key`,
//! asking gates for client certificates with `--tls-client-ca`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use writ_authority::{Authority, Config};

use crate::exit::UsageError;

/// Serve the authority over HTTP(S) (`/v1`, see docs/api.md).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The authority home [env: WRIT_HOME; default ./.writ].
    #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7300")]
    pub listen: String,
    /// `postgres://…` to keep the ledger and state in PostgreSQL (default: SQLite in the home).
    #[arg(long, env = "WRIT_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// PostgreSQL schema.
    #[arg(long = "pg-schema", value_name = "NAME", default_value = "writ")]
    pub pg_schema: String,
    /// The server's TLS certificate chain (PEM); with --tls-key, serve HTTPS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM, PKCS#8 / PKCS#1 / SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) that issue the gates' TLS client certificates:
    /// a client that presents one must chain to them.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// With --tls-client-ca: `required` refuses every signed call over a
    /// connection without a verified client certificate (public read routes
    /// stay open); `optional` verifies one when presented.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = ClientAuthArg::Required, requires = "tls_client_ca")]
    pub tls_client_auth: ClientAuthArg,
    /// POST a signed, Slack-compatible message here on new pending requests,
    /// votes and decisions (repeatable; see docs/web.md, "Webhooks").
    #[arg(long = "webhook", value_name = "URL", requires = "webhook_secret_file")]
    pub webhooks: Vec<String>,
    /// The webhooks' HMAC-SHA256 secret (the file's bytes, trailing newline removed; at least 16).
    #[arg(long, value_name = "FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// The console's public base URL for webhook links (default: the listening address).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

/// `--tls-client-auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientAuthArg {
    /// Verified when presented.
    Optional,
    /// Needed for every signed call.
    Required,
}

fn is_loopback(listen: &str) -> bool {
    listen.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_loopback()) || listen.starts_with("localhost:")
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => {
            let cert = crate::files::read_bounded(c, 1 << 20)?;
            let key = crate::files::read_bounded(k, 1 << 20)?;
            let identity = match &args.tls_client_ca {
                None => writ_server::TlsIdentity::from_pem(&cert, &key),
                Some(ca) => {
                    let ca_pem = crate::files::read_bounded(ca, 1 << 20)?;
                    let mode = match args.tls_client_auth {
                        ClientAuthArg::Optional => writ_server::ClientAuth::Optional,
                        ClientAuthArg::Required => writ_server::ClientAuth::Required,
                    };
                    writ_server::TlsIdentity::with_client_ca(&cert, &key, &ca_pem, mode)
                }
            };
            Some(identity.map_err(|e| {
                UsageError(format!(
                    "--tls-cert `{}` / --tls-key `{}`{}: {e}",
                    c.display(),
                    k.display(),
                    args.tls_client_ca
                        .as_ref()
                        .map(|p| format!(" / --tls-client-ca `{}`", p.display()))
                        .unwrap_or_default()
                ))
            })?)
        }
        _ => None,
    };
    if tls.is_none() && !is_loopback(&args.listen) {
        eprintln!(
            "warning: serving plain HTTP on `{}`: writs are bearer artifacts; pass --tls-cert and --tls-key outside loopback",
            args.listen
        );
    }
    let home = crate::cmd::init::home_dir(args.home);
    let mut cfg = Config::new(&home);
    cfg.database.clone_from(&args.database);
    cfg.schema = args.pg_schema;
    let authority = Authority::open(&cfg).map_err(|e| crate::config::open_error(e, &home, args.database.as_deref()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", args.listen))?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        // The first stdout line is the bound address, so scripts and tests can use `--listen 127.0.0.1:0`.
        println!("listening on {scheme}://{addr}");
        eprintln!("writ authority serving {} (ledger {})", home.display(), authority.ledger().origin());
        if let Some(mode) = tls.as_ref().and_then(writ_server::TlsIdentity::client_auth) {
            eprintln!("TLS client certificates: {} (verified against --tls-client-ca)", mode.as_str());
        }
        let state = writ_server::AppState::new(Arc::new(authority));
        if !args.webhooks.is_empty() {
            let secret = match &args.webhook_secret_file {
                Some(p) => crate::files::read_bounded(p, 4096)?,
                None => Vec::new(),
            };
            let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
            let base = args.public_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
            let hooks = writ_server::web::Webhooks::new(&args.webhooks, secret, &base)
                .map_err(|e| UsageError(format!("--webhook: {e}")))?;
            eprintln!("webhooks: {} target(s), links under {base}/console", args.webhooks.len());
            let _ = state.webhooks.set(hooks);
        }
        match tls {
            Some(identity) => {
                let std_listener = listener.into_std()?;
                writ_server::serve_tls(std_listener, state, identity).await.context("server failed")
            }
            None => writ_server::serve(listener, state).await.context("server failed"),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
