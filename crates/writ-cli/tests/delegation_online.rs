//! Delegation over the API (issue 14 item 2) through the real binary and a
//! real `writ serve`: an orchestrator gets a writ with a holder key
//! (`writ request --holder`), mints a narrower child for a sub-agent
//! (`writ delegate`), records it (`--authority`, `writ delegations
//! submit`), and the sub-agent's child runs through an online gate
//! (`writ exec --authority`): each run consumes a use of the child and of
//! the parent, revoking the parent stops the child, and an unrecorded,
//! widened or over-budget child is refused with its code. `writ audit`
//! passes afterwards, the `delegation` entries included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

#[allow(dead_code, reason = "shared helpers, not all used here")]
mod common;
#[allow(dead_code, reason = "shared helpers, not all used here")]
mod served;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use served::serve;

/// `writ ARGS` in `dir`; exit code, stdout, stderr.
fn writ(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_writ"))
        .args(args)
        .current_dir(dir)
        .env_remove("WRIT_HOME")
        .env_remove("WRIT_AUTHORITY")
        .env_remove("WRIT_KEY")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> serde_json::Value {
    let (c, out, err) = writ(dir, args);
    assert_eq!(c, 0, "writ {args:?}: {out}{err}");
    serde_json::from_str(out.lines().next().unwrap_or("null")).unwrap_or(serde_json::Value::Null)
}

/// A refusal: exit 77 and the JSON error's code (and message).
fn refused(dir: &Path, args: &[&str]) -> (String, String) {
    let (c, out, err) = writ(dir, args);
    assert_eq!(c, 77, "writ {args:?}: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let code = v["code"].as_str().or(v["error"]["code"].as_str()).unwrap().to_string();
    let msg = v["detail"].as_str().or(v["error"]["message"].as_str()).unwrap_or_default().to_string();
    (code, msg)
}

struct World {
    dir: tempfile::TempDir,
    program: PathBuf,
    marker: PathBuf,
}

/// A home with the `dev` requester (the orchestrator's API key) and a gate;
/// the orchestrator's holder key `o.key`; policies: the deploy script may
/// be asked for by dev with 3 uses and one level of delegation; `/usr/bin/env`
/// without delegation.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    common::home_with_dev_and_gate(p);
    let program = p.join("deploy");
    std::fs::write(&program, "#!/bin/sh\necho ran > \"$1.$$\"\nexit 3\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = p.join("ran");
    common::add_policies(
        p,
        &format!(
            "\n@id(\"orchestrate-deploy\")\n@max_duration(\"600\")\n@uses(\"3\")\n@delegation(\"1\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen {{ resource.path == \"{}\" }};\n\
             \n@id(\"env-no-delegation\")\n@max_duration(\"600\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"exec\", resource)\nwhen {{ resource.path == \"/usr/bin/env\" }};\n",
            program.display()
        ),
    );
    common::writ_ok(p, &["keygen", "--out", "o.key", "--name", "orchestrator-holder"]);
    common::writ_ok(p, &["keygen", "--out", "s.key", "--name", "sub-agent"]);
    World { dir, program, marker }
}

impl World {
    fn p(&self) -> &Path {
        self.dir.path()
    }

    /// `writ exec --authority URL` of `file` (the chain read beside it).
    fn exec(&self, url: &str, file: &str) -> (i32, String, String) {
        let args = [
            "exec",
            "--writ",
            file,
            "--trust",
            "h/trust.json",
            "--authority",
            url,
            "--key",
            "gate.key",
            "--spool",
            "spool",
            "--json",
            "--",
            self.program.to_str().unwrap(),
            self.marker.to_str().unwrap(),
        ];
        writ(self.p(), &args)
    }

    fn runs(&self) -> usize {
        // One file per run (`MARKER.PID`): each run may be another user.
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("ran."))
            .count()
    }

    /// `(used, uses)` of a writ, as the authority reports it.
    fn uses(&self, url: &str, id: &str) -> (u64, Option<u64>) {
        let (_, out, _) = writ(self.p(), &["status", "--authority", url, "--key", "dev.key", "--json", id]);
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        (v["used"].as_u64().unwrap(), v["uses"].as_u64())
    }

    fn delegate(&self, url: Option<&str>, out: &str, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec!["delegate", "--writ", "w.writ", "--key", "o.key", "-o", out, "--json"];
        args.extend_from_slice(extra);
        if let Some(u) = url {
            args.extend_from_slice(&["--authority", u, "--as", "dev.key"]);
        }
        writ(self.p(), &args)
    }
}

/// The child `c.writ` re-signed by the holder with `edit` applied to its
/// predicate: a child that widens its parent, which `writ delegate` would
/// not mint.
fn forge(p: &Path, from: &str, to: &str, edit: impl Fn(&mut writ_core::model::Predicate)) {
    let mut pred = writ_core::delegate::read_parent(&std::fs::read(p.join(from)).unwrap()).unwrap();
    edit(&mut pred);
    let key = writ_authority::home::read_private_key(&p.join("o.key")).unwrap();
    let env = writ_core::issue::sign(&writ_core::issue::statement(pred), &key).unwrap();
    std::fs::write(p.join(to), env).unwrap();
    std::fs::copy(p.join(format!("{from}.chain")), p.join(format!("{to}.chain"))).unwrap();
}

#[test]
fn an_orchestrator_delegates_online_and_the_parent_counts_and_stops_its_children() {
    let w = world();
    let p = w.p();
    let srv = serve(p, &[]);
    let url = srv.url.as_str();
    let prog = w.program.to_str().unwrap();
    let m = w.marker.to_str().unwrap();

    // No holder where policy says no `@delegation`.
    let (code, msg) = refused(
        p,
        &["request", "--authority", url, "--key", "dev.key", "--json", "--holder", "o.key.pub", "--", "/usr/bin/env"],
    );
    assert_eq!(code, "exceeds_policy", "{msg}");
    assert!(msg.contains("@delegation"), "{msg}");
    // Deeper than policy allows.
    let deep = ["request", "--authority", url, "--key", "dev.key", "--json", "--holder", "o.key.pub"];
    let (code, _) = refused(p, &[&deep[..], &["--delegation-depth", "2", "--", prog, m]].concat());
    assert_eq!(code, "exceeds_policy");

    // The orchestrator's writ: 3 uses, holder o.key, one level deep.
    let v = ok(
        p,
        &[
            "request",
            "--authority",
            url,
            "--key",
            "dev.key",
            "--json",
            "--holder",
            "o.key.pub",
            "--out",
            "w.writ",
            "--",
            prog,
            m,
        ],
    );
    let parent = v["writ_id"].as_str().unwrap().to_string();
    let pp = writ_core::delegate::read_parent(&std::fs::read(p.join("w.writ")).unwrap()).unwrap();
    assert_eq!(pp.lineage.max_depth, 1);
    assert_eq!(pp.scope.uses, Some(3));
    let holder = writ_core::model::Holder::new(&common_public(p, "o.key.pub"));
    assert_eq!(pp.lineage.holder.as_ref(), Some(&holder));

    // An unrecorded child (minted offline): the online gate has no status
    // for it, so nothing runs (`status_unknown`).
    let (c, out, _) = w.delegate(None, "u.writ", &["--uses", "1"]);
    assert_eq!(c, 0, "{out}");
    let (c, out, err) = w.exec(url, "u.writ");
    assert_eq!(c, 77, "{out}{err}");
    let d: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(d["code"], "status_unknown", "{d}");
    assert!(d["detail"].as_str().unwrap().contains("unknown_writ"), "{d}");
    assert_eq!(w.runs(), 0);

    // A widened child (more uses than the parent) is refused by the
    // authority with the verifier's code; so is one whose chain was swapped.
    forge(p, "u.writ", "wide.writ", |c| c.scope.uses = Some(5));
    let (code, msg) =
        refused(p, &["delegations", "submit", "--authority", url, "--key", "dev.key", "--json", "--writ", "wide.writ"]);
    assert_eq!(code, "delegation_refused");
    assert!(msg.starts_with("delegation_widened:"), "{msg}");
    forge(p, "u.writ", "longer.writ", |c| c.validity.not_after = c.validity.not_after.plus(3600));
    let (code, msg) = refused(
        p,
        &["delegations", "submit", "--authority", url, "--key", "dev.key", "--json", "--writ", "longer.writ"],
    );
    assert_eq!((code.as_str(), msg.split(':').next().unwrap()), ("delegation_refused", "delegation_widened"));
    std::fs::write(p.join("bad.chain"), "{\"ancestors\":[\"e30=\"]}\n").unwrap();
    let (code, msg) = refused(
        p,
        &[
            "delegations",
            "submit",
            "--authority",
            url,
            "--key",
            "dev.key",
            "--json",
            "--writ",
            "u.writ",
            "--chain",
            "bad.chain",
        ],
    );
    assert_eq!(code, "delegation_refused", "{msg}");
    // The gate refuses the widened child on its own too (it never reaches the authority).
    let (c, out, _) = w.exec(url, "wide.writ");
    assert_eq!(c, 77);
    assert!(out.contains("delegation_widened"), "{out}");

    // The sub-agent's child: 2 uses, recorded as it is minted.
    let (c, out, err) = w.delegate(Some(url), "c.writ", &["--uses", "2", "--not-after", "+120"]);
    assert_eq!(c, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let child = v["writ_id"].as_str().unwrap().to_string();
    assert_eq!(v["recorded"]["parent_writ_id"], parent.as_str(), "{v}");
    assert_eq!(v["recorded"]["root_writ_id"], parent.as_str());
    assert_eq!(v["recorded"]["uses"], 2);
    assert_eq!(v["recorded"]["state"], "valid");
    // Recording again answers the same record.
    let again = ok(p, &["delegations", "submit", "--authority", url, "--key", "dev.key", "--json", "--writ", "c.writ"]);
    assert_eq!(again["index"], v["recorded"]["index"]);

    // It runs through the online gate; the parent's uses go down with it.
    assert_eq!(w.uses(url, &parent), (0, Some(3)));
    let (c, out, err) = w.exec(url, "c.writ");
    assert_eq!(c, 3, "{out}{err}");
    assert_eq!(w.runs(), 1);
    assert_eq!(w.uses(url, &parent), (1, Some(3)));
    assert_eq!(w.uses(url, &child), (1, Some(2)));
    // (Two runs in one second would send identical exec_start records.)
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (c, out, err) = w.exec(url, "c.writ");
    assert_eq!(c, 3, "{out}{err}");
    assert_eq!(w.uses(url, &parent), (2, Some(3)));
    // The child's two uses are spent: replayed, nothing runs.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (c, out, _) = w.exec(url, "c.writ");
    assert_eq!(c, 77);
    assert!(out.contains("replayed"), "{out}");
    assert_eq!(w.runs(), 2);
    assert_eq!(w.uses(url, &parent), (2, Some(3)));

    // A child may not give more uses than the parent has left (1).
    let (c, out, _) = w.delegate(Some(url), "c2.writ", &["--uses", "2"]);
    assert_eq!(c, 77, "{out}");
    let e: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(e["error"]["code"], "delegation_refused", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().starts_with("delegation_uses:"), "{e}");
    // One use is fine; `writ delegations show` reads it back.
    let (c, out, err) = w.delegate(Some(url), "c3.writ", &["--uses", "1"]);
    assert_eq!(c, 0, "{out}{err}");
    let c3: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let c3 = c3["writ_id"].as_str().unwrap().to_string();
    let shown = ok(p, &["delegations", "show", "--authority", url, "--key", "dev.key", "--json", &c3]);
    assert_eq!((shown["state"].as_str(), shown["used"].as_u64()), (Some("valid"), Some(0)));

    // Revoking the parent stops its children.
    ok(p, &["revoke", "--authority", url, "--key", "dev.key", "--reason", "orchestrator done", "--json", &parent]);
    let (c, out, _) = w.exec(url, "c3.writ");
    assert_eq!(c, 77, "{out}");
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(w.runs(), 2);
    let (c, out, _) = writ(p, &["delegations", "show", "--authority", url, "--key", "dev.key", "--json", &c3]);
    assert_eq!(c, 77, "{out}");
    assert!(out.contains("\"state\":\"revoked\""), "{out}");
    // And no new child of a revoked parent is recorded.
    let (c, out, _) = w.delegate(Some(url), "c4.writ", &["--uses", "1"]);
    assert_eq!(c, 77, "{out}");
    assert!(out.contains("revoked:"), "{out}");

    // The ledger has the delegation entries; the Lineage Explorer's
    // neighbourhood of the parent's issuance reaches the child.
    let entries = get(url, &format!("/v1/log/entries?writ_id={child}"));
    let kinds: Vec<String> = serde_json::from_str::<serde_json::Value>(&entries).unwrap()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("delegation"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "exec_start").count(), 2, "{kinds:?}");
    drop(srv);
    // The whole history passes the audit, the delegations checked.
    let (c, out, err) = writ(p, &["audit", "--home", "h", "--json"]);
    assert_eq!(c, 0, "{out}{err}");
    let a: serde_json::Value = serde_json::from_str(&out).unwrap();
    let checked = &a["semantic"]["checked"];
    assert_eq!(checked["delegations"], 2, "{a}");
    assert_eq!(checked["delegated_writs"], 2, "{a}");
    // The state agrees with the ledger (the delegation entries indexed).
    let (c, out, err) = writ(p, &["recover", "--home", "h", "--check"]);
    assert_eq!(c, 0, "{out}{err}");
}

fn common_public(p: &Path, file: &str) -> writ_core::PublicKey {
    let text = std::fs::read_to_string(p.join(file)).unwrap();
    let b64 = text.split_whitespace().nth(1).unwrap();
    let raw = writ_core::b64::decode(b64, 32).unwrap();
    writ_core::PublicKey::from_bytes(&raw).unwrap()
}

/// One plain HTTP/1.1 GET; the body.
fn get(url: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").map(|x| x.1.to_owned()).unwrap_or_default()
}

fn deploy(env: &str) -> writ_gate::Attempt {
    writ_gate::Attempt::Tool(writ_gate::ToolAttempt {
        name: "deploy".into(),
        args: std::collections::BTreeMap::from([("env".to_string(), env.to_string())]),
        args_sha256: None,
        definition_sha256: None,
    })
}

/// The orchestrator hands a sub-agent one tool with one argument value; the
/// sub-agent's call goes through the tool gate (`writ_gate::Gate`) online,
/// its status and use from the real `writ serve` (the gate's own
/// `watch::fetch_status`, consuming), with the child's receipt as the trust
/// root requires.
#[test]
fn a_one_tool_one_argument_child_runs_through_the_online_tool_gate() {
    let w = world();
    let p = w.p();
    common::add_policies(
        p,
        "\n@id(\"orchestrate-tools\")\n@max_duration(\"600\")\n@uses(\"2\")\n@delegation(\"1\")\npermit (principal in Writ::Group::\"dev\", action == Writ::Action::\"tool\", resource);\n",
    );
    let srv = serve(p, &[]);
    let url = srv.url.as_str();
    let v = ok(
        p,
        &[
            "request",
            "--authority",
            url,
            "--key",
            "dev.key",
            "--json",
            "--holder",
            "o.key.pub",
            "--tool",
            "deploy",
            "--arg",
            "env=staging",
            "--out",
            "t.writ",
        ],
    );
    let parent_id = v["writ_id"].as_str().unwrap().to_string();
    let args = ["delegate", "--writ", "t.writ", "--key", "o.key", "--tool", "deploy", "--arg", "env=staging"];
    let (c, out, err) = writ(
        p,
        &[&args[..], &["--uses", "1", "-o", "s.writ", "--json", "--authority", url, "--as", "dev.key"]].concat(),
    );
    assert_eq!(c, 0, "{out}{err}");
    let child = std::fs::read(p.join("s.writ")).unwrap();
    let parent = std::fs::read(p.join("t.writ")).unwrap();
    let receipt = std::fs::read(p.join("s.writ.receipt")).unwrap();

    let trust = writ_gate::TrustRoot::from_json(&std::fs::read(p.join("h/trust.json")).unwrap()).unwrap();
    assert!(trust.file().require_receipt, "the home's trust root requires receipts");
    let gate = |mode| {
        writ_gate::Gate::new(trust.clone(), writ_gate::HostFacts::default())
            .with_mode(mode)
            .with_capabilities(writ_gate::Capabilities::ALL)
    };
    let evidence = |status, use_count, receipt: Option<Vec<u8>>| writ_gate::Evidence {
        status,
        use_count,
        receipt,
        ancestors: vec![parent.clone()],
    };
    // Authenticity and scope first: another value or tool is refused.
    let pre = gate(writ_gate::Mode::Check)
        .check_with(&child, &deploy("staging"), evidence(writ_gate::Status::Unknown, None, Some(receipt.clone())))
        .unwrap();
    let wrong = gate(writ_gate::Mode::Check)
        .check_with(&child, &deploy("production"), evidence(writ_gate::Status::Unknown, None, Some(receipt.clone())))
        .unwrap_err();
    assert_eq!(wrong.code, writ_gate::DenialCode::ScopeArgs);
    // Online: the authority consumes the use (the child's and the parent's).
    let gate_key = writ_authority::home::read_private_key(&p.join("gate.key")).unwrap();
    let api = writ_client::Client::new(url, gate_key).unwrap();
    let (id, envelope, issuer) =
        (pre.verified().id().to_owned(), pre.verified().envelope_digest(), pre.verified().root_issuer());
    let checked = writ_gate::watch::fetch_status(&api, &trust, &issuer, &id, &envelope, true).unwrap();
    assert_eq!(checked.use_count, Some(1));
    gate(writ_gate::Mode::Online)
        .check_with(&child, &deploy("staging"), evidence(checked.status, checked.use_count, Some(receipt.clone())))
        .unwrap();
    // Without the receipt, the trust root refuses it.
    let no_receipt = gate(writ_gate::Mode::Online)
        .check_with(&child, &deploy("staging"), evidence(checked.status, checked.use_count, None))
        .unwrap_err();
    assert_eq!(no_receipt.code, writ_gate::DenialCode::ReceiptMissing);
    assert_eq!(w.uses(url, &parent_id), (1, Some(2)));
    // The child's one use is spent.
    let again = writ_gate::watch::fetch_status(&api, &trust, &issuer, &id, &envelope, true).unwrap_err();
    assert_eq!(again.code, writ_gate::DenialCode::Replayed);
    assert_eq!(w.uses(url, &parent_id), (1, Some(2)));
}
