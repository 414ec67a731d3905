// Times writ-core compiled to WebAssembly (the committed web build) under
// Node.js on testdata vectors: the minimum over rounds of the mean per call,
// for docs/performance.md. Native counterpart:
//   cargo bench -p writ-wasm --bench native
// Usage: node tests/browser/bench-node.mjs [vector…]
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const assets = join(root, "crates/writ-server/src/web/assets");
// The glue is an ES module written for browsers; load a copy as .mjs.
const tmp = mkdtempSync(join(tmpdir(), "writ-bench-"));
writeFileSync(join(tmp, "writ_wasm.mjs"), readFileSync(join(assets, "writ_wasm.js")));
const w = await import(pathToFileURL(join(tmp, "writ_wasm.mjs")).href);
w.initSync({ module: readFileSync(join(assets, "writ_wasm_bg.wasm")) });

function time(f, rounds = 15, n = 200) {
  for (let i = 0; i < n; i++) f();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n / 1000);
  }
  return best;
}

const dir = join(root, "testdata/writs");
for (const name of process.argv.slice(2).length ? process.argv.slice(2) : ["allow_two_approvals", "allow_with_receipt"]) {
  const exp = JSON.parse(readFileSync(join(dir, `${name}.expected.json`), "utf8"));
  const env = readFileSync(join(dir, `${name}.writ.json`));
  const trust = readFileSync(join(dir, exp.trust), "utf8");
  const ctx = JSON.stringify(exp.context);
  const v = new w.Verifier(trust);
  const fresh = () => { const x = new w.Verifier(trust); const out = x.verify(env, ctx); x.free(); return out; };
  console.log(`${name}: parse trust root + verify ${time(fresh).toFixed(1)} µs; verify (root parsed once) ${time(() => v.verify(env, ctx)).toFixed(1)} µs; verdict ${JSON.parse(v.verify(env, ctx)).verdict}`);
}
