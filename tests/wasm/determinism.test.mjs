// Runs every testdata/writs vector through writ-core compiled to WebAssembly
// (wasm32-unknown-unknown, wasm-bindgen --target nodejs) and demands the
// verdict and code written beside it — the same ones the native build gives.
//
// Build first (.ci/run does this):
//   cargo build -p writ-wasm --target wasm32-unknown-unknown
//   wasm-bindgen --target nodejs --out-dir target/wasm-node \
//       target/wasm32-unknown-unknown/debug/writ_wasm.wasm
//   node --test tests/wasm/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(import.meta.url);
const pkg = resolve(process.env.WRIT_WASM_PKG ?? join(root, "target", "wasm-node"));
const writ = require(join(pkg, "writ_wasm.js"));
const dir = join(root, "testdata", "writs");

const vectors = readdirSync(dir).filter((f) => f.endsWith(".expected.json")).sort();

test("there are vectors to check", () => {
  assert.ok(vectors.length >= 30, `only ${vectors.length} vectors found`);
});

// The hybrid suite's vectors (ed25519+ml-dsa-65, docs/format.md §17) have
// the same layout; the ML-DSA-65 checks run in WebAssembly too.
const hybridDir = join(root, "testdata", "hybrid");
const hybridVectors = readdirSync(hybridDir).filter((f) => f.endsWith(".expected.json")).sort();

test("there are hybrid vectors to check", () => {
  assert.ok(hybridVectors.length >= 10, `only ${hybridVectors.length} hybrid vectors found`);
});

for (const [d, file] of [...vectors.map((f) => [dir, f]), ...hybridVectors.map((f) => [hybridDir, f])]) {
  const stem = file.replace(/\.expected\.json$/, "");
  test(`wasm verdict for ${d === dir ? "" : "hybrid/"}${stem}`, () => {
    const expected = JSON.parse(readFileSync(join(d, file), "utf8"));
    const envelope = readFileSync(join(d, `${stem}.writ.json`));
    const trust = readFileSync(join(d, expected.trust), "utf8");
    const out = JSON.parse(writ.verify(envelope, trust, JSON.stringify(expected.context)));
    assert.equal(out.verdict, expected.verdict, `${stem}: ${out.detail ?? ""}`);
    assert.equal(out.code, expected.code, `${stem}: ${out.detail ?? ""}`);
  });
}

test("denial codes are exported with hints", () => {
  const codes = JSON.parse(writ.denialCodes());
  assert.ok(codes.some((c) => c.code === "bad_signature" && c.hint.length > 0));
});
