//! The lineage index: every ledger entry, decoded, with lookup maps, built
//! from the ledger itself (never the authority's state database) and caught
//! up incrementally on each query.
//!
//! Edges connect the records of one request and one writ in the order the
//! flow produces them (request → decision → approvals → issuance → exec
//! start → exec end; issuance → revocation, denial, child issuance; a
//! parent's issuance (or delegation) → the `delegation` of each recorded
//! child writ, which then stands for the child's issuance; a key
//! change → the issuances and approvals made with that key). Every edge
//! points from a lower ledger index to a higher one, so the graph is acyclic
//! and a layered layout is a longest-path pass in index order.

use std::collections::{BTreeSet, HashMap, VecDeque};

use writ_core::entry::{Entry, EntryKind};
use writ_ledger::Ledger;

/// Entries read from the ledger per batch while catching up.
const CATCH_UP_BATCH: u64 = 1024;
/// Most neighbours a node contributes to a neighbourhood (a key change can
/// touch thousands of writs); the view says how many were left out.
pub const MAX_FANOUT: usize = 32;
/// Most nodes in one neighbourhood view.
pub const MAX_NODES: usize = 160;

/// One indexed record: `None` when the bytes do not decode as an entry.
pub type Slot = Option<Entry>;

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    pub entries: Vec<Slot>,
    by_request: HashMap<String, Vec<u64>>,
    by_writ: HashMap<String, Vec<u64>>,
    issuance: HashMap<String, u64>,
    children: HashMap<String, Vec<u64>>,
    by_key: HashMap<String, Vec<u64>>,
    key_changes: HashMap<String, Vec<u64>>,
    by_requester: HashMap<String, Vec<u64>>,
    by_approver: HashMap<String, Vec<u64>>,
    by_program: HashMap<String, Vec<u64>>,
    /// Request entries, in ledger order (the console's history).
    requests: Vec<u64>,
    /// Denials naming a writ the ledger had not issued before them.
    unissued: Vec<u64>,
}

fn push(m: &mut HashMap<String, Vec<u64>>, k: &str, i: u64) {
    m.entry(k.to_string()).or_default().push(i);
}

impl Index {
    /// Reads the entries the index has not seen yet.
    ///
    /// # Errors
    /// Ledger read errors.
    pub fn catch_up(&mut self, ledger: &Ledger) -> Result<(), writ_ledger::LedgerError> {
        let size = ledger.size();
        while (self.entries.len() as u64) < size {
            let start = self.entries.len() as u64;
            let end = size.min(start + CATCH_UP_BATCH);
            for bytes in ledger.entries(start, end)? {
                self.add(Entry::decode(&bytes).ok());
            }
        }
        Ok(())
    }

    /// Adds the next entry.
    pub fn add(&mut self, e: Slot) {
        let i = self.entries.len() as u64;
        if let Some(e) = &e {
            if let Some(r) = e.request_id() {
                push(&mut self.by_request, r, i);
            }
            if let Some(w) = e.writ_id() {
                push(&mut self.by_writ, w, i);
            }
            match e {
                Entry::Request(r) => {
                    push(&mut self.by_requester, &r.requester, i);
                    self.requests.push(i);
                }
                Entry::Denial(d) => {
                    if let Some(w) = &d.writ_id
                        && !self.issuance.contains_key(w)
                    {
                        self.unissued.push(i);
                    }
                }
                Entry::Approval(a) => {
                    push(&mut self.by_approver, &a.approver, i);
                    push(&mut self.by_key, &a.approver, i);
                }
                Entry::Issuance(is) => {
                    self.issuance.entry(is.writ_id.clone()).or_insert(i);
                    push(&mut self.by_key, &is.issuer, i);
                    if let Some(p) = &is.parent_writ_id {
                        push(&mut self.children, p, i);
                    }
                }
                Entry::Delegation(d) => {
                    // A recorded child: its delegation stands for its issuance.
                    self.issuance.entry(d.writ_id.clone()).or_insert(i);
                    push(&mut self.by_key, &d.holder, i);
                    push(&mut self.children, &d.parent_writ_id, i);
                }
                Entry::ExecStart(x) => push(&mut self.by_program, &x.program_digest.to_string(), i),
                Entry::KeyChange(k) => push(&mut self.key_changes, &k.key_id, i),
                _ => {}
            }
        }
        self.entries.push(e);
    }

