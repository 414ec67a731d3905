//! `cargo bench -p writ-bench`: writ-core's `verify` beside raw Ed25519 and
//! two peers, all over the same facts (issue 2, item 7).
//!
//! The facts: program `/usr/bin/deploy` with its sha256, ten argv rules, a
//! one-hour validity window, request / policy / condition proofs, two `sre`
//! approvals. Groups:
//!
//! - `writ_verify`: `writ_core::verify` of `fixtures::sign(approved_predicate())`
//!   (1 issuer signature + 2 approval signatures) with the run context, so the
//!   scope check is included;
//! - `raw_verify_strict_x3`: `ed25519_dalek::VerifyingKey::verify_strict` of
//!   exactly those three signatures over exactly those messages;
//! - `biscuit_verify_authorize` (feature `peers`): `Biscuit::from` of a
//!   2-block token + an authorizer with time/operation/resource facts +
//!   `authorize()`;
//! - `jsonwebtoken_eddsa` (feature `peers`): EdDSA `decode` of a JWT carrying
//!   the same predicate as claims, validating `exp`/`nbf`;
//! - `verify_parts`: where `verify`'s time beyond the signatures goes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, reason = "benchmark setup")]

use std::hint::black_box;

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, criterion_group};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use writ_core::approval::{self, Verdict};
use writ_core::model::{Predicate, Statement};
use writ_core::{Sha256Digest, dsse, fixtures, scope};

/// The writ, its trust root and the context that checks the permitted run.
struct Facts {
    writ: Vec<u8>,
    trust: writ_core::TrustRoot,
    ctx: writ_core::Context,
    predicate: Predicate,
}

fn facts() -> Facts {
    let predicate = fixtures::approved_predicate();
    let writ = fixtures::sign(predicate.clone());
    let trust = fixtures::trust_root(false);
    let ctx = fixtures::run_context().to_context().unwrap();
    let verified = writ_core::verify(&writ, &trust, &ctx).expect("the fixture writ verifies");
    assert_eq!(verified.approvers().len(), 2);
    assert!(verified.matched_action().is_some(), "the scope check ran");
    Facts { writ, trust, ctx, predicate }
}

/// The three (key, message, signature) triples `verify` checks.
fn raw_triples(f: &Facts) -> Vec<(VerifyingKey, Vec<u8>, Signature)> {
    let env = dsse::decode(&f.writ).unwrap();
    let issuer_sig = Signature::from_slice(&env.signatures[0].1).unwrap();
    let mut out = vec![(*fixtures::issuer().public().as_dalek(), env.signing_input(), issuer_sig)];
    let input = approval::signing_input(&fixtures::request_digest(), Verdict::Approve, fixtures::T0);
    for (a, key) in f.predicate.governance.approvals.iter().zip([fixtures::alice(), fixtures::bob()]) {
        assert_eq!(a.approver, key.key_id());
        let sig = Signature::from_slice(&writ_core::b64::decode(&a.sig, 64).unwrap()).unwrap();
        out.push((*key.public().as_dalek(), input.clone(), sig));
    }
    for (k, m, s) in &out {
        k.verify_strict(m, s).expect("fixture signature verifies");
    }
    out
}

fn bench_writ<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let f = facts();
    let raw = raw_triples(&f);

    c.bench_function("writ_verify", |b| {
        b.iter(|| writ_core::verify(black_box(&f.writ), black_box(&f.trust), black_box(&f.ctx)).is_ok());
    });
    c.bench_function("raw_verify_strict_x3", |b| {
        b.iter(|| {
            let mut ok = true;
            for (k, m, s) in black_box(&raw) {
                ok &= k.verify_strict(m, s).is_ok();
            }
            ok
        });
    });

    // Each signature alone: the issuer's covers the whole PAE (~3 KiB), an
    // approval's 122 bytes.
    let mut g = c.benchmark_group("raw_verify_strict_x1");
    let (ik, im, is) = &raw[0];
    g.bench_function("issuer_pae", |b| b.iter(|| black_box(ik).verify_strict(black_box(im), black_box(is)).is_ok()));
    let (ak, am, asig) = &raw[1];
    g.bench_function("approval_input", |b| {
        b.iter(|| black_box(ak).verify_strict(black_box(am), black_box(asig)).is_ok())
    });
    g.finish();
}

