// The web pages in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core; no browser download) against a real `writ serve` on a
// temporary home whose history is made with the `writ` CLI (init, keygen,
// trust add, request, approve, revoke) plus execution records a gate posts
// to `/v1/records` (signed with the gate's key, as `writ exec` would).
//
// Run with tests/browser/run.sh. Screenshots go to $WRIT_ARTIFACTS
// (default target/test-artifacts/browser).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, createPrivateKey, sign as edSign, randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const WRIT = process.env.WRIT_BIN || join(root, "target", "debug", "writ");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ART = resolve(process.env.WRIT_ARTIFACTS || join(root, "target", "test-artifacts", "browser"));
mkdirSync(ART, { recursive: true });

const dir = mkdtempSync(join(tmpdir(), "writ-browser-"));
const HOST = hostname();
let port, base, server, browser, ctx;
const timings = {};

function writ(args, opts = {}) {
  return execFileSync(WRIT, args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
}

function writCode(args) {
  try {
    return { code: 0, out: writ(args) };
  } catch (e) {
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

async function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

async function startServer(home) {
  const child = spawn(WRIT, ["serve", "--home", home, "--listen", `127.0.0.1:${port}`], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => { err += d; });
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return child;
    } catch { /* not yet */ }
    if (child.exitCode !== null) throw new Error(`writ serve exited: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`writ serve did not come up: ${err}`);
}

async function stopServer(child) {
  if (!child || child.exitCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await done;
}

// ---- a gate posting execution records (RFC 9421-signed, as writ-gate does) ----

function gateKey() {
  const line = readFileSync(join(dir, "gate.key"), "utf8").trim();
  const seed = Buffer.from(line.split(" ")[1], "base64");
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const key = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  const pub = Buffer.from(readFileSync(join(dir, "gate.key.pub"), "utf8").trim().split(/\s+/)[1], "base64");
  return { key, id: createHash("sha256").update(pub).digest("hex") };
}

function field(tag, value) {
  const b = Buffer.isBuffer(value) ? value : Buffer.from(value, "utf8");
  const h = Buffer.alloc(3);
  h.writeUInt8(tag, 0);
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
}
const i64 = (v) => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); return b; };

function execEntry(kind, { requestId, writId, host, exitCode }) {
  const now = Math.floor(Date.now() / 1000);
  const parts = [Buffer.from([1, kind === "start" ? 6 : 7]), field(1, i64(now)), field(2, requestId), field(3, writId), field(4, host)];
  if (kind === "start") {
    parts.push(field(5, createHash("sha256").update("/usr/bin/echo").digest()), field(6, createHash("sha256").update("argv").digest()));
  } else {
    parts.push(field(5, "exited"), field(6, i64(exitCode ?? 0)));
  }
  return Buffer.concat(parts);
}

// A gate record: the entry, the gate key id (tag 0xF1) and the gate's
// Ed25519 signature (tag 0xF2) over DSSE's PAE of everything before it
// (docs/format.md §19).
function signedRecord(entry, key, id) {
  const signed = Buffer.concat([entry, field(0xf1, Buffer.from(id, "hex"))]);
  const type = "application/vnd.writ.gate-record.v1";
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${signed.length} `), signed]);
  return Buffer.concat([signed, field(0xf2, edSign(null, pae, key))]);
}

async function record(entry) {
  const { key, id } = gateKey();
  const body = Buffer.from(JSON.stringify({ entry: signedRecord(entry, key, id).toString("base64") }));
  const digest = `sha-256=:${createHash("sha256").update(body).digest("base64")}:`;
  const created = Math.floor(Date.now() / 1000);
  const params = `("@method" "@path" "@query" "content-digest");created=${created};keyid="${id}";alg="ed25519";nonce="${randomBytes(16).toString("hex")}"`;
  const sigBase = `"@method": POST\n"@path": /v1/records\n"@query": ?\n"content-digest": ${digest}\n"@signature-params": ${params}`;
  const sig = edSign(null, Buffer.from(sigBase), key).toString("base64");
  const r = await fetch(`${base}/v1/records`, {
    method: "POST",
    headers: { "content-type": "application/json", "content-digest": digest, "signature-input": `sig1=${params}`, signature: `sig1=:${sig}:` },
    body,
  });
  const text = await r.text();
  assert.equal(r.status, 201, `record: ${text}`);
  return JSON.parse(text).index;
}

