//! The Runtime Governance Demo's scenario: an AI agent at work, played
//! against a real authority through the same APIs a real agent, approver and
//! gate use — requests, votes and revocations signed with their keys over
//! the authority's HTTP API (`writ_client`), every run through the gate's
//! governed path (`writ_gate::exec`: verify, signed status, use
//! consumption, durable records, the revocation watcher). Each step reports
//! to a [`DemoFeed`], which `/demo` shows as it happens.
//!
//! The home is made by the `writ` commands a user would type
//! ([`setup_home`], shared with the terminal walk-through).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use writ_api::wire::{RequestInput, RequestView, TargetInput};
use writ_api::{IdempotencyKey, OperatorApi as _};
use writ_authority::Authority;
use writ_client::Client;
use writ_core::entry::Entry;
use writ_core::{HostFacts, SigningKey, TrustRoot};
use writ_gate::record::Recorded;
use writ_gate::watch::WatchEnd;
use writ_gate::{ExecMode, ExecOptions, ExecRequest, Recorder};
use writ_server::web::DemoFeed;
use writ_server::web::demo::StepState;

/// The people and machines of the scenario: `(name, role, group)`.
pub const ACTORS: [(&str, &str, &str); 5] = [
    ("alice", "requester", "dev"),
    ("bob", "approver", "sre"),
    ("carol", "approver", "sre"),
    ("gate", "gate", "ci"),
    ("dana", "approver", "sre"),
];

/// The steps: title, story, expected verdict.
pub const STEPS: [(&str, &str, &str); 8] = [
    (
        "An allowed tool call",
        "The agent (alice's key) asks to run its `echo` tool; policy allows it at once, the authority issues a writ with its ledger receipt and the gate runs it.",
        "allowed",
    ),
    (
        "A deploy waits for two approvals",
        "The agent asks to deploy v2. Policy demands two approvals from group sre: the request waits. Approve it in the console, or the simulated approvers bob and carol will.",
        "allowed",
    ),
    (
        "A scope violation",
        "The agent reuses its echo writ with other arguments. The writ names exact arguments: the gate refuses, and records the denial.",
        "denied: scope_args",
    ),
    ("An expired writ", "The agent holds on to a one-second writ and tries it after it ran out.", "denied: expired"),
    (
        "A writ revoked mid-run",
        "The agent starts a long job; bob revokes its writ while it runs. The gate's watcher sees the signed revoked status and ends the run.",
        "stopped: revoked",
    ),
    ("A replay", "The agent runs the single-use deploy writ a second time.", "denied: replayed"),
    (
        "A forged writ",
        "An attacker edits the echo writ's arguments and keeps the authority's signature.",
        "denied: bad_signature",
    ),
    (
        "A stolen issuer key",
        "An attacker who stole the issuer's key signs a writ of their own and takes it to a gate cut off from the authority. Its signature is valid — but the ledger never issued it, so it has no receipt. The gate's signed denial goes to the ledger: the evidence that an unissued writ was presented.",
        "denied: receipt_missing",
    ),
];

/// Runs one `writ` command of the setup: title, arguments, expected exit
/// code; returns its stdout.
pub type Runner<'a> = dyn Fn(&str, &[&str], i32) -> anyhow::Result<String> + 'a;

