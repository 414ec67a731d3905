//! TLS client certificates for gates, through a real `writ serve` process
//! with certificates made here (rcgen): `--tls-client-ca` with
//! `--tls-client-auth required` (the default) refuses every signed call over
//! a connection without a verified client certificate, a certificate from
//! another CA fails the handshake, the public read routes stay open; the
//! gate (`writ exec` reading gate.toml's `tls_*` options, the same code as
//! `writ-gate exec`) and the operator CLI (`--tls-client-cert/--tls-client-key`)
//! present theirs; `optional` verifies one when presented.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, reason = "tests")]

#[allow(dead_code, reason = "shared helpers, not all used here")]
mod common;
mod served;

use std::path::Path;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use served::{run, serve};

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        Self { cert: p.self_signed(&key).unwrap(), key }
    }

    /// Writes `NAME.crt` (the leaf, issued by this CA) and `NAME.pem` (its key).
    fn issue(&self, dir: &Path, name: &str, dns: &[&str], usage: ExtendedKeyUsagePurpose) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(dns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), key.serialize_pem()).unwrap();
    }
}

fn gate_toml(d: &Path, url: &str, client: Option<&str>) {
    let p = |f: &str| d.join(f).display().to_string();
    let mut body = format!(
        "authority = \"{url}\"\nkey = \"{}\"\ntrust = \"{}\"\nspool = \"{}\"\ntls_ca = \"{}\"\n",
        p("gate.key"),
        p("h/trust.json"),
        p("spool"),
        p("ca.crt")
    );
    if let Some(c) = client {
        body.push_str(&format!(
            "tls_client_cert = \"{}\"\ntls_client_key = \"{}\"\n",
            p(&format!("{c}.crt")),
            p(&format!("{c}.pem"))
        ));
    }
    std::fs::write(d.join("gate.toml"), body).unwrap();
}

#[test]
fn gates_and_operators_present_client_certificates_when_the_authority_requires_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    common::home_with_dev_and_gate(d);
    let ca = Ca::new("writ test CA");
    let other = Ca::new("another CA");
    std::fs::write(d.join("ca.crt"), ca.cert.pem()).unwrap();
    ca.issue(d, "server", &["localhost"], ExtendedKeyUsagePurpose::ServerAuth);
    ca.issue(d, "gate-tls", &[], ExtendedKeyUsagePurpose::ClientAuth);
    ca.issue(d, "dev-tls", &[], ExtendedKeyUsagePurpose::ClientAuth);
    other.issue(d, "foreign-tls", &[], ExtendedKeyUsagePurpose::ClientAuth);

    // The client CA needs a TLS server.
    let (c, text) = run(d, &["serve", "--home", "h", "--tls-client-ca", "ca.crt"]);
    assert_eq!(c, 2, "{text}");

    let srv = serve(d, &["--tls-cert", "server.crt", "--tls-key", "server.pem", "--tls-client-ca", "ca.crt"]);
    let url = srv.url.replace("127.0.0.1", "localhost");
    assert!(url.starts_with("https://localhost:"), "{url}");
    // The mode is logged right after the address line.
    let mut err = String::new();
    for _ in 0..200 {
        err = std::fs::read_to_string(d.join("serve.err")).unwrap();
        if err.contains("TLS client certificates:") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(err.contains("TLS client certificates: required"), "{err}");

    // The operator CLI with its client certificate: the request is issued.
    let with_cert = ["--authority", &url, "--ca", "ca.crt", "--key", "dev.key"];
    let mut args = vec!["request"];
    args.extend(with_cert);
    args.extend(["--tls-client-cert", "dev-tls.crt", "--tls-client-key", "dev-tls.pem", "--json", "--out", "e.writ"]);
    args.extend(["--", "/usr/bin/echo", "hi"]);
    let (c, text) = run(d, &args);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("\"status\":\"issued\""), "{text}");
    // Without one: the signed call is refused before it is looked at.
    let (c, text) = run(d, &["pending", "--authority", &url, "--ca", "ca.crt", "--key", "dev.key"]);
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("unauthenticated") && text.contains("TLS client certificate"), "{text}");
    // A certificate from another CA: the handshake fails.
    let (c, text) = run(
        d,
        &[
            "pending",
            "--authority",
            &url,
            "--ca",
            "ca.crt",
            "--key",
            "dev.key",
            "--tls-client-cert",
            "foreign-tls.crt",
            "--tls-client-key",
            "foreign-tls.pem",
        ],
    );
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("transport"), "{text}");
    // A certificate without its key is a usage error, named.
    let (c, text) = run(
        d,
        &["pending", "--authority", &url, "--ca", "ca.crt", "--key", "dev.key", "--tls-client-cert", "dev-tls.crt"],
    );
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("--tls-client-key"), "{text}");
    // The public read routes need no certificate.
    let opts = writ_client::Options { ca_pem: Some(ca.cert.pem().into_bytes()), ..writ_client::Options::default() };
    let root = writ_client::fetch_trust_root(&url, None, &opts).unwrap();
    assert!(!root.is_empty());

    // The gate: refused without a certificate and with a foreign one
    // (nothing runs), then it runs with its own.
    let exec = ["exec", "--config", "gate.toml", "--writ", "e.writ", "--", "/usr/bin/echo", "hi"];
    gate_toml(d, &url, None);
    let (c, text) = run(d, &exec);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("status_unknown") && text.contains("TLS client certificate"), "{text}");
    assert!(!text.lines().any(|l| l == "hi"), "{text}");
    gate_toml(d, &url, Some("foreign-tls"));
    let (c, text) = run(d, &exec);
    assert_eq!(c, 77, "{text}");
    assert!(text.contains("status_unknown"), "{text}");
    gate_toml(d, &url, Some("gate-tls"));
    let (c, text) = run(d, &exec);
    assert_eq!(c, 0, "{text}");
    assert!(text.lines().any(|l| l == "hi"), "{text}");
    drop(srv);

    // `optional`: no certificate is needed, a foreign one is still refused.
    let srv = serve(
        d,
        &[
            "--tls-cert",
            "server.crt",
            "--tls-key",
            "server.pem",
            "--tls-client-ca",
            "ca.crt",
            "--tls-client-auth",
            "optional",
        ],
    );
    let url = srv.url.replace("127.0.0.1", "localhost");
    let (c, text) =
        run(d, &["request", "--authority", &url, "--ca", "ca.crt", "--key", "dev.key", "--", "/usr/bin/echo", "opt"]);
    assert_eq!(c, 0, "{text}");
    let (c, text) = run(
        d,
        &[
            "pending",
            "--authority",
            &url,
            "--ca",
            "ca.crt",
            "--key",
            "dev.key",
            "--tls-client-cert",
            "foreign-tls.crt",
            "--tls-client-key",
            "foreign-tls.pem",
        ],
    );
    assert_ne!(c, 0, "{text}");
    assert!(text.contains("transport"), "{text}");
}
