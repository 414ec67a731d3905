//! `mcp`: the gateway in front of an MCP server (see the `writ_mcp` crate
//! docs and `docs/agents.md`, "MCP gateway"): wrapping a stdio server
//! (`writ-gate mcp -- python server.py`) or in front of a Streamable HTTP
//! one (`writ-gate mcp --listen ADDR --upstream URL`).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use writ_mcp::{Approvals, Config, Gateway};

use crate::exit::UsageError;
use crate::files;
use crate::gate::{Embedded, GateArgs};

/// Put the gate in front of an MCP server: each `tools/call` needs a writ
/// for that tool, those arguments and that tool definition; `tools/list`
/// shows only what the caller's writs allow.
#[derive(Debug, Clone, clap::Args)]
pub struct McpArgs {
    /// Streamable HTTP: address to listen on, e.g. `127.0.0.1:7500`.
    #[arg(long, value_name = "ADDR", requires = "upstream")]
    pub listen: Option<SocketAddr>,
    /// Streamable HTTP: the server's MCP endpoint, e.g. `http://127.0.0.1:8000/mcp`.
    #[arg(long, value_name = "URL", requires = "listen")]
    pub upstream: Option<String>,
    /// Configuration, trust root, authority, spool.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Another method to forward (besides initialize, ping, server/discover,
    /// notifications, tools/list, tools/call), e.g. `resources/read`; repeatable.
    #[arg(long = "method", value_name = "METHOD")]
    pub methods: Vec<String>,
    /// Online: do not file approval requests for calls without a writ
    /// (answer them `malformed` instead).
    #[arg(long)]
    pub no_approvals: bool,
    /// Base URL of the console approvers use (default: the authority's URL);
    /// the request page is `<URL>/console/requests/<id>`.
    #[arg(long, value_name = "URL")]
    pub console: Option<String>,
    /// Validity asked for a writ filed for approval, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub approval_ttl: u64,
    /// Seconds the HTTP upstream has to answer a call.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub upstream_timeout: u64,
    /// Stdio: the MCP server to run, after `--` (e.g. `-- python server.py`).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// `mcp` as `prog` (`writ` passes its embedded authority for `--home`).
///
/// # Errors
/// Configuration errors, an unusable authority, a bad upstream, a port that
/// cannot be bound, a server that cannot be started.
pub fn run(args: McpArgs, prog: &str, embedded: Option<Embedded>) -> anyhow::Result<ExitCode> {
    let http = match (&args.listen, &args.upstream, args.command.is_empty()) {
        (Some(l), Some(u), true) => Some((*l, u.clone())),
        (None, None, false) => None,
        (Some(_), _, false) => {
            return Err(
                UsageError("give either --listen/--upstream or a stdio server after `--`, not both".into()).into()
            );
        }
        _ => {
            return Err(UsageError(
                "name the MCP server: `-- COMMAND ARGS…` (stdio) or `--listen ADDR --upstream URL` (Streamable HTTP)"
                    .into(),
            )
            .into());
        }
    };
    let authority_url = args.gate.authority.clone();
    let key_path = args.gate.key.clone();
    let resolved = args.gate.resolve(embedded)?;
    let online =
        resolved.online.clone().map_err(|d| anyhow::anyhow!("cannot use the authority ({}): {}", d.code, d.detail))?;
    let recorder = resolved.recorder(online.as_ref()).map_err(|d| anyhow::anyhow!("{}", d.detail))?;
    let url = resolved.config.authority.clone().or(authority_url);
    let key = resolved.config.key.clone().or(key_path);
    let approvals = match (&online, url, key, args.no_approvals) {
        (Some(_), Some(url), Some(key), false) => {
            let signing = files::read_private_key(&key)?;
            let api = writ_client::Client::new(&url, signing)
                .map_err(|e| anyhow::anyhow!("authority `{url}` ({}): {}", e.code, e.message))?;
            Some(Approvals {
                api: Arc::new(api),
                console: args.console.clone().unwrap_or(url),
                duration_secs: args.approval_ttl,
            })
        }
        _ => None,
    };
    let gateway = Gateway::new(Config {
        trust: resolved.trust,
        host: resolved.host,
        online,
        recorder,
        methods: args.methods.iter().cloned().collect::<BTreeSet<_>>(),
        approvals,
    });
    match http {
        Some((listen, upstream)) => {
            let limits = writ_mcp::http::Limits {
                upstream_timeout: Duration::from_secs(args.upstream_timeout),
                ..writ_mcp::http::Limits::default()
            };
            let server = writ_mcp::http::Server::bind(gateway, listen, &upstream, limits)
                .with_context(|| format!("cannot listen on {listen}"))?;
            // The one line a supervisor (or a test) reads to find the port.
            eprintln!("{prog} mcp: listening on http://{} -> {upstream}", server.local_addr().unwrap_or(listen));
            server.run().context("mcp gateway")?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let (program, rest) = args.command.split_first().ok_or_else(|| UsageError("no server command".into()))?;
            let code = writ_mcp::stdio::run(gateway, program, rest)
                .with_context(|| format!("cannot run the MCP server `{}`", program.to_string_lossy()))?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
    }
}
