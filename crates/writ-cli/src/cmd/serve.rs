//! `writ serve`: run the authority's HTTP API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use writ_authority::{Authority, Config};

/// Serve the authority over HTTP (`/v1`, see docs/api.md).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The authority home (default `$WRIT_HOME` or `./.writ`).
    #[arg(long, env = "WRIT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7300")]
    pub listen: String,
    /// `postgres://…` to keep the ledger and state in PostgreSQL (default: SQLite in the home).
    #[arg(long, env = "WRIT_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// PostgreSQL schema.
    #[arg(long, default_value = "writ")]
    pub schema: String,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let home = crate::cmd::init::home_dir(args.home);
    let mut cfg = Config::new(&home);
    cfg.database = args.database;
    cfg.schema = args.schema;
    let authority =
        Authority::open(&cfg).with_context(|| format!("cannot open the authority in `{}`", home.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", args.listen))?;
        let addr = listener.local_addr()?;
        // The first stdout line is the bound address, so scripts and tests can use `--listen 127.0.0.1:0`.
        println!("listening on http://{addr}");
        eprintln!("writ authority serving {} (ledger {})", home.display(), authority.ledger().origin());
        let state = writ_server::AppState::new(Arc::new(authority));
        writ_server::serve(listener, state).await.context("server failed")
    })?;
    Ok(ExitCode::SUCCESS)
}