    /// Number of entries indexed.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The entry at `i`.
    pub fn get(&self, i: u64) -> Option<&Entry> {
        self.entries.get(usize::try_from(i).ok()?).and_then(Option::as_ref)
    }

    /// Request entries, newest first: page `page` of `per`, and how many
    /// there are.
    pub fn requests_newest(&self, page: usize, per: usize) -> (Vec<u64>, usize) {
        let all = self.requests.iter().rev().skip(page.saturating_mul(per)).take(per).copied().collect();
        (all, self.requests.len())
    }

    /// Denials naming a writ the ledger had not issued before them, oldest first.
    pub fn unissued_denials(&self) -> &[u64] {
        &self.unissued
    }

    /// The entries of a request, in ledger order.
    pub fn of_request(&self, request_id: &str) -> Vec<(u64, &Entry)> {
        self.group(&self.by_request, request_id)
    }

    /// The entries of a writ, in ledger order.
    pub fn of_writ(&self, writ_id: &str) -> Vec<(u64, &Entry)> {
        self.group(&self.by_writ, writ_id)
    }

    /// The issuance entry of a writ.
    pub fn issuance_of(&self, writ_id: &str) -> Option<u64> {
        self.issuance.get(writ_id).copied()
    }

    fn group(&self, m: &HashMap<String, Vec<u64>>, k: &str) -> Vec<(u64, &Entry)> {
        m.get(k).map(|v| v.iter().filter_map(|&i| self.get(i).map(|e| (i, e))).collect()).unwrap_or_default()
    }