// ---- the scripted history ----

const POLICIES = `
@id("echo-at-once")
@max_duration("3600")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/echo" };

@id("uname-two-sre")
@approvals("2")
@approver_group("sre")
permit (principal in Writ::Group::"dev", action == Writ::Action::"exec", resource)
when { resource.path == "/usr/bin/uname" };
`;
const REASON = `<img src=x onerror="document.title='pwned'"><b>kernel</b> check`;
const H = {};

function requestEcho(home, word) {
  const conn = home ? ["--home", home] : ["--authority", base];
  const out = `${word}.writ`;
  const v = JSON.parse(writ(["request", ...conn, "--key", "alice.key", "--duration", "3600", "--out", out, "--json", "--", "/usr/bin/echo", word]).split("\n")[0]);
  assert.equal(v.status, "issued", JSON.stringify(v));
  return { file: out, id: v.writ_id, req: v.request_id };
}

before(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  writ(["init", "--home", "h"]);
  writeFileSync(join(dir, "h/policies.cedar"), POLICIES);
  for (const [name, role, group] of [["alice", "requester", "dev"], ["bob", "approver", "sre"], ["carol", "approver", "sre"], [HOST, "gate", "prod"]]) {
    const file = role === "gate" ? "gate" : name;
    writ(["keygen", "--out", `${file}.key`, "--name", name]);
    writ(["trust", "add", "--trust", "h/trust.json", "--name", name, "--role", role, "--group", group, "--key", `${file}.key.pub`]);
  }
  const bobPub = Buffer.from(readFileSync(join(dir, "bob.key.pub"), "utf8").trim().split(/\s+/)[1], "base64");
  H.bobKeyId = createHash("sha256").update(bobPub).digest("hex");
  server = await startServer("h");

  // 1. allowed at once, with a receipt
  const echo = requestEcho(null, "hello");
  H.echoFile = echo.file;
  H.echoId = echo.id;
  // 2. two approvals, a reason with markup
  const r = JSON.parse(writ(["request", "--authority", base, "--key", "alice.key", "--reason", REASON, "--duration", "3600", "--json", "--", "/usr/bin/uname", "-a"]).split("\n")[0]);
  H.unameReq = r.request_id;
  writ(["approve", "--authority", base, "--key", "bob.key", "--yes", H.unameReq]);
  writ(["approve", "--authority", base, "--key", "carol.key", "--yes", H.unameReq]);
  const f = JSON.parse(writ(["request", "--authority", base, "--key", "alice.key", "--fetch", H.unameReq, "--out", "uname.writ", "--json"]).split("\n")[0]);
  H.unameId = f.writ_id;
  // 3. runs: a complete run of the echo writ on this host; a run of the
  //    uname writ on a host no gate key names, never ended; then the uname
  //    writ is revoked and run again.
  const echoReq = echo.req;
  H.startIdx = await record(execEntry("start", { requestId: echoReq, writId: H.echoId, host: HOST }));
  await record(execEntry("end", { requestId: echoReq, writId: H.echoId, host: HOST }));
  H.rogueIdx = await record(execEntry("start", { requestId: H.unameReq, writId: H.unameId, host: "rogue-host" }));
  writ(["revoke", "--authority", base, "--key", "bob.key", "--reason", "done <script>x</script>", H.unameId]);
  H.afterRevokeIdx = await record(execEntry("start", { requestId: H.unameReq, writId: H.unameId, host: HOST }));

  // 4. the fork: a copy of the home taken now, which then grows its own history
  await stopServer(server);
  cpSync(join(dir, "h"), join(dir, "hfork"), { recursive: true });
  for (const w of ["fork1", "fork2", "fork3", "fork4"]) requestEcho("hfork", w);
  server = await startServer("h");
  requestEcho(null, "later");

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu", "--no-first-run"],
  });
  ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
});

after(async () => {
  if (browser) await browser.close();
  await stopServer(server);
  writeFileSync(join(ART, "timings.json"), JSON.stringify(timings, null, 2));
  rmSync(dir, { recursive: true, force: true });
});

async function shot(page, name) {
  await page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: 20000 });
}

