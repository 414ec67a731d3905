//! `writ init --suite hybrid` through the real binary: the home's issuer
//! and ledger keys are `ed25519+ml-dsa-65`, pinned by its trust root; an
//! auto-allowed writ carries one DSSE signature holding both halves, its
//! checkpoint both signature lines, `writ verify` allows it and `writ exec`
//! runs it; the writ with its ML-DSA half stripped is denied
//! `suite_mismatch`, and with that half altered `bad_signature`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

#[allow(dead_code, reason = "shared helpers, not all used here")]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::home_with_dev_and_gate_on;

const SUITE: &str = "ed25519+ml-dsa-65";

fn writ(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_writ")).args(args).current_dir(dir).output().expect("run writ")
}

/// `writ verify --json` of `file` for `/usr/bin/echo hybrid`: exit code and verdict.
fn verify(dir: &Path, file: &str) -> (i32, serde_json::Value) {
    let receipt = "hi.writ.receipt";
    let args =
        ["verify", file, "--trust", "h/trust.json", "--receipt", receipt, "--json", "--", "/usr/bin/echo", "hybrid"];
    let out = writ(dir, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("not JSON: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap(), v)
}

/// The writ envelope at `from` with its one signature replaced by `edit(sig)`, written to `to`.
fn with_sig(dir: &Path, from: &str, to: &str, edit: impl Fn(Vec<u8>) -> Vec<u8>) {
    let mut env: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(from)).unwrap()).unwrap();
    let sig = STANDARD.decode(env["signatures"][0]["sig"].as_str().unwrap()).unwrap();
    env["signatures"][0]["sig"] = STANDARD.encode(edit(sig)).into();
    std::fs::write(dir.join(to), serde_json::to_vec(&env).unwrap()).unwrap();
}

#[test]
fn a_hybrid_home_signs_writs_and_checkpoints_with_both_halves() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    home_with_dev_and_gate_on(d, &["--suite", "hybrid"]);

    // The trust root pins the suite and the ML-DSA-65 half of both keys.
    let trust: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("h/trust.json")).unwrap()).unwrap();
    let keys = trust["keys"].as_array().unwrap();
    for role in ["issuer", "ledger"] {
        let k = keys.iter().find(|k| k["roles"].as_array().unwrap().iter().any(|r| r == role)).unwrap();
        assert_eq!(k["suite"], SUITE, "{role}: {k}");
        assert!(k["ml_dsa_public_key"].as_str().is_some_and(|s| !s.is_empty()), "{role}: {k}");
    }
    for k in keys.iter().filter(|k| k["roles"].as_array().unwrap().iter().any(|r| r == "requester" || r == "gate")) {
        assert!(k.get("suite").is_none(), "requester and gate keys stay plain: {k}");
    }

    let out =
        writ(d, &["request", "--home", "h", "--key", "dev.key", "--out", "hi.writ", "--", "/usr/bin/echo", "hybrid"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // One DSSE signature: Ed25519 (64 bytes) then ML-DSA-65 (3309 bytes).
    let env: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("hi.writ")).unwrap()).unwrap();
    let sigs = env["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 1, "{env}");
    assert_eq!(STANDARD.decode(sigs[0]["sig"].as_str().unwrap()).unwrap().len(), 64 + 3309);

    // The checkpoint the ledger published carries two signature lines of its key.
    let checkpoint = std::fs::read_to_string(d.join("h/tiles/checkpoint")).unwrap();
    let origin = checkpoint.lines().next().unwrap();
    let lines = checkpoint.lines().filter(|l| l.starts_with(&format!("\u{2014} {origin} "))).count();
    assert_eq!(lines, 2, "{checkpoint}");

    let (c, v) = verify(d, "hi.writ");
    assert_eq!((c, &v["verdict"]), (0, &"allow".into()), "{v}");

    let out =
        writ(d, &["exec", "--writ", "hi.writ", "--home", "h", "--key", "gate.key", "--", "/usr/bin/echo", "hybrid"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hybrid\n");

    // Stripped to the Ed25519 half: the suite the trust root pins is not met.
    with_sig(d, "hi.writ", "stripped.writ", |s| s[..64].to_vec());
    let (c, v) = verify(d, "stripped.writ");
    assert_eq!((c, &v["code"]), (77, &"suite_mismatch".into()), "{v}");

    // The ML-DSA half altered: both halves must verify.
    with_sig(d, "hi.writ", "altered.writ", |mut s| {
        let last = s.len() - 1;
        s[last] ^= 1;
        s
    });
    let (c, v) = verify(d, "altered.writ");
    assert_eq!((c, &v["code"]), (77, &"bad_signature".into()), "{v}");

    // The default suite stays plain Ed25519.
    let plain = tempfile::tempdir().unwrap();
    home_with_dev_and_gate_on(plain.path(), &[]);
    let trust = std::fs::read_to_string(plain.path().join("h/trust.json")).unwrap();
    assert!(!trust.contains("ml_dsa_public_key"), "{trust}");
}
