// The Lineage Explorer: fills each record's verify badge by checking its
// inclusion proof in this page against the pinned trust root.
import { loadCore, pinnedVerifier, verifyBadges } from "./common.js";

async function main() {
  const core = await loadCore();
  const v = await pinnedVerifier(core);
  if (v) await verifyBadges(v);
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  const s = document.getElementById("trust-status");
  if (s) s.textContent = `Verification did not run: ${e.message || e}`;
});