/// Mirror of `verify`'s private version pre-parse of the statement.
#[derive(Deserialize)]
#[allow(dead_code, reason = "only parsed, as verify does")]
struct Header {
    #[serde(rename = "_type")]
    statement_type: Option<String>,
    #[serde(rename = "predicateType")]
    predicate_type: Option<String>,
}

fn bench_parts<M: Measurement + 'static>(c: &mut Criterion<M>) {
    let f = facts();
    let env = dsse::decode(&f.writ).unwrap();
    let outer: dsse::Envelope = serde_json::from_slice(&f.writ).unwrap();
    let statement: Statement = writ_core::json::from_slice(&env.payload).unwrap();
    let attempt = f.ctx.attempt.clone().unwrap();
    let check_only = writ_core::Context::check_at(fixtures::NOW);
    let mut g = c.benchmark_group("verify_parts");
    g.bench_function("verify_check_only_no_scope", |b| {
        b.iter(|| writ_core::verify(black_box(&f.writ), black_box(&f.trust), black_box(&check_only)).is_ok());
    });
    g.bench_function("dsse_decode_envelope_json_b64", |b| b.iter(|| dsse::decode(black_box(&f.writ)).is_ok()));
    g.bench_function("envelope_json_only", |b| {
        b.iter(|| writ_core::json::from_slice::<dsse::Envelope>(black_box(&f.writ)).is_ok());
    });
    g.bench_function("b64_payload", |b| b.iter(|| writ_core::b64::decode(black_box(&outer.payload), 1 << 20).is_ok()));
    g.bench_function("pae", |b| b.iter(|| dsse::pae(black_box(&env.payload_type), black_box(&env.payload))));
    g.bench_function("statement_header_preparse", |b| {
        b.iter(|| writ_core::json::from_slice::<Header>(black_box(&env.payload)).is_ok());
    });
    g.bench_function("statement_json_validate", |b| {
        b.iter(|| {
            let s: Statement = writ_core::json::from_slice(black_box(&env.payload)).unwrap();
            s.validate().is_ok()
        });
    });
    // The same parse through serde_json's byte reader, as writ-core's
    // `json::from_slice` did before it checked UTF-8 once up front.
    g.bench_function("statement_json_validate_via_from_slice", |b| {
        b.iter(|| {
            let s: Statement = serde_json::from_slice(black_box(&env.payload)).unwrap();
            s.validate().is_ok()
        });
    });
    g.bench_function("sha256_envelope_and_payload", |b| {
        b.iter(|| (Sha256Digest::of(black_box(&f.writ)), Sha256Digest::of(black_box(&env.payload))));
    });
    g.bench_function("approval_signing_input", |b| {
        b.iter(|| approval::signing_input(black_box(&fixtures::request_digest()), Verdict::Approve, fixtures::T0));
    });
    g.bench_function("scope_check", |b| {
        b.iter(|| {
            scope::check(
                black_box(&statement.predicate.scope),
                black_box(&attempt),
                f.ctx.host.as_ref(),
                &f.ctx.capabilities,
            )
            .is_ok()
        });
    });
    g.finish();
    eprintln!("writ envelope {} bytes, payload {} bytes", f.writ.len(), env.payload.len());
}

#[cfg(feature = "peers")]
mod peers {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use biscuit_auth::builder::{Algorithm, BlockBuilder};
    use biscuit_auth::macros::authorizer;
    use biscuit_auth::{AuthorizerLimits, Biscuit, KeyPair, PrivateKey};
    use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
    use serde::{Deserialize, Serialize};

    use super::{Criterion, black_box, facts};
    use writ_core::fixtures::{self, NOW, PROGRAM, PROGRAM_BYTES, T0};
    use writ_core::model::Predicate;
    use writ_core::{Sha256Digest, Timestamp};

