//! `cargo bench -p writ-policy`: the cost of one policy decision (and of
//! loading the default set) against `DEFAULT_POLICIES`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench code")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use writ_policy::{DEFAULT_POLICIES, PolicyRequest, PolicySet, Requester, Target};

fn request(groups: &[&str], argv: &[&str]) -> PolicyRequest {
    PolicyRequest::new(
        Requester::new("alice", "9f86d081884c7d65", groups.iter().copied()),
        Target::exec(argv.first().copied().unwrap_or_default()),
    )
    .with_argv(argv.iter().copied())
    .with_env("PATH", "/usr/bin:/bin")
    .with_env("LANG", "C.UTF-8")
    .with_duration_secs(120)
    .with_reason("bench")
    .with_unix_time(1_704_115_800)
}

fn bench(c: &mut Criterion) {
    let set = PolicySet::load(DEFAULT_POLICIES).unwrap();
    let allow = request(&["dev"], &["/bin/echo", "hello", "world"]);
    let approval = request(&["dev", "sre"], &["/usr/local/bin/deploy", "--env", "prod"]);
    let forbid = request(&["dev"], &["/bin/rm", "-rf", "/"]);
    let nomatch = request(&["ops"], &["/usr/bin/make", "all"]);

    let mut g = c.benchmark_group("decide");
    g.bench_function("allow", |b| b.iter(|| set.decide(black_box(&allow))));
    g.bench_function("needs_approval", |b| b.iter(|| set.decide(black_box(&approval))));
    g.bench_function("forbid", |b| b.iter(|| set.decide(black_box(&forbid))));
    g.bench_function("no_match", |b| b.iter(|| set.decide(black_box(&nomatch))));
    g.finish();

    c.bench_function("load/default_policies", |b| b.iter(|| PolicySet::load(black_box(DEFAULT_POLICIES)).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
