//! The server's figures, in one place: counters kept while serving
//! ([`Metrics`]), counts read from the ledger ([`LedgerTally`]), the
//! self-verification counters ([`crate::selfcheck`]) and the gauges of the
//! moment, gathered into one [`Snapshot`]. `/metrics` renders a snapshot as
//! Prometheus text ([`Snapshot::render`]) and `/health` draws the same
//! snapshot as a page (`web/health.rs`), so the two cannot disagree.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use writ_core::Timestamp;
use writ_core::entry::Entry;

use crate::selfcheck::SelfCheckView;

/// Latency histogram bounds, seconds.
pub const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// The quantiles published of each latency histogram.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];
/// The window of the issuance rate, seconds.
pub const RATE_WINDOW_SECS: i64 = 300;
/// Samples of the history kept for the charts (one per background tick).
pub const MAX_SAMPLES: usize = 120;

/// The trust root's gauges at one instant (from
/// `Authority::trust_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustGauges {
    /// Version in force (0: an unsigned, legacy trust root).
    pub version: u64,
    /// What is on disk was refused (the last good version is in force).
    pub refused: bool,
    /// The trust root is a signed, versioned one.
    pub signed: bool,
    /// Seconds until the version in force expires (negative once expired;
    /// `None` for an unsigned root, which has no expiry).
    pub expires_in: Option<i64>,
}

impl TrustGauges {
    /// The gauges of `status` at `now`.
    #[must_use]
    pub fn new(status: &writ_authority::trust_store::TrustStatus, now: Timestamp) -> Self {
        Self {
            version: status.version.unwrap_or(0),
            refused: status.refused.is_some(),
            signed: status.signed,
            expires_in: status.expires.map(|e| e.0.saturating_sub(now.0)),
        }
    }
}

