//! `writ bench`: load-test an authority with auto-allowed requests, end to
//! end (RFC 9421-signed HTTP, Cedar decision, signing, durable ledger
//! entries, receipt), and report writs/s, latency percentiles and errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use writ_api::OperatorApi as _;
use writ_api::wire::{RequestInput, TargetInput};
use writ_client::Client;

use crate::files;

/// Load-test an authority: concurrent signed requests that policy allows at once.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The authority's URL.
    #[arg(long, value_name = "URL")]
    pub authority: String,
    /// A requester key that policy allows to run PROGRAM at once.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// How many requests in total.
    #[arg(long, default_value_t = 2000)]
    pub requests: u64,
    /// How many in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: u64,
    /// The program to ask for (must be auto-allowed by policy).
    #[arg(long, default_value = "/usr/bin/true")]
    pub program: String,
    /// CA certificates (PEM) for an `https://` authority (default: the system roots).
    #[arg(long, env = "WRIT_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i.min(sorted.len() - 1)).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let key = files::read_private_key(&args.key)?;
    let ca_pem = match &args.ca {
        Some(p) => Some(files::read_bounded(p, 1 << 20)?),
        None => None,
    };
    let opts = writ_client::Options { ca_pem, ..writ_client::Options::default() };
    let seed = key.seed();
    let sha = files::hash_file(std::path::Path::new(&args.program))?.to_hex();
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let client = Client::with_options(&args.authority, writ_core::SigningKey::from_seed(&seed), &opts)
            .map_err(|e| crate::exit::UsageError(format!("--authority: {}", e.message)))?;
        let (next, errors, first_error) = (next.clone(), errors.clone(), first_error.clone());
        let total = args.requests;
        let input = RequestInput {
            target: TargetInput::Exec {
                program: args.program.clone(),
                sha256: Some(sha.clone()),
                argv: vec![args.program.clone()],
            },
            reason: "bench".into(),
            duration_secs: 60,
            env: Default::default(),
            cwd: None,
            hosts: None,
            evidence: None,
            boundaries: None,
            uses: None,
            holder: None,
            delegation_depth: None,
        };
        handles.push(std::thread::spawn(move || {
            let mut lat = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t0 = Instant::now();
                let idem = writ_api::IdempotencyKey::random();
                match idem.and_then(|k| client.submit(&input, &k)) {
                    Ok(v) if v.status == "issued" && v.receipt.is_some() => lat.push(t0.elapsed()),
                    Ok(v) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut g = first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        g.get_or_insert_with(|| {
                            format!("request was {}, not issued: {:?}", v.status, v.decision.reasons)
                        });
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        let mut g = first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        g.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for h in handles {
        lat.extend(h.join().map_err(|_| anyhow::anyhow!("a bench thread panicked"))?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let ok = lat.len() as f64;
    let errs = errors.load(Ordering::Relaxed);
    let report = serde_json::json!({
        "requests": args.requests, "concurrency": args.concurrency, "ok": lat.len(), "errors": errs,
        "seconds": elapsed, "writs_per_sec": if elapsed > 0.0 { ok / elapsed } else { 0.0 },
        "p50_ms": pct(&lat, 0.50), "p90_ms": pct(&lat, 0.90), "p99_ms": pct(&lat, 0.99), "max_ms": pct(&lat, 1.0),
        "first_error": first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} writs in {:.2}s: {:.0} writs/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} errors (concurrency {})",
            lat.len(),
            elapsed,
            report.get("writs_per_sec").and_then(serde_json::Value::as_f64).unwrap_or_default(),
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 1.0),
            errs,
            args.concurrency
        );
        if let Some(e) = report.get("first_error").and_then(serde_json::Value::as_str) {
            eprintln!("first error: {e}");
        }
    }
    Ok(if errs == 0 { ExitCode::SUCCESS } else { crate::exit::failure() })
}
