//! Layered layout of a lineage neighbourhood, computed here and drawn as
//! server-side SVG (readable without JavaScript; the page's script only adds
//! verify badges).
//!
//! Layers: every edge points to a higher ledger index, so one pass in index
//! order gives each node its longest-path depth from the neighbourhood's
//! sources. Within a layer, nodes are ordered by the mean position of their
//! predecessors (one barycentre sweep), ties by index.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use writ_core::entry::Entry;

use super::html::esc;

/// A placed node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Placed {
    pub index: u64,
    pub layer: u32,
    pub x: u32,
    pub y: u32,
}

pub const NODE_W: u32 = 168;
pub const NODE_H: u32 = 52;
const GAP_X: u32 = 24;
const GAP_Y: u32 = 44;
const PAD: u32 = 12;

/// Places `nodes` given `edges` (from < to).
pub fn layout(nodes: &BTreeSet<u64>, edges: &[(u64, u64)]) -> Vec<Placed> {
    let mut preds: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &(a, b) in edges {
        preds.entry(b).or_default().push(a);
    }
    let mut layer: BTreeMap<u64, u32> = BTreeMap::new();
    for &n in nodes {
        let l = preds.get(&n).into_iter().flatten().filter_map(|p| layer.get(p)).map(|l| l + 1).max().unwrap_or(0);
        layer.insert(n, l);
    }
    let mut rows: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (&n, &l) in &layer {
        rows.entry(l).or_default().push(n);
    }
    let mut pos: BTreeMap<u64, f64> = BTreeMap::new();
    let mut out = Vec::with_capacity(nodes.len());
    for (&l, row) in &mut rows {
        let key = |n: &u64| {
            let ps: Vec<f64> = preds.get(n).into_iter().flatten().filter_map(|p| pos.get(p)).copied().collect();
            if ps.is_empty() { f64::MAX } else { ps.iter().sum::<f64>() / ps.len() as f64 }
        };
        let mut keyed: Vec<(f64, u64)> = row.iter().map(|n| (key(n), *n)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (slot, (_, n)) in keyed.into_iter().enumerate() {
            let slot = u32::try_from(slot).unwrap_or(u32::MAX / 2);
            pos.insert(n, f64::from(slot));
            out.push(Placed {
                index: n,
                layer: l,
                x: PAD + slot.saturating_mul(NODE_W + GAP_X),
                y: PAD + l.saturating_mul(NODE_H + GAP_Y),
            });
        }
    }
    out
}

/// One line of text naming an entry for a node label.
pub fn label(e: &Entry) -> (String, String) {
    let short = |s: &str| {
        if s.chars().count() > 19 { format!("{}…", s.chars().take(18).collect::<String>()) } else { s.to_string() }
    };
    match e {
        Entry::Request(r) => ("request".into(), short(&r.requester)),
        Entry::Decision(d) => (if d.allow { "decision: allow" } else { "decision: deny" }.into(), short(&d.policy_id)),
        Entry::Approval(a) => ("approval".into(), short(&a.approver)),
        Entry::Issuance(i) => {
            (if i.parent_writ_id.is_some() { "child writ" } else { "writ" }.into(), short(&i.writ_id))
        }
        Entry::Revocation(r) => ("revocation".into(), short(&r.revoked_by)),
        Entry::ExecStart(s) => ("exec start".into(), short(&s.host)),
        Entry::ExecEnd(x) => (
            "exec end".into(),
            short(&format!("{} {}", x.outcome, x.exit_code.map(|c| c.to_string()).unwrap_or_default())),
        ),
        Entry::Denial(d) => ("denial".into(), short(&d.code)),
        Entry::KeyChange(k) => (format!("key {}", k.change), short(&k.key_id)),
        Entry::PolicyChange(p) => ("policy change".into(), short(&p.policy_id)),
        Entry::Delegation(d) => (format!("delegated writ (depth {})", d.depth), short(&d.writ_id)),
    }
}

/// The SVG of a placed neighbourhood. Each node links to its own focus view
/// (`href(index)`), carries its kind as a class and a verify badge
/// (`data-index`) that the page's script fills in.
pub fn svg(
    placed: &[Placed],
    edges: &[(u64, u64)],
    focus: u64,
    entry: &dyn Fn(u64) -> Option<Entry>,
    href: &dyn Fn(u64) -> String,
) -> String {
    let at: BTreeMap<u64, &Placed> = placed.iter().map(|p| (p.index, p)).collect();
    let w = placed.iter().map(|p| p.x + NODE_W + PAD).max().unwrap_or(200);
    let h = placed.iter().map(|p| p.y + NODE_H + PAD).max().unwrap_or(80);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"group\" aria-label=\"Lineage graph, {} records\">",
        placed.len()
    );
    for (a, b) in edges {
        let (Some(pa), Some(pb)) = (at.get(a), at.get(b)) else { continue };
        let (x1, y1) = (pa.x + NODE_W / 2, pa.y + NODE_H);
        let (x2, y2) = (pb.x + NODE_W / 2, pb.y);
        let my = (y1 + y2) / 2;
        let _ = write!(s, "<path class=\"edge\" d=\"M{x1} {y1} C{x1} {my} {x2} {my} {x2} {y2}\"/>");
    }
    for p in placed {
        let Some(e) = entry(p.index) else { continue };
        let (kind, detail) = label(&e);
        let class = e.kind().as_str();
        let f = if p.index == focus { " focus" } else { "" };
        let _ = write!(
            s,
            "<a href=\"{href}\" class=\"node {class}{f}\" data-index=\"{i}\"><title>#{i} {kindt} {time}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\"/>\
             <text x=\"{tx}\" y=\"{ty1}\" class=\"k\">#{i} {kindt}</text>\
             <text x=\"{tx}\" y=\"{ty2}\" class=\"d\">{detail}</text>\
             <circle class=\"badge\" data-index=\"{i}\" cx=\"{bx}\" cy=\"{by}\" r=\"6\"><title>inclusion not checked yet</title></circle></a>",
            href = esc(&href(p.index)),
            i = p.index,
            kindt = esc(&kind),
            time = esc(&e.time().to_string()),
            detail = esc(&detail),
            x = p.x,
            y = p.y,
            tx = p.x + 10,
            ty1 = p.y + 20,
            ty2 = p.y + 39,
            bx = p.x + NODE_W - 12,
            by = p.y + 12,
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_longest_paths() {
        let nodes: BTreeSet<u64> = [0, 1, 2, 3].into_iter().collect();
        let p = layout(&nodes, &[(0, 1), (1, 2), (0, 2), (2, 3)]);
        let layers: Vec<u32> = p.iter().map(|p| p.layer).collect();
        assert_eq!(layers, vec![0, 1, 2, 3]);
    }
}
