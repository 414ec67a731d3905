// `writ-gate mcp` driven by the official TypeScript MCP SDK
// (@modelcontextprotocol/sdk 1.32, `Client` + `StdioClientTransport`), in
// front of an MCP server built with the same SDK (upstream.mjs). A scripted
// agent loop (no model) makes allowed, forbidden-tool, argument-violating,
// writ-less, forged, approval-needing and replayed calls; each test asserts
// what the upstream tool actually received (nothing for a refused call).
//
//     WRIT_BIN=target/debug/writ WRIT_GATE_BIN=target/debug/writ-gate node --test tests/mcp-ts/
//
// (scripts/test sets both; `npm ci` in tests/mcp-ts installs the SDK.)
// Writs are signed with `writ sign` and writ-core's public fixture issuer key
// (seed [1; 32], the key of testdata/writs/trust.json): never for real use.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { connect as tcpConnect, createServer as tcpServer } from "node:net";
import { McpError } from "@modelcontextprotocol/sdk/types.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const VECTORS = join(ROOT, "testdata", "writs");
const UPSTREAM = join(HERE, "upstream.mjs");
const WRIT = process.env.WRIT_BIN;
const GATE = process.env.WRIT_GATE_BIN;
const META = "dev.writ/writ";
const DEFINITION = "dev.writ/definition_sha256";
const DENIED = -32001;
const APPROVAL_REQUIRED = -32002;

if (!WRIT || !GATE) throw new Error("set WRIT_BIN and WRIT_GATE_BIN (the `writ` and `writ-gate` binaries of this tree)");