    fn rfc3339(t: Timestamp) -> String {
        t.to_string()
    }

    fn system_time(t: Timestamp) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix()).unwrap())
    }

    /// The authority block: the writ's facts, its ten argv rules, validity,
    /// host/cwd/env scope as checks; the second block attenuates (narrower
    /// window), like a child writ.
    fn biscuit_token(root: &KeyPair, p: &Predicate) -> Vec<u8> {
        let sha = hex(&Sha256Digest::of(PROGRAM_BYTES).0);
        let mut code = format!(
            r#"
            writ_id("{id}");
            issuer("{issuer}");
            right("exec", "{PROGRAM}", hex:{sha});
            request("{rid}", "carol", "ship api v2.3 to staging", hex:{rdigest});
            policy("default", hex:{pdigest}, "allow", "deploy-needs-two-sre");
            condition("host", hex:{cdigest}, {t0});
            boundary("wall_clock_secs", 600);
            boundary("cpu_secs", 120);
            boundary("memory_bytes", 1073741824);
            boundary("network", false);
            offline(true);
            check if time($t), $t >= {t0}, $t < {t1};
            check if arg(0, "--env");
            check if arg(1, $a), ["staging", "production"].contains($a);
            check if arg(2, "--service");
            check if arg(3, $a), $a.starts_with("api-");
            check if arg(4, "--version");
            check if arg(5, $a), $a.matches("^v.[.].*$");
            check if arg(6, "--region");
            check if arg(7, $a), ["eu-west-1", "us-east-1"].contains($a);
            check if arg(8, "--dry-run");
            check if arg(9, $a), ["true", "false"].contains($a);
            check if arg_count(10);
            check if host($h), $h.starts_with("build-"), $h.ends_with(".example.com");
            check if host_label("ci");
            check if cwd("/srv/app");
            check all env($k, $v), ["PATH", "LANG"].contains($k);
            check if env("PATH", "/usr/bin:/bin");
            "#,
            id = p.id,
            issuer = p.issuer,
            rid = p.request.id,
            rdigest = hex(&p.request.digest.0.0),
            pdigest = hex(&p.policy.digest.0.0),
            cdigest = hex(&Sha256Digest::of(b"host evidence").0),
            t0 = rfc3339(p.validity.not_before),
            t1 = rfc3339(p.validity.not_after),
        );
        for (a, name) in p.governance.approvals.iter().zip(["alice", "bob"]) {
            code.push_str(&format!("approval(\"{name}\", \"{}\", {}, \"{}\");\n", a.approver, rfc3339(a.time), a.sig));
        }
        let token = Biscuit::builder().code(&code).unwrap().build(root).unwrap();
        let block = BlockBuilder::new()
            .code(format!(
                r#"check if time($t), $t < {};
                   check if operation("exec"), resource("{PROGRAM}");"#,
                rfc3339(T0.plus(1800))
            ))
            .unwrap();
        token.append(block).unwrap().to_vec().unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn biscuit_authorize(bytes: &[u8], root: &biscuit_auth::PublicKey) -> usize {
        let token = Biscuit::from(bytes, root).unwrap();
        let sha = Sha256Digest::of(PROGRAM_BYTES).0.to_vec();
        let args = fixtures::good_args();
        let mut a = authorizer!(
            r#"
            time({now});
            operation("exec");
            resource({program});
            program_sha256({sha});
            arg_count(10);
            host("build-7.example.com");
            host_label("ci");
            cwd("/srv/app");
            env("PATH", "/usr/bin:/bin");
            env("LANG", "C.UTF-8");
            allow if right("exec", $p, $d), resource($p), program_sha256($d), operation("exec");
            "#,
            now = system_time(NOW),
            program = PROGRAM,
            sha = sha,
        )
        // The default 1 ms (wall-clock) run limit trips when the shared machine
        // preempts the bench; the work done is the same.
        .set_limits(AuthorizerLimits { max_time: Duration::from_secs(10), ..AuthorizerLimits::default() });
        for (i, arg) in args.iter().enumerate() {
            a = a
                .fact(biscuit_auth::builder::fact(
                    "arg",
                    &[biscuit_auth::builder::int(i as i64), biscuit_auth::builder::string(arg)],
                ))
                .unwrap();
        }
        a.build(&token).unwrap().authorize().unwrap()
    }

    /// JWT claims carrying the same facts: the writ predicate, with the
    /// registered claims JWT validation needs.
    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Claims {
        iss: String,
        sub: String,
        jti: String,
        iat: i64,
        nbf: i64,
        exp: i64,
        writ: Predicate,
    }

    /// PKCS#8 v1 DER of an Ed25519 private key (RFC 8410): fixed prefix + seed.
    fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
        let mut der =
            vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        der.extend_from_slice(seed);
        der
    }

    pub fn bench<M: criterion::measurement::Measurement + 'static>(c: &mut Criterion<M>) {
        let f = facts();

        // biscuit-auth: 2 blocks = 2 signatures (+ the proof key derivation).
        let root = KeyPair::from(&PrivateKey::from_bytes(&[1; 32], Algorithm::Ed25519).unwrap());
        let token = biscuit_token(&root, &f.predicate);
        let root_pub = root.public();
        assert_eq!(biscuit_authorize(&token, &root_pub), 0, "the first policy allows");
        eprintln!("biscuit token {} bytes", token.len());
        c.bench_function("biscuit_verify_authorize", |b| b.iter(|| biscuit_authorize(black_box(&token), &root_pub)));

        // jsonwebtoken: one EdDSA signature; exp/nbf are validated against
        // the system clock, so this token's window is around the real now.
        let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
        let claims = Claims {
            iss: f.predicate.issuer.to_string(),
            sub: PROGRAM.into(),
            jti: f.predicate.id.clone(),
            iat: now - 60,
            nbf: now - 60,
            exp: now + 3600,
            writ: f.predicate.clone(),
        };
        let issuer = fixtures::issuer();
        let enc = EncodingKey::from_ed_der(&ed25519_pkcs8(&issuer.seed()));
        let jwt = jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::EdDSA), &claims, &enc).unwrap();
        let dec = DecodingKey::from_ed_der(&issuer.public().to_bytes());
        let mut v = Validation::new(jsonwebtoken::Algorithm::EdDSA);
        v.leeway = 0;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "nbf", "sub", "iss"]);
        v.set_issuer(&[claims.iss.as_str()]);
        v.sub = Some(PROGRAM.into());
        let decoded = jsonwebtoken::decode::<Claims>(&jwt, &dec, &v).expect("the JWT verifies");
        assert_eq!(decoded.claims.writ, f.predicate);
        eprintln!("jwt {} bytes", jwt.len());
        c.bench_function("jsonwebtoken_eddsa", |b| {
            b.iter(|| jsonwebtoken::decode::<Claims>(black_box(&jwt), &dec, &v).is_ok());
        });
    }
}

/// CPU time of the bench thread (`CLOCK_THREAD_CPUTIME_ID`): on a shared,
/// oversubscribed machine it leaves out the time the thread sat preempted,
/// which wall-clock medians include. Selected with `WRIT_BENCH_CLOCK=cpu`.
struct ThreadCpu;

static WALL: WallTime = WallTime;

fn thread_cpu_now() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_secs_f64() * 1e9
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

#[cfg(feature = "peers")]
criterion_group!(wall, bench_writ, peers::bench, bench_parts);
#[cfg(not(feature = "peers"))]
criterion_group!(wall, bench_writ, bench_parts);
#[cfg(feature = "peers")]
criterion_group! { name = cpu; config = Criterion::default().with_measurement(ThreadCpu); targets = bench_writ, peers::bench, bench_parts }
#[cfg(not(feature = "peers"))]
criterion_group! { name = cpu; config = Criterion::default().with_measurement(ThreadCpu); targets = bench_writ, bench_parts }

fn main() {
    if std::env::var("WRIT_BENCH_CLOCK").is_ok_and(|v| v == "cpu") {
        cpu();
    } else {
        wall();
    }
    Criterion::default().configure_from_args().final_summary();
}
