// Verification of a writ + receipt with writ-core (WebAssembly) and the
// rendering of its report. Shared by the Proof Viewer and the offline page
// that `writ proofs export` writes, so it imports nothing: callers pass the
// parsed `Verifier`. DOM is built with textContent only (no HTML from data).

export function mk(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(typeof k === "string" ? document.createTextNode(k) : k);
  }
  return e;
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export function b64ToBytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// Flips one byte of a writ (a base64 letter in the middle of the signed
// payload, so the JSON stays well-formed and the signature check decides)
// or of a receipt (a letter of the first inclusion hash, or of the
// checkpoint signature when the proof has no hashes).
export function tamperBytes(bytes, which) {
  const text = dec.decode(bytes);
  let pos = -1;
  if (which === "writ") {
    const m = /"payload"\s*:\s*"/.exec(text);
    if (m) {
      const start = m.index + m[0].length;
      const end = text.indexOf('"', start);
      pos = start + Math.floor((end - start) / 2);
    }
  } else {
    const idx = text.search(/\nindex \d+\n/);
    if (idx >= 0) {
      const after = text.indexOf("\n", idx + 1) + 1;
      pos = text[after] === "\n" ? text.lastIndexOf(" ") + 5 : after + 3;
    }
  }
  if (pos < 0 || pos >= bytes.length) pos = Math.floor(bytes.length / 2);
  const out = new Uint8Array(bytes);
  const from = out[pos];
  out[pos] = from === 0x41 ? 0x42 : 0x41; // 'A' <-> 'B' (both base64 letters)
  return { bytes: out, pos, from: String.fromCharCode(from), to: String.fromCharCode(out[pos]) };
}

function dur(secs) {
  if (secs === undefined || secs === null) return null;
  if (secs % 3600 === 0 && secs >= 3600) return `${secs / 3600} h`;
  if (secs % 60 === 0 && secs >= 60) return `${secs / 60} min`;
  return `${secs} s`;
}

