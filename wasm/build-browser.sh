#!/usr/bin/env bash
# Builds the browser package: verge-wasm with `--no-default-features --features browser` for
# wasm32-unknown-unknown (the `wasm-browser` profile: opt-level "z"), then wasm-bindgen `--target web`, then
# `wasm-opt -Oz` when binaryen is available. Output: target/verge-browser-pkg/
# (verge_wasm.js, verge_wasm.d.ts, verge_wasm_bg.wasm) — never committed.
#
# Tools come from `scripts/setup --print-env` unless WASM_BINDGEN_BIN (and
# optionally WASM_OPT_BIN) are already set. Prints the .wasm size, raw and
# gzipped, on stderr. Usage: wasm/build-browser.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${WASM_BINDGEN_BIN:-}" ]; then
  eval "$(scripts/setup --print-env)"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
OUT="${1:-$TARGET_DIR/verge-browser-pkg}"

cargo build -p verge-wasm --no-default-features --features browser --target wasm32-unknown-unknown --profile wasm-browser >&2
WASM="$TARGET_DIR/wasm32-unknown-unknown/wasm-browser/verge_wasm.wasm"

# Fresh output every time, so no stale file is ever served.
rm -rf "$OUT"
mkdir -p "$OUT"
"$WASM_BINDGEN_BIN" --target web --out-dir "$OUT" "$WASM" >&2

if [ -n "${WASM_OPT_BIN:-}" ] && [ -x "$WASM_OPT_BIN" ]; then
  # The features wasm-bindgen's output and Rust's default wasm32 target use.
  # --converge: repeat the passes until the module stops shrinking (~1.4 KB gzipped).
  "$WASM_OPT_BIN" -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$OUT/verge_wasm_bg.wasm" -o "$OUT/verge_wasm_bg.wasm.opt" >&2
  mv "$OUT/verge_wasm_bg.wasm.opt" "$OUT/verge_wasm_bg.wasm"
else
  echo "wasm-opt not found (WASM_OPT_BIN unset): the package is not size-optimised" >&2
fi

raw=$(wc -c <"$OUT/verge_wasm_bg.wasm")
gz=$(gzip -9 -c "$OUT/verge_wasm_bg.wasm" | wc -c)
echo "verge-browser-pkg: $OUT/verge_wasm_bg.wasm is $raw bytes, $gz gzipped (goal: <= 204800 gzipped)" >&2
