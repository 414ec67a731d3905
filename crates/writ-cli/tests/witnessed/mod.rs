//! Witnesses on loopback for the CLI integration tests: real `writ witness
//! serve` processes, a home whose trust root gives its ledger key their
//! 2-of-3 policy, and a fork of its log (a second log under the ledger's
//! key, built with the writ-ledger library).

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use writ_ledger::writ_tlog::note::NoteSigner;
use writ_ledger::writ_tlog::tlog_proof::TlogProof;
use writ_ledger::{Ledger, LedgerOptions, Location};

use crate::served::run;

/// Runs `writ ARGS` in `dir` and asserts it succeeded; returns its output.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let (c, text) = run(dir, args);
    assert_eq!(c, 0, "writ {args:?}: {text}");
    text
}

/// A running `writ witness serve`, killed when dropped.
pub struct WitnessProc {
    /// The process.
    pub child: Child,
    /// Its base URL, from the address line it prints.
    pub url: String,
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `writ witness serve --dir WDIR` in `dir` for the logs `ORIGIN=VKEY`,
/// its stderr into `dir/WDIR.err`; returns once it printed its address.
pub fn start_witness(dir: &Path, wdir: &str, logs: &[String]) -> WitnessProc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_writ"));
    cmd.args(["witness", "serve", "--dir", wdir, "--listen", "127.0.0.1:0"]);
    for l in logs {
        cmd.args(["--log", l]);
    }
    let mut child = cmd
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join(format!("{wdir}.err"))).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("http://"), "no address line: {line:?}");
    WitnessProc { child, url: line.trim().to_owned() }
}

/// Three witnesses of a home's log, and what their policy names.
pub struct Witnessed {
    /// `witness.example/w1` … `w3` (directories `w1` … `w3`).
    pub witnesses: Vec<WitnessProc>,
    /// Their verifier keys, in the same order.
    pub keys: Vec<String>,
    /// The log's checkpoint verifier key.
    pub log_vkey: String,
}

/// In `dir`, whose `h` is an authority home: starts three witnesses of its
/// log and publishes a trust-root version (`writ trust propose --home h
/// --document … PROPOSE…`, signed with `h/root.key`) whose ledger key asks
/// for 2 of them.
pub fn witnessed(dir: &Path, propose: &[&str]) -> Witnessed {
    let log_vkey = ok(dir, &["log", "--home", "h", "key"]).trim().to_owned();
    let origin = log_vkey.split('+').next().unwrap().to_owned();
    let log_arg = format!("{origin}={log_vkey}");
    let mut keys = Vec::new();
    let mut witnesses = Vec::new();
    for i in 1..=3 {
        let wdir = format!("w{i}");
        let vkey = ok(dir, &["witness", "init", "--dir", &wdir, "--name", &format!("witness.example/w{i}")]);
        keys.push(vkey.lines().next().unwrap().to_owned());
        witnesses.push(start_witness(dir, &wdir, std::slice::from_ref(&log_arg)));
    }
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("h/trust.json")).unwrap()).unwrap();
    let ledger_key =
        doc["keys"].as_array_mut().unwrap().iter_mut().find(|k| k["name"] == origin.as_str()).expect("ledger key");
    ledger_key["witnesses"] = witnesses
        .iter()
        .zip(&keys)
        .enumerate()
        .map(|(i, (w, k))| serde_json::json!({"name": format!("witness.example/w{}", i + 1), "key": k, "url": w.url}))
        .collect();
    ledger_key["witness_quorum"] = 2.into();
    std::fs::write(dir.join("doc.json"), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let mut args = vec!["trust", "propose", "--home", "h", "--document", "doc.json", "--out", "next.json"];
    args.extend_from_slice(propose);
    ok(dir, &args);
    ok(dir, &["trust", "sign", "next.json", "--key", "h/root.key"]);
    ok(dir, &["trust", "publish", "--home", "h", "next.json"]);
    let trust: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("h/trust.json")).unwrap()).unwrap();
    assert!(trust.to_string().contains("witness_quorum"), "h/trust.json is the version in force: {trust}");
    Witnessed { witnesses, keys, log_vkey }
}

/// Whether a note line is a cosignature by one of [`witnessed`]'s witnesses.
fn is_cosignature(line: &str) -> bool {
    line.starts_with("\u{2014} witness.example/")
}

/// The cosignature lines of a receipt or checkpoint note.
pub fn cosignatures(note: &str) -> String {
    note.lines().filter(|l| is_cosignature(l)).map(|l| format!("{l}\n")).collect()
}

/// The note without its cosignature lines.
pub fn without_cosignatures(note: &str) -> String {
    note.lines().filter(|l| !is_cosignature(l)).map(|l| format!("{l}\n")).collect()
}

/// A fork of the home's log: a second log under its ledger key
/// (`dir/fork.sqlite`), holding the same issuance entry as `receipt` at a
/// larger index than the real log has. Returns it and the receipt it gives
/// for that entry (no cosignatures: no witness saw it).
pub fn fork(dir: &Path, receipt: &str) -> (Ledger, Vec<u8>) {
    let proof = TlogProof::parse(receipt.as_bytes()).unwrap();
    let issuance = proof.extra.clone().unwrap();
    let signer: NoteSigner = writ_ledger::key::load(&dir.join("h/ledger.key")).unwrap();
    let fork = Ledger::open(Location::Sqlite(dir.join("fork.sqlite")), signer, LedgerOptions::default()).unwrap();
    for i in 0..=proof.index {
        fork.append(format!("forged {i}").into_bytes()).unwrap();
    }
    let bytes = fork.append_with_receipt(issuance.clone()).unwrap().to_tlog_proof_with_extra(issuance).to_bytes();
    (fork, bytes)
}
