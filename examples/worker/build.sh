#!/usr/bin/env bash
# Builds the verge Cloudflare Worker (verge-wasm, feature `worker`) with
# worker-build into examples/worker/build/: index.js (the ES module entry:
# workers-rs' shim bundled by esbuild with the wasm-bindgen glue) and
# index_bg.wasm. config.capnp embeds both.
#
# worker-build would download wasm-bindgen, esbuild and wasm-opt from hosts CI
# cannot reach; it takes them from WASM_BINDGEN_BIN, ESBUILD_BIN and
# WASM_OPT_BIN instead, which scripts/setup installs and prints.
#
#   examples/worker/build.sh            # the `wasm` size profile
#   VERGE_WORKER_PROFILE=release examples/worker/build.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/examples/worker/build"

if [ -z "${WORKER_BUILD_BIN:-}" ] || [ -z "${WASM_BINDGEN_BIN:-}" ] || [ -z "${ESBUILD_BIN:-}" ] || [ -z "${WASM_OPT_BIN:-}" ]; then
  eval "$("$root/scripts/setup" --print-env)"
fi
export WASM_BINDGEN_BIN ESBUILD_BIN WASM_OPT_BIN

profile="${VERGE_WORKER_PROFILE:-wasm}"
# worker-build runs `cargo build` on the crate at the given path; arguments after
# the path go to cargo. Its output directory is relative to that crate, so pass
# an absolute one.
"$WORKER_BUILD_BIN" --profile "$profile" --out-dir "$out" "$root/wasm" --no-default-features --features worker >&2

for f in index.js index_bg.wasm; do
  if [ ! -s "$out/$f" ]; then
    echo "build.sh: worker-build finished but $out/$f is missing" >&2
    exit 2
  fi
done
printf 'built %s (%s bytes of wasm)\n' "$out" "$(wc -c <"$out/index_bg.wasm")" >&2