    /// Directed edges (from, to) touching `i`, both ways.
    pub fn edges(&self, i: u64) -> Vec<(u64, u64)> {
        let Some(e) = self.get(i) else { return Vec::new() };
        let mut out = Vec::new();
        if let Some(r) = e.request_id() {
            out.extend(self.request_edges(r).into_iter().filter(|&(a, b)| a == i || b == i));
        }
        if let Some(w) = e.writ_id() {
            out.extend(self.writ_edges(w).into_iter().filter(|&(a, b)| a == i || b == i));
        }
        match e {
            Entry::Issuance(is) => {
                if let Some(p) = is.parent_writ_id.as_deref().and_then(|p| self.issuance_of(p)) {
                    out.push((p, i));
                }
                for &c in self.children.get(&is.writ_id).into_iter().flatten() {
                    out.push((i, c));
                }
                for &k in self.key_changes.get(&is.issuer).into_iter().flatten() {
                    out.push((k, i));
                }
            }
            Entry::Delegation(d) => {
                // The delegation edge: parent → child.
                if let Some(p) = self.issuance_of(&d.parent_writ_id).filter(|&p| p < i) {
                    out.push((p, i));
                }
                for &c in self.children.get(&d.writ_id).into_iter().flatten() {
                    out.push((i, c));
                }
            }
            Entry::Approval(a) => {
                for &k in self.key_changes.get(&a.approver).into_iter().flatten() {
                    out.push((k, i));
                }
            }
            Entry::KeyChange(k) => {
                for &j in self.by_key.get(&k.key_id).into_iter().flatten() {
                    out.push((i.min(j), i.max(j)));
                }
            }
            _ => {}
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The flow edges among the records of one request.
    fn request_edges(&self, request_id: &str) -> Vec<(u64, u64)> {
        let g = self.group(&self.by_request, request_id);
        let of = |k: EntryKind| g.iter().filter(move |(_, e)| e.kind() == k).map(|(i, _)| *i);
        let requests: Vec<u64> = of(EntryKind::Request).collect();
        let decisions: Vec<u64> = of(EntryKind::Decision).collect();
        let approvals: Vec<u64> = of(EntryKind::Approval).collect();
        let issuances: Vec<u64> = of(EntryKind::Issuance).collect();
        let mut out = Vec::new();
        let link = |out: &mut Vec<(u64, u64)>, from: &[u64], to: &[u64]| {
            for &a in from {
                for &b in to {
                    if a < b {
                        out.push((a, b));
                    }
                }
            }
        };
        link(&mut out, &requests, &decisions);
        let before_approvals = if decisions.is_empty() { &requests } else { &decisions };
        link(&mut out, before_approvals, &approvals);
        let before_issuance = if !approvals.is_empty() { &approvals } else { before_approvals };
        link(&mut out, before_issuance, &issuances);
        // Denials of the request itself (no writ) hang off the request.
        let denials: Vec<u64> =
            g.iter().filter(|(_, e)| matches!(e, Entry::Denial(d) if d.writ_id.is_none())).map(|(i, _)| *i).collect();
        link(&mut out, &requests, &denials);
        out
    }

    /// The flow edges among the records of one writ: issuance → starts,
    /// revocations, denials; each end pairs with the earliest unpaired start
    /// on the same host before it.
    fn writ_edges(&self, writ_id: &str) -> Vec<(u64, u64)> {
        let g = self.group(&self.by_writ, writ_id);
        let mut out = Vec::new();
        let iss = self.issuance_of(writ_id);
        let mut open: Vec<(u64, &str)> = Vec::new();
        for (i, e) in g {
            match e {
                Entry::ExecStart(s) => {
                    if let Some(x) = iss.filter(|&x| x < i) {
                        out.push((x, i));
                    }
                    open.push((i, &s.host));
                }
                Entry::ExecEnd(end) => {
                    if let Some(pos) = open.iter().position(|(_, h)| *h == end.host) {
                        let (s, _) = open.remove(pos);
                        out.push((s, i));
                    } else if let Some(x) = iss.filter(|&x| x < i) {
                        out.push((x, i));
                    }
                }
                Entry::Revocation(_) | Entry::Denial(_) => {
                    if let Some(x) = iss.filter(|&x| x < i) {
                        out.push((x, i));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The neighbourhood of `focus` within `hops` edges (at most
    /// [`MAX_NODES`] nodes, [`MAX_FANOUT`] neighbours per node): the node
    /// set, the edges among it and how many neighbours were left out.
    pub fn neighbourhood(&self, focus: u64, hops: u32) -> (BTreeSet<u64>, Vec<(u64, u64)>, usize) {
        let mut seen = BTreeSet::new();
        let mut left_out = 0usize;
        if self.get(focus).is_none() {
            return (seen, Vec::new(), 0);
        }
        seen.insert(focus);
        let mut queue = VecDeque::from([(focus, 0u32)]);
        while let Some((n, d)) = queue.pop_front() {
            if d >= hops {
                continue;
            }
            let edges = self.edges(n);
            let mut added = 0usize;
            for (a, b) in edges {
                let m = if a == n { b } else { a };
                if seen.contains(&m) {
                    continue;
                }
                if added >= MAX_FANOUT || seen.len() >= MAX_NODES {
                    left_out += 1;
                    continue;
                }
                added += 1;
                seen.insert(m);
                queue.push_back((m, d + 1));
            }
        }
        let mut edges: Vec<(u64, u64)> =
            seen.iter().flat_map(|&n| self.edges(n)).filter(|(a, b)| seen.contains(a) && seen.contains(b)).collect();
        edges.sort_unstable();
        edges.dedup();
        (seen, edges, left_out)
    }

    /// Entries matching `q` exactly as a writ id, request id, requester,
    /// approver, program digest or key id (issuer, approver or key change),
    /// or — when `q` is empty — every entry; then filtered by the time range
    /// (unix seconds, inclusive) and `kind`. Newest first.
    pub fn search(&self, q: &str, kind: Option<EntryKind>, from: Option<i64>, to: Option<i64>) -> Vec<u64> {
        let q = q.trim();
        let mut hits: Vec<u64> = if q.is_empty() {
            (0..self.len()).collect()
        } else {
            let mut v = Vec::new();
            for m in [
                &self.by_writ,
                &self.by_request,
                &self.by_requester,
                &self.by_approver,
                &self.by_program,
                &self.by_key,
                &self.key_changes,
            ] {
                v.extend(m.get(q).into_iter().flatten().copied());
            }
            if let Ok(i) = q.parse::<u64>()
                && self.get(i).is_some()
            {
                v.push(i);
            }
            v.sort_unstable();
            v.dedup();
            v
        };
        hits.retain(|&i| {
            self.get(i).is_some_and(|e| {
                let t = e.time().unix();
                kind.is_none_or(|k| e.kind() == k) && from.is_none_or(|f| t >= f) && to.is_none_or(|u| t <= u)
            })
        });
        hits.reverse();
        hits
    }

    /// Impact of a key: every issuance it signed, every approval it gave
    /// (with the issuance of the approved request), and — under each such
    /// writ — its runs and child writs, transitively.
    pub fn key_impact(&self, key_id: &str) -> Vec<u64> {
        let mut writs = Vec::new();
        let mut out = BTreeSet::new();
        for &i in self.by_key.get(key_id).into_iter().flatten() {
            out.insert(i);
            match self.get(i) {
                Some(Entry::Issuance(is)) => writs.push(is.writ_id.clone()),
                Some(Entry::Approval(a)) => {
                    for (j, e) in self.group(&self.by_request, &a.request_id) {
                        if let Entry::Issuance(is) = e {
                            out.insert(j);
                            writs.push(is.writ_id.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        for &i in self.key_changes.get(key_id).into_iter().flatten() {
            out.insert(i);
        }
        for w in writs {
            out.extend(self.writ_impact(&w));
        }
        out.into_iter().collect()
    }

    /// Impact of a writ: its issuance, every record under it and its child
    /// writs, transitively (bounded by the format's delegation depth).
    pub fn writ_impact(&self, writ_id: &str) -> Vec<u64> {
        let mut out = BTreeSet::new();
        let mut todo = vec![(writ_id.to_string(), 0u32)];
        while let Some((w, depth)) = todo.pop() {
            for &i in self.by_writ.get(&w).into_iter().flatten() {
                out.insert(i);
            }
            if depth >= writ_core::limits::MAX_DEPTH {
                continue;
            }
            for &c in self.children.get(&w).into_iter().flatten() {
                if let Some(Entry::Issuance(is)) = self.get(c) {
                    todo.push((is.writ_id.clone(), depth + 1));
                }
            }
        }
        out.into_iter().collect()
    }
}

/// One finding of the gap report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Gap {
    /// Stable name of the finding.
    pub kind: &'static str,
    /// The entry it is about.
    pub index: u64,
    /// What is wrong, for people.
    pub detail: String,
}

impl Index {
    /// The gap report over the whole ledger: runs without an end record, runs
    /// after their writ's revocation or expiry, runs under a writ the ledger
    /// never issued, issuances without their request or allow decision or
    /// with fewer approval records than `quorum(writ_id)` says the writ
    /// demands, records from hosts that `known_gate` does not know, and
    /// entries that do not decode.
    pub fn gaps(&self, known_gate: &dyn Fn(&str) -> bool, quorum: &dyn Fn(&str) -> Option<u32>) -> Vec<Gap> {
        let mut out = Vec::new();
        for (i, slot) in self.entries.iter().enumerate() {
            let i = i as u64;
            let Some(e) = slot else {
                out.push(Gap { kind: "undecodable", index: i, detail: "the entry does not decode".into() });
                continue;
            };
            match e {
                Entry::ExecStart(s) => {
                    let t = s.time;
                    match self.issuance_of(&s.writ_id).and_then(|x| self.get(x)) {
                        Some(Entry::Issuance(writ_core::entry::Issuance { not_after, .. }))
                        | Some(Entry::Delegation(writ_core::entry::Delegation { not_after, .. })) => {
                            if t >= *not_after {
                                out.push(Gap {
                                    kind: "run_after_expiry",
                                    index: i,
                                    detail: format!("run started {t}, after the writ expired at {not_after}"),
                                });
                            }
                        }
                        _ => out.push(Gap {
                            kind: "run_without_issuance",
                            index: i,
                            detail: format!("run under writ `{}`, which the ledger never issued", s.writ_id),
                        }),
                    }
                    // A revocation counts when the ledger recorded it before
                    // this start (same-second records are ordered by index).
                    for (j, r) in self.group(&self.by_writ, &s.writ_id) {
                        if let Entry::Revocation(r) = r
                            && j < i
                            && r.time <= t
                        {
                            out.push(Gap {
                                kind: "run_after_revocation",
                                index: i,
                                detail: format!("run started {t}, after the writ was revoked at {}", r.time),
                            });
                        }
                    }
                    if !known_gate(&s.host) {
                        out.push(Gap {
                            kind: "unknown_gate",
                            index: i,
                            detail: format!("recorded by host `{}`, which no gate key of the trust root names", s.host),
                        });
                    }
                }
                Entry::ExecEnd(x) if !known_gate(&x.host) => out.push(Gap {
                    kind: "unknown_gate",
                    index: i,
                    detail: format!("recorded by host `{}`, which no gate key of the trust root names", x.host),
                }),
                Entry::Issuance(is) => {
                    let g = self.group(&self.by_request, &is.request_id);
                    let has = |f: &dyn Fn(&Entry) -> bool| g.iter().any(|(j, e)| *j < i && f(e));
                    if !has(&|e| matches!(e, Entry::Request(_))) {
                        out.push(Gap {
                            kind: "issuance_without_request",
                            index: i,
                            detail: format!(
                                "writ `{}` answers request `{}`, not in the ledger",
                                is.writ_id, is.request_id
                            ),
                        });
                    }
                    if !has(&|e| matches!(e, Entry::Decision(d) if d.allow)) {
                        out.push(Gap {
                            kind: "issuance_without_decision",
                            index: i,
                            detail: format!("writ `{}` has no allow decision before it", is.writ_id),
                        });
                    }
                    if let Some(need) = quorum(&is.writ_id) {
                        let approvers: BTreeSet<&str> = g
                            .iter()
                            .filter(|(j, _)| *j < i)
                            .filter_map(
                                |(_, e)| if let Entry::Approval(a) = e { Some(a.approver.as_str()) } else { None },
                            )
                            .collect();
                        if (approvers.len() as u64) < u64::from(need) {
                            out.push(Gap {
                                kind: "issuance_without_quorum",
                                index: i,
                                detail: format!(
                                    "writ `{}` demands {need} approvals; the ledger records {} before its issuance",
                                    is.writ_id,
                                    approvers.len()
                                ),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        // Runs without an end: starts left unpaired per writ.
        for (w, idxs) in &self.by_writ {
            let mut open: Vec<(u64, &str)> = Vec::new();
            for &i in idxs {
                match self.get(i) {
                    Some(Entry::ExecStart(s)) => open.push((i, &s.host)),
                    Some(Entry::ExecEnd(e)) => {
                        if let Some(p) = open.iter().position(|(_, h)| *h == e.host) {
                            open.remove(p);
                        }
                    }
                    _ => {}
                }
            }
            for (i, h) in open {
                out.push(Gap {
                    kind: "run_without_end",
                    index: i,
                    detail: format!(
                        "run of writ `{w}` on `{h}` has no end record (still running, or its end was lost)"
                    ),
                });
            }
        }
        out.sort_by(|a, b| a.index.cmp(&b.index).then(a.kind.cmp(b.kind)));
        out
    }
}
