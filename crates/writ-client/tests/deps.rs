//! The lean gate binary links writ-client: it must not pull in the
//! authority, the server, an async runtime, a database or the policy engine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

#[test]
fn no_heavy_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "-p", "writ-client", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"ureq") && names.contains(&"rustls"), "{tree}");
    for banned in [
        "writ-authority",
        "writ-server",
        "writ-ledger",
        "writ-policy",
        "axum",
        "tokio",
        "rusqlite",
        "postgres",
        "cedar-policy",
    ] {
        assert!(!names.contains(&banned), "writ-client depends on {banned}:\n{tree}");
    }
}