async function pin(page) {
  await page.waitForSelector("#pin, #pinned-digest");
  const b = page.locator("#pin");
  if (await b.count()) await b.click();
}

function errorsOf(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return errors;
}

describe("Proof Viewer", () => {
  test("first load stays within 500 KB including the WebAssembly", async () => {
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    let bytes = 0;
    cdp.on("Network.loadingFinished", (e) => { bytes += e.encodedDataLength; });
    await page.goto(`${base}/proofs`);
    await page.waitForFunction(() => document.body.dataset.core === "ready");
    await page.waitForTimeout(300);
    timings.first_load_bytes = bytes;
    assert.ok(bytes > 50_000 && bytes <= 500_000, `first load transferred ${bytes} bytes`);
    await page.close();
  });

  test("opens a writ by id and verifies it in the page", async () => {
    const page = await ctx.newPage();
    const errors = errorsOf(page);
    await page.goto(`${base}/proofs`);
    await page.waitForSelector("#pin");
    await shot(page, "01-proofs-unpinned");
    await page.fill("#writ", H.echoId);
    await Promise.all([page.waitForNavigation(), page.click("form[action='/proofs'] button")]);
    await pin(page);
    await page.waitForSelector("#report");
    await ready(page);
    const report = page.locator("#report");
    assert.equal(await report.getAttribute("data-verdict"), "allow");
    const text = await report.innerText();
    for (const want of ["Issuer signature", "Receipt inclusion proof", "Checkpoint signature", "Consistency with checkpoints seen before", "What this page did not verify", "Run /usr/bin/echo"]) {
      assert.ok(text.includes(want), `report lacks “${want}”: ${text}`);
    }
    assert.match(await page.locator("#pinned-digest").innerText(), /^[0-9a-f]{64}$/);
    timings.verify_writ_receipt_ms = Number(await report.getAttribute("data-ms"));
    assert.ok(timings.verify_writ_receipt_ms <= 50, `verify took ${timings.verify_writ_receipt_ms} ms`);
    await shot(page, "02-proofs-verified");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("a writ by ledger index shows the markup of its reason as text", async () => {
    const page = await ctx.newPage();
    const bundle = await (await fetch(`${base}/v1/public/writs/${H.unameId}/bundle`)).json();
    await page.goto(`${base}/proofs?index=${bundle.index}`);
    await page.waitForSelector("#report");
    assert.notEqual(await page.title(), "pwned");
    assert.equal(await page.locator("img[src=x]").count(), 0);
    const reason = await page.locator("#report dd.reason").innerText();
    assert.equal(reason, REASON);
    await shot(page, "03-proofs-by-index-two-approvals");
    await page.close();
  });

  test("a dropped writ + receipt pair verifies; tampering gives the code `writ verify` gives", async () => {
    const page = await ctx.newPage();
    await page.goto(`${base}/proofs`);
    await ready(page);
    const writText = readFileSync(join(dir, H.echoFile), "utf8");
    const receiptText = readFileSync(join(dir, `${H.echoFile}.receipt`), "utf8");
    await page.evaluate(([w, r]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([w], "hello.writ.json", { type: "application/json" }));
      dt.items.add(new File([r], "hello.tlog-proof", { type: "text/plain" }));
      document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [writText, receiptText]);
    await page.waitForSelector("#report[data-verdict=allow]");
    await shot(page, "04-dropped-pair");
    for (const which of ["writ", "receipt"]) {
      await page.click(`#tamper-${which}`);
      await page.waitForSelector("#tamper-note");
      const code = await page.locator("#report").getAttribute("data-code");
      const tampered = Buffer.from(await page.evaluate(() => document.body.dataset.tampered), "base64");
      const file = join(dir, `tampered.${which}`);
      writeFileSync(file, tampered);
      const args = which === "writ"
        ? ["verify", file, "--trust", "h/trust.json", "--receipt", `${H.echoFile}.receipt`, "--json"]
        : ["verify", H.echoFile, "--trust", "h/trust.json", "--receipt", file, "--json"];
      const native = writCode(args);
      assert.equal(native.code, 77, native.out);
      const nativeCode = JSON.parse(native.out.trim().split("\n")[0]).code;
      assert.ok(code, "the page shows a code");
      assert.equal(code, nativeCode, `${which}: page ${code}, writ verify ${nativeCode}`);
      assert.equal(await page.locator("#denial-code").innerText(), code);
      for (const st of await page.locator("#report .step").all()) {
        const box = await st.boundingBox();
        assert.ok(box && box.x > 0 && box.width > 100, `a report step is off-screen: ${await st.innerText()}`);
      }
      await shot(page, `05-tampered-${which}`);
      await page.click("#untamper");
      await page.waitForSelector("#report[data-verdict=allow]");
    }
    await page.close();
  });

  test("the browser verifier agrees with native verify on every testdata vector", async () => {
    const page = await ctx.newPage();
    await page.goto(`${base}/proofs`);
    await ready(page);
    const vdir = join(root, "testdata", "writs");
    const vectors = readdirSync(vdir).filter((f) => f.endsWith(".expected.json")).sort().map((f) => {
      const stem = f.replace(/\.expected\.json$/, "");
      const exp = JSON.parse(readFileSync(join(vdir, f), "utf8"));
      return { stem, exp, env: readFileSync(join(vdir, `${stem}.writ.json`)).toString("base64"), trust: readFileSync(join(vdir, exp.trust), "utf8") };
    });
    assert.ok(vectors.length >= 30);
    const got = await page.evaluate(async (vs) => {
      const m = await import("/web/assets/writ_wasm.js");
      await m.default({ module_or_path: "/web/assets/writ_wasm_bg.wasm" });
      return vs.map((v) => {
        const env = Uint8Array.from(atob(v.env), (c) => c.charCodeAt(0));
        const out = JSON.parse(m.verify(env, v.trust, JSON.stringify(v.exp.context)));
        return { stem: v.stem, verdict: out.verdict, code: out.code };
      });
    }, vectors);
    for (const [i, v] of vectors.entries()) {
      assert.deepEqual(got[i], { stem: v.stem, verdict: v.exp.verdict, code: v.exp.code }, v.stem);
    }
    await page.close();
  });
});

describe("Lineage Explorer", () => {
  test("search by writ id lists its records, each inclusion proof checked in the page", async () => {
    const page = await ctx.newPage();
    await page.goto(`${base}/lineage?q=${encodeURIComponent(H.unameId)}`);
    await ready(page);
    const rows = await page.locator("table.entries tbody tr").count();
    assert.ok(rows >= 4, `${rows} rows`);
    const badges = await page.evaluate(() => document.body.dataset.badges);
    const [ok, total] = badges.split("/").map(Number);
    assert.equal(ok, total, `badges ${badges}`);
    assert.ok(total >= 4);
    assert.ok((await page.locator("table.entries").innerText()).includes("done <script>x</script>"), "the revocation reason shows as text");
    await shot(page, "06-lineage-search");
    await page.close();
  });

  test("focus on a writ shows its graph, and the hop controls and permalinks work", async () => {
    const page = await ctx.newPage();
    const issuance = (await (await fetch(`${base}/v1/public/writs/${H.unameId}/bundle`)).json()).index;
    await page.goto(`${base}/lineage?focus=${issuance}&hops=1`);
    await ready(page);
    const kinds = await page.locator("svg.graph a.node").evaluateAll((ns) => ns.map((n) => n.getAttribute("class")));
    for (const k of ["approval", "issuance focus", "revocation", "exec_start"]) {
      assert.ok(kinds.some((c) => c.includes(k)), `no ${k} node in ${kinds}`);
    }
    assert.ok(await page.locator("svg.graph circle.badge.ok").count() >= kinds.length);
    await shot(page, "07-lineage-focus");
    // Keyboard: the nodes are links; Enter on the request node refocuses there.
    await page.locator("svg.graph a.node.approval").first().focus();
    await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
    assert.match(page.url(), /focus=\d+&hops=1/);
    await page.click("text=More hops");
    await ready(page);
    assert.match(page.url(), /hops=2/);
    assert.ok(await page.locator("svg.graph a.node.request").count() >= 1);
    await shot(page, "08-lineage-refocused");
    await page.close();
  });

  test("impact of an approver's key reaches the writ it approved and the runs under it", async () => {
    const page = await ctx.newPage();
    await page.goto(`${base}/lineage`);
    await page.fill("#key", H.bobKeyId);
    await Promise.all([page.waitForNavigation(), page.click("form[action='/lineage/impact'] button")]);
    await ready(page);
    const text = await page.locator("#impact").innerText();
    assert.ok(text.includes(H.unameId), "the approved writ is in the impact");
    assert.ok(text.includes("rogue-host"), "its runs are in the impact");
    await shot(page, "09-impact-key");
    await page.close();
  });

  test("the gap report names the seeded faults", async () => {
    const page = await ctx.newPage();
    await page.goto(`${base}/lineage/gaps`);
    const text = await page.locator("#gaps").innerText();
    for (const [kind, idx] of [["run_without_end", H.rogueIdx], ["unknown_gate", H.rogueIdx], ["run_after_revocation", H.afterRevokeIdx]]) {
      const row = page.locator("#gaps tr", { hasText: kind }).filter({ hasText: `#${idx}` });
      assert.ok(await row.count() >= 1, `${kind} at #${idx} missing: ${text}`);
    }
    assert.ok(!text.includes(`#${H.startIdx}\n`), "the complete run is not a gap");
    const early = page.locator("#gaps tr", { hasText: "run_after_revocation" }).filter({ hasText: `#${H.rogueIdx}` });
    assert.equal(await early.count(), 0, "the run recorded before the revocation is not after it");
    await shot(page, "10-gap-report");
    await page.close();
  });

  test("on a phone-sized screen the pages stay readable", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await phone.newPage();
    await page.goto(`${base}/proofs?writ=${H.echoId}`);
    await pin(page);
    await page.waitForSelector("#report[data-verdict=allow]");
    const overflow = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, window.innerWidth) - 390);
    assert.ok(overflow <= 1, `page scrolls sideways by ${overflow}px`);
    await shot(page, "11-phone-proofs");
    await page.goto(`${base}/lineage?q=${encodeURIComponent(H.unameId)}`);
    await shot(page, "12-phone-lineage");
    await phone.close();
  });
});