/// A latency histogram (cumulative buckets, as Prometheus has them).
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let s = took.as_secs_f64();
        for (b, c) in BUCKETS.iter().zip(self.buckets.iter()) {
            if s <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn view(&self) -> HistogramView {
        HistogramView {
            cumulative: self.buckets.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
            count: self.count.load(Ordering::Relaxed),
            sum: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramView {
    /// Observations at or below each of [`BUCKETS`].
    pub cumulative: Vec<u64>,
    /// All observations.
    pub count: u64,
    /// Their sum, seconds.
    pub sum: f64,
}

impl HistogramView {
    /// The `q` quantile (0 < q ≤ 1), interpolated linearly inside its bucket
    /// as Prometheus's `histogram_quantile` does; `None` without
    /// observations. Past the last bound it is the last bound.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = q * self.count as f64;
        let mut lower = (0.0, 0u64);
        for (b, c) in BUCKETS.iter().zip(self.cumulative.iter()) {
            if *c as f64 >= rank {
                let in_bucket = (*c - lower.1) as f64;
                let frac = if in_bucket > 0.0 { (rank - lower.1 as f64) / in_bucket } else { 1.0 };
                return Some(lower.0 + (b - lower.0) * frac.clamp(0.0, 1.0));
            }
            lower = (*b, *c);
        }
        BUCKETS.last().copied()
    }

    /// Observations in each bucket alone (not cumulative), then above the last bound.
    #[must_use]
    pub fn per_bucket(&self) -> Vec<u64> {
        let mut prev = 0;
        let mut out: Vec<u64> = self
            .cumulative
            .iter()
            .map(|c| {
                let n = c.saturating_sub(prev);
                prev = *c;
                n
            })
            .collect();
        out.push(self.count.saturating_sub(prev));
        out
    }
}

/// Counters kept by the server.
#[derive(Debug, Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, u16), u64>>,
    decisions: Mutex<BTreeMap<String, u64>>,
    approvals: Mutex<BTreeMap<String, u64>>,
    refusals: Mutex<BTreeMap<String, u64>>,
    issuance: Histogram,
    integration: Histogram,
    in_flight: AtomicU64,
    checkpoint_seen: Mutex<Option<(u64, Instant)>>,
    tally: Mutex<LedgerTally>,
    series: Mutex<VecDeque<Sample>>,
}

fn bump(m: &Mutex<BTreeMap<String, u64>>, k: &str) {
    let mut g = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    *g.entry(k.to_string()).or_default() += 1;
}

fn read<T: Clone>(m: &Mutex<T>) -> T {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// An append handed to the authority and not yet acknowledged; counted in
/// the backlog for as long as it lives.
pub(crate) struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub(crate) fn http(&self, route: &str, status: u16) {
        let mut g = self.http.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *g.entry((route.to_string(), status)).or_default() += 1;
    }
    pub(crate) fn decision(&self, outcome: &str) {
        bump(&self.decisions, outcome);
    }
    pub(crate) fn approval(&self, verdict: &str) {
        bump(&self.approvals, verdict);
    }
    /// An API call refused with `code` (every error answer of the API).
    pub(crate) fn refusal(&self, code: &str) {
        bump(&self.refusals, code);
    }
    pub(crate) fn issued(&self, took: Duration) {
        self.issuance.observe(took);
    }
    /// An append the ledger's sequencer covered with a signed checkpoint
    /// `took` after it entered the sequencer queue (the ledger's
    /// integration observer calls this).
    pub(crate) fn integrated(&self, took: Duration) {
        self.integration.observe(took);
    }
    /// Count an append in the backlog until the guard is dropped.
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Seconds since this server saw the checkpoint grow (0 when it grew now).
    fn checkpoint_age(&self, ledger_size: u64) -> f64 {
        let mut g = self.checkpoint_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *g {
            Some((size, at)) if size == ledger_size => at.elapsed().as_secs_f64(),
            _ => {
                *g = Some((ledger_size, Instant::now()));
                0.0
            }
        }
    }

    /// Catch the ledger tally up with `ledger` and return a copy.
    ///
    /// # Errors
    /// Ledger read errors.
    pub(crate) fn tally(&self, ledger: &writ_ledger::Ledger, now: Timestamp) -> writ_ledger::Result<LedgerTally> {
        let mut t = self.tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        t.catch_up(ledger, now)?;
        Ok(t.clone())
    }

    /// Remember one sample of the history (the background task calls this).
    pub(crate) fn sample(&self, s: Sample) {
        let mut g = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.len() >= MAX_SAMPLES {
            g.pop_front();
        }
        g.push_back(s);
    }
}

/// Counts over the whole ledger, caught up incrementally: what every
/// replica, gate and embedded use recorded, not only what this process saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LedgerTally {
    /// Entries read so far.
    pub read: u64,
    /// Entries by kind.
    pub by_kind: BTreeMap<String, u64>,
    /// `denial` entries by code (gates and the authority).
    pub denials: BTreeMap<String, u64>,
    /// Policy decisions that denied.
    pub policy_denied: u64,
    /// Records a gate made (`exec_start`, `exec_end`, `denial` with a
    /// host), by gate host.
    pub gate_records: BTreeMap<String, u64>,
    /// Times of the issuances of the last [`RATE_WINDOW_SECS`].
    recent_issuances: VecDeque<i64>,
    /// Entries that did not decode.
    pub undecodable: u64,
    /// Gate denials of writs the ledger never issued (before them): a
    /// forged writ, or one signed with a stolen issuer key, presented to a
    /// gate (the semantic audit's `unissued_writ_presented`).
    pub unissued_presented: u64,
    /// The newest of them: (ledger index, writ id, gate host).
    pub last_unissued: Option<(u64, String, Option<String>)>,
    /// Hashes of the writ ids issued so far (kept out of copies).
    issued: std::collections::HashSet<u64>,
}

