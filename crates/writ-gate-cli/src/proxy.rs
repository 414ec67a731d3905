//! `proxy`: the gate in front of an HTTP service (see the `writ_proxy`
//! crate docs for what is forwarded, what is refused and the limits).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use writ_proxy::{Limits, ProxyConfig, Server};

use crate::gate::{Embedded, GateArgs};

/// Put the gate in front of an HTTP service: forward only requests whose writ
/// permits them, answer the rest `403` with the reason code.
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on, e.g. `127.0.0.1:7400`.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The service to forward to, e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// Configuration, trust root, authority, spool.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Largest request body accepted, in bytes (larger: 403 `too_large`).
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_body: usize,
    /// Largest upstream response body passed on, in bytes (the proxy reads
    /// the whole body to record its SHA-256; larger: 502, `upstream_error`).
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub max_response: usize,
    /// Seconds a client has to send the request head.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub header_timeout: u64,
    /// Seconds the upstream has to answer, body included (then 504).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub upstream_timeout: u64,
    /// Connections served at once (beyond: 503).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
}

/// `proxy` as `prog` (`writ` passes its embedded authority for `--home`).
///
/// # Errors
/// Configuration errors, an unusable authority, a bad upstream, a port that
/// cannot be bound.
pub fn run(args: ProxyArgs, prog: &str, embedded: Option<Embedded>) -> anyhow::Result<ExitCode> {
    let resolved = args.gate.resolve(embedded)?;
    let online =
        resolved.online.clone().map_err(|d| anyhow::anyhow!("cannot use the authority ({}): {}", d.code, d.detail))?;
    let recorder = resolved.recorder(online.as_ref()).map_err(|d| anyhow::anyhow!("{}", d.detail))?;
    let server = Server::bind(ProxyConfig {
        listen: args.listen,
        upstream: args.upstream.clone(),
        trust: resolved.trust,
        host: resolved.host,
        online,
        recorder,
        limits: Limits {
            max_body: args.max_body,
            max_response: args.max_response,
            header_read_timeout: Duration::from_secs(args.header_timeout),
            upstream_timeout: Duration::from_secs(args.upstream_timeout),
            max_connections: args.max_connections,
        },
    })
    .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("{prog} proxy: {} -> {}", server.local_addr().unwrap_or(args.listen), args.upstream);
    server.run().context("proxy server")?;
    Ok(ExitCode::SUCCESS)
}
