//! `writ demo`: the whole flow, for real, in a scratch directory.
//!
//! Two ways to watch it:
//!
//! - **In the browser** (the default on a terminal, or `--live`): an
//!   embedded authority on SQLite is served with its web pages, and the
//!   scenario of `crate::demo` (an AI agent at work: allowed, approved,
//!   refused, revoked, forged) plays against it; `/demo` shows each step as
//!   it happens. The server stays up after the last step until Ctrl-C.
//! - **In the terminal** (`--headless`, and the default when stdout is not a
//!   terminal, so scripts and CI get it): every step is the `writ` command
//!   a user would type, run as a child process of this same binary against
//!   an embedded authority (SQLite ledger, no server), with its output
//!   shown. It stops with an error as soon as a step does not behave as it
//!   should, so it doubles as a smoke test.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::files;

/// Walk through init → request → policy → approvals → writ + receipt → gated
/// execution → replay, tampering and revocation denied → audit.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Directory to work in (default: a new directory under the system temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// After the walk-through, serve the demo's authority at ADDR (e.g.
    /// `127.0.0.1:7300`) so its ledger can be browsed and verified in the
    /// Proof Viewer (`/proofs`) and the Lineage Explorer (`/lineage`); Ctrl-C ends it.
    #[arg(long, value_name = "ADDR", conflicts_with = "live")]
    pub serve: Option<String>,
    /// The terminal walk-through (the default when stdout is not a terminal).
    #[arg(long, conflicts_with = "live")]
    pub headless: bool,
    /// The browser demo even when stdout is not a terminal.
    #[arg(long)]
    pub live: bool,
    /// Browser demo: address to serve the pages at.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7300")]
    pub listen: String,
    /// Browser demo: seconds the deploy waits for approvals in the console
    /// before the simulated approvers (bob and carol) vote.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub approve_after: u64,
    /// Browser demo: seconds between steps.
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    pub pace: u64,
}

struct Demo {
    dir: PathBuf,
    exe: PathBuf,
}

impl Demo {
    /// Runs `writ ARGS`, shows its output, checks its exit code, returns stdout.
    fn step(&self, title: &str, args: &[&str], expect: i32) -> anyhow::Result<String> {
        println!("\n▶ {title}\n  $ writ {}", args.join(" "));
        let out = Command::new(&self.exe)
            .args(args)
            .current_dir(&self.dir)
            .env_remove("WRIT_HOME")
            .output()
            .context("cannot run writ")?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in stdout.lines().chain(String::from_utf8_lossy(&out.stderr).lines()) {
            println!("    {line}");
        }
        let code = out.status.code().unwrap_or(-1);
        println!("  exit {code}");
        if code != expect {
            bail!("`writ {}` exited {code}, expected {expect}", args.join(" "));
        }
        Ok(stdout)
    }
}

fn json_field(stdout: &str, field: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).context("expected JSON output")?;
    v.get(field).and_then(|f| f.as_str()).map(str::to_owned).with_context(|| format!("no `{field}` in {v}"))
}

