// The Runtime Governance Demo and the Infrastructure Health Dashboard in a
// real headless Chromium (Debian's `chromium`, driven by playwright-core)
// against a real `writ demo --live`: the scenario plays to its end in the
// page, every step with its expected verdict and working proof and lineage
// links; then /health shows the figures /metrics gives.
//
// Run with tests/browser/run.sh. Screenshots go to $WRIT_ARTIFACTS.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const WRIT = process.env.WRIT_BIN || join(root, "target", "debug", "writ");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ART = resolve(process.env.WRIT_ARTIFACTS || join(root, "target", "test-artifacts", "browser"));
mkdirSync(ART, { recursive: true });

const dir = mkdtempSync(join(tmpdir(), "writ-demo-browser-"));
chmodSync(dir, 0o755); // a root gate runs programs as another uid, which must reach deploy.sh
let base, demo, browser, ctx;
let demoOut = "";

// The verdict each step must end with (the scenario's own list, as the page shows it).
const EXPECTED = [
  "allowed", "allowed", "denied: scope_args", "denied: expired",
  "stopped: revoked", "denied: replayed", "denied: bad_signature", "denied: receipt_missing",
];

async function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

async function shot(page, name) {
  await page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
}

function errorsOf(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return errors;
}

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  demo = spawn(WRIT, ["demo", "--live", "--listen", `127.0.0.1:${port}`, "--dir", join(dir, "demo"), "--approve-after", "4", "--pace", "1"],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  demo.stdout.on("data", (d) => { demoOut += d; });
  demo.stderr.on("data", (d) => { demoOut += d; });
  for (let i = 0; i < 1200; i++) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch { /* not yet */ }
    if (demo.exitCode !== null) throw new Error(`writ demo exited: ${demoOut}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu", "--no-first-run"],
  });
  ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
});

after(async () => {
  if (browser) await browser.close();
  if (demo && demo.exitCode === null) {
    const done = new Promise((r) => demo.once("exit", r));
    demo.kill("SIGTERM");
    await done;
  }
  rmSync(dir, { recursive: true, force: true });
});

// Prometheus text → Map("name{k=\"v\"}" → number).
function parseMetrics(text) {
  const m = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

function seriesName(metric, labels) {
  if (!labels) return metric;
  const i = labels.indexOf("=");
  return `${metric}{${labels.slice(0, i)}="${labels.slice(i + 1)}"}`;
}

describe("Runtime Governance Demo", () => {
  test("the scenario plays to its end in the page, each step with its expected verdict", async () => {
    const page = await ctx.newPage();
    const errors = errorsOf(page);
    await page.goto(`${base}/demo`);
    assert.equal(await page.locator("#demo-steps > li").count(), EXPECTED.length);
    // The deploy waits for approvals (with a link to its request in the console).
    await page.waitForSelector("#step-2[data-state=waiting] a.console-link", { timeout: 60000 });
    const consoleHref = await page.locator("#step-2 a.console-link").getAttribute("href");
    assert.match(consoleHref, /^\/console\/requests\/[0-9a-f-]+$/);
    await shot(page, "20-demo-waiting-for-approvals");
    await page.waitForSelector("#demo-summary[data-finished=true]", { timeout: 180000 });
    await shot(page, "21-demo-finished");
    const steps = await page.locator("#demo-steps > li").all();
    for (const [i, li] of steps.entries()) {
      const n = i + 1;
      const text = await li.innerText();
      assert.equal(await li.getAttribute("data-state"), "done", `step ${n} did not end as expected: ${text}\n${demoOut}`);
      assert.equal(await li.locator(".expect").innerText(), EXPECTED[i], `step ${n}`);
      assert.equal(await li.locator(".verdict").innerText(), EXPECTED[i], `step ${n}: ${text}`);
      assert.ok(await li.locator("a.proof-link").count(), `step ${n} has no proof link`);
      assert.ok(await li.locator("a.lineage-link").count(), `step ${n} has no lineage link`);
    }
    assert.match(await page.locator("#demo-summary").innerText(), /all 8 steps ended as expected/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("every step's lineage link shows its node and every proof link opens its proof", async () => {
    const feed = await (await fetch(`${base}/demo/steps.json`)).json();
    assert.equal(feed.finished, true);
    const page = await ctx.newPage();
    const errors = errorsOf(page);
    const minted = feed.steps[7];
    for (const s of feed.steps) {
      const r = await page.goto(`${base}${s.lineage_url}`);
      assert.equal(r.status(), 200, `step ${s.n}: ${s.lineage_url}`);
      if (s === minted) {
        // The writ was never issued, but the gate's signed denial of it is
        // in the ledger: the step links to that entry's node and proof.
        assert.equal(s.lineage_url, `/lineage?focus=${s.ledger_index}`);
        assert.equal(s.proof_url, `/proofs?index=${s.ledger_index}`);
        assert.match(s.detail, /was never issued: the gate's signed denial is ledger entry \d+/);
        const denial = await (await fetch(`${base}/v1/public/entries/${s.ledger_index}`)).json();
        assert.equal(denial.code, "receipt_missing");
        assert.ok(denial.writ_id, "the denial names the minted writ");
        const issued = await fetch(`${base}/v1/public/writs/${denial.writ_id}/bundle`);
        assert.equal(issued.status, 404, "the ledger has no issuance of the minted writ");
        assert.match(await page.locator("strong.unissued").first().innerText(), /a writ the ledger never issued was presented/);
        await shot(page, "23-demo-stolen-key-lineage");
      }
      const focus = page.locator("svg.graph .node.focus");
      assert.equal(await focus.count(), 1, `step ${s.n}: no focused node at ${s.lineage_url}`);
      const entry = await (await fetch(`${base}/v1/public/entries/${s.ledger_index}`)).json();
      const kind = s.expect.startsWith("denied") ? "denial" : "exec_end";
      assert.equal(entry.kind, kind, `step ${s.n}: entry ${s.ledger_index} is a ${entry.kind}`);
      if (kind === "denial") assert.equal(`denied: ${entry.code}`, s.expect, `step ${s.n}: the ledger records the verdict`);
      if (s.n === 2) await shot(page, "22-demo-deploy-lineage");
    }
    for (const s of feed.steps) {
      const r = await page.goto(`${base}${s.proof_url}`);
      assert.equal(r.status(), 200, `step ${s.n}: ${s.proof_url}`);
      await page.waitForSelector("#pin, #pinned-digest");
      if (await page.locator("#pin").count()) await page.click("#pin");
      await page.waitForSelector("#report", { timeout: 20000 });
      const verdict = await page.locator("#report").getAttribute("data-verdict");
      assert.ok(verdict, `step ${s.n}: the Proof Viewer gave no verdict for ${s.proof_url}`);
      if (s.n === 1) {
        assert.equal(verdict, "allow", "the allowed call's writ verifies in the browser");
        await shot(page, "24-demo-step1-proof");
      }
      if (s === minted) await shot(page, "24-demo-stolen-key-denial-proof");
    }
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe("Infrastructure Health Dashboard", () => {
  test("the page shows the figures /metrics gives", async () => {
    const page = await ctx.newPage();
    const errors = errorsOf(page);
    const before = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    await page.goto(`${base}/health?refresh=0`);
    const figures = await page.locator("[data-metric]").evaluateAll((els) => els.map((e) => ({
      metric: e.dataset.metric, labels: e.dataset.labels || "", value: e.dataset.value, text: e.textContent.trim(),
    })));
    const afterM = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    let compared = 0;
    for (const f of figures) {
      const name = seriesName(f.metric, f.labels);
      assert.ok(afterM.has(name), `the page shows ${name}, /metrics has no such series`);
      if (before.get(name) !== afterM.get(name)) continue; // moved between the two reads (ages, counters of this test's own requests)
      const want = afterM.get(name);
      const got = f.value !== undefined ? Number(f.value) : 1; // info series: the label is the figure, the value 1
      assert.equal(got, want, `${name}: page ${f.value} (shown as “${f.text}”), /metrics ${want}`);
      compared += 1;
    }
    for (const must of ["writ_ledger_size", "writ_selfcheck_failures_total{check=\"checkpoint\"}", "writ_denials_total{code=\"scope_args\"}",
      "writ_gate_records_total{gate=\"gate\"}", "writ_trust_version"]) {
      assert.ok(figures.some((f) => seriesName(f.metric, f.labels) === must), `the page lacks ${must}`);
    }
    assert.ok(compared >= 20, `only ${compared} figures were stable enough to compare`);
    // The demo's denials are all there, by code, and self-verification ran clean.
    for (const code of ["scope_args", "expired", "replayed", "bad_signature"]) {
      assert.ok((afterM.get(`writ_denials_total{code="${code}"}`) || 0) >= 1, `no ${code} denial counted`);
    }
    for (const c of ["checkpoint", "inclusion", "consistency"]) {
      assert.equal(afterM.get(`writ_selfcheck_failures_total{check="${c}"}`), 0);
    }
    assert.match(await page.locator("#selfcheck h2").innerText(), /0 failures/);
    // The stolen-key step's denial is an alert: a writ the ledger never issued was presented.
    assert.equal(afterM.get("writ_unissued_writs_presented_total"), 1);
    assert.match(await page.locator("#unissued h2").innerText(), /Unissued writs presented: 1/);
    const stolen = (await (await fetch(`${base}/demo/steps.json`)).json()).steps[7];
    assert.equal(await page.locator("#unissued a.proof-link").getAttribute("href"), `/proofs?index=${stolen.ledger_index}`);
    assert.equal(await page.locator("#unissued a.lineage-link").getAttribute("href"), `/lineage?focus=${stolen.ledger_index}`);
    // integration latency is the ledger's (every append), shown as /metrics has it
    assert.ok(afterM.get("writ_integration_seconds_count") > 0, "integration is timed in the ledger for every append");
    await shot(page, "25-health");
    await page.setViewportSize({ width: 390, height: 800 });
    await shot(page, "26-health-phone");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("the page refreshes itself", async () => {
    const page = await ctx.newPage();
    await page.goto(`${base}/health`);
    assert.equal(await page.locator("meta[http-equiv=refresh]").getAttribute("content"), "5");
    await page.close();
  });
});
