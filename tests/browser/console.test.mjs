// The Governance Console in a real headless Chromium against a real
// `writ serve`: sign-in with a virtual WebAuthn authenticator (Chromium's
// DevTools WebAuthn domain) and with an Ed25519 key file; a request filed
// from the console's form with markup and script in its reason, argv and
// environment (rendered inert); a two-approval request approved from two
// browser contexts (a key file and a passkey); self-approval refused; a
// denial with a reason; a revocation; the writ issued after the quorum
// verified by `writ verify` and its passkey approval by py_webauthn.
//
// The page is opened at http://localhost:PORT: the passkey's rp id is
// `localhost` (a secure context without TLS).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const WRIT = process.env.WRIT_BIN || join(root, "target", "debug", "writ");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ART = resolve(process.env.WRIT_ARTIFACTS || join(root, "target", "test-artifacts", "browser"));
const PYTHON = process.env.PYTHON || "python3";
mkdirSync(ART, { recursive: true });

const dir = mkdtempSync(join(tmpdir(), "writ-console-"));
let port, base, server, browser, hook;
const hooks = [];
const SECRET = "console-test-webhook-secret-0123456789";

const POLICIES = `
@id("echo-at-once")
@max_duration("3600")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };

@id("uname-two-sre")
@approvals("2")
@approver_group("sre")
@allow_env("LD_PRELOAD")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/uname" };
`;

const REASON = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>ship it`;
const ARG = `<script>document.title='pwned'</script>`;
const ENV_VALUE = `<svg onload="document.title='pwned'">`;

function writ(args) {
  return execFileSync(WRIT, args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function freePort() {
  const { createServer: net } = await import("node:net");
  return new Promise((res) => {
    const s = net();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

async function startServer() {
  const child = spawn(WRIT, ["serve", "--home", "h", "--listen", `127.0.0.1:${port}`, "--webhook", `http://127.0.0.1:${hook.address().port}/hook`, "--webhook-secret-file", "hook.secret", "--public-url", base], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => { err += d; });
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child; } catch { /* not yet */ }
    if (child.exitCode !== null) throw new Error(`writ serve exited: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`writ serve did not come up: ${err}`);
}

const b64url = (b) => Buffer.from(b).toString("base64url");
// The passkey: a P-256 key made here, enrolled in the trust root, and given
// to Chromium's virtual authenticator.
const passkey = (() => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    pkcs8: privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"),
    spki: publicKey.export({ format: "der", type: "spki" }).toString("base64"),
    credentialId: randomBytes(16),
  };
})();

before(async () => {
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => { hooks.push({ headers: req.headers, body }); res.end("ok"); });
  });
  await new Promise((r) => hook.listen(0, "127.0.0.1", r));
  port = await freePort();
  base = `http://localhost:${port}`;
  writeFileSync(join(dir, "hook.secret"), `${SECRET}\n`);
  writ(["init", "--home", "h"]);
  writeFileSync(join(dir, "h/policies.cedar"), POLICIES);
  for (const [name, roles, groups] of [["alice", ["requester"], ["dev"]], ["bob", ["approver"], ["sre"]], ["carol", ["approver"], ["sre"]], ["dave", ["requester", "approver"], ["dev", "sre"]]]) {
    writ(["keygen", "--out", `${name}.key`, "--name", name]);
    writ(["trust", "add", "--trust", "h/trust.json", "--name", name, ...roles.flatMap((r) => ["--role", r]), ...groups.flatMap((g) => ["--group", g]), "--key", `${name}.key.pub`]);
  }
  passkey.keyId = writ(["trust", "add-passkey", "--trust", "h/trust.json", "--name", "erin", "--group", "sre", "--public-key", passkey.spki, "--credential-id", b64url(passkey.credentialId), "--rp-id", "localhost"]).trim();
  server = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu", "--no-first-run"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) { const done = new Promise((r) => server.once("exit", r)); server.kill("SIGTERM"); await done; }
  if (hook) hook.close();
  rmSync(dir, { recursive: true, force: true });
});

async function shot(page, name) {
  await page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
}

function errorsOf(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return errors;
}

