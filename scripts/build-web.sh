#!/usr/bin/env bash
# Rebuilds the committed WebAssembly verifier of the web pages:
#   crates/writ-server/src/web/assets/writ_wasm_bg.wasm  (writ-core via writ-wasm)
#   crates/writ-server/src/web/assets/writ_wasm.js       (wasm-bindgen --target web glue)
# CI runs it and fails on any difference (`git diff --exit-code`), like the
# test vectors. Needs the wasm32-unknown-unknown target and wasm-bindgen-cli
# of the version in Cargo.lock. No Node.js, npm or bundler.
set -euo pipefail
cd "$(dirname "$0")/.."

want="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)"
have="$(wasm-bindgen --version | awk '{print $2}')"
if [ "$want" != "$have" ]; then
  echo "build-web: wasm-bindgen $have found, Cargo.lock wants $want; run \`cargo install wasm-bindgen-cli --version $want\`" >&2
  exit 1
fi

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# Reproducible output: no absolute paths in the module, one codegen unit.
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_PANIC=abort
export RUSTFLAGS="${WRIT_WASM_RUSTFLAGS:-} --remap-path-prefix=$PWD=/writ --remap-path-prefix=$HOME=/home"
cargo build ${CARGO_LOCKED:+--locked} -p writ-wasm --target wasm32-unknown-unknown --release --target-dir "$target_dir/wasm-web"
out=crates/writ-server/src/web/assets
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$out" \
  "$target_dir/wasm-web/wasm32-unknown-unknown/release/writ_wasm.wasm"
# Served to browsers that accept gzip (what the 500 KB first-load budget counts).
gzip -9 -n -c "$out/writ_wasm_bg.wasm" > "$out/writ_wasm_bg.wasm.gz"
ls -l "$out/writ_wasm_bg.wasm" "$out/writ_wasm_bg.wasm.gz" "$out/writ_wasm.js"
