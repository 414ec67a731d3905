//! Where the time of one gated launch goes, measured in-process: open + hash,
//! capability detection, verification, spawn (fork, confine, execveat) and
//! wait, for `/usr/bin/true`, next to a plain `std::process::Command` spawn +
//! wait of the same program.
//!
//! `cargo run --release -p writ-gate --example launch_cost [N] [PROGRAM]`
//!
//! PROGRAM (default `/usr/bin/true`) is any program that exits 0 with no
//! arguments; e.g. a copy of `true` padded to 6 MB to see what sealing a
//! large program costs (`open + hash` now reads it into a sealed memfd).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use writ_core::fixtures;
use writ_core::model::{Action, Boundaries, ExecAction};
use writ_core::{Sha256Digest, Timestamp};
use writ_gate::{Gate, HostFacts, LaunchOptions, Program, exec_attempt};

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(500);
    let prog_arg = std::env::args().nth(2).unwrap_or_else(|| "/usr/bin/true".into());
    let prog = Path::new(&prog_arg);
    let bytes = std::fs::read(prog).unwrap_or_default();
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())).unwrap_or(0);
    let writ_for = |b: Boundaries| {
        let mut p = fixtures::predicate();
        p.issued_at = Timestamp(now - 10);
        p.validity.not_before = Timestamp(now - 10);
        p.validity.not_after = Timestamp(now + 3600);
        p.scope.actions = vec![Action::Exec(ExecAction {
            program: prog_arg.clone(),
            sha256: Sha256Digest::of(&bytes),
            args: vec![],
            more_args: false,
        })];
        p.scope.environment = Default::default();
        p.scope.boundaries = b;
        fixtures::sign(p)
    };
    let variants = [
        ("no boundaries", Boundaries::default()),
        (
            "rlimits + wall clock",
            Boundaries {
                wall_clock_secs: Some(60),
                cpu_secs: Some(10),
                memory_bytes: Some(1 << 30),
                open_files: Some(1024),
                ..Boundaries::default()
            },
        ),
        (
            "+ no network (netns)",
            Boundaries {
                wall_clock_secs: Some(60),
                cpu_secs: Some(10),
                memory_bytes: Some(1 << 30),
                open_files: Some(1024),
                network: Some(false),
                ..Boundaries::default()
            },
        ),
        (
            "+ processes (cgroup) + landlock",
            Boundaries {
                wall_clock_secs: Some(60),
                cpu_secs: Some(10),
                memory_bytes: Some(1 << 30),
                open_files: Some(1024),
                network: Some(false),
                processes: Some(64),
                fs_read: Some(vec!["/usr".into(), "/lib".into(), "/lib64".into(), "/etc".into()]),
                fs_write: Some(vec!["/tmp".into()]),
                ..Boundaries::default()
            },
        ),
    ];
    let mut plain = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let _ = std::process::Command::new(prog).status();
        plain.push(t.elapsed());
    }
    println!("{:<34} {:>9} {:>9}", "us per launch (p50 / p99)", "p50", "p99");
    println!("{:<34} {:>9.0} {:>9.0}", "std Command spawn+wait", pct(&mut plain, 0.5), pct(&mut plain, 0.99));
    let host = HostFacts { hostname: "h".into(), labels: BTreeSet::new() };
    let trust = fixtures::trust_root(false);
    let t = Instant::now();
    let gate = Gate::new(trust, host);
    println!("{:<34} {:>9.0}", "Gate::new (detect capabilities)", t.elapsed().as_secs_f64() * 1e6);
    for (name, b) in variants {
        let writ = writ_for(b);
        let (mut open, mut check, mut spawn, mut wait, mut total) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let t0 = Instant::now();
            let Ok(program) = Program::open(prog) else { return };
            let t1 = Instant::now();
            let attempt = exec_attempt(&program, &[], &BTreeMap::new(), Path::new("/"));
            let permit = match gate.check(&writ, &attempt) {
                Ok(p) => p,
                Err(d) => {
                    println!("{name}: denied {d}");
                    return;
                }
            };
            let t2 = Instant::now();
            let Ok(running) = permit.launch(program, &LaunchOptions::default()) else { return };
            let t3 = Instant::now();
            let _ = running.wait();
            let t4 = Instant::now();
            open.push(t1 - t0);
            check.push(t2 - t1);
            spawn.push(t3 - t2);
            wait.push(t4 - t3);
            total.push(t4 - t0);
        }
        println!("{name}:");
        for (what, v) in [
            ("  open + hash", &mut open),
            ("  verify", &mut check),
            ("  spawn (fork..execveat)", &mut spawn),
            ("  wait + reap", &mut wait),
            ("  total", &mut total),
        ] {
            println!("{:<34} {:>9.0} {:>9.0}", what, pct(v, 0.5), pct(v, 0.99));
        }
    }
}
