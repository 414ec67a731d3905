//! Prometheus text metrics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Issuance latency histogram bounds, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

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
    pub fn new(status: &writ_authority::trust_store::TrustStatus, now: writ_core::Timestamp) -> Self {
        Self {
            version: status.version.unwrap_or(0),
            refused: status.refused.is_some(),
            signed: status.signed,
            expires_in: status.expires.map(|e| e.0.saturating_sub(now.0)),
        }
    }
}

/// Counters kept by the server.
#[derive(Debug, Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, u16), u64>>,
    decisions: Mutex<BTreeMap<String, u64>>,
    approvals: Mutex<BTreeMap<String, u64>>,
    issued: AtomicU64,
    latency_buckets: [AtomicU64; 10],
    latency_sum_us: AtomicU64,
    checkpoint_seen: Mutex<Option<(u64, std::time::Instant)>>,
}

fn bump(m: &Mutex<BTreeMap<String, u64>>, k: &str) {
    let mut g = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    *g.entry(k.to_string()).or_default() += 1;
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
    pub(crate) fn issued(&self, took: Duration) {
        self.issued.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let s = took.as_secs_f64();
        for (b, c) in BUCKETS.iter().zip(self.latency_buckets.iter()) {
            if s <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self, ledger_size: u64, trust: &TrustGauges) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP writ_http_requests_total HTTP requests by route and status.\n# TYPE writ_http_requests_total counter"
        );
        for ((r, s), n) in self.http.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(o, "writ_http_requests_total{{route=\"{r}\",status=\"{s}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "# HELP writ_decisions_total Policy decisions by outcome.\n# TYPE writ_decisions_total counter"
        );
        for (k, n) in self.decisions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(o, "writ_decisions_total{{outcome=\"{k}\"}} {n}");
        }
        let _ =
            writeln!(o, "# HELP writ_approvals_total Approver votes by verdict.\n# TYPE writ_approvals_total counter");
        for (k, n) in self.approvals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(o, "writ_approvals_total{{verdict=\"{k}\"}} {n}");
        }
        let issued = self.issued.load(Ordering::Relaxed);
        let _ = writeln!(
            o,
            "# HELP writ_issued_total Writs issued directly on request.\n# TYPE writ_issued_total counter\nwrit_issued_total {issued}"
        );
        let _ = writeln!(
            o,
            "# HELP writ_issuance_seconds Request-to-writ latency of auto-allowed requests.\n# TYPE writ_issuance_seconds histogram"
        );
        for (b, c) in BUCKETS.iter().zip(self.latency_buckets.iter()) {
            let _ = writeln!(o, "writ_issuance_seconds_bucket{{le=\"{b}\"}} {}", c.load(Ordering::Relaxed));
        }
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            o,
            "writ_issuance_seconds_bucket{{le=\"+Inf\"}} {issued}\nwrit_issuance_seconds_sum {sum}\nwrit_issuance_seconds_count {issued}"
        );
        let _ = writeln!(
            o,
            "# HELP writ_ledger_size Entries covered by the latest checkpoint.\n# TYPE writ_ledger_size gauge\nwrit_ledger_size {ledger_size}"
        );
        let age = {
            let mut g = self.checkpoint_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match *g {
                Some((size, at)) if size == ledger_size => at.elapsed().as_secs_f64(),
                _ => {
                    *g = Some((ledger_size, std::time::Instant::now()));
                    0.0
                }
            }
        };
        let _ = writeln!(
            o,
            "# HELP writ_checkpoint_age_seconds Seconds since this server saw the checkpoint grow.\n# TYPE writ_checkpoint_age_seconds gauge\nwrit_checkpoint_age_seconds {age}"
        );
        let _ = writeln!(
            o,
            "# HELP writ_trust_version Trust-root version in force (0: unsigned legacy trust root).\n# TYPE writ_trust_version gauge\nwrit_trust_version {}",
            trust.version
        );
        let _ = writeln!(
            o,
            "# HELP writ_trust_refused 1 when the trust root on disk was refused and the last good version is kept.\n# TYPE writ_trust_refused gauge\nwrit_trust_refused {}",
            u8::from(trust.refused)
        );
        let _ = writeln!(
            o,
            "# HELP writ_trust_signed 1 when the trust root is signed and versioned.\n# TYPE writ_trust_signed gauge\nwrit_trust_signed {}",
            u8::from(trust.signed)
        );
        if let Some(left) = trust.expires_in {
            let _ = writeln!(
                o,
                "# HELP writ_trust_expires_seconds Seconds until the trust-root version in force expires (negative: expired).\n# TYPE writ_trust_expires_seconds gauge\nwrit_trust_expires_seconds {left}"
            );
        }
        o
    }
}
