// The Runtime Governance Demo, live: polls /demo/steps.json and redraws the
// steps (the same markup the server renders; text only, via textContent).
import { mk } from "./verify.js";

const MARKS = { pending: ["·", "to come"], running: ["▶", "running"], waiting: ["…", "waiting for approvals"], done: ["✓", "as expected"], failed: ["✗", "NOT as expected"] };

function stepNode(s) {
  const [mark, label] = MARKS[s.state] || ["?", s.state];
  const links = [];
  const link = (href, cls, text) => { if (href) links.push(mk("a", { href, class: cls, text })); };
  link(s.console_url, "console-link", "Request in the console");
  link(s.proof_url, "proof-link", "Proof");
  link(s.lineage_url, "lineage-link", "Lineage");
  const joined = [];
  links.forEach((a, i) => { if (i) joined.push(" · "); joined.push(a); });
  return mk("li", { class: `demo-step ${s.state}`, id: `step-${s.n}`, "data-state": s.state },
    mk("div", { class: "head" }, mk("span", { class: "mark", "aria-hidden": "true", text: mark }), mk("span", { class: "n", text: String(s.n) }),
      mk("h2", { text: s.title }), mk("span", { class: "state", text: label })),
    mk("p", { class: "story", text: s.story }),
    mk("p", { class: "verdicts" }, "Expected ", mk("b", { class: "expect", text: s.expect }),
      s.verdict ? [" · got ", mk("b", { class: "verdict", text: s.verdict })] : null),
    s.detail ? mk("p", { class: "detail", text: s.detail }) : null,
    joined.length ? mk("p", { class: "links" }, joined) : null);
}

function summary(f) {
  const done = f.steps.filter((s) => s.state === "done" || s.state === "failed").length;
  if (f.finished && f.ok) return [`Finished: all ${f.steps.length} steps ended as expected.`, "ok"];
  if (f.finished) return ["Finished: some steps did NOT end as expected (marked ✗).", "bad"];
  return [`Playing: ${done} of ${f.steps.length} steps done.`, ""];
}

async function poll() {
  const list = document.getElementById("demo-steps");
  const sum = document.getElementById("demo-summary");
  if (!list || !sum) return;
  let seq = Number(list.dataset.seq);
  for (;;) {
    try {
      const r = await fetch("/demo/steps.json", { cache: "no-store" });
      if (r.ok) {
        const f = await r.json();
        if (f.seq !== seq) {
          seq = f.seq;
          list.dataset.seq = String(seq);
          list.replaceChildren(...f.steps.map(stepNode));
          const [text, cls] = summary(f);
          sum.textContent = text;
          sum.className = `demo-summary ${cls}`;
          sum.dataset.finished = String(f.finished);
          const note = document.getElementById("demo-note");
          if (note && f.note) note.textContent = f.note;
        }
        if (f.finished) return;
      }
    } catch { /* the demo may be starting or gone: keep trying */ }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

poll();