const dirs = [];
function tempDir() {
  const d = mkdtempSync(join(tmpdir(), "writ-mcp-ts-"));
  dirs.push(d);
  return d;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function writOk(cwd, ...args) {
  const out = spawnSync(WRIT, args, { cwd, encoding: "utf8" });
  assert.equal(out.status, 0, `writ ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const fmt = (t) => new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

// ---- writs ------------------------------------------------------------------------

/** The fixture predicate (that of the `allow_exec` vector) to start from. */
const BASE = JSON.parse(
  Buffer.from(JSON.parse(readFileSync(join(VECTORS, "allow_exec.writ.json"), "utf8")).payload, "base64").toString(),
).predicate;

let n = 0;
/** A writ for `actions`, valid for ten minutes, signed by the fixture issuer with `writ sign`. */
function signTool(dir, actions) {
  const p = structuredClone(BASE);
  const now = Math.floor(Date.now() / 1000);
  delete p.id; // `writ sign` draws a fresh one
  p.issued_at = fmt(now - 10);
  for (const c of p.conditions ?? []) c.verified_at = fmt(now - 10);
  p.validity = { not_before: fmt(now - 10), not_after: fmt(now + 600) };
  p.scope.actions = actions;
  p.scope.environment = { hosts: ["agent-*"], labels: [] };
  p.scope.boundaries = {};
  p.scope.offline = true;
  n += 1;
  writeFileSync(join(dir, `p${n}.json`), JSON.stringify(p));
  writOk(dir, "sign", "--key", "issuer.key", "--predicate", `p${n}.json`, "--out", `w${n}.writ`);
  return readFileSync(join(dir, `w${n}.writ`));
}

const TOOLS = ["refund", "read_file", "delete_everything", "deploy"];

// ---- the gateway, the upstream and what it received --------------------------------

/** A gate home: the vectors' trust root plus this gateway's key (`gate` role), a gate.toml. */
function gateHome() {
  const d = tempDir();
  writeFileSync(join(d, "trust.json"), readFileSync(join(VECTORS, "trust.json")));
  writeFileSync(join(d, "issuer.key"), `ed25519-secret ${b64(Buffer.alloc(32, 1))}\n`);
  chmodSync(join(d, "issuer.key"), 0o600);
  writOk(d, "keygen", "--out", "gate.key", "--name", "gate1");
  writOk(d, "trust", "add", "--trust", "trust.json", "--role", "gate", "--key", "gate.key.pub");
  const cfg = join(d, "gate.toml");
  writeFileSync(
    cfg,
    [`hostname = "agent-1"`, `trust = "${d}/trust.json"`, `key = "${d}/gate.key"`, `spool = "${d}/gate.spool"`, ""].join("\n"),
  );
  chmodSync(cfg, 0o600);
  return d;
}

function calls(log) {
  return existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
}

async function connect(gateArgs) {
  const client = new Client({ name: "writ-ts-agent", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command: GATE, args: gateArgs, stderr: "pipe" }));
  return client;
}

/** The writ error of a refused call: the JSON-RPC code and `data.writ`. */
async function refused(call) {
  try {
    await call;
  } catch (e) {
    assert.ok(e instanceof McpError, `not an MCP error: ${e}`);
    return { code: e.code, writ: e.data?.writ ?? {} };
  }
  assert.fail("the call was not refused");
}

async function deniedCode(call) {
  const r = await refused(call);
  assert.equal(r.code, DENIED, JSON.stringify(r));
  return r.writ.code;
}

const text = (result) => result.content.filter((c) => c.type === "text").map((c) => c.text).join("");

/** The spool's records (documented frame `"wsp2" ‖ len ‖ sha256 ‖ entry ‖ len ‖ "wsp."`): kind and whether signed. */
function spoolRecords(path) {
  const data = readFileSync(path);
  const out = [];
  for (let at = 0; at < data.length; ) {
    assert.equal(data.subarray(at, at + 4).toString(), "wsp2", `bad magic at ${at}`);
    const len = data.readUInt32BE(at + 4);
    const entry = data.subarray(at + 40, at + 40 + len);
    assert.deepEqual(createHash("sha256").update(entry).digest(), data.subarray(at + 8, at + 40));
    const kind = { 6: "exec_start", 7: "exec_end", 8: "denial" }[entry[1]] ?? `kind ${entry[1]}`;
    // A gate record ends with the key id (0xF1, 32 bytes) and the signature (0xF2, 64 bytes) fields.
    const signed = entry[len - 67] === 0xf2 && entry[len - 102] === 0xf1;
    out.push({ kind, signed });
    at += 48 + len;
  }
  return out;
}

// ---- offline, over stdio -------------------------------------------------------------

test("offline over stdio: only what the writ permits reaches the TypeScript upstream", async () => {
  const d = gateHome();
  const log = join(d, "upstream.log");
  const client = await connect(["mcp", "--offline", "--config", join(d, "gate.toml"), "--", process.execPath, UPSTREAM, log]);
  try {
    // An operator's writ naming every tool reads the definitions' digests.
    const lister = signTool(d, TOOLS.map((name) => ({ tool: { name, more_args: true } })));
    const all = (await client.listTools({ _meta: { [META]: b64(lister) } })).tools;
    const digests = Object.fromEntries(all.map((t) => [t.name, t._meta?.[DEFINITION]]));
    assert.deepEqual(Object.keys(digests).sort(), [...TOOLS].sort());
    assert.ok(Object.values(digests).every((v) => /^[0-9a-f]{64}$/.test(v)), JSON.stringify(digests));

    // The agent's writ: refunds of 1..100 EUR or USD, reading project files; bound to the definitions.
    const w = signTool(d, [
      {
        tool: {
          name: "refund",
          definition_sha256: digests.refund,
          args: { amount: { range: { min: 1, max: 100 } }, currency: { one_of: ["EUR", "USD"] } },
        },
      },
      { tool: { name: "read_file", definition_sha256: digests.read_file, args: { path: { glob: "/srv/project/*" } } } },
    ]);
    const meta = { [META]: b64(w) };
    const call = (name, args, m = meta) => client.callTool({ name, arguments: args, _meta: m });

    // tools/list shows only what this writ allows.
    assert.deepEqual((await client.listTools({ _meta: meta })).tools.map((t) => t.name).sort(), ["read_file", "refund"]);
    // Allowed.
    assert.equal(text(await call("refund", { amount: 5, currency: "EUR" })), "refunded 5 EUR");
    assert.equal(text(await call("read_file", { path: "/srv/project/README" })), "contents of /srv/project/README");
    // A forbidden tool.
    assert.equal(await deniedCode(call("delete_everything", {})), "scope_program");
    // Arguments outside the writ: out of range, not one of, outside the glob, an extra field.
    assert.equal(await deniedCode(call("refund", { amount: 500, currency: "EUR" })), "scope_args");
    assert.equal(await deniedCode(call("refund", { amount: 5, currency: "BTC" })), "scope_args");
    assert.equal(await deniedCode(call("read_file", { path: "/etc/passwd" })), "scope_args");
    assert.equal(await deniedCode(call("refund", { amount: 5, currency: "EUR", to: "x" })), "scope_args");
    // No writ, and a forged one (one bit of the signature flipped).
    assert.equal(await deniedCode(client.callTool({ name: "refund", arguments: { amount: 5, currency: "EUR" } })), "malformed");
    const forged = Buffer.from(w);
    forged[forged.indexOf('"sig"') + 8] ^= 1;
    assert.ok(["bad_signature", "malformed"].includes(await deniedCode(call("refund", { amount: 5, currency: "EUR" }, { [META]: b64(forged) }))));
    // A writ for another tool set entirely (a delete-only writ) does not open refund.
    const other = signTool(d, [{ tool: { name: "delete_everything" } }]);
    assert.equal(await deniedCode(call("refund", { amount: 5, currency: "EUR" }, { [META]: b64(other) })), "scope_program");
  } finally {
    await client.close();
  }
  // Only the allowed calls reached a tool, with exactly the arguments checked, and no writ in their _meta.
  const got = calls(log);
  assert.deepEqual(
    got.map((c) => [c.tool, c.args]),
    [
      ["refund", { amount: 5, currency: "EUR" }],
      ["read_file", { path: "/srv/project/README" }],
    ],
  );
  assert.ok(got.every((c) => !c.meta.some((k) => k.startsWith("dev.writ/"))), JSON.stringify(got));
  // Each call ran between a durable exec_start and an exec_end; each refusal is a denial; all signed.
  const records = spoolRecords(join(d, "gate.spool"));
  const kinds = records.map((r) => r.kind);
  assert.equal(kinds.filter((k) => k === "exec_start").length, 2, kinds.join());
  assert.equal(kinds.filter((k) => k === "exec_end").length, 2, kinds.join());
  assert.equal(kinds.filter((k) => k === "denial").length, 8, kinds.join());
  assert.ok(records.every((r) => r.signed), "an unsigned gate record");
});

// ---- offline, over Streamable HTTP ---------------------------------------------------------

function firstLine(proc) {
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout }).once("line", resolve);
    proc.once("exit", (c) => reject(new Error(`exited ${c} before it was ready`)));
  });
}

async function freePort() {
  const s = tcpServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function waitPort(port, proc) {
  for (let i = 0; i < 400; i++) {
    assert.equal(proc.exitCode, null, "the gateway exited");
    const up = await new Promise((resolve) => {
      const c = tcpConnect(port, "127.0.0.1", () => (c.end(), resolve(true)));
      c.on("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`nothing listens on ${port}`);
}

test("offline over Streamable HTTP: the writ in the Writ header, the upstream gets neither it nor the call when refused", async () => {
  const d = gateHome();
  const log = join(d, "upstream.log");
  const up = spawn(process.execPath, [UPSTREAM, log, "http"], { stdio: ["ignore", "pipe", "inherit"] });
  let gw;
  try {
    const upstream = (await firstLine(up)).replace(/^listening on /, "");
    const port = await freePort();
    gw = spawn(GATE, ["mcp", "--offline", "--config", join(d, "gate.toml"), "--listen", `127.0.0.1:${port}`, "--upstream", upstream], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    await waitPort(port, gw);
    const lister = signTool(d, TOOLS.map((name) => ({ tool: { name, more_args: true } })));
    const w = signTool(d, [{ tool: { name: "refund", args: { amount: { range: { min: 1, max: 100 } }, currency: { exact: "EUR" } } } }]);
    const url = new URL(`http://127.0.0.1:${port}/mcp`);
    const client = new Client({ name: "writ-ts-agent", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Writ: b64(w) } } }));
    try {
      // Listed and called before any definition was read: the writ binds none.
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ["refund"]);
      assert.equal(text(await client.callTool({ name: "refund", arguments: { amount: 9, currency: "EUR" } })), "refunded 9 EUR");
      assert.equal(await deniedCode(client.callTool({ name: "refund", arguments: { amount: 101, currency: "EUR" } })), "scope_args");
      assert.equal(await deniedCode(client.callTool({ name: "deploy", arguments: {} })), "scope_program");
      // A second, broader writ in _meta besides the header's: a call presents exactly one writ.
      const both = await refused(client.callTool({ name: "delete_everything", arguments: {}, _meta: { [META]: b64(lister) } }));
      assert.equal(both.code, DENIED, JSON.stringify(both));
      assert.equal(both.writ.code, "malformed", JSON.stringify(both));
    } finally {
      await client.close();
    }
  } finally {
    gw?.kill();
    up.kill();
  }
  const got = calls(log);
  assert.deepEqual(got.map((c) => [c.tool, c.args]), [["refund", { amount: 9, currency: "EUR" }]]);
  assert.ok(!got[0].meta.some((k) => k.startsWith("dev.writ/")), JSON.stringify(got));
  assert.ok(!got[0].headers.includes("writ"), `the Writ header reached the upstream: ${got[0].headers}`);
  const kinds = spoolRecords(join(d, "gate.spool")).map((r) => r.kind);
  assert.deepEqual(kinds.filter((k) => k !== "denial"), ["exec_start", "exec_end"]);
});

