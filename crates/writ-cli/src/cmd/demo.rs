//! `writ demo`: the whole flow, for real, in a scratch directory.
//!
//! Every step is the `writ` command a user would type, run as a child
//! process of this same binary against an embedded authority (SQLite ledger,
//! no server), with its output shown. The demo stops with an error as soon
//! as a step does not behave as it should, so it doubles as a smoke test.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

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
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<String>,
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

    fn write(&self, name: &str, text: &str) -> anyhow::Result<()> {
        std::fs::write(self.dir.join(name), text).with_context(|| format!("cannot write {name}"))
    }
}

fn json_field(stdout: &str, field: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).context("expected JSON output")?;
    v.get(field).and_then(|f| f.as_str()).map(str::to_owned).with_context(|| format!("no `{field}` in {v}"))
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("writ-demo-{}", files::new_id())),
    };
    std::fs::create_dir_all(&dir)?;
    let dir = std::fs::canonicalize(&dir)?;
    let d = Demo { exe: std::env::current_exe().context("cannot find the writ binary")?, dir: dir.clone() };
    println!("writ demo in {}", dir.display());
    let echo = files::resolve_program("echo")?;
    let echo = echo.to_str().context("echo path is not UTF-8")?.to_owned();

    // 1. An authority with its keys, trust root, default policies and ledger.
    d.step(
        "create an authority home (keys, trust root, Cedar policies, SQLite ledger)",
        &["init", "--home", "home"],
        0,
    )?;
    for (who, role, group) in [
        ("alice", "requester", "dev"),
        ("bob", "approver", "sre"),
        ("carol", "approver", "sre"),
        ("gate", "gate", "ci"),
    ] {
        d.step(&format!("a key for {who}"), &["keygen", "--out", &format!("{who}.key"), "--name", who], 0)?;
        d.step(
            &format!("trust {who} as {role} in group {group}"),
            &[
                "trust",
                "add",
                "--trust",
                "home/trust.json",
                "--role",
                role,
                "--group",
                group,
                "--key",
                &format!("{who}.key.pub"),
            ],
            0,
        )?;
    }

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
    d.write("deploy.sh", "#!/bin/sh\necho \"deploying $1\"\n")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.join("deploy.sh"), std::fs::Permissions::from_mode(0o755))?;
    }
    let deploy = dir.join("deploy.sh");
    let deploy = deploy.to_str().context("path is not UTF-8")?;
    let policies = std::fs::read_to_string(dir.join("home/policies.cedar")).context("no policies.cedar")?;
    let demo_policy = format!(
        "\n@id(\"demo-deploy-needs-two-sre\")\n@approvals(\"2\")\n@approver_group(\"sre\")\n@max_duration(\"600\")\n@single_use(\"true\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen {{ resource.path == \"{deploy}\" && context.reason != \"\" }};\n"
    );
    d.write("home/policies.cedar", &(policies + &demo_policy))?;
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
    })
}
