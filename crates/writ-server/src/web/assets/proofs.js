// The Proof Viewer: verifies a writ and its receipt in this page.
import { loadCore, pinnedVerifier, checkLog, fetchJson, seenCheckpoint, verifyBadges } from "./common.js";
import { mk, enc, tamperBytes, renderReport } from "./verify.js";

const result = document.getElementById("result");
let core, verifier;
let current = null; // { writ: Uint8Array, receipt: Uint8Array }

async function run(writ, receipt, opts) {
  const t0 = performance.now();
  const r = JSON.parse(verifier.verifyWrit(writ, receipt, Date.now() / 1000));
  const ms = performance.now() - t0;
  const cp = r.receipt && r.receipt.checkpoint && r.receipt.checkpoint_signed ? r.receipt.checkpoint : null;
  let log;
  if (opts && opts.offline) {
    const seen = cp ? seenCheckpoint(cp.origin) : null;
    log = !cp ? null : !seen ? { state: "skip", title: "Consistency with checkpoints seen before", detail: "this browser has seen no checkpoint of this log before" }
      : seen.size === cp.size && seen.root !== cp.root ? { state: "bad", title: "FORK: the log shows a different history", detail: `two roots for size ${cp.size}`, relation: "fork" }
      : { state: "skip", title: "Consistency with checkpoints seen before", detail: "needs a consistency proof from the log; open this writ from the server to check it" };
  } else {
    log = await checkLog(verifier, cp);
  }
  const box = renderReport(r, log, opts);
  box.setAttribute("data-ms", ms.toFixed(2));
  if (log && log.relation) box.setAttribute("data-log", log.relation);
  box.append(mk("p", { class: "hint", text: `Verified in ${ms.toFixed(1)} ms in this page.` }));
  const tools = mk("div", { class: "tamper" }, mk("h3", { text: "Tamper" }),
    mk("p", { class: "hint", text: "Flip one byte and verify again, to see the denial code the core gives (the same as `writ verify`)." }));
  const tw = mk("button", { type: "button", id: "tamper-writ", text: "Flip a byte of the writ" });
  tw.addEventListener("click", () => tamper("writ"));
  tools.append(tw);
  if (current.receipt.length) {
    const tr = mk("button", { type: "button", id: "tamper-receipt", text: "Flip a byte of the receipt" });
    tr.addEventListener("click", () => tamper("receipt"));
    tools.append(" ", tr);
  }
  if (opts && opts.tampered) {
    const back = mk("button", { type: "button", id: "untamper", class: "secondary", text: "Verify the original again" });
    back.addEventListener("click", () => run(current.writ, current.receipt, { offline: opts.offline }));
    tools.append(" ", back);
  }
  box.append(tools);
  result.replaceChildren(box);
  return r;
}

function tamper(which) {
  const t = tamperBytes(which === "writ" ? current.writ : current.receipt, which);
  const writ = which === "writ" ? t.bytes : current.writ;
  const receipt = which === "receipt" ? t.bytes : current.receipt;
  document.body.dataset.tampered = btoa(String.fromCharCode(...t.bytes));
  run(writ, receipt, { tampered: { which, pos: t.pos, from: t.from, to: t.to }, offline: true });
}

function show(writ, receipt, opts) {
  current = { writ, receipt };
  return run(writ, receipt, opts);
}

function error(text) {
  result.replaceChildren(mk("p", { class: "notice bad", role: "alert", text }));
}

async function fromBundle(b, offline) {
  if (b.trust && !verifier) {
    verifier = new core.Verifier(b.trust);
  }
  if (!b.writ) {
    // Not an issuance (or the authority no longer holds the writ): check
    // the entry's inclusion proof only.
    const res = JSON.parse(verifier.verifyEntry(Uint8Array.from(atob(b.entry), (c) => c.charCodeAt(0)), enc.encode(b.proof)));
    const box = mk("section", { class: `card report ${res.ok ? "ok" : "bad"}`, id: "report", "data-verdict": res.ok ? "included" : "deny" },
      mk("h2", { text: res.ok ? `Entry #${b.index} is in the log` : "Inclusion proof failed" }),
      mk("p", { text: res.ok ? `Inclusion proof against the checkpoint of size ${res.size} (origin ${res.origin}), signed by a pinned ledger key.` : res.error }),
      mk("p", { class: "hint", text: "No writ envelope is attached to this entry, so only its inclusion was verified." }));
    result.replaceChildren(box);
    return;
  }
  await show(enc.encode(b.writ), enc.encode(b.receipt || ""), { offline });
}

async function readFiles(files) {
  let writ = null, receipt = null, bundle = null;
  for (const f of files) {
    const text = await f.text();
    if (text.startsWith("c2sp.org/tlog-proof@v1")) { receipt = text; continue; }
    let j = null;
    try { j = JSON.parse(text); } catch { /* not JSON */ }
    if (j && j.format === "writ-proof-bundle/v1") bundle = j;
    else if (j && j.payloadType) writ = text;
    else if (j && j.version !== undefined && j.keys) {
      error("That is a trust root: pin trust roots in the Trust root box (or open a bundle, which carries one).");
      return;
    } else { error(`\`${f.name}\` is neither a writ, a receipt (.tlog-proof) nor a proof bundle`); return; }
  }
  if (!verifier) { error("Pin a trust root first."); return; }
  if (bundle) return fromBundle(bundle, true);
  if (!writ) { error("Add the writ file (.writ.json) as well as its receipt."); return; }
  await show(enc.encode(writ), enc.encode(receipt || ""), { offline: false });
}

async function main() {
  try {
    core = await loadCore();
  } catch (e) {
    error(`The WebAssembly verifier did not load: ${e}`);
    return;
  }
  document.body.dataset.core = "ready";
  const input = document.getElementById("files");
  const drop = document.getElementById("drop");
  input.addEventListener("change", () => readFiles([...input.files]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); readFiles([...e.dataTransfer.files]); });
  document.getElementById("verify-paste").addEventListener("click", () => {
    const w = document.getElementById("paste-writ").value.trim();
    const r = document.getElementById("paste-receipt").value;
    if (!w) { error("Paste a writ first."); return; }
    show(enc.encode(w), enc.encode(r.trim() ? r.replace(/\r\n/g, "\n") : ""), { offline: false });
  });
  verifier = await pinnedVerifier(core);
  const subject = document.getElementById("subject");
  if (verifier) await verifyBadges(verifier);
  if (verifier && subject && subject.dataset.bundle) {
    try {
      await fromBundle(await fetchJson(subject.dataset.bundle), false);
    } catch (e) {
      error(`Could not fetch the proof bundle: ${e.message || e}`);
    }
  }
  document.body.dataset.ready = "true";
}

main();