// ---- online: approval, then single use ---------------------------------------------------

/** `writ init` + `writ serve`: the gateway's key may request and record; alice approves `deploy`. */
async function authority() {
  const d = tempDir();
  writOk(d, "init", "--home", "h");
  for (const name of ["gw", "alice"]) writOk(d, "keygen", "--out", `${name}.key`, "--name", name);
  writOk(d, "trust", "add", "--trust", "h/trust.json", "--role", "requester", "--role", "gate", "--group", "agents", "--key", "gw.key.pub");
  writOk(d, "trust", "add", "--trust", "h/trust.json", "--role", "approver", "--group", "ops", "--key", "alice.key.pub");
  const policies = join(d, "h", "policies.cedar");
  writeFileSync(
    policies,
    readFileSync(policies, "utf8") +
      '\n@id("mcp-deploy")\n@max_duration("600")\n@approvals("1")\n@approver_group("ops")\n' +
      'permit (principal in Writ::Group::"agents", action == Writ::Action::"tool", resource == Writ::Tool::"deploy");\n',
  );
  const serve = spawn(WRIT, ["serve", "--home", "h", "--listen", "127.0.0.1:0"], { cwd: d, stdio: ["ignore", "pipe", "ignore"] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: serve.stdout }).once("line", resolve);
    serve.once("exit", (c) => reject(new Error(`writ serve exited ${c}`)));
  });
  const url = line.trim().replace(/^listening on /, "");
  assert.match(url, /^http:\/\//, line);
  return { d, url, serve };
}

