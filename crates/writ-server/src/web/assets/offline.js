// Bootstrap of the page `writ proofs export` writes: runs with no server.
// In scope (same inline module): the wasm-bindgen glue (`initSync`,
// `Verifier`), verify.js and WASM_B64.
(function offlineMain() {
  const bundle = JSON.parse(document.getElementById("bundle").textContent);
  initSync({ module: b64ToBytes(WASM_B64) });
  const v = new Verifier(bundle.trust);
  const status = document.getElementById("trust-status");
  status.replaceChildren("Trust root embedded in this bundle: sha256 ", mk("code", { id: "pinned-digest", text: v.digest() }));
  if (bundle.trust_sha256 && bundle.trust_sha256 !== v.digest()) {
    status.append(mk("p", { class: "notice bad", text: "The bundle's stated trust root digest does not match the embedded trust root." }));
  }
  const result = document.getElementById("result");
  const writ = enc.encode(bundle.writ);
  const receipt = enc.encode(bundle.receipt || "");
  const render = (w, r, tampered) => {
    const t0 = performance.now();
    const rep = JSON.parse(v.verifyWrit(w, r, Date.now() / 1000));
    const ms = performance.now() - t0;
    const log = { state: "skip", title: "Consistency with newer checkpoints", detail: "offline: this page has no log to compare the receipt's checkpoint with" };
    const box = renderReport(rep, log, { tampered });
    box.setAttribute("data-ms", ms.toFixed(2));
    const tw = mk("button", { type: "button", id: "tamper-writ", text: "Flip a byte of the writ" });
    tw.addEventListener("click", () => { const t = tamperBytes(writ, "writ"); render(t.bytes, receipt, { which: "writ", pos: t.pos, from: t.from, to: t.to }); });
    const back = mk("button", { type: "button", id: "untamper", class: "secondary", text: "Verify the original" });
    back.addEventListener("click", () => render(writ, receipt, null));
    box.append(mk("div", { class: "tamper" }, tw, " ", back));
    result.replaceChildren(box);
  };
  render(writ, receipt, null);
  document.body.dataset.ready = "true";
})();
