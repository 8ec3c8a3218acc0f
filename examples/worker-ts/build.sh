#!/usr/bin/env bash
# Builds the TypeScript Worker into examples/worker-ts/build/: index.js
# (src/index.ts bundled by esbuild with the @verge/runtime package's JS glue)
# and verge_wasm_bg.wasm (the package's module, which workerd hands the Worker
# as a compiled WebAssembly.Module). config.capnp embeds both.
#
# The package is installed from its npm tarball, as a Worker project installs
# it (`npm install @verge/runtime`): given as the first argument, or built
# now with wasm/build-npm.sh. No network: the package has no dependencies.
#
#   examples/worker-ts/build.sh [path/to/verge-runtime-X.Y.Z.tgz]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/examples/worker-ts"
out="$here/build"

if [ -z "${ESBUILD_BIN:-}" ] || [ -z "${WASM_BINDGEN_BIN:-}" ]; then
  eval "$("$root/scripts/setup" --print-env)"
fi
tarball="${1:-$("$root/wasm/build-npm.sh")}"

# A fresh install every time, so the build never sees a stale package.
rm -rf "$here/node_modules" "$out"
(cd "$here" && npm install --no-save --no-audit --no-fund --offline "$tarball") >&2
"$ESBUILD_BIN" "$here/src/index.ts" --bundle --format=esm --platform=neutral --target=es2022 \
  --external:./verge_wasm_bg.wasm --outfile="$out/index.js" --log-level=warning >&2
cp "$here/node_modules/@verge/runtime/verge_wasm_bg.wasm" "$out/"
printf 'built %s (index.js %s bytes, verge_wasm_bg.wasm %s bytes)\n' "$out" \
  "$(wc -c <"$out/index.js")" "$(wc -c <"$out/verge_wasm_bg.wasm")" >&2