impl Clone for LedgerTally {
    /// A copy for a snapshot: everything but the set of issued writ ids.
    fn clone(&self) -> Self {
        Self {
            read: self.read,
            by_kind: self.by_kind.clone(),
            denials: self.denials.clone(),
            policy_denied: self.policy_denied,
            gate_records: self.gate_records.clone(),
            recent_issuances: self.recent_issuances.clone(),
            undecodable: self.undecodable,
            unissued_presented: self.unissued_presented,
            last_unissued: self.last_unissued.clone(),
            issued: std::collections::HashSet::new(),
        }
    }
}

fn writ_hash(id: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl LedgerTally {
    fn catch_up(&mut self, ledger: &writ_ledger::Ledger, now: Timestamp) -> writ_ledger::Result<()> {
        let size = ledger.size();
        while self.read < size {
            let end = size.min(self.read + 1024);
            for bytes in ledger.entries(self.read, end)? {
                self.add(self.read, &bytes);
                self.read += 1;
            }
        }
        let cutoff = now.0.saturating_sub(RATE_WINDOW_SECS);
        while self.recent_issuances.front().is_some_and(|t| *t < cutoff) {
            self.recent_issuances.pop_front();
        }
        Ok(())
    }

    fn add(&mut self, index: u64, bytes: &[u8]) {
        let Ok(e) = Entry::decode(bytes) else {
            self.undecodable += 1;
            return;
        };
        *self.by_kind.entry(e.kind().as_str().to_string()).or_default() += 1;
        let gate = match &e {
            Entry::Denial(d) => {
                *self.denials.entry(d.code.clone()).or_default() += 1;
                if let Some(w) = &d.writ_id
                    && !self.issued.contains(&writ_hash(w))
                {
                    self.unissued_presented += 1;
                    self.last_unissued = Some((index, w.clone(), d.host.clone()));
                }
                d.host.clone()
            }
            Entry::ExecStart(s) => Some(s.host.clone()),
            Entry::ExecEnd(x) => Some(x.host.clone()),
            Entry::Decision(d) => {
                self.policy_denied += u64::from(!d.allow);
                None
            }
            Entry::Issuance(i) => {
                self.recent_issuances.push_back(i.time.0);
                self.issued.insert(writ_hash(&i.writ_id));
                None
            }
            _ => None,
        };
        if let Some(h) = gate {
            *self.gate_records.entry(h).or_default() += 1;
        }
    }

    /// Issuances per minute over the last [`RATE_WINDOW_SECS`].
    #[must_use]
    pub fn issuance_rate_per_minute(&self) -> f64 {
        self.recent_issuances.len() as f64 * 60.0 / RATE_WINDOW_SECS as f64
    }

    /// Policy versions recorded (`policy_change` entries).
    #[must_use]
    pub fn policy_changes(&self) -> u64 {
        self.by_kind.get("policy_change").copied().unwrap_or(0)
    }
}

/// One point of the history drawn on `/health`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When (Unix seconds).
    pub at: i64,
    /// Tree size.
    pub ledger_size: u64,
    /// Writs issued directly on request, so far.
    pub issued: u64,
    /// Appends in flight.
    pub backlog: u64,
    /// Self-verification failures so far.
    pub selfcheck_failures: u64,
}

/// Who appends: one process on SQLite; on PostgreSQL the replicas take
/// turns under the sequencer lease (`writ_ledger::lease`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequencer {
    /// `sqlite` or `postgresql`.
    pub backend: &'static str,
    /// Replicas appending to this ledger, when this replica can know it
    /// (SQLite: 1; PostgreSQL: the lease connections in `pg_stat_activity`;
    /// absent when PostgreSQL could not be asked).
    pub replicas: Option<u64>,
    /// What is known of the replicas and the leader, in words.
    pub detail: String,
}

