// Shared by the served pages: loads writ-core (WebAssembly), keeps the
// pinned trust root and the newest checkpoint this browser saw
// (localStorage), and checks the log's consistency with it.
import init, * as core from "./writ_wasm.js";
import { mk, b64ToBytes } from "./verify.js";

const TRUST_KEY = "writ.trust.v1";
const seenKey = (origin) => `writ.seen.v1.${origin}`;

export async function loadCore() {
  await init({ module_or_path: "/web/assets/writ_wasm_bg.wasm" });
  return core;
}

async function fetchText(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.text();
}

export async function fetchJson(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(body && body.error ? body.error.message : `${url}: HTTP ${r.status}`);
  return body;
}

function copyButton(text) {
  const b = mk("button", { type: "button", class: "small", text: "Copy" });
  b.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(text); b.textContent = "Copied"; } catch { b.textContent = "Select and copy"; }
  });
  return b;
}

// Resolves to a Verifier over the pinned trust root, asking the user to pin
// one first. The pin is the root's text and its SHA-256; once pinned, the
// server's copy is only compared, never used.
export async function pinnedVerifier(c) {
  const status = document.getElementById("trust-status");
  const controls = document.getElementById("trust-controls");
  let served = null;
  try { served = await fetchText("/v1/trust/document"); } catch { /* shown below */ }
  const servedDigest = served ? c.sha256Hex(new TextEncoder().encode(served)) : null;
  const pinned = JSON.parse(localStorage.getItem(TRUST_KEY) || "null");
  if (pinned && c.sha256Hex(new TextEncoder().encode(pinned.text)) === pinned.digest) {
    const v = new c.Verifier(pinned.text);
    status.replaceChildren("Pinned trust root ", mk("code", { id: "pinned-digest", text: pinned.digest }), " ", copyButton(pinned.digest));
    const unpin = mk("button", { type: "button", class: "small", id: "unpin", text: "Unpin" });
    unpin.addEventListener("click", () => { localStorage.removeItem(TRUST_KEY); location.reload(); });
    controls.replaceChildren(unpin);
    if (servedDigest && servedDigest !== pinned.digest) {
      controls.prepend(mk("p", { class: "notice warn", id: "trust-changed", text: `The server now serves a different trust root (sha256 ${servedDigest}). Your pin is kept; unpin only if you know why it changed.` }));
    }
    return v;
  }
  if (!served) {
    status.textContent = "No trust root is pinned and the server offers none: drop a bundle (it carries one) or a trust.json.";
    return null;
  }
  status.replaceChildren("No trust root is pinned. The server offers one with sha256 ", mk("code", { id: "served-digest", text: servedDigest }), " ", copyButton(servedDigest));
  return new Promise((resolve) => {
    const input = mk("input", { id: "expect-digest", spellcheck: "false", autocomplete: "off" });
    const check = mk("button", { type: "button", id: "pin-checked", text: "Pin if it matches" });
    const trustAnyway = mk("button", { type: "button", id: "pin", class: "secondary", text: "Pin the offered root" });
    const msg = mk("p", { role: "alert" });
    const pin = () => {
      localStorage.setItem(TRUST_KEY, JSON.stringify({ digest: servedDigest, text: served }));
      controls.replaceChildren();
      status.replaceChildren("Pinned trust root ", mk("code", { id: "pinned-digest", text: servedDigest }), " ", copyButton(servedDigest));
      resolve(new c.Verifier(served));
    };
    check.addEventListener("click", () => {
      if (input.value.trim().toLowerCase() === servedDigest) pin();
      else msg.textContent = "That digest does not match the offered trust root: not pinned.";
    });
    trustAnyway.addEventListener("click", pin);
    controls.replaceChildren(
      mk("label", { for: "expect-digest", text: "The trust root digest you expect (e.g. from your operator)" }), input, check,
      mk("p", { class: "hint", text: "Or pin what the server offers now (trust on first use): later changes are then detected." }), trustAnyway, msg);
  });
}

export function seenCheckpoint(origin) {
  return JSON.parse(localStorage.getItem(seenKey(origin)) || "null");
}

