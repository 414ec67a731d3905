// The Governance Console. Sign-in is proof of possession of a key of the
// pinned trust root: an Ed25519 key file read into this page's memory
// (never uploaded; every call is signed with RFC 9421 as `writ` signs it),
// or a passkey (WebAuthn). Every vote, revocation and request is signed
// here by that key. Server HTML (the queue and the card) is rendered and
// escaped by the server; everything this script adds is textContent.
import { loadCore, pinnedVerifier } from "./common.js";
import { mk, b64ToBytes, enc } from "./verify.js";

const $ = (id) => document.getElementById(id);
const b64 = (bytes) => { let s = ""; for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b); return btoa(s); };
const b64url = (bytes) => b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromB64url = (s) => b64ToBytes(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
// RFC 3339 UTC, whole seconds: what an approval signs.
const nowRfc3339 = () => new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000Z", "Z");

// DSSE PAE, as writ_core::dsse::pae: "DSSEv1 <len type> <type> <len body> <body>".
function pae(type, body) {
  const b = enc.encode(body);
  const head = enc.encode(`DSSEv1 ${enc.encode(type).length} ${type} ${b.length} `);
  const out = new Uint8Array(head.length + b.length);
  out.set(head); out.set(b, head.length);
  return out;
}
// writ_core::approval::signing_input (v2).
const approvalInput = (digestHex, verdict, time) =>
  pae("application/vnd.writ.approval.v2", `${verdict} sha256:${digestHex} ${time}`);
// The console's passkey revocation input (crates/writ-server/src/web/console.rs, revoke_input).
const revokeInput = async (writId, time, reason) =>
  pae("application/vnd.writ.console-revoke.v1", `revoke ${writId} ${time} sha256:${hex(await sha256(enc.encode(reason)))}`);

let trust = null;   // the pinned trust root document
let signer = null;  // { kind: "ed25519", keyId, key } | { kind: "passkey", keyId, entry }
let me = null;

function say(id, text, cls) {
  const e = $(id);
  e.textContent = text;
  e.className = cls || "";
}

// ---- Ed25519: key file, RFC 9421 signatures ----

const PKCS8_ED25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

async function loadKeyFile(text) {
  const t = text.trim();
  if (t.startsWith("ed25519-public ") || t.startsWith("ed25519 ")) throw new Error("this is a public key file; choose the private key (the file without .pub)");
  if (!t.startsWith("ed25519-secret ")) throw new Error("not a writ private key file (expected `ed25519-secret <base64>` from `writ keygen`)");
  const seed = b64ToBytes(t.slice("ed25519-secret ".length));
  if (seed.length !== 32) throw new Error("a private key seed is 32 bytes");
  const pkcs8 = new Uint8Array(48); pkcs8.set(PKCS8_ED25519); pkcs8.set(seed, 16);
  const extractable = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  const key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x }, { name: "Ed25519" }, false, ["sign"]);
  seed.fill(0); pkcs8.fill(0);
  const keyId = hex(await sha256(fromB64url(jwk.x)));
  const entry = (trust.keys || []).find((k) => k.key_id === keyId);
  if (!entry) throw new Error(`key ${keyId} is not in the pinned trust root`);
  return { kind: "ed25519", keyId, key, entry };
}