/// Every figure of `/metrics` and `/health` at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When it was taken.
    pub at: Timestamp,
    /// Entries covered by the latest checkpoint.
    pub ledger_size: u64,
    /// The latest checkpoint's root (hex).
    pub checkpoint_root: String,
    /// The ledger's origin.
    pub origin: String,
    /// Seconds since this server saw the checkpoint grow.
    pub checkpoint_age: f64,
    /// HTTP answers by route and status.
    pub http: BTreeMap<(String, u16), u64>,
    /// Policy decisions by outcome (requests made to this server).
    pub decisions: BTreeMap<String, u64>,
    /// Approver votes by verdict.
    pub approvals: BTreeMap<String, u64>,
    /// API refusals by error code.
    pub refusals: BTreeMap<String, u64>,
    /// Request-to-writ latency of auto-allowed requests.
    pub issuance: HistogramView,
    /// Integration latency: entering the sequencer queue to being covered
    /// by a signed checkpoint, every append of this process.
    pub integration: HistogramView,
    /// Append jobs in the sequencer queue or being committed.
    pub backlog: u64,
    /// API calls that append and have not answered yet.
    pub in_flight: u64,
    /// Counts from the ledger.
    pub ledger: LedgerTally,
    /// The trust root's gauges.
    pub trust: TrustGauges,
    /// The trust root's digest, when signed.
    pub trust_digest: Option<String>,
    /// Digest of the policy set in force.
    pub policy_digest: String,
    /// The sequencer.
    pub sequencer: Sequencer,
    /// The self-verification counters.
    pub selfcheck: SelfCheckView,
    /// The history, oldest first.
    pub series: Vec<Sample>,
}

/// Take a snapshot (blocking: reads the ledger, the trust store and the
/// policy file; call it off the async runtime).
///
/// # Errors
/// Ledger read errors.
pub fn snapshot(st: &crate::AppState, now: Timestamp) -> writ_ledger::Result<Snapshot> {
    let a = &st.authority;
    let m = &st.metrics;
    let cp = a.ledger().latest_checkpoint();
    let ledger = m.tally(a.ledger(), now)?;
    let status = a.trust_status(now);
    let sequencer = match a.sequencer_view() {
        Ok(Some(v)) => Sequencer {
            backend: "postgresql",
            replicas: Some(v.replicas),
            detail: match v.leader {
                Some(pid) if pid == v.this_replica => format!("leader now: this replica (lease connection pid {pid})"),
                Some(pid) => format!(
                    "leader now: another replica (lease connection pid {pid}); this one is pid {}",
                    v.this_replica
                ),
                None => "no append in flight: no replica holds the sequencer lease; the next append takes it".into(),
            },
        },
        Ok(None) => Sequencer {
            backend: "sqlite",
            replicas: Some(1),
            detail: "one replica: this process is the only sequencer and the leader (SQLite)".into(),
        },
        Err(e) => Sequencer {
            backend: "postgresql",
            replicas: None,
            detail: format!("the sequencer lease could not be read from PostgreSQL: {e}"),
        },
    };
    Ok(Snapshot {
        at: now,
        ledger_size: cp.checkpoint.size,
        checkpoint_root: hex::encode(cp.checkpoint.root),
        origin: cp.checkpoint.origin.clone(),
        checkpoint_age: m.checkpoint_age(cp.checkpoint.size),
        http: read(&m.http),
        decisions: read(&m.decisions),
        approvals: read(&m.approvals),
        refusals: read(&m.refusals),
        issuance: m.issuance.view(),
        integration: m.integration.view(),
        backlog: a.ledger().queued(),
        in_flight: m.in_flight.load(Ordering::Relaxed),
        ledger,
        trust: TrustGauges::new(&status, now),
        trust_digest: status.digest.clone(),
        policy_digest: a.policy(now).digest().to_string(),
        sequencer,
        selfcheck: st.selfcheck.view(),
        series: read(&m.series).into_iter().collect(),
    })
}