fn scratch_dir(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("writ-demo-{}", files::new_id())),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(std::fs::canonicalize(&dir)?)
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.live || (!args.headless && args.serve.is_none() && std::io::stdout().is_terminal()) {
        return live(args);
    }
    let dir = scratch_dir(args.dir)?;
    let d = Demo { exe: std::env::current_exe().context("cannot find the writ binary")?, dir: dir.clone() };
    println!("writ demo in {}", dir.display());
    let echo = files::resolve_program("echo")?;
    let echo = echo.to_str().context("echo path is not UTF-8")?.to_owned();

    // 1. An authority with its keys, trust root, default policies and ledger.
    let actors = crate::demo::ACTORS.get(..4).unwrap_or_default();
    crate::demo::setup_home(&|t, a, e| d.step(t, a, e), actors)?;

    // 2. Policy allows it at once: the writ comes with its ledger receipt.
    let out = d.step(
        "alice asks to run `echo hello writ`; policy allows it at once",
        &[
            "request",
            "--home",
            "home",
            "--key",
            "alice.key",
            "--json",
            "--out",
            "hello.writ",
            "--",
            &echo,
            "hello",
            "writ",
        ],
        0,
    )?;
    json_field(&out, "request_id")?;
    d.step(
        "look inside (decoded without trusting it): the boundaries come from policy",
        &["inspect", "hello.writ"],
        0,
    )?;
    d.step(
        "denied: alice asks for 60 s of wall clock; policy allows 10 (exceeds_policy, nothing stored)",
        &["request", "--home", "home", "--key", "alice.key", "--wall-clock", "60", "--", &echo, "hello"],
        77,
    )?;
    d.step(
        "denied: alice asks to set LD_PRELOAD; no policy allows it by name (loader_variable)",
        &["request", "--home", "home", "--key", "alice.key", "--env", "LD_PRELOAD=/tmp/x.so", "--", &echo, "hello"],
        77,
    )?;
    d.step(
        "verify it offline, with its receipt, against that exact invocation",
        &[
            "verify",
            "hello.writ",
            "--trust",
            "home/trust.json",
            "--receipt",
            "hello.writ.receipt",
            "--",
            &echo,
            "hello",
            "writ",
        ],
        0,
    )?;
    d.step(
        "run it through the gate (online with the embedded authority: recorded before and after)",
        &["exec", "--writ", "hello.writ", "--home", "home", "--key", "gate.key", "--", &echo, "hello", "writ"],
        0,
    )?;
    d.step(
        "denied: the same writ with another argument (nothing runs)",
        &["exec", "--writ", "hello.writ", "--home", "home", "--key", "gate.key", "--", &echo, "hello", "attacker"],
        77,
    )?;

    // 3. Policy forbids it: no writ, the denial is in the ledger.
    d.step(
        "alice asks for `rm -rf /`; a forbid policy denies it",
        &["request", "--home", "home", "--key", "alice.key", "--", "/usr/bin/rm", "-rf", "/"],
        77,
    )?;

    // 4. A deploy needs two SRE approvals and is single-use.
    let deploy = crate::demo::write_deploy_script(&dir)?;
    let deploy = deploy.to_str().context("path is not UTF-8")?;
    crate::demo::add_policy(&dir.join("home"), &crate::demo::deploy_policy(deploy))?;
    println!("\n▶ add a policy: deploys of {deploy} need two approvals from group sre, single use");
    let out = d.step(
        "alice asks to deploy v2; policy needs two approvals, so it is pending",
        &["request", "--home", "home", "--key", "alice.key", "--json", "--reason", "ship v2", "--", deploy, "v2"],
        0,
    )?;
    let request_id = json_field(&out, "request_id")?;
    d.step("bob lists what awaits his approval", &["pending", "--home", "home", "--key", "bob.key"], 0)?;
    d.step(
        "denied: alice cannot approve her own request",
        &["approve", "--home", "home", "--key", "alice.key", "--yes", &request_id],
        77,
    )?;
    d.step(
        "bob approves (his own signature over the request digest)",
        &["approve", "--home", "home", "--key", "bob.key", "--yes", &request_id],
        0,
    )?;
    d.step(
        "carol approves: quorum met, the writ is issued",
        &["approve", "--home", "home", "--key", "carol.key", "--yes", &request_id],
        0,
    )?;
    d.step(
        "alice fetches her writ and receipt",
        &["request", "--home", "home", "--key", "alice.key", "--fetch", &request_id, "--out", "deploy.writ"],
        0,
    )?;
    d.step(
        "run the deploy through the gate",
        &["exec", "--writ", "deploy.writ", "--home", "home", "--key", "gate.key", "--", deploy, "v2"],
        0,
    )?;
    d.step(
        "denied: a single-use writ cannot run twice",
        &["exec", "--writ", "deploy.writ", "--home", "home", "--key", "gate.key", "--", deploy, "v2"],
        77,
    )?;

    // 5. Tampering and revocation.
    let env: crate::files::Envelope = serde_json::from_slice(&std::fs::read(dir.join("hello.writ"))?)?;
    let payload = writ_core::b64::decode(&env.payload, 1 << 20).map_err(anyhow::Error::msg)?;
    let text = String::from_utf8(payload)?.replace("\"writ\"", "\"root\"");
    let tampered = crate::files::Envelope { payload: writ_core::b64::encode(text.as_bytes()), ..env };
    std::fs::write(dir.join("tampered.writ"), serde_json::to_vec(&tampered)?)?;
    d.step("denied: a tampered copy", &["verify", "tampered.writ", "--trust", "home/trust.json"], 77)?;
    let writ_id = json_field(
        &d.step("the hello writ, as verified", &["verify", "hello.writ", "--trust", "home/trust.json", "--json"], 0)?,
        "writ_id",
    )?;
    d.step(
        "bob revokes the hello writ",
        &["revoke", "--home", "home", "--key", "bob.key", "--reason", "demo over", &writ_id],
        0,
    )?;
    d.step(
        "denied: a revoked writ does not run",
        &["exec", "--writ", "hello.writ", "--home", "home", "--key", "gate.key", "--", &echo, "hello", "writ"],
        77,
    )?;

    // 6. The ledger holds every step, and checks out.
    d.step("the ledger's signed checkpoint", &["log", "--home", "home", "checkpoint"], 0)?;
    d.step("audit: recompute the whole tree and check every checkpoint", &["audit", "--home", "home"], 0)?;
    d.step(
        "the state database agrees with the ledger (revocations, use counts, request status)",
        &["recover", "--home", "home", "--check"],
        0,
    )?;
    println!("\nevery step behaved as expected; the files are in {}", dir.display());
    let Some(addr) = args.serve else {
        println!(
            "see it in a browser: `writ demo --serve 127.0.0.1:7300`, or `writ serve --home {}/home`",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "\n▶ the demo's ledger in a browser (Ctrl-C to stop)\n  $ writ serve --home home --listen {addr}\n  \
         Proof Viewer:      http://{addr}/proofs?writ={writ_id}\n  \
         Lineage Explorer:  http://{addr}/lineage?q={writ_id}"
    );
    // This process becomes the server (no child left behind when it is killed).
    crate::cmd::serve::run(crate::cmd::serve::ServeArgs {
        home: Some(dir.join("home")),
        listen: addr,
        database: None,
        pg_schema: "writ".into(),
        tls_cert: None,
        tls_key: None,
        tls_client_ca: None,
        tls_client_auth: crate::cmd::serve::ClientAuthArg::Required,
        webhooks: Vec::new(),
        webhook_secret_file: None,
        public_url: None,
    })
}