function remember(cp, note) {
  localStorage.setItem(seenKey(cp.origin), JSON.stringify({ size: cp.size, root: cp.root, note }));
}

async function consistencyProof(oldSize, newSize) {
  const p = await fetchJson(`/v1/public/consistency?old=${oldSize}&new=${newSize}`);
  return p.proof.join("\n");
}

// Checks the log's newest checkpoint (and the receipt's, when given)
// against the newest checkpoint this browser saw before; returns a report
// step and remembers the newest checkpoint when consistent.
export async function checkLog(v, receiptCp) {
  let note, cp;
  try {
    note = await fetchText("/v1/log/checkpoint");
    cp = JSON.parse(v.openCheckpoint(new TextEncoder().encode(note)));
  } catch (e) {
    cp = { ok: false, error: String(e.message || e) };
  }
  if (!cp.ok) {
    return { state: "skip", title: "Consistency with checkpoints seen before", detail: `the log's newest checkpoint could not be checked: ${cp.error}` };
  }
  const seen = seenCheckpoint(cp.origin);
  const enc = new TextEncoder();
  if (seen) {
    let proof = "";
    if (cp.size > seen.size) proof = await consistencyProof(seen.size, cp.size).catch(() => "");
    const rel = JSON.parse(v.checkConsistency(seen.size, seen.root, enc.encode(note), proof));
    if (!rel.ok) {
      document.body.classList.add("log-alarm");
      return { state: "bad", title: rel.relation === "rollback" ? "ROLLBACK: the log went back" : rel.relation === "fork" ? "FORK: the log shows a different history" : "Log consistency not verified", detail: `${rel.error}. This browser saw size ${seen.size} with root ${seen.root} before.`, relation: rel.relation };
    }
  }
  if (receiptCp && receiptCp.size <= cp.size) {
    let proof = "";
    if (receiptCp.size < cp.size) proof = await consistencyProof(receiptCp.size, cp.size).catch(() => "");
    const rel = JSON.parse(v.checkConsistency(receiptCp.size, receiptCp.root, enc.encode(note), proof));
    if (!rel.ok) {
      document.body.classList.add("log-alarm");
      return { state: "bad", title: "FORK: the receipt's checkpoint is not in the log's history", detail: rel.error, relation: "fork" };
    }
  }
  const before = seen ? `extends the one of size ${seen.size} this browser saw before` : "first checkpoint this browser has seen from this log; remembered for next time";
  remember(cp, note);
  return { state: "ok", title: "Consistency with checkpoints seen before", detail: `the log's newest checkpoint (size ${cp.size}) ${before}` + (receiptCp ? `; the receipt's checkpoint (size ${receiptCp.size}) is part of it` : ""), relation: seen ? "extends" : "first" };
}

// Fills every verify badge ([data-index]) on the page: fetches the entry's
// proof bundle and checks its inclusion proof and checkpoint signature here.
export async function verifyBadges(v) {
  const badges = [...document.querySelectorAll(".badge[data-index]")];
  const byIndex = new Map();
  for (const b of badges) {
    const i = b.getAttribute("data-index");
    if (!byIndex.has(i)) byIndex.set(i, []);
    byIndex.get(i).push(b);
  }
  let ok = 0, bad = 0;
  await Promise.all([...byIndex.entries()].map(async ([i, els]) => {
    let res;
    try {
      const bundle = await fetchJson(`/v1/public/bundle/${i}`);
      res = JSON.parse(v.verifyEntry(b64ToBytes(bundle.entry), new TextEncoder().encode(bundle.proof)));
    } catch (e) {
      res = { ok: false, error: String(e.message || e) };
    }
    res.ok ? ok++ : bad++;
    for (const el of els) {
      el.classList.add(res.ok ? "ok" : "bad");
      const text = res.ok ? `in log (tree size ${res.size})` : `not proven: ${res.error}`;
      if (el.tagName.toLowerCase() === "circle") {
        const t = el.querySelector("title");
        if (t) t.textContent = text;
      } else {
        el.textContent = res.ok ? "✓ in log" : "✗ not proven";
        el.title = text;
      }
    }
  }));
  document.body.setAttribute("data-badges", `${ok}/${ok + bad}`);
  return { ok, bad };
}
