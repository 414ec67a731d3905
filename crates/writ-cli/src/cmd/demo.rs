//! `writ demo`: the quickstart, run for real in a scratch directory.
//!
//! Every step is the `writ` command a user would type, run as a child
//! process of this same binary, with its output shown.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};

use crate::files;

/// Walk through keys → trust root → sign → verify (and three denials).
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Directory to work in (default: a new directory under the system temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

fn step(title: &str, dir: &Path, args: &[&str], expect: i32) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the writ binary")?;
    println!("\n▶ {title}\n  $ writ {}", args.join(" "));
    let out = Command::new(exe).args(args).current_dir(dir).output().context("cannot run writ")?;
    for line in String::from_utf8_lossy(&out.stdout).lines().chain(String::from_utf8_lossy(&out.stderr).lines()) {
        println!("    {line}");
    }
    let code = out.status.code().unwrap_or(-1);
    println!("  exit {code}");
    if code != expect {
        bail!("`writ {}` exited {code}, expected {expect}", args.join(" "));
    }
    Ok(())
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            d
        }
        None => {
            let d = std::env::temp_dir().join(format!("writ-demo-{}", files::new_id()));
            std::fs::create_dir_all(&d)?;
            d
        }
    };
    println!("writ demo in {}", dir.display());
    let echo = files::resolve_program("echo")?;
    let echo = echo.to_str().context("echo path is not UTF-8")?;
    let predicate = serde_json::json!({
        "request": {
            "id": files::new_id(),
            "requester": "0000000000000000000000000000000000000000000000000000000000000000",
            "requester_name": "demo-user",
            "reason": "say hello under a writ",
            "digest": {"sha256": writ_core::Sha256Digest::of(b"demo request").to_string()}
        },
        "policy": {
            "id": "demo",
            "digest": {"sha256": writ_core::Sha256Digest::of(b"demo policy").to_string()},
            "decision": "allow",
            "determining_policies": ["demo-allow-echo"]
        },
        "scope": {
            "actions": [{"exec": {"program": echo, "args": [{"exact": "hello"}, {"one_of": ["writ", "world"]}]}}],
            "boundaries": {"wall_clock_secs": 10, "cpu_secs": 5},
            "offline": true
        }
    });
    std::fs::write(dir.join("predicate.json"), serde_json::to_vec_pretty(&predicate)?)?;
    step("create the authority's issuer key", &dir, &["keygen", "--out", "issuer.key", "--name", "authority"], 0)?;
    step(
        "trust it as an issuer",
        &dir,
        &["trust", "add", "--trust", "trust.json", "--role", "issuer", "--key", "issuer.key.pub"],
        0,
    )?;
    step(
        "sign a writ for `echo hello writ|world`, valid 10 minutes",
        &dir,
        &[
            "sign",
            "--key",
            "issuer.key",
            "--predicate",
            "predicate.json",
            "--subject",
            echo,
            "--ttl",
            "600",
            "--out",
            "hello.writ",
        ],
        0,
    )?;
    step("look inside (unverified)", &dir, &["inspect", "hello.writ"], 0)?;
    step("verify it offline", &dir, &["verify", "hello.writ", "--trust", "trust.json"], 0)?;
    step(
        "verify the exact invocation it permits",
        &dir,
        &["verify", "hello.writ", "--trust", "trust.json", "--", "echo", "hello", "writ"],
        0,
    )?;
    step(
        "denied: an argument the writ does not permit",
        &dir,
        &["verify", "hello.writ", "--trust", "trust.json", "--json", "--", "echo", "hello", "attacker"],
        77,
    )?;
    step("denied: a different program", &dir, &["verify", "hello.writ", "--trust", "trust.json", "--", "true"], 77)?;
    let later = files::now()?.plus(3600).to_rfc3339();
    step(
        "denied: an hour later the writ has expired",
        &dir,
        &["verify", "hello.writ", "--trust", "trust.json", "--now", &later],
        77,
    )?;
    let mut tampered = std::fs::read(dir.join("hello.writ"))?;
    let env: writ_core::dsse::Envelope = serde_json::from_slice(&tampered)?;
    let payload = writ_core::b64::decode(&env.payload, 1 << 20).map_err(anyhow::Error::msg)?;
    let text = String::from_utf8(payload)?.replace("\"world\"", "\"attack\"");
    tampered =
        serde_json::to_vec(&writ_core::dsse::Envelope { payload: writ_core::b64::encode(text.as_bytes()), ..env })?;
    std::fs::write(dir.join("tampered.writ"), tampered)?;
    step("denied: a tampered copy", &dir, &["verify", "tampered.writ", "--trust", "trust.json"], 77)?;
    println!("\nall steps behaved as expected; files are in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