function bytesH(n) {
  if (n === undefined || n === null) return null;
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(0)} MiB`;
  return `${n} bytes`;
}

function argRule(r) {
  if (typeof r === "string") return r;
  if (r.exact !== undefined) return r.exact;
  if (r.glob !== undefined) return `${r.glob} (pattern)`;
  if (r.one_of !== undefined) return `one of ${r.one_of.join(", ")}`;
  if (r.file !== undefined) return `${r.file.path} (file with sha256 ${r.file.sha256.slice(0, 12)}…)`;
  return JSON.stringify(r);
}

// The scope, for people: what may run, where, for how long, within which limits.
export function scopeList(st) {
  const p = st.predicate;
  const s = p.scope;
  const items = [];
  for (const a of s.actions || []) {
    if (a.exec) {
      const args = (a.exec.args || []).map(argRule);
      items.push(`Run ${a.exec.program} (sha256 ${a.exec.sha256})` + (args.length ? ` with arguments ${args.join(" ")}` : " with no arguments") +
        (a.exec.more_args ? ", and more arguments" : ", nothing more"));
    } else if (a.http) {
      items.push(`HTTP ${a.http.method} ${a.http.path}`);
    } else if (a.tool) {
      items.push(`Call tool ${a.tool.name}`);
    } else {
      items.push(`Action ${JSON.stringify(a)}`);
    }
  }
  const env = s.environment || {};
  if (env.hosts) items.push(`Only on hosts: ${env.hosts.join(", ")}`);
  if (env.labels && env.labels.length) items.push(`Only on hosts labelled: ${env.labels.join(", ")}`);
  if (env.cwd) items.push(`Working directory: ${env.cwd}`);
  const vars = Object.entries(env.env || {});
  items.push(vars.length ? `Environment: ${vars.map(([k, v]) => (v === null ? `${k} (any value)` : `${k}=${v}`)).join(", ")}` : "Environment: empty");
  const b = s.boundaries || {};
  const lim = [
    b.wall_clock_secs != null && `wall clock ${dur(b.wall_clock_secs)}`,
    b.cpu_secs != null && `CPU ${dur(b.cpu_secs)}`,
    b.memory_bytes != null && `memory ${bytesH(b.memory_bytes)}`,
    b.processes != null && `${b.processes} processes`,
    b.open_files != null && `${b.open_files} open files`,
    b.file_size_bytes != null && `files up to ${bytesH(b.file_size_bytes)}`,
    b.network != null && (b.network ? "network allowed" : "no network"),
    b.fs_read && `reads only ${b.fs_read.join(", ")}`,
    b.fs_write && `writes only ${b.fs_write.join(", ")}`,
  ].filter(Boolean);
  items.push(lim.length ? `Boundaries: ${lim.join("; ")}` : "Boundaries: none beyond the gate's defaults");
  items.push(s.uses != null ? `At most ${s.uses} use${s.uses === 1 ? "" : "s"}` : "Any number of uses within the validity window");
  items.push(s.offline ? "May run without contacting the authority" : "Must reach the authority to run");
  items.push(`Valid from ${p.validity.not_before} until ${p.validity.not_after}`);
  if (p.lineage && p.lineage.parent) items.push(`Child of writ ${p.lineage.parent.id} (depth ${p.lineage.depth})`);
  return items;
}

// One verification step of the report.
function step(state, title, detail) {
  const mark = { ok: "✓", bad: "✗", skip: "–", warn: "!" }[state];
  const label = { ok: "verified", bad: "failed", skip: "not verified", warn: "warning" }[state];
  return mk("li", { class: `step ${state}` }, mk("span", { class: "mark", "aria-hidden": "true", text: mark }),
    mk("span", { class: "sr", text: `${label}: ` }), mk("b", { text: title }), detail ? mk("span", { class: "detail", text: ` — ${detail}` }) : null);
}

// Builds the report element. `r` is the JSON of Verifier.verifyWrit;
// `log` what the consistency check found ({state, title, detail}).
export function renderReport(r, log, opts) {
  const allow = r.verdict === "allow";
  // A writ whose signatures verify is still not "verified" when the log it
  // is in shows a rollback or a fork: the headline says so, never green.
  const logBad = Boolean(log && log.state === "bad");
  const good = allow && !logBad;
  const box = mk("section", { class: `card report ${good ? "ok" : "bad"}`, id: "report", "aria-labelledby": "report-h", "data-verdict": r.verdict, "data-code": r.code || "" });
  box.append(mk("h2", { id: "report-h" }, good ? "Verified" : allow ? `Not trustworthy: ${log.title}` : "Denied", allow ? "" : mk("span", {}, ": ", mk("code", { class: "code", id: "denial-code", text: r.code }))));
  if (opts && opts.tampered) {
    box.append(mk("p", { class: "notice warn", id: "tamper-note", text: `Tampered copy: byte ${opts.tampered.pos} of the ${opts.tampered.which} changed from “${opts.tampered.from}” to “${opts.tampered.to}”. \`writ verify\` gives the same code for these bytes.` }));
  }
  if (!allow) box.append(mk("p", { class: "detail", text: `${r.detail}${r.hint ? ` (${r.hint})` : ""}` }));
  const steps = mk("ul", { class: "steps" });
  const rc = r.receipt;
  if (allow) {
    steps.append(step("ok", "Issuer signature", `DSSE signature by ${r.signer.name || "?"} (key ${r.signer.id}) checked against the pinned trust root`));
    const need = r.approvals_required;
    steps.append(step("ok", "Approvals", need === 0 ? "policy demanded no approvals" :
      `${r.approvers.length} of ${need} required approval signatures verified: ${r.approvers.map((a) => a.name || a.id).join(", ")}` + (r.approver_group ? ` (group ${r.approver_group})` : "")));
    steps.append(step("ok", "Validity", `valid now; from ${r.validity.not_before} to ${r.validity.not_after}`));
  } else {
    steps.append(step("bad", "Writ", `verification stopped at the first failure: ${r.code}`));
  }
  if (!rc) {
    steps.append(step("skip", "Ledger receipt", "no receipt was given, so nothing shows this writ is in the public ledger"));
  } else if (allow) {
    steps.append(step("ok", "Receipt inclusion proof", `issuance entry #${rc.index} is in the ledger's tree of size ${rc.checkpoint ? rc.checkpoint.size : "?"} (${rc.hashes} proof hashes)`));
    steps.append(step("ok", "Checkpoint signature", `signed by the ledger key ${rc.checkpoint ? rc.checkpoint.origin : ""} of the pinned trust root`));
  } else {
    steps.append(step(rc.checkpoint_signed ? "ok" : "bad", "Checkpoint signature", rc.checkpoint_signed ? "the receipt's checkpoint is signed by a pinned ledger key" : "the receipt's checkpoint is not signed by a pinned ledger key"));
  }
  if (log) steps.append(step(log.state, log.title, log.detail));
  box.append(steps);
  if (allow) {
    box.append(mk("h3", { text: "What this writ allows" }));
    box.append(mk("ul", { class: "scope" }, scopeList(r.statement).map((t) => mk("li", { text: t }))));
    const p = r.statement.predicate;
    box.append(mk("dl", { class: "facts" },
      mk("dt", { text: "Writ id" }), mk("dd", {}, mk("code", { text: r.writ_id })),
      mk("dt", { text: "Requested by" }), mk("dd", { text: `${p.request.requester_name} (request ${p.request.id})` }),
      mk("dt", { text: "Reason" }), mk("dd", { class: "reason", text: p.request.reason || "—" }),
      mk("dt", { text: "Policy" }), mk("dd", { text: `${p.policy.id}: ${p.policy.decision}, by ${(p.policy.determining_policies || []).join(", ") || "—"}` }),
      mk("dt", { text: "Envelope sha256" }), mk("dd", {}, mk("code", { text: r.envelope_sha256 }))));
  }
  box.append(mk("h3", { text: "What this page did not verify" }));
  box.append(mk("ul", { class: "not" },
    mk("li", { text: "Revocation: only the authority's signed status (what the gate asks for) says whether the writ was revoked since; the Lineage Explorer shows revocations in the ledger." }),
    mk("li", { text: "Uses left and single-use consumption: counted by the authority at run time." }),
    mk("li", { text: "That the program, arguments, environment and host of a run match the scope: the gate checks those when it runs." }),
    mk("li", { text: "Runtime conditions: the writ carries digests of the evidence the authority checked, not the evidence." }),
    mk("li", { text: "That the pinned trust root is the right one: compare its digest with one you obtained independently." })));
  return box;
}