/// Make the demo's home in `dir` with the `writ` commands a user would type
/// (through `run`): `init` (keys, signed trust root, Cedar policies, SQLite
/// ledger), then a key for each of `actors` and its place in the trust root.
///
/// # Errors
/// A command that did not behave.
pub fn setup_home(run: &Runner<'_>, actors: &[(&str, &str, &str)]) -> anyhow::Result<()> {
    run("create an authority home (keys, trust root, Cedar policies, SQLite ledger)", &["init", "--home", "home"], 0)?;
    for (who, role, group) in actors {
        run(&format!("a key for {who}"), &["keygen", "--out", &format!("{who}.key"), "--name", who], 0)?;
        run(
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
    Ok(())
}

/// Write `deploy.sh` into `dir` (executable) and return its path.
///
/// # Errors
/// I/O errors.
pub fn write_deploy_script(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("deploy.sh");
    std::fs::write(&path, "#!/bin/sh\necho \"deploying $1\"\n").context("cannot write deploy.sh")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

/// The Cedar policy of the demo's deploys: two approvals from group sre,
/// single use.
#[must_use]
pub fn deploy_policy(deploy: &str) -> String {
    format!(
        "\n@id(\"demo-deploy-needs-two-sre\")\n@approvals(\"2\")\n@approver_group(\"sre\")\n@max_duration(\"600\")\n@single_use(\"true\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen {{ resource.path == \"{deploy}\" && context.reason != \"\" }};\n"
    )
}

/// The Cedar policy of the agent's long job (a `sleep`), allowed at once.
#[must_use]
pub fn long_job_policy(sleep: &str) -> String {
    format!(
        "\n@id(\"demo-agent-long-job\")\n@max_duration(\"300\")\n@wall_clock(\"120\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen {{ resource.path == \"{sleep}\" }};\n"
    )
}

/// Append `text` to the home's `policies.cedar`.
///
/// # Errors
/// I/O errors.
pub fn add_policy(home: &Path, text: &str) -> anyhow::Result<()> {
    let path = home.join(writ_authority::home::POLICIES);
    let old = std::fs::read_to_string(&path).context("no policies.cedar in the home")?;
    std::fs::write(&path, old + text).context("cannot write policies.cedar")
}

/// How the scenario is played.
#[derive(Debug, Clone)]
pub struct Options {
    /// Pause before each step, so a person can follow.
    pub pace: Duration,
    /// How long the deploy waits for people before the simulated approvers vote.
    pub approve_after: Duration,
}

/// The scenario, ready to play against a served authority.
pub struct Scenario {
    dir: PathBuf,
    authority: Arc<Authority>,
    trust: TrustRoot,
    agent: Arc<Client>,
    approvers: Vec<(String, SigningKey, Arc<Client>)>,
    gate: Arc<Client>,
    gate_key: Arc<SigningKey>,
    echo: String,
    sleep: String,
    deploy: String,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// What a step ended with.
#[derive(Debug, Default)]
struct Ended {
    verdict: String,
    detail: String,
    writ_id: Option<String>,
    request_id: Option<String>,
    index: Option<u64>,
    /// A Lineage Explorer view to show when no entry records the verdict.
    lineage: Option<String>,
}

/// The writs the steps pass on to later steps.
#[derive(Debug, Default)]
struct Held {
    echo: Option<(Vec<u8>, Vec<u8>)>,
    deploy: Option<(Vec<u8>, Vec<u8>)>,
}

fn key(dir: &Path, who: &str) -> anyhow::Result<SigningKey> {
    writ_authority::home::read_private_key(&dir.join(format!("{who}.key")))
        .with_context(|| format!("cannot read {who}.key"))
}

fn idem() -> anyhow::Result<IdempotencyKey> {
    IdempotencyKey::new(&crate::files::new_id()).map_err(|e| anyhow::anyhow!("{e}"))
}

fn api(e: writ_api::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code.as_str(), e.message)
}

/// A writ's id, read without trusting it (to find its records).
fn writ_id_of(writ: &[u8]) -> Option<String> {
    let d = writ_core::dsse::decode(writ).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&d.payload).ok()?;
    v.pointer("/predicate/id").and_then(|x| x.as_str()).map(str::to_owned)
}

impl Scenario {
    /// The scenario over the home in `dir` (made by [`setup_home`] with
    /// [`ACTORS`]), played against the authority served at `base`.
    ///
    /// # Errors
    /// Missing keys or programs.
    pub fn new(dir: &Path, base: &str, authority: Arc<Authority>) -> anyhow::Result<Self> {
        let client = |who: &str| -> anyhow::Result<Arc<Client>> {
            Ok(Arc::new(Client::new(base, key(dir, who)?).map_err(api)?))
        };
        let mut approvers = Vec::new();
        for who in ["bob", "carol"] {
            approvers.push((who.to_string(), key(dir, who)?, client(who)?));
        }
        let path = |p: PathBuf| p.to_str().map(str::to_owned).context("a path is not UTF-8");
        Ok(Self {
            trust: (*authority.trust()).clone(),
            authority,
            agent: client("alice")?,
            approvers,
            gate: client("gate")?,
            gate_key: Arc::new(key(dir, "gate")?),
            echo: path(crate::files::resolve_program("echo")?)?,
            sleep: path(crate::files::resolve_program("sleep")?)?,
            deploy: path(dir.join("deploy.sh"))?,
            dir: dir.to_path_buf(),
        })
    }

    /// Play every step, reporting to `feed` and through `log`; `true` when
    /// every step ended with its expected verdict.
    pub fn play(&self, feed: &DemoFeed, opts: &Options, log: &dyn Fn(&str)) -> bool {
        let mut held = Held::default();
        let mut all_ok = true;
        for (i, (title, _, expect)) in STEPS.iter().enumerate() {
            let n = i + 1;
            std::thread::sleep(opts.pace);
            feed.update(n, |s| s.state = StepState::Running);
            log(&format!("▶ {n}. {title}"));
            let r = match n {
                1 => self.allowed_call(&mut held),
                2 => self.deploy(feed, n, opts, &mut held),
                3 => self.scope_violation(&held),
                4 => self.expired(),
                5 => self.revoked_mid_run(),
                6 => self.replay(&held),
                7 => self.forged(&held),
                _ => self.stolen_key(&held),
            };
            let ended =
                r.unwrap_or_else(|e| Ended { verdict: "error".into(), detail: format!("{e:#}"), ..Ended::default() });
            let ok = ended.verdict == *expect;
            all_ok &= ok;
            log(&format!(
                "  {} {} (expected {expect}){}",
                if ok { "✓" } else { "✗" },
                ended.verdict,
                if ended.detail.is_empty() { String::new() } else { format!(": {}", ended.detail) }
            ));
            feed.update(n, |s| {
                s.state = if ok { StepState::Done } else { StepState::Failed };
                s.verdict = Some(ended.verdict);
                s.detail = (!ended.detail.is_empty()).then_some(ended.detail);
                s.writ_id = ended.writ_id.or(s.writ_id.take());
                s.request_id = ended.request_id.or(s.request_id.take());
                s.ledger_index = ended.index;
                if let Some(l) = ended.lineage {
                    s.lineage_url = Some(l);
                }
            });
        }
        feed.finish(all_ok);
        all_ok
    }

    fn request(&self, program: &str, args: &[&str], reason: &str, duration_secs: u64) -> anyhow::Result<RequestView> {
        let mut argv = vec![program.to_string()];
        argv.extend(args.iter().map(|a| (*a).to_string()));
        let input = RequestInput {
            target: TargetInput::Exec {
                program: program.to_string(),
                sha256: Some(crate::files::hash_file(Path::new(program))?.to_hex()),
                argv,
            },
            reason: reason.to_string(),
            duration_secs,
            env: BTreeMap::new(),
            cwd: None,
            hosts: None,
            evidence: None,
            boundaries: None,
            uses: None,
            holder: None,
            delegation_depth: None,
        };
        self.agent.submit(&input, &idem()?).map_err(api)
    }

    fn issued(v: &RequestView) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        match (&v.writ, &v.receipt) {
            (Some(w), Some(r)) => Ok((w.clone().into_bytes(), r.clone().into_bytes())),
            _ => bail!("request {} is `{}`, not issued: {}", v.request_id, v.status, v.decision.reasons.join("; ")),
        }
    }

    /// The gate's governed run of `program args` under `writ`, online.
    fn gate_run(&self, writ: &[u8], receipt: Option<&[u8]>, program: &str, args: &[&str]) -> Ended {
        self.gate_run_in(ExecMode::Online(self.gate.clone()), writ, receipt, program, args)
    }

    /// The gate's governed run in `mode` (its records go to the authority either way).
    fn gate_run_in(&self, mode: ExecMode, writ: &[u8], receipt: Option<&[u8]>, program: &str, args: &[&str]) -> Ended {
        let before = self.authority.ledger().size();
        let req = ExecRequest {
            writ: writ.to_vec(),
            receipt: receipt.map(<[u8]>::to_vec),
            ancestors: Vec::new(),
            program: program.to_string(),
            args: args.iter().map(|a| (*a).to_string()).collect(),
            env: BTreeMap::new(),
            // A directory every uid may enter (a root gate runs the program as another one).
            cwd: PathBuf::from("/"),
            trust: self.trust.clone(),
            host: HostFacts { hostname: "gate".into(), labels: Default::default() },
            mode,
            recorder: Recorder::online(self.gate.clone(), self.trust.clone()).signed_by(self.gate_key.clone()),
            options: ExecOptions { status_interval: Some(Duration::from_millis(300)), ..ExecOptions::default() },
        };
        let writ_id = writ_id_of(writ);
        match writ_gate::exec(req) {
            Ok(report) => {
                let index = match &report.end {
                    Ok(Recorded::Ledger { index }) => Some(*index),
                    _ => None,
                };
                let verdict = match (&report.watch, &report.outcome.status) {
                    (Some(WatchEnd::Revoked(_)), _) => "stopped: revoked".to_string(),
                    (_, writ_gate::ExitStatus::Exited(0)) => "allowed".to_string(),
                    (_, s) => format!("ran: {s:?}"),
                };
                let detail = match &report.watch {
                    Some(WatchEnd::Revoked(why)) => {
                        format!("ended by the gate after {} ms: {why}", report.outcome.wall.as_millis())
                    }
                    _ => format!("exit {} after {} ms", report.outcome.exit_code(), report.outcome.wall.as_millis()),
                };
                Ended { verdict, detail, writ_id: Some(report.writ_id), index, ..Ended::default() }
            }
            Err(d) => Ended {
                verdict: format!("denied: {}", d.code.as_str()),
                detail: d.detail.clone(),
                index: self.newest_denial(before, writ_id.as_deref()),
                ..Ended::default()
            },
        }
    }

    /// The ledger index of the newest denial at or after `from` (for `writ_id` when given).
    fn newest_denial(&self, from: u64, writ_id: Option<&str>) -> Option<u64> {
        let ledger = self.authority.ledger();
        let to = ledger.size();
        let entries = ledger.entries(from, to).ok()?;
        entries
            .iter()
            .enumerate()
            .rev()
            .find(|(_, b)| match Entry::decode(b) {
                Ok(Entry::Denial(d)) => writ_id.is_none() || d.writ_id.as_deref() == writ_id,
                _ => false,
            })
            .map(|(i, _)| from + i as u64)
    }

    fn allowed_call(&self, held: &mut Held) -> anyhow::Result<Ended> {
        let v = self.request(&self.echo, &["hello", "from", "the", "agent"], "the agent greets", 300)?;
        let (writ, receipt) = Self::issued(&v)?;
        let mut e = self.gate_run(&writ, Some(&receipt), &self.echo, &["hello", "from", "the", "agent"]);
        e.request_id = Some(v.request_id);
        held.echo = Some((writ, receipt));
        Ok(e)
    }

    fn deploy(&self, feed: &DemoFeed, n: usize, opts: &Options, held: &mut Held) -> anyhow::Result<Ended> {
        let v = self.request(&self.deploy, &["v2"], "ship v2 of the agent's service", 600)?;
        if v.status != "pending" {
            bail!("the deploy request is `{}`, expected it to wait for approvals", v.status);
        }
        let id = v.request_id.clone();
        feed.update(n, |s| {
            s.state = StepState::Waiting;
            s.request_id = Some(id.clone());
            s.detail = Some(format!(
                "waiting for {} approvals from group sre; the simulated approvers vote in {} s",
                v.approvals_required,
                opts.approve_after.as_secs()
            ));
        });
        // People first: the request waits for them as long as asked.
        let deadline = Instant::now() + opts.approve_after;
        let mut view = v;
        while view.status == "pending" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            view = self.agent.request(&id).map_err(api)?;
        }
        for (name, key, client) in &self.approvers {
            if view.status != "pending" {
                break;
            }
            if view.approvals.iter().any(|a| a.name == *name) {
                continue;
            }
            let vote =
                writ_api::approval::sign(key, &view, writ_core::approval::Verdict::Approve, None, crate::files::now()?)
                    .map_err(api)?;
            view = client.vote(&id, &vote, &idem()?).map_err(api)?;
        }
        // The requester fetches the writ and its receipt.
        let view = self.agent.request(&id).map_err(api)?;
        let (writ, receipt) = Self::issued(&view)?;
        let voters: Vec<&str> = view.approvals.iter().map(|a| a.name.as_str()).collect();
        feed.update(n, |s| {
            s.state = StepState::Running;
            s.detail = Some(format!("approved by {}; the gate runs the deploy", voters.join(" and ")));
        });
        let mut e = self.gate_run(&writ, Some(&receipt), &self.deploy, &["v2"]);
        e.detail = format!("approved by {}; {}", voters.join(" and "), e.detail);
        e.request_id = Some(id);
        held.deploy = Some((writ, receipt));
        Ok(e)
    }

    fn scope_violation(&self, held: &Held) -> anyhow::Result<Ended> {
        let (writ, receipt) = held.echo.as_ref().context("no echo writ (step 1 failed)")?;
        let mut e = self.gate_run(writ, Some(receipt), &self.echo, &["cat", "/etc/shadow"]);
        e.writ_id = writ_id_of(writ);
        Ok(e)
    }

    fn expired(&self) -> anyhow::Result<Ended> {
        let v = self.request(&self.echo, &["still", "valid?"], "a writ for one second", 1)?;
        let (writ, receipt) = Self::issued(&v)?;
        // Wait until the writ's validity window has passed for the gate's clock.
        let d = writ_core::dsse::decode(&writ).map_err(anyhow::Error::msg)?;
        let p: serde_json::Value = serde_json::from_slice(&d.payload)?;
        let end = match p.pointer("/predicate/validity/not_after") {
            Some(serde_json::Value::String(t)) => writ_core::Timestamp::parse(t).map_err(anyhow::Error::msg)?.0,
            Some(serde_json::Value::Number(n)) => n.as_i64().context("`not_after` is not a time")?,
            _ => bail!("the writ has no `validity.not_after`"),
        };
        while crate::files::now()?.0 <= end {
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut e = self.gate_run(&writ, Some(&receipt), &self.echo, &["still", "valid?"]);
        e.writ_id = writ_id_of(&writ);
        e.request_id = Some(v.request_id);
        Ok(e)
    }

    fn revoked_mid_run(&self) -> anyhow::Result<Ended> {
        let v = self.request(&self.sleep, &["60"], "the agent's long job", 300)?;
        let (writ, receipt) = Self::issued(&v)?;
        let writ_id = writ_id_of(&writ).context("the writ has no id")?;
        std::thread::scope(|s| {
            let run = s.spawn(|| self.gate_run(&writ, Some(&receipt), &self.sleep, &["60"]));
            // Revoke once the run's start is in the ledger.
            let started = Instant::now();
            loop {
                let rows = self.authority.entries_for(None, Some(&writ_id)).unwrap_or_default();
                if rows.iter().any(|(_, k, _)| k == "exec_start") || run.is_finished() {
                    break;
                }
                if started.elapsed() > Duration::from_secs(30) {
                    bail!("the long job did not start within 30 s");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(800));
            let (_, _, bob) = self.approvers.first().context("no approver")?;
            bob.revoke(&writ_id, "the agent went off-script", &idem()?).map_err(api)?;
            let mut e = run.join().map_err(|_| anyhow::anyhow!("the gate's run panicked"))?;
            e.request_id = Some(v.request_id.clone());
            Ok(e)
        })
    }

    fn replay(&self, held: &Held) -> anyhow::Result<Ended> {
        let (writ, receipt) = held.deploy.as_ref().context("no deploy writ (step 2 failed)")?;
        let mut e = self.gate_run(writ, Some(receipt), &self.deploy, &["v2"]);
        e.writ_id = writ_id_of(writ);
        Ok(e)
    }

    fn forged(&self, held: &Held) -> anyhow::Result<Ended> {
        let (writ, receipt) = held.echo.as_ref().context("no echo writ (step 1 failed)")?;
        let env: crate::files::Envelope = serde_json::from_slice(writ)?;
        let payload = writ_core::b64::decode(&env.payload, 1 << 20).map_err(anyhow::Error::msg)?;
        let text = String::from_utf8(payload)?.replace("\"agent\"", "\"owner\"");
        let forged = crate::files::Envelope { payload: writ_core::b64::encode(text.as_bytes()), ..env };
        let forged = serde_json::to_vec(&forged)?;
        let mut e = self.gate_run(&forged, Some(receipt), &self.echo, &["hello", "from", "the", "owner"]);
        e.writ_id = writ_id_of(writ);
        Ok(e)
    }

    fn stolen_key(&self, held: &Held) -> anyhow::Result<Ended> {
        let (writ, _) = held.echo.as_ref().context("no echo writ (step 1 failed)")?;
        let stolen =
            writ_authority::home::read_private_key(&self.dir.join("home").join(writ_authority::home::ISSUER_KEY))?;
        let d = writ_core::dsse::decode(writ).map_err(anyhow::Error::msg)?;
        let mut st: serde_json::Value = serde_json::from_slice(&d.payload)?;
        if let Some(id) = st.pointer_mut("/predicate/id") {
            *id = serde_json::Value::String(crate::files::new_id());
        }
        let payload = String::from_utf8(serde_json::to_vec(&st)?)?.replace("\"agent\"", "\"attacker\"");
        let minted = writ_core::dsse::sign(writ_core::dsse::IN_TOTO_PAYLOAD_TYPE, payload.as_bytes(), &stolen);
        // At a gate cut off from the authority, only the writ itself speaks:
        // its signature is good, but the ledger never logged it.
        let mut e =
            self.gate_run_in(ExecMode::Offline, &minted, None, &self.echo, &["hello", "from", "the", "attacker"]);
        // The ledger never issued the writ, but the authority records the
        // gate's signed denial of it (an execution under it it would refuse):
        // the step links to that entry's proof and its Lineage node, not to
        // the writ (the ledger has no issuance to prove). The semantic audit
        // and /health report it as `unissued_writ_presented`.
        let minted_id = writ_id_of(&minted).unwrap_or_default();
        e.writ_id = None;
        match e.index {
            Some(i) => {
                e.detail = format!(
                    "{}; writ {minted_id} was never issued: the gate's signed denial is ledger entry {i}, \
                     reported as an unissued writ presented (audit warning unissued_writ_presented; revoke the issuer key)",
                    e.detail
                );
            }
            None => {
                e.detail = format!("{}; writ {minted_id}: the gate's denial did not reach the ledger", e.detail);
                e.lineage = Some(format!("/lineage/impact?key={}", self.authority.issuer_key_id()));
            }
        }
        Ok(e)
    }
}
