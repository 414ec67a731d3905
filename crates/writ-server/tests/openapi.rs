//! The OpenAPI document is valid OpenAPI 3.1 (`openapi-spec-validator`, PyPI)
//! and names every route the router serves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

use std::process::Command;

fn validator() -> Option<Command> {
    for (prog, args) in [("openapi-spec-validator", vec![]), ("python3", vec!["-m", "openapi_spec_validator"])] {
        let mut probe = Command::new(prog);
        probe.args(&args).arg("--help");
        if probe.output().is_ok_and(|o| o.status.success()) {
            let mut c = Command::new(prog);
            c.args(args);
            return Some(c);
        }
    }
    None
}

#[test]
fn document_validates() {
    let doc = writ_server::openapi::document();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let Some(mut v) = validator() else {
        // CI installs it (`pip install openapi-spec-validator`); elsewhere say so loudly.
        assert!(std::env::var_os("CI").is_none(), "openapi-spec-validator is not installed");
        eprintln!("SKIPPED: openapi-spec-validator is not installed (pip install openapi-spec-validator)");
        return;
    };
    let out = v.arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it refuses a broken one (the check can fail).
    let mut broken = doc.clone();
    broken["paths"]["/v1/requests/{id}"]["get"].as_object_mut().unwrap().remove("parameters");
    std::fs::write(&path, serde_json::to_vec(&broken).unwrap()).unwrap();
    let out = validator().unwrap().arg(&path).output().unwrap();
    assert!(!out.status.success(), "a path parameter left undeclared must be refused");
}

#[test]
fn every_operation_has_responses_and_every_path_parameter_is_declared() {
    let doc = writ_server::openapi::document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"]["default"]["content"]["application/json"].is_object(), "{method} {path}");
            let params: Vec<&str> = op["parameters"]
                .as_array()
                .map(|a| a.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                assert!(params.contains(&seg.trim_matches(['{', '}'])), "{method} {path}: {seg}");
            }
            if method == "post" {
                assert!(op["requestBody"]["content"]["application/json"]["schema"].is_object(), "{method} {path}");
            }
        }
    }
}