async function open(path = "/console") {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await ctx.newPage();
  const errors = errorsOf(page);
  await page.goto(`${base}${path}`);
  await page.waitForSelector("#pin, #pinned-digest");
  if (await page.locator("#pin").count()) await page.click("#pin");
  await page.waitForSelector("body[data-console=ready]");
  return { ctx, page, errors };
}

async function signedInOrRefused(page) {
  await page.waitForFunction(() => !document.getElementById("me").hidden || /refused|could not|Pin/.test(document.getElementById("signin-status").textContent), null, { timeout: 15000 })
    .catch(async (e) => { await shot(page, "console-signin-failed"); throw new Error(`${e.message}; status: ${await page.locator("#signin-status").innerText()}; trust: ${await page.locator("#trust-status").innerText()}`); });
  assert.equal(await page.locator("#me").isHidden(), false, await page.locator("#signin-status").innerText());
}

async function signInKeyFile(page, name) {
  await page.setInputFiles("#key-file", { name: `${name}.key`, mimeType: "text/plain", buffer: readFileSync(join(dir, `${name}.key`)) });
  await signedInOrRefused(page);
  assert.equal(await page.locator("#me-name").innerText(), name);
}

async function signInPasskey(ctx, page) {
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await cdp.send("WebAuthn.addCredential", {
    authenticatorId,
    credential: { credentialId: passkey.credentialId.toString("base64"), isResidentCredential: false, rpId: "localhost", privateKey: passkey.pkcs8, signCount: 0 },
  });
  await page.selectOption("#passkey-name", passkey.keyId);
  await page.click("#passkey-signin");
  await signedInOrRefused(page);
  assert.equal(await page.locator("#me-name").innerText(), "erin");
  return { cdp, authenticatorId };
}

function fileFromCli(key, program, args, reason = "routine") {
  const v = JSON.parse(writ(["request", "--authority", `http://127.0.0.1:${port}`, "--key", `${key}.key`, "--reason", reason, "--duration", "600", "--json", "--", program, ...args]).split("\n")[0]);
  return v.request_id;
}

const H = {};