/// Prometheus label value escaping (`\`, `"`, newline).
fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(o: &mut String, name: &str, help: &str, h: &HistogramView) {
    head(o, name, "histogram", help);
    for (b, c) in BUCKETS.iter().zip(h.cumulative.iter()) {
        let _ = writeln!(o, "{name}_bucket{{le=\"{b}\"}} {c}");
    }
    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}", h.count, h.sum, h.count);
}

fn quantiles(o: &mut String, name: &str, help: &str, h: &HistogramView) {
    head(o, name, "gauge", help);
    for q in QUANTILES {
        if let Some(v) = h.quantile(q) {
            let _ = writeln!(o, "{name}{{quantile=\"{q}\"}} {v}");
        }
    }
}

fn counter_map(o: &mut String, name: &str, help: &str, key: &str, m: &BTreeMap<String, u64>) {
    head(o, name, "counter", help);
    for (k, n) in m {
        let _ = writeln!(o, "{name}{{{key}=\"{}\"}} {n}", label(k));
    }
}

impl Snapshot {
    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut o = String::new();
        head(&mut o, "writ_http_requests_total", "counter", "HTTP requests by route and status.");
        for ((r, s), n) in &self.http {
            let _ = writeln!(o, "writ_http_requests_total{{route=\"{}\",status=\"{s}\"}} {n}", label(r));
        }
        counter_map(&mut o, "writ_decisions_total", "Policy decisions by outcome.", "outcome", &self.decisions);
        counter_map(&mut o, "writ_approvals_total", "Approver votes by verdict.", "verdict", &self.approvals);
        counter_map(&mut o, "writ_api_refusals_total", "API calls refused, by error code.", "code", &self.refusals);
        let _ = writeln!(
            o,
            "# HELP writ_issued_total Writs issued directly on request.\n# TYPE writ_issued_total counter\nwrit_issued_total {}",
            self.issuance.count
        );
        histogram(&mut o, "writ_issuance_seconds", "Request-to-writ latency of auto-allowed requests.", &self.issuance);
        quantiles(
            &mut o,
            "writ_issuance_quantile_seconds",
            "Quantiles of writ_issuance_seconds (interpolated in the buckets).",
            &self.issuance,
        );
        let _ = writeln!(
            o,
            "# HELP writ_issuance_rate_per_minute Issuances recorded in the ledger per minute over the last {RATE_WINDOW_SECS} s.\n# TYPE writ_issuance_rate_per_minute gauge\nwrit_issuance_rate_per_minute {}",
            self.ledger.issuance_rate_per_minute()
        );
        histogram(
            &mut o,
            "writ_integration_seconds",
            "Integration latency: from entering the ledger's sequencer queue to being covered by a signed checkpoint.",
            &self.integration,
        );
        quantiles(
            &mut o,
            "writ_integration_quantile_seconds",
            "Quantiles of writ_integration_seconds (interpolated in the buckets).",
            &self.integration,
        );
        let _ = writeln!(
            o,
            "# HELP writ_integration_backlog Append jobs in the ledger's sequencer queue or being committed.\n# TYPE writ_integration_backlog gauge\nwrit_integration_backlog {}",
            self.backlog
        );
        let _ = writeln!(
            o,
            "# HELP writ_api_appends_in_flight API calls that append to the ledger and have not answered yet.\n# TYPE writ_api_appends_in_flight gauge\nwrit_api_appends_in_flight {}",
            self.in_flight
        );
        let _ = writeln!(
            o,
            "# HELP writ_ledger_size Entries covered by the latest checkpoint.\n# TYPE writ_ledger_size gauge\nwrit_ledger_size {}",
            self.ledger_size
        );
        let _ = writeln!(
            o,
            "# HELP writ_checkpoint_age_seconds Seconds since this server saw the checkpoint grow.\n# TYPE writ_checkpoint_age_seconds gauge\nwrit_checkpoint_age_seconds {}",
            self.checkpoint_age
        );
        head(&mut o, "writ_ledger_entries_total", "counter", "Ledger entries by kind.");
        for (k, n) in &self.ledger.by_kind {
            let _ = writeln!(o, "writ_ledger_entries_total{{kind=\"{}\"}} {n}", label(k));
        }
        counter_map(
            &mut o,
            "writ_denials_total",
            "Denials recorded in the ledger, by code.",
            "code",
            &self.ledger.denials,
        );
        let _ = writeln!(
            o,
            "# HELP writ_policy_denials_total Policy decisions recorded in the ledger that denied.\n# TYPE writ_policy_denials_total counter\nwrit_policy_denials_total {}",
            self.ledger.policy_denied
        );
        let _ = writeln!(
            o,
            "# HELP writ_unissued_writs_presented_total Gate denials of writs the ledger never issued (forged or stolen-key writs presented to a gate).\n# TYPE writ_unissued_writs_presented_total counter\nwrit_unissued_writs_presented_total {}",
            self.ledger.unissued_presented
        );
        counter_map(
            &mut o,
            "writ_gate_records_total",
            "Records gates made (exec_start, exec_end, denial), by gate host.",
            "gate",
            &self.ledger.gate_records,
        );
        if let Some(n) = self.sequencer.replicas {
            let _ = writeln!(
                o,
                "# HELP writ_replicas Replicas appending to this ledger (absent when one replica cannot know it).\n# TYPE writ_replicas gauge\nwrit_replicas {n}"
            );
        }
        let _ = writeln!(
            o,
            "# HELP writ_sequencer_info The sequencer's backend.\n# TYPE writ_sequencer_info gauge\nwrit_sequencer_info{{backend=\"{}\"}} 1",
            self.sequencer.backend
        );
        let _ = writeln!(
            o,
            "# HELP writ_policy_info The policy set in force, by digest.\n# TYPE writ_policy_info gauge\nwrit_policy_info{{digest=\"{}\"}} 1",
            label(&self.policy_digest)
        );
        let _ = writeln!(
            o,
            "# HELP writ_policy_changes_total Policy versions recorded in the ledger (policy_change entries).\n# TYPE writ_policy_changes_total counter\nwrit_policy_changes_total {}",
            self.ledger.policy_changes()
        );
        let _ = writeln!(
            o,
            "# HELP writ_trust_version Trust-root version in force (0: unsigned legacy trust root).\n# TYPE writ_trust_version gauge\nwrit_trust_version {}",
            self.trust.version
        );
        let _ = writeln!(
            o,
            "# HELP writ_trust_refused 1 when the trust root on disk was refused and the last good version is kept.\n# TYPE writ_trust_refused gauge\nwrit_trust_refused {}",
            u8::from(self.trust.refused)
        );
        let _ = writeln!(
            o,
            "# HELP writ_trust_signed 1 when the trust root is signed and versioned.\n# TYPE writ_trust_signed gauge\nwrit_trust_signed {}",
            u8::from(self.trust.signed)
        );
        if let Some(left) = self.trust.expires_in {
            let _ = writeln!(
                o,
                "# HELP writ_trust_expires_seconds Seconds until the trust-root version in force expires (negative: expired).\n# TYPE writ_trust_expires_seconds gauge\nwrit_trust_expires_seconds {left}"
            );
        }
        self.selfcheck.render(&mut o);
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_in_the_buckets() {
        let h = Histogram::default();
        assert_eq!(h.view().quantile(0.5), None);
        for ms in [1, 2, 2, 3, 4, 8, 20, 40, 90, 2000] {
            h.observe(Duration::from_millis(ms));
        }
        let v = h.view();
        assert_eq!(v.count, 10);
        assert_eq!(v.per_bucket(), vec![1, 2, 2, 1, 1, 1, 1, 0, 0, 0, 1]);
        let p50 = v.quantile(0.5).unwrap();
        assert!((0.0025..=0.005).contains(&p50), "{p50}");
        assert_eq!(v.quantile(0.99), Some(1.0), "past the last bound: the last bound");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
