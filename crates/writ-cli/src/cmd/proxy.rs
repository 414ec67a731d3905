//! `writ proxy`: the gate's `proxy` (`writ_gate_cli::proxy` over the
//! `writ-proxy` crate), plus `--home DIR` for the embedded authority.

use std::process::ExitCode;

use crate::embedded::{HomeArg, embedded};

/// Put the gate in front of an HTTP service (403 + reason without a matching writ).
#[derive(Debug, clap::Args)]
pub struct WritProxyArgs {
    #[command(flatten)]
    pub home: HomeArg,
    #[command(flatten)]
    pub proxy: writ_gate_cli::proxy::ProxyArgs,
}

pub fn run(args: WritProxyArgs) -> anyhow::Result<ExitCode> {
    let embedded = match &args.home.home {
        None => None,
        Some(h) => Some(
            embedded(h, args.proxy.gate.key.as_deref())
                .map_err(|d| anyhow::anyhow!("cannot reach the authority ({}): {}", d.code, d.detail))?,
        ),
    };
    writ_gate_cli::proxy::run(args.proxy, "writ", embedded)
}