describe("Governance Console", () => {
  test("a requester files a request from the form; markup in reason, argv and env is inert", async () => {
    const { ctx, page, errors } = await open();
    await shot(page, "console-01-signin");
    await signInKeyFile(page, "alice");
    assert.equal(await page.locator("#file").isHidden(), false);
    await page.fill("#f-program", "/usr/bin/uname");
    await page.fill("#f-sha256", createHash("sha256").update(readFileSync("/usr/bin/uname")).digest("hex"));
    await page.fill("#f-argv", `--env\nstaging\n${ARG}`);
    await page.fill("#f-env", `LD_PRELOAD=/tmp/evil.so\nLABEL=${ENV_VALUE}`);
    await page.fill("#f-cwd", "/srv/app");
    await page.fill("#f-duration", "900");
    await page.fill("#f-reason", REASON);
    await page.click("#f-submit");
    await page.waitForSelector(".request-card[data-status=pending]");
    H.deployReq = await page.locator(".request-card").getAttribute("data-request");
    assert.match(await page.locator("#file-status").innerText(), /Filed request .*: pending/);
    const card = page.locator(".request-card");
    assert.equal(await card.locator("span.reason").first().innerText(), REASON);
    assert.deepEqual(await card.locator("code.arg").allInnerTexts(), ["--env", "staging", ARG]);
    assert.deepEqual(await card.locator("code.env").allInnerTexts(), ["LABEL=" + ENV_VALUE, "LD_PRELOAD=/tmp/evil.so"]);
    assert.match(await card.locator(".loader-flag").innerText(), /LOADER\/INTERPRETER VARIABLE/);
    assert.equal(await page.locator(".request-card img, .request-card script, .request-card svg").count(), 0);
    assert.notEqual(await page.title(), "pwned");
    assert.match(await card.innerText(), /uname-two-sre/);
    assert.match(await page.locator("#quorum").innerText(), /0 of 2/);
    // alice holds no approver key: she is told why she cannot vote.
    assert.match(await page.locator("#why-not").innerText(), /no approver key/);
    assert.equal(await page.locator("#approve").count(), 0);
    await shot(page, "console-02-filed-markup-inert");
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test("self-approval is refused: dave files, dave may not vote", async () => {
    H.daveReq = fileFromCli("dave", "/usr/bin/uname", ["--env", "prod"]);
    const { ctx, page, errors } = await open(`/console/requests/${H.daveReq}`);
    await signInKeyFile(page, "dave");
    await page.waitForSelector(`.request-card[data-request="${H.daveReq}"]`);
    assert.match(await page.locator("#why-not").innerText(), /you \(`dave`\) filed it: nobody approves their own request/);
    assert.equal(await page.locator("#approve").count(), 0);
    const row = page.locator(`#queue-body tr[data-request="${H.daveReq}"]`);
    assert.match(await row.locator(".why-not").innerText(), /filed it/);
    // A signed approval sent anyway is refused by the authority.
    const refusal = writCode(["approve", "--authority", `http://127.0.0.1:${port}`, "--key", "dave.key", "--yes", H.daveReq]);
    assert.notEqual(refusal.code, 0);
    assert.match(refusal.out, /self_approval/);
    await shot(page, "console-03-self-approval");
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test("two approvals from two browser contexts: bob's key file, erin's passkey", async () => {
    const bob = await open();
    await signInKeyFile(bob.page, "bob");
    const row = bob.page.locator(`#queue-body tr[data-request="${H.deployReq}"]`);
    assert.match(await row.innerText(), /you may vote/);
    await shot(bob.page, "console-04-queue");
    await row.locator("a.open-request").click();
    await bob.page.waitForSelector(`.request-card[data-request="${H.deployReq}"]`);
    assert.match(bob.page.url(), new RegExp(`/console/requests/${H.deployReq}$`));
    await bob.page.click("#approve");
    await bob.page.waitForFunction(() => /Signed and recorded: approve/.test(document.getElementById("action-status").textContent));
    assert.match(await bob.page.locator("#quorum").innerText(), /1 of 2/);
    assert.match(await bob.page.locator("#why-not").innerText(), /already voted/);

    const erin = await open(`/console/requests/${H.deployReq}`);
    await signInPasskey(erin.ctx, erin.page);
    const cookies = await erin.ctx.cookies();
    const c = cookies.find((x) => x.name === "writ_console");
    assert.ok(c, JSON.stringify(cookies));
    assert.equal(c.httpOnly, true);
    assert.equal(c.secure, true);
    assert.equal(c.sameSite, "Strict");
    await erin.page.waitForSelector(`.request-card[data-request="${H.deployReq}"]`);
    await shot(erin.page, "console-05-passkey-card");
    await erin.page.click("#approve");
    await erin.page.waitForSelector(".request-card[data-status=issued]");
    assert.match(await erin.page.locator("#action-status").innerText(), /The request is issued/);
    assert.match(await erin.page.locator(".votes").innerText(), /approve by erin/);
    H.deployWrit = (await erin.page.locator(".request-card").innerText()).match(/writ\s+([0-9a-f-]{36})/)[1];
    await shot(erin.page, "console-06-issued");
    assert.deepEqual(bob.errors, []);
    assert.deepEqual(erin.errors, []);
    await bob.ctx.close();
    await erin.ctx.close();
  });

  test("the issued writ verifies with `writ verify`; its passkey approval with py_webauthn", async () => {
    const f = JSON.parse(writ(["request", "--authority", `http://127.0.0.1:${port}`, "--key", "alice.key", "--fetch", H.deployReq, "--out", "deploy.writ", "--json"]).split("\n")[0]);
    assert.equal(f.writ_id, H.deployWrit);
    const trust = await (await fetch(`http://127.0.0.1:${port}/v1/trust/document`)).text();
    writeFileSync(join(dir, "served-trust.json"), trust);
    const v = JSON.parse(writ(["verify", "deploy.writ", "--trust", "served-trust.json", "--receipt", "deploy.writ.receipt", "--json"]));
    assert.equal(v.verdict, "allow", JSON.stringify(v));
    const statement = JSON.parse(Buffer.from(JSON.parse(readFileSync(join(dir, "deploy.writ"), "utf8")).payload, "base64"));
    const approvals = statement.predicate.governance.approvals;
    assert.equal(approvals.length, 2);
    const pk = approvals.find((a) => a.approver === passkey.keyId);
    assert.ok(pk && pk.webauthn, JSON.stringify(approvals));
    assert.equal(JSON.parse(Buffer.from(pk.webauthn.client_data_json, "base64")).origin, base);
    const py = execFileSync(PYTHON, [join(root, "tests/interop/webauthn_check.py"), join(dir, "deploy.writ"), join(dir, "served-trust.json"), "--origin", base], { encoding: "utf8" });
    assert.match(py, /verified: passkey approval by erin/);
  });

  test("a passkey assertion replayed for another request is refused with its code", async () => {
    // erin's approval of the issued request, sent as a vote on dave's.
    const statement = JSON.parse(Buffer.from(JSON.parse(readFileSync(join(dir, "deploy.writ"), "utf8")).payload, "base64"));
    const a = statement.predicate.governance.approvals.find((x) => x.approver === passkey.keyId);
    const r = await fetch(`http://127.0.0.1:${port}/console/api/requests/${H.daveReq}/passkey-vote`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ verdict: "approve", time: a.time, key_id: a.approver, authenticator_data: a.webauthn.authenticator_data, client_data_json: a.webauthn.client_data_json, signature: a.sig }),
    });
    const body = await r.json();
    assert.equal(body.error.code, "bad_signature", JSON.stringify(body));
    assert.match(body.error.message, /webauthn_challenge/);
  });

  test("deny with a reason", async () => {
    H.denyReq = fileFromCli("alice", "/usr/bin/uname", ["--env", "prod", "--force"], "hotfix");
    const { ctx, page, errors } = await open(`/console/requests/${H.denyReq}`);
    await signInKeyFile(page, "carol");
    await page.waitForSelector(`.request-card[data-request="${H.denyReq}"]`);
    await page.click("#deny");
    assert.match(await page.locator("#action-status").innerText(), /Say why/);
    await page.fill("#deny-reason", "not during the freeze <b>really</b>");
    await page.click("#deny");
    await page.waitForFunction(() => /Signed and recorded: deny/.test(document.getElementById("action-status").textContent));
    assert.match(await page.locator(".votes").innerText(), /deny by carol .*“not during the freeze <b>really<\/b>”/);
    assert.equal(await page.locator(".votes b:has-text('really')").count(), 0);
    await shot(page, "console-07-denied");
    const show = writ(["show", "--authority", `http://127.0.0.1:${port}`, "--key", "carol.key", H.denyReq]);
    assert.match(show, /deny by carol/);
    assert.match(show, /because "not during the freeze <b>really<\/b>"/);
    // a second approver's denial reaches the quorum of two: the request is denied
    writ(["deny", "--authority", `http://127.0.0.1:${port}`, "--key", "bob.key", H.denyReq, "--reason", "agreed", "--yes"]);
    assert.match(writ(["show", "--authority", `http://127.0.0.1:${port}`, "--key", "carol.key", H.denyReq]), /denied/);
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test("revoke the issued writ from the console with the passkey", async () => {
    const { ctx, page, errors } = await open(`/console/requests/${H.deployReq}`);
    await signInPasskey(ctx, page);
    await page.waitForSelector("#revoke");
    await page.fill("#revoke-reason", "rolled back");
    await page.click("#revoke");
    await page.waitForFunction(() => /revoked/.test(document.getElementById("action-status").textContent));
    const w = writCode(["status", "--authority", `http://127.0.0.1:${port}`, "--key", "bob.key", H.deployWrit, "--json"]);
    assert.match(w.out, /revoked/, w.out);
    await shot(page, "console-08-revoked");
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test("history: past requests with votes, outcome, writ, revocation; escaped; paginated; linked to proofs and lineage", async () => {
    // Enough requests for a second page (ten a page).
    for (let i = 0; i < 9; i++) fileFromCli("alice", "/usr/bin/echo", [`run-${i}`], `batch ${i}`);
    const { ctx, page, errors } = await open();
    await signInKeyFile(page, "bob");
    await page.waitForSelector("#history-body article.history-item");
    assert.match(await page.locator(".history-pager").innerText(), /page 1 of 2 \(12 requests\)/);
    assert.equal(await page.locator("#history-body article.history-item").count(), 10);
    const denied = page.locator(`#history-body article[data-request="${H.denyReq}"]`);
    assert.match(await denied.innerText(), /deny: approver `carol` .*denied the request: not during the freeze <b>really<\/b>/);
    assert.equal(await page.locator("#history-body b:has-text('really')").count(), 0);
    await shot(page, "console-09-history-page1");
    // the oldest requests are on page 2
    await page.click(".history-pager button:has-text('Older')");
    await page.waitForSelector(".history-pager[data-page='1']");
    await page.waitForSelector(`#history-body article[data-request="${H.deployReq}"]`, { timeout: 5000 })
      .catch(async (e) => { await shot(page, "console-history-failed"); throw new Error(`${e.message}: ${await page.locator("#history-body").innerText()} / ${await page.locator("#action-status").innerText()}`); });
    assert.match(await page.locator(".history-pager").innerText(), /page 2 of 2/);
    const deploy = page.locator(`#history-body article[data-request="${H.deployReq}"]`);
    const text = await deploy.innerText();
    assert.match(text, /issued/);
    assert.match(text, /writ revoked/);
    assert.match(text, /approve by bob/);
    assert.match(text, /approve by erin/);
    assert.match(text, /writ issued/);
    assert.match(text, /writ revoked by erin .*“rolled back”/);
    assert.match(text, new RegExp(`policy allowed .*uname-two-sre`));
    // the requester's reason, with its markup, is text
    assert.equal(await deploy.locator(".why .reason").innerText(), REASON);
    assert.equal(await page.locator("#history-body img, #history-body script, #history-body svg, #history-body b:has-text('really')").count(), 0);
    assert.notEqual(await page.title(), "pwned");
    // every record links to its proof and its lineage node
    const events = deploy.locator("li.event");
    const n = await events.count();
    assert.ok(n >= 5, `only ${n} records`);
    for (let i = 0; i < n; i++) {
      const idx = await events.nth(i).getAttribute("data-index");
      assert.equal(await events.nth(i).locator("a.proof-link").getAttribute("href"), `/proofs?index=${idx}`);
      assert.equal(await events.nth(i).locator("a.lineage-link").getAttribute("href"), `/lineage?focus=${idx}`);
    }
    await shot(page, "console-09-history");
    const revocation = deploy.locator("li.event.revocation");
    const revIndex = await revocation.getAttribute("data-index");
    const lineage = await ctx.newPage();
    await lineage.goto(`${base}/lineage?focus=${revIndex}`);
    assert.equal(await lineage.locator("svg.graph .node.focus").count(), 1);
    await shot(lineage, "lineage-from-history");
    const entry = await (await fetch(`http://127.0.0.1:${port}/v1/public/entries/${revIndex}`)).json();
    assert.equal(entry.kind, "revocation");
    const proof = await ctx.newPage();
    await proof.goto(`${base}/proofs?writ=${H.deployWrit}`);
    await proof.waitForSelector("#pin, #pinned-digest");
    if (await proof.locator("#pin").count()) await proof.click("#pin");
    await proof.waitForSelector("#report", { timeout: 20000 });
    await shot(proof, "viewer-from-history");
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test("passkey enrolment from the console: pending until a root key signs it, then live", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await ctx.newPage();
    const errors = errorsOf(page);
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await page.goto(`${base}/console/enrol`);
    await page.waitForSelector("#pin, #pinned-digest");
    if (await page.locator("#pin").count()) await page.click("#pin");
    await page.waitForSelector("body[data-enrol=ready]");
    const trustBefore = await (await fetch(`http://127.0.0.1:${port}/v1/trust/document`)).text();
    await page.fill("#e-name", "frank");
    await page.fill("#e-groups", "sre");
    await page.click("#e-create");
    await page.waitForFunction(() => /Filed enrolment|refused/.test(document.getElementById("enrol-status").textContent), null, { timeout: 15000 });
    assert.match(await page.locator("#enrol-status").innerText(), /Filed enrolment .* for frank .*: pending\. It grants nothing until 1 root key signature/);
    const row = page.locator("tr[data-state=pending]");
    assert.match(await row.innerText(), /frank/);
    await shot(page, "console-10-enrolment-pending");
    // The unsigned enrolment grants nothing: the trust root in force is unchanged.
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/v1/trust/document`)).text(), trustBefore);
    const { enrolments } = await (await fetch(`http://127.0.0.1:${port}/console/api/enrolments`)).json();
    const e = enrolments.find((x) => x.name === "frank");
    // A signature that is no root key's is refused, with its code.
    const bogus = await fetch(`http://127.0.0.1:${port}/console/api/enrolments/${e.id}/signatures`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ key_id: e.root_keys[0], sig: Buffer.alloc(64, 7).toString("base64") }),
    });
    assert.equal((await bogus.json()).error.code, "bad_signature");
    // bob's key file is not a root key: the page refuses it.
    await page.setInputFiles("#root-key", { name: "bob.key", mimeType: "text/plain", buffer: readFileSync(join(dir, "bob.key")) });
    await page.waitForFunction(() => /refused/.test(document.getElementById("root-status").textContent));
    assert.match(await page.locator("#root-status").innerText(), /not a root key/);
    // The home's root key signs it in the page: version 2 is in force.
    await page.setInputFiles("#root-key", { name: "root.key", mimeType: "text/plain", buffer: readFileSync(join(dir, "h/root.key")) });
    await page.waitForSelector("button.sign-enrolment:not([disabled])");
    await page.click("button.sign-enrolment");
    await page.waitForFunction(() => /is in force|Not signed/.test(document.getElementById("root-status").textContent), null, { timeout: 15000 });
    assert.match(await page.locator("#root-status").innerText(), /Trust-root version \d+ is in force \(ledger entry \d+\): frank's passkey is live/);
    await page.waitForSelector("tr[data-state=published]");
    await shot(page, "console-11-enrolment-published");
    const served = JSON.parse(await (await fetch(`http://127.0.0.1:${port}/v1/trust/document`)).text());
    const frank = served.passkeys.find((p) => p.name === "frank");
    assert.ok(frank, "frank's passkey is in the trust root in force");
    assert.deepEqual(frank.roles, ["approver"]);
    // Live: re-pin, sign in with the new passkey, vote on dave's request.
    await page.goto(`${base}/console/requests/${H.daveReq}`);
    await page.waitForSelector("#unpin");
    await page.click("#unpin");
    await page.waitForSelector("#pin");
    await page.click("#pin");
    await page.waitForSelector("body[data-console=ready]");
    await page.selectOption("#passkey-name", frank.key_id);
    await page.click("#passkey-signin");
    await signedInOrRefused(page);
    assert.equal(await page.locator("#me-name").innerText(), "frank");
    await page.waitForSelector(`.request-card[data-request="${H.daveReq}"]`);
    await page.click("#approve");
    await page.waitForFunction(() => /Signed and recorded: approve/.test(document.getElementById("action-status").textContent));
    assert.match(await page.locator(".votes").innerText(), /approve by frank/);
    await shot(page, "console-12-enrolled-passkey-votes");
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  test("webhooks: signed Slack-compatible messages linking to the console", async () => {
    for (let i = 0; i < 100 && !["request.issued", "request.denied"].every((e) => hooks.some((h) => h.headers["x-writ-event"] === e)); i++) await new Promise((r) => setTimeout(r, 50));
    const events = hooks.map((h) => h.headers["x-writ-event"]);
    for (const e of ["request.pending", "request.vote", "request.issued", "request.denied"]) assert.ok(events.includes(e), `no ${e} in ${events}`);
    const denied = hooks.find((h) => h.headers["x-writ-event"] === "request.denied");
    assert.equal(JSON.parse(denied.body).writ.request_id, H.denyReq);
    for (const h of hooks) {
      const [, t, mac] = h.headers["x-writ-signature"].match(/^t=(\d+),v1=([0-9a-f]{64})$/);
      const want = createHmac("sha256", SECRET).update(`${t}.${h.body}`).digest("hex");
      assert.equal(mac, want);
      const p = JSON.parse(h.body);
      assert.equal(typeof p.text, "string");
      assert.equal(p.blocks[0].type, "section");
      assert.equal(p.writ.url, `${base}/console/requests/${p.writ.request_id}`);
      assert.ok(p.text.includes(`<${p.writ.url}|open it in the console>`), p.text);
    }
    const pending = hooks.find((h) => JSON.parse(h.body).writ.request_id === H.deployReq);
    assert.ok(!JSON.parse(pending.body).text.includes("<img"), "markup in a webhook text is escaped");
  });
});

function writCode(args) {
  try { return { code: 0, out: writ(args) }; } catch (e) { return { code: e.status, out: `${e.stdout}${e.stderr}` }; }
}

