//! Passkey approvals checked by an independent WebAuthn implementation:
//! `tests/interop/webauthn_check.py` runs py_webauthn (PyPI `webauthn`,
//! installed by `.ci/run`) over the `testdata/writs` passkey vectors and
//! must agree with writ's verdict on each.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::Command;

#[test]
fn py_webauthn_agrees_with_every_passkey_vector() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .arg(root.join("tests/interop/webauthn_check.py"))
        .arg("--vectors")
        .arg(root.join("testdata/writs"))
        .output()
        .expect("python3 must be installed");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "py_webauthn disagrees (is it installed? `pip install webauthn`):\n{text}");
    assert!(text.contains("ok: allow_passkey_approval: py_webauthn accepts"), "{text}");
    assert!(text.contains("ok: deny_passkey_wrong_rp_id: py_webauthn refuses"), "{text}");
}
