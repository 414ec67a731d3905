//! An independent implementation accepts writ's ledger: checkpoints are
//! C2SP signed notes, proofs are C2SP tlog-proofs and RFC 9162 consistency
//! proofs, checked by `tests/interop/tlog_verify.py` (written from the specs,
//! pyca/cryptography for Ed25519, no writ code).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn writ(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_writ")).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "writ {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn python(args: &[&str]) -> (bool, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/tlog_verify.py");
    let out = Command::new("python3").arg(script).args(args).output().expect("python3 must be installed");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn independent_verifier_accepts_checkpoints_and_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name).to_str().unwrap().to_owned();
    let vkey = writ(d, &["log", "--home", "h", "key", "--create"]).trim().to_owned();
    let mut checkpoints = Vec::new();
    for i in 0..13 {
        writ(d, &["log", "--home", "h", "append", "--data", &format!("entry {i}")]);
        let cp = writ(d, &["log", "--home", "h", "checkpoint"]);
        std::fs::write(d.join(format!("cp{}", i + 1)), &cp).unwrap();
        checkpoints.push(cp);
    }
    for index in 0..13 {
        let (proof, entry) = (p(&format!("p{index}")), p(&format!("e{index}")));
        writ(
            d,
            &["log", "--home", "h", "proof", "--index", &index.to_string(), "--out", &proof, "--entry-out", &entry],
        );
        let (ok, out) = python(&["proof", &vkey, &proof, &entry]);
        assert!(ok, "index {index}: {out}");
        // A different entry must not verify with the same proof.
        std::fs::write(&entry, format!("entry {}", index + 100)).unwrap();
        assert!(!python(&["proof", &vkey, &proof, &entry]).0, "index {index} accepted a wrong entry");
    }
    for from in [1, 2, 3, 4, 7, 8, 12] {
        let proof = p(&format!("c{from}"));
        std::fs::write(&proof, writ(d, &["log", "--home", "h", "consistency", "--from", &from.to_string()])).unwrap();
        let (ok, out) = python(&["consistency", &vkey, &p(&format!("cp{from}")), &p("cp13"), &proof]);
        assert!(ok, "from {from}: {out}");
    }
    // A checkpoint signed by another key is refused.
    let other = tempfile::tempdir().unwrap();
    let other_vkey = writ(other.path(), &["log", "--home", "h", "key", "--create"]).trim().to_owned();
    std::fs::write(d.join("e0"), "entry 0").unwrap();
    assert!(python(&["proof", &vkey, &p("p0"), &p("e0")]).0);
    let (ok, out) = python(&["proof", &other_vkey, &p("p0"), &p("e0")]);
    assert!(!ok && out.contains("rejected"), "{out}");
    assert_eq!(checkpoints.len(), 13);
}