async function signedFetch(method, url, bodyObj) {
  const u = new URL(url, location.origin);
  const body = bodyObj === undefined ? new Uint8Array() : enc.encode(JSON.stringify(bodyObj));
  const headers = { "content-type": "application/json" };
  if (signer && signer.kind === "ed25519") {
    const created = Math.floor(Date.now() / 1000);
    const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
    const cd = `sha-256=:${b64(await sha256(body))}:`;
    const params = `("@method" "@path" "@query" "content-digest");created=${created};keyid="${signer.keyId}";alg="ed25519";nonce="${nonce}"`;
    const base = `"@method": ${method}\n"@path": ${u.pathname}\n"@query": ?${u.search.replace(/^\?/, "")}\n"content-digest": ${cd}\n"@signature-params": ${params}`;
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, signer.key, enc.encode(base));
    headers["content-digest"] = cd;
    headers["signature-input"] = `sig1=${params}`;
    headers["signature"] = `sig1=:${b64(sig)}:`;
  }
  const r = await fetch(u, { method, headers, body: method === "GET" ? undefined : body, credentials: "same-origin", cache: "no-store" });
  const json = await r.json().catch(() => null);
  if (!r.ok) {
    const e = new Error(json && json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${r.status}`);
    e.code = json && json.error ? json.error.code : String(r.status);
    throw e;
  }
  return json;
}

// ---- passkeys ----

async function assert(entry, challenge) {
  const cred = await navigator.credentials.get({
    publicKey: {
      challenge,
      rpId: entry.rp_id,
      allowCredentials: [{ type: "public-key", id: fromB64url(entry.credential_id) }],
      userVerification: entry.user_verification ? "required" : "preferred",
      timeout: 120000,
    },
  });
  if (!cred) throw new Error("the passkey gave no assertion");
  const r = cred.response;
  return {
    key_id: entry.key_id,
    authenticator_data: b64(r.authenticatorData),
    client_data_json: b64(r.clientDataJSON),
    signature: b64(r.signature),
  };
}

async function passkeySignIn() {
  const entry = (trust.passkeys || []).find((p) => p.key_id === $("passkey-name").value);
  if (!entry) throw new Error("choose a passkey of the trust root");
  const { challenge } = await signedFetch("POST", "/console/session/challenge", {});
  const a = await assert(entry, fromB64url(challenge));
  signer = { kind: "passkey", keyId: entry.key_id, entry };
  me = await signedFetch("POST", "/console/session", a);
}

// ---- views ----

async function showQueue() {
  const q = await signedFetch("GET", "/console/api/queue");
  me = q.me;
  const body = $("queue-body");
  body.innerHTML = q.html; // server-rendered, every value escaped there
  for (const a of body.querySelectorAll("a.open-request")) {
    a.addEventListener("click", (ev) => { ev.preventDefault(); openRequest(a.closest("tr").dataset.request, true); });
  }
  $("queue").hidden = false;
}

async function showHistory(page) {
  const h = await signedFetch("GET", `/console/api/history?page=${page}`);
  const body = $("history-body");
  body.innerHTML = h.html; // server-rendered, every value escaped there
  body.dataset.page = String(h.page);
  for (const a of body.querySelectorAll("a.open-request")) {
    a.addEventListener("click", (ev) => { ev.preventDefault(); openRequest(a.closest("article").dataset.request, true).catch((e) => say("action-status", e.message, "bad")); });
  }
  for (const b of body.querySelectorAll("button[data-goto]")) {
    b.addEventListener("click", () => showHistory(Number(b.dataset.goto)).catch((e) => say("action-status", e.message, "bad")));
  }
  $("history").hidden = false;
}

async function openRequest(id, push) {
  const r = await signedFetch("GET", `/console/api/requests/${encodeURIComponent(id)}`);
  // The page checks what it will sign: the document's bytes hash to the digest.
  const digest = hex(await sha256(b64ToBytes(r.document)));
  if (digest !== r.request_digest) throw new Error(`the request document does not hash to its digest (${digest}); refusing to sign`);
  $("request-body").innerHTML = r.html; // server-rendered, every value escaped there
  $("request").hidden = false;
  if (push) history.pushState({}, "", `/console/requests/${encodeURIComponent(id)}`);
  renderActions(r);
  $("request").scrollIntoView({ block: "start" });
}

function renderActions(r) {
  const box = $("request-actions");
  box.replaceChildren();
  say("action-status", "");
  if (r.may_vote) {
    const approve = mk("button", { type: "button", id: "approve", text: "Approve (sign)" });
    const reason = mk("input", { id: "deny-reason", placeholder: "why (shown to the requester)", maxlength: "2048" });
    const deny = mk("button", { type: "button", id: "deny", class: "danger", text: "Deny (sign)" });
    approve.addEventListener("click", () => act(() => vote(r, "approve", null)));
    deny.addEventListener("click", () => {
      if (!reason.value.trim()) { say("action-status", "Say why you deny: the reason is shown to the requester.", "bad"); return; }
      act(() => vote(r, "deny", reason.value));
    });
    box.append(mk("div", { class: "vote-actions" }, approve, mk("label", { for: "deny-reason", text: "Reason" }), reason, deny));
  }
  const flags = $("request-body").querySelector(".card-flags");
  if (r.writ_id && flags && flags.dataset.mayRevoke === "true") {
    const reason = mk("input", { id: "revoke-reason", placeholder: "why revoke (recorded in the ledger)", maxlength: "2048" });
    const revoke = mk("button", { type: "button", id: "revoke", class: "danger", text: "Revoke writ (sign)" });
    revoke.addEventListener("click", () => {
      if (!reason.value.trim()) { say("action-status", "Say why you revoke it.", "bad"); return; }
      act(() => revokeWrit(r.writ_id, reason.value, r.request_id));
    });
    box.append(mk("div", { class: "revoke-actions" }, mk("label", { for: "revoke-reason", text: "Revoke" }), reason, revoke));
  }
}

async function act(f) {
  for (const b of $("request-actions").querySelectorAll("button")) b.disabled = true;
  try { await f(); } catch (e) {
    say("action-status", `Refused: ${e.message}`, "bad");
    for (const b of $("request-actions").querySelectorAll("button")) b.disabled = false;
  }
}

async function vote(r, verdict, reason) {
  const time = nowRfc3339();
  const input = approvalInput(r.request_digest, verdict, time);
  let v;
  if (signer.kind === "ed25519") {
    const sig = await crypto.subtle.sign({ name: "Ed25519" }, signer.key, input);
    const body = { verdict, signature: b64(sig), time };
    if (reason) body.reason = reason;
    v = await signedFetch("POST", `/v1/requests/${encodeURIComponent(r.request_id)}/approvals`, body);
  } else {
    const a = await assert(signer.entry, input);
    const body = { verdict, time, ...a };
    if (reason) body.reason = reason;
    v = await signedFetch("POST", `/console/api/requests/${encodeURIComponent(r.request_id)}/passkey-vote`, body);
  }
  await openRequest(r.request_id, false);
  say("action-status", `Signed and recorded: ${verdict}. The request is ${v.status}.`, "ok");
  await showQueue();
  await showHistory(0);
}

async function revokeWrit(writId, reason, requestId) {
  if (signer.kind === "ed25519") {
    await signedFetch("POST", `/v1/writs/${encodeURIComponent(writId)}/revoke`, { reason });
  } else {
    const time = nowRfc3339();
    const a = await assert(signer.entry, await revokeInput(writId, time, reason));
    await signedFetch("POST", `/console/api/writs/${encodeURIComponent(writId)}/passkey-revoke`, { time, reason, ...a });
  }
  await openRequest(requestId, false);
  say("action-status", `Writ ${writId} revoked.`, "ok");
  await showHistory(0);
}

async function fileRequest(ev) {
  ev.preventDefault();
  if (!signer || signer.kind !== "ed25519") { say("file-status", "Filing a request is signed with an Ed25519 requester key file.", "bad"); return; }
  const lines = (id) => $(id).value.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l !== "");
  const env = {};
  for (const l of lines("f-env")) {
    const i = l.indexOf("=");
    if (i <= 0) { say("file-status", `environment line "${l}" is not NAME=value`, "bad"); return; }
    env[l.slice(0, i)] = l.slice(i + 1);
  }
  const target = { action: "exec", program: $("f-program").value.trim(), argv: lines("f-argv") };
  if ($("f-sha256").value.trim()) target.sha256 = $("f-sha256").value.trim();
  const body = { target, reason: $("f-reason").value, duration_secs: Number($("f-duration").value), env };
  if ($("f-cwd").value.trim()) body.cwd = $("f-cwd").value.trim();
  const hosts = $("f-hosts").value.split(",").map((h) => h.trim()).filter(Boolean);
  if (hosts.length) body.hosts = hosts;
  try {
    const v = await signedFetch("POST", "/v1/requests", body);
    say("file-status", `Filed request ${v.request_id}: ${v.status}.`, "ok");
    await openRequest(v.request_id, true);
    if (me && me.roles.includes("approver")) await showQueue();
  } catch (e) {
    say("file-status", `Refused: ${e.message}`, "bad");
  }
}

async function signedIn() {
  $("signin").hidden = true;
  const roles = me.roles.join(", ") || "none";
  $("me-line").replaceChildren(
    mk("b", { id: "me-name", text: me.name }), ` — key `, mk("code", { text: me.keyId || me.key_id }),
    ` (${signer.kind === "passkey" ? "passkey" : "Ed25519 key file, in memory only"}); roles: ${roles}; groups: ${me.groups.join(", ") || "none"}`);
  $("me").hidden = false;
  $("file").hidden = !me.roles.includes("requester");
  await showQueue();
  await showHistory(0);
  const want = $("console-config").dataset.request;
  if (want) await openRequest(want, false);
}

async function main() {
  const c = await loadCore();
  const v = await pinnedVerifier(c);
  if (!v) { say("signin-status", "Pin a trust root first: sign-in checks your key against it."); return; }
  const pinned = JSON.parse(localStorage.getItem("writ.trust.v1"));
  trust = JSON.parse(pinned.text);
  const select = $("passkey-name");
  for (const p of trust.passkeys || []) select.append(mk("option", { value: p.key_id, text: `${p.name} (${p.rp_id})` }));
  $("passkey-signin").disabled = !(trust.passkeys || []).length || !window.PublicKeyCredential;
  $("passkey-signin").addEventListener("click", async () => {
    say("signin-status", "Waiting for your passkey…");
    try { await passkeySignIn(); await signedIn(); say("signin-status", ""); } catch (e) { signer = null; say("signin-status", `Sign-in refused: ${e.message}`, "bad"); }
  });
  $("key-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    ev.target.value = "";
    if (!f) return;
    try {
      if (f.size > 4096) throw new Error("a writ key file is under 4 KiB");
      signer = await loadKeyFile(await f.text());
      // Proof of possession: the server accepts a request signed by it.
      me = await signedFetch("GET", "/console/api/me");
      await signedIn();
      say("signin-status", "");
    } catch (e) { signer = null; say("signin-status", `Sign-in refused: ${e.message}`, "bad"); }
  });
  $("signout").addEventListener("click", async () => {
    if (signer && signer.kind === "passkey") await fetch("/console/session", { method: "DELETE", credentials: "same-origin" });
    signer = null; me = null;
    location.assign("/console");
  });
  $("file-form").addEventListener("submit", fileRequest);
  document.body.dataset.console = "ready";
  window.addEventListener("popstate", () => {
    const m = location.pathname.match(/^\/console\/requests\/([A-Za-z0-9-]+)$/);
    if (m && signer) openRequest(m[1], false).catch((e) => say("action-status", e.message, "bad"));
  });
}

main().catch((e) => say("signin-status", `The console could not start: ${e.message}`, "bad"));
