// Passkey enrolment. A new approver creates a credential here
// (navigator.credentials.create, ES256); the server files it as a pending
// proposal of the next trust-root version, which grants nothing. A root
// key holder loads an Ed25519 root key file into this page's memory (never
// uploaded); the page checks that the proposal is the pinned trust root
// plus that one passkey, and signs its DSSE signing input. With a quorum of
// root signatures the server publishes the version (logged, then in force).
// Everything this script shows is textContent.
import { loadCore, pinnedVerifier } from "./common.js";
import { mk, b64ToBytes, enc } from "./verify.js";

const $ = (id) => document.getElementById(id);
const b64 = (bytes) => { let s = ""; for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b); return btoa(s); };
const b64url = (bytes) => b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromB64url = (s) => b64ToBytes(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));

let trust = null; // the pinned trust root document
let root = null;  // { keyId, key } once a root key file is loaded

function say(id, text, cls) { const e = $(id); e.textContent = text; e.className = cls || ""; }

// DSSE PAE over raw payload bytes.
function pae(type, body) {
  const head = enc.encode(`DSSEv1 ${enc.encode(type).length} ${type} ${body.length} `);
  const out = new Uint8Array(head.length + body.length);
  out.set(head); out.set(body, head.length);
  return out;
}

async function api(method, url, body) {
  const r = await fetch(url, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  const json = await r.json().catch(() => null);
  if (!r.ok) throw new Error(json && json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${r.status}`);
  return json;
}

// ---- 1. create the credential and file the enrolment ----

async function create(ev) {
  ev.preventDefault();
  if (!window.PublicKeyCredential) { say("enrol-status", "This browser has no WebAuthn.", "bad"); return; }
  const name = $("e-name").value.trim();
  const groups = $("e-groups").value.split(",").map((g) => g.trim()).filter(Boolean);
  say("enrol-status", "Waiting for your authenticator…");
  try {
    const cred = await navigator.credentials.create({
      publicKey: {
        rp: { id: location.hostname, name: "writ console" },
        user: { id: crypto.getRandomValues(new Uint8Array(16)), name, displayName: name },
        challenge: crypto.getRandomValues(new Uint8Array(32)),
        pubKeyCredParams: [{ type: "public-key", alg: -7 }],
        authenticatorSelection: { userVerification: "preferred", residentKey: "discouraged" },
        attestation: "none",
        timeout: 120000,
      },
    });
    if (!cred) throw new Error("the authenticator made no credential");
    const r = cred.response;
    const spki = r.getPublicKey();
    if (!spki || r.getPublicKeyAlgorithm() !== -7) throw new Error("the authenticator made no ES256 (P-256) key");
    const flags = new Uint8Array(r.getAuthenticatorData())[32];
    const e = await api("POST", "/console/api/enrolments", {
      name, groups, public_key: b64(spki), credential_id: b64url(cred.rawId), rp_id: location.hostname,
      user_verification: (flags & 0x04) !== 0, client_data_json: b64(r.clientDataJSON),
    });
    say("enrol-status", `Filed enrolment ${e.id} for ${e.name} (passkey ${e.key_id}): pending. It grants nothing until ${e.signatures_needed} root key signature(s) put trust-root version ${e.version} in force.`, "ok");
    $("enrol-status").dataset.enrolment = e.id;
    await showPending();
  } catch (e) {
    say("enrol-status", `Enrolment refused: ${e.message}`, "bad");
  }
}

// ---- 2. the pending list, and signing with a root key ----

async function showPending() {
  const { enrolments } = await api("GET", "/console/api/enrolments");
  const body = $("pending-body");
  if (!enrolments.length) { body.replaceChildren(mk("p", { class: "muted", id: "pending-empty", text: "No enrolment is pending." })); return; }
  const rows = enrolments.map((e) => {
    const state = e.state === "published"
      ? `published: trust-root version ${e.published.version} (ledger entry ${e.published.ledger_index}); the passkey is live`
      : e.state === "pending" ? `pending: ${e.signers.length} of ${e.signatures_needed} root signature(s)` : "stale: the trust root changed since; enrol again";
    const download = mk("a", { class: "small download", download: `enrolment-${e.id}.json`, text: "Download proposal" });
    download.href = URL.createObjectURL(new Blob([e.envelope], { type: "application/json" }));
    const sign = mk("button", { type: "button", class: "sign-enrolment", "data-id": e.id, text: "Check and sign with the root key", disabled: e.state !== "pending" || !root });
    sign.addEventListener("click", () => signEnrolment(e.id).catch((x) => say("root-status", `Not signed: ${x.message}`, "bad")));
    return mk("tr", { "data-enrolment": e.id, "data-state": e.state },
      mk("td", {}, mk("b", { class: "enrol-name", text: e.name }), mk("br"), mk("code", { text: e.key_id })),
      mk("td", { text: e.groups.join(", ") || "none" }),
      mk("td", { text: `${e.rp_id}` }),
      mk("td", { class: `enrol-state ${e.state}`, text: state }),
      mk("td", {}, e.state === "pending" ? sign : null, " ", download));
  });
  body.replaceChildren(mk("table", { class: "queue enrolments" },
    mk("thead", {}, mk("tr", {}, ...["Passkey of", "Groups", "rp id", "State", ""].map((t) => mk("th", { scope: "col", text: t })))),
    mk("tbody", {}, ...rows)));
}

const PKCS8_ED25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

async function loadRootKey(text) {
  const t = text.trim();
  if (!t.startsWith("ed25519-secret ")) throw new Error("not a writ private key file (expected `ed25519-secret <base64>`)");
  const seed = b64ToBytes(t.slice("ed25519-secret ".length));
  if (seed.length !== 32) throw new Error("a private key seed is 32 bytes");
  const pkcs8 = new Uint8Array(48); pkcs8.set(PKCS8_ED25519); pkcs8.set(seed, 16);
  const extractable = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  const key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x }, { name: "Ed25519" }, false, ["sign"]);
  seed.fill(0); pkcs8.fill(0);
  const keyId = hex(await sha256(fromB64url(jwk.x)));
  const entry = (trust.keys || []).find((k) => k.key_id === keyId);
  if (!entry || !(entry.roles || []).includes("root")) throw new Error(`key ${keyId} is not a root key of the pinned trust root`);
  return { keyId, key, name: entry.name };
}

// Canonical JSON with empty values dropped (the two documents may omit
// empty lists differently): equal means the same trust root.
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  if (v && typeof v === "object") {
    const ks = Object.keys(v).filter((k) => !(v[k] === null || (Array.isArray(v[k]) && !v[k].length))).sort();
    return `{${ks.map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

async function signEnrolment(id) {
  const e = await api("GET", `/console/api/enrolments/${encodeURIComponent(id)}`);
  const payload = b64ToBytes(e.payload);
  const version = JSON.parse(new TextDecoder().decode(payload));
  // What is signed: the pinned trust root plus this one passkey, nothing else.
  const next = version.trust;
  const added = (next.passkeys || []).filter((p) => !(trust.passkeys || []).some((q) => q.key_id === p.key_id));
  if (added.length !== 1 || added[0].key_id !== e.key_id || canon(added[0]) !== canon(e.passkey)) throw new Error("the proposal does not add exactly this passkey");
  const rest = { ...next, passkeys: (next.passkeys || []).filter((p) => p.key_id !== e.key_id) };
  if (canon(rest) !== canon(trust)) throw new Error("the proposal changes more of the trust root than this passkey; refusing to sign (is your pinned trust root the one in force?)");
  if (!(added[0].roles || []).every((r) => r === "approver")) throw new Error("the passkey would get more than the approver role");
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, root.key, pae(e.payload_type, payload));
  const after = await api("POST", `/console/api/enrolments/${encodeURIComponent(id)}/signatures`, { key_id: root.keyId, sig: b64(sig) });
  if (after.state === "published") {
    say("root-status", `Signed. Trust-root version ${after.published.version} is in force (ledger entry ${after.published.ledger_index}): ${after.name}'s passkey is live. Re-pin the trust root in the console to sign in with it.`, "ok");
  } else {
    say("root-status", `Signed: ${after.signers.length} of ${after.signatures_needed} root signature(s). Other root key holders sign next.`, "ok");
  }
  await showPending();
}

async function main() {
  const c = await loadCore();
  const v = await pinnedVerifier(c);
  $("enrol-form").addEventListener("submit", create);
  if (v) {
    const pinned = JSON.parse(localStorage.getItem("writ.trust.v1"));
    trust = JSON.parse(pinned.text);
  }
  $("root-key").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    ev.target.value = "";
    if (!f) return;
    try {
      if (!trust) throw new Error("pin the trust root first: the root key is checked against it");
      if (f.size > 4096) throw new Error("a writ key file is under 4 KiB");
      root = await loadRootKey(await f.text());
      say("root-status", `Root key ${root.name} (${root.keyId}) loaded into this page's memory.`, "ok");
      await showPending();
    } catch (e) { root = null; say("root-status", `Key refused: ${e.message}`, "bad"); }
  });
  await showPending();
  document.body.dataset.enrol = "ready";
}

main().catch((e) => say("enrol-status", `The page could not start: ${e.message}`, "bad"));