describe("offline and adversarial", () => {
  test("the exported page verifies from file:// with the server stopped", async () => {
    const out = join(dir, "export");
    const res = writCode(["proofs", "export", out, "--writ", H.echoId, "--server", base, "--trust", "h/trust.json"]);
    assert.equal(res.code, 0, res.out);
    const printed = res.out.match(/trust root sha256 ([0-9a-f]{64})/)[1];
    const served = createHash("sha256").update(Buffer.from(await (await fetch(`${base}/v1/trust/document`)).arrayBuffer())).digest("hex");
    assert.equal(printed, served, "the export pins the trust root the Proof Viewer pins");
    await stopServer(server);
    const page = await ctx.newPage();
    const errors = errorsOf(page);
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(join(out, "index.html")).href);
    await page.waitForSelector("#report");
    assert.equal(await page.locator("#report").getAttribute("data-verdict"), "allow", await page.locator("#result").innerText());
    assert.equal(await page.locator("#pinned-digest").innerText(), printed);
    assert.ok(requests.every((u) => u.startsWith("file:") || u.startsWith("data:")), `network: ${requests}`);
    await shot(page, "13-offline-export");
    await page.click("#tamper-writ");
    await page.waitForSelector("#report[data-verdict=deny]");
    assert.equal(await page.locator("#report").getAttribute("data-code"), "bad_signature");
    await shot(page, "14-offline-tampered");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("a forked log is shown as a fork after a good checkpoint was seen", async () => {
    // The browser has seen the real log's checkpoint (tests above). Now the
    // same address serves the fork: the same ledger key, another history.
    server = await startServer("hfork");
    const page = await ctx.newPage();
    await page.goto(`${base}/proofs?writ=${H.echoId}`);
    await page.waitForSelector("#report");
    await ready(page);
    assert.equal(await page.locator("#report").getAttribute("data-log"), "fork", await page.locator("#report").innerText());
    const text = await page.locator("#report").innerText();
    assert.match(text, /FORK/);
    // Valid signatures in a forked log are not "Verified": the headline says why.
    const headline = await page.locator("#report-h").innerText();
    assert.doesNotMatch(headline, /^Verified/, headline);
    assert.match(headline, /Not trustworthy: FORK/, headline);
    assert.match(await page.locator("#report").getAttribute("class"), /\bbad\b/);
    await shot(page, "15-fork-detected");
    await page.close();
    await stopServer(server);
    server = null;
  });
});