/// Runs `writ ARGS` in `dir` quietly; its output is shown only when it does
/// not exit with `expect`.
fn quiet(exe: &Path, dir: &Path, args: &[&str], expect: i32) -> anyhow::Result<String> {
    let out =
        Command::new(exe).args(args).current_dir(dir).env_remove("WRIT_HOME").output().context("cannot run writ")?;
    let code = out.status.code().unwrap_or(-1);
    if code != expect {
        bail!(
            "`writ {}` exited {code}, expected {expect}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The browser demo: an authority served with its pages, the scenario
/// played against it and shown at `/demo`.
fn live(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = scratch_dir(args.dir)?;
    let exe = std::env::current_exe().context("cannot find the writ binary")?;
    println!("writ demo in {}: setting up an authority (keys, trust root, policies, SQLite ledger)", dir.display());
    crate::demo::setup_home(&|_, a, e| quiet(&exe, &dir, a, e), &crate::demo::ACTORS)?;
    let home = dir.join("home");
    let deploy = crate::demo::write_deploy_script(&dir)?;
    let sleep = files::resolve_program("sleep")?;
    let (deploy, sleep) = (
        deploy.to_str().context("path is not UTF-8")?.to_owned(),
        sleep.to_str().context("path is not UTF-8")?.to_owned(),
    );
    crate::demo::add_policy(&home, &(crate::demo::deploy_policy(&deploy) + &crate::demo::long_job_policy(&sleep)))?;
    let authority = Arc::new(
        writ_authority::Authority::open(&writ_authority::Config::new(&home))
            .map_err(|e| crate::config::open_error(e, &home, None))?,
    );
    let opts = crate::demo::Options {
        pace: Duration::from_secs(args.pace),
        approve_after: Duration::from_secs(args.approve_after),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", args.listen))?;
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        let state = writ_server::AppState::new(authority.clone());
        let feed = Arc::new(writ_server::web::DemoFeed::new("An AI agent at work", &crate::demo::STEPS));
        feed.note(&format!(
            "To approve the deploy yourself, sign in to the console ({base}/console) as dana, an approver of group sre, \
             with the key file {}; after {} s the simulated approvers bob and carol approve it.",
            dir.join("dana.key").display(),
            args.approve_after
        ));
        if state.demo.set(feed.clone()).is_err() {
            bail!("the demo feed was set twice");
        }
        println!(
            "\nwatch it: {base}/demo\n  console:          {base}/console\n  Proof Viewer:     {base}/proofs\n  \
             Lineage Explorer: {base}/lineage\n  health:           {base}/health\n"
        );
        let server = tokio::spawn(writ_server::serve(listener, state));
        let scenario = crate::demo::Scenario::new(&dir, &base, authority)?;
        let ok = tokio::task::spawn_blocking(move || scenario.play(&feed, &opts, &|line| println!("{line}")))
            .await
            .context("the scenario stopped")?;
        if ok {
            println!("\nevery step behaved as expected; the pages stay up at {base}/demo (Ctrl-C to stop)");
        } else {
            println!("\nSOME STEPS DID NOT BEHAVE AS EXPECTED (see {base}/demo); the pages stay up (Ctrl-C to stop)");
        }
        server.await.context("the server stopped")?.context("server failed")
    })?;
    Ok(ExitCode::SUCCESS)
}