test("online: a call needing approval is filed, answered approval_required, runs once approved, then is replayed", async () => {
  const { d, url, serve } = await authority();
  const log = join(d, "upstream.log");
  const args = ["mcp", "--trust", join(d, "h", "trust.json"), "--authority", url, "--key", join(d, "gw.key")];
  const client = await connect([...args, "--spool", join(d, "fallback.spool"), "--", process.execPath, UPSTREAM, log]);
  try {
    // The TypeScript SDK (1.32) declares no URL-elicitation capability in the
    // request's _meta, so the gateway answers with the JSON-RPC error.
    const first = await refused(client.callTool({ name: "deploy", arguments: {} }));
    assert.equal(first.code, APPROVAL_REQUIRED, JSON.stringify(first));
    assert.equal(first.writ.code, "approval_required");
    assert.equal(first.writ.url, `${url}/console/requests/${first.writ.request_id}`);
    assert.deepEqual(calls(log), [], "the call ran before it was approved");
    // Still pending: the same answer for the retry.
    const pending = await refused(client.callTool({ name: "deploy", arguments: {}, _meta: first.writ.retry._meta }));
    assert.equal(pending.writ.request_id, first.writ.request_id);
    // A person approves in the console (here: `writ approve`); the retry runs the tool once.
    writOk(d, "approve", "--authority", url, "--key", "alice.key", "--yes", first.writ.request_id);
    const done = await client.callTool({ name: "deploy", arguments: {}, _meta: first.writ.retry._meta });
    assert.equal(text(done), "deployed");
    // The approval was for one use: presented again, it is spent.
    assert.equal(await deniedCode(client.callTool({ name: "deploy", arguments: {}, _meta: first.writ.retry._meta })), "replayed");
    // A tool no policy permits: the authority denies the request, nothing runs.
    const del = await refused(client.callTool({ name: "delete_everything", arguments: {} }));
    assert.equal(del.code, DENIED, JSON.stringify(del));
    assert.equal(del.writ.code, "approvals_insufficient", JSON.stringify(del));
  } finally {
    await client.close();
    serve.kill();
  }
  assert.deepEqual(calls(log).map((c) => c.tool), ["deploy"]);
  // Online, records went to the authority with verified receipts: none fell back to the spool.
  assert.ok(!existsSync(join(d, "fallback.spool")) || readFileSync(join(d, "fallback.spool")).length === 0);
});
