#!/usr/bin/env bash
# Builds the npm package `@verge/runtime` (issue 17 §3): the browser package of
# wasm/build-browser.sh laid out with wasm/npm/ (package.json template, README,
# the `.wasm` subpath's types), version and licence read from the verge-wasm
# crate through `cargo metadata` (never written by hand), then `npm pack`.
#
# Output: OUT_DIR/package/ (the package tree) and OUT_DIR/verge-runtime-VERSION.tgz,
# whose path is the one line on stdout. On stderr a size line: the gzipped
# `.wasm` and JS glue against their budgets (200 KB and 15 KB gzipped); the
# workspace test tests/tests/npm_package.rs asserts them.
#
# Needs node/npm; everything else as wasm/build-browser.sh. No network: the
# package has no dependencies and `npm pack` of a directory reads only it.
# Usage: wasm/build-npm.sh [OUT_DIR]   (default target/verge-npm)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${WASM_BINDGEN_BIN:-}" ]; then
  eval "$(scripts/setup --print-env)"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
OUT="${1:-$TARGET_DIR/verge-npm}"
PKG="$OUT/package"

wasm/build-browser.sh "$PKG"
cp wasm/npm/README.md wasm/npm/wasm-url.d.ts "$PKG/"

# The template's name, exports and files; version and licence from the crate.
cargo metadata --no-deps --format-version 1 --manifest-path wasm/Cargo.toml |
  node -e '
    const fs = require("fs");
    const [template, out] = process.argv.slice(1);
    const meta = JSON.parse(fs.readFileSync(0, "utf8"));
    const crate = meta.packages.find((p) => p.name === "verge-wasm");
    if (!crate) throw new Error("cargo metadata lists no verge-wasm package");
    const pkg = JSON.parse(fs.readFileSync(template, "utf8"));
    pkg.version = crate.version;
    pkg.license = crate.license;
    for (const file of pkg.files) {
      if (!fs.existsSync(require("path").join(require("path").dirname(out), file)))
        throw new Error(`package.json lists ${file}, which the build did not produce`);
    }
    fs.writeFileSync(out, JSON.stringify(pkg, null, 2) + "\n");
  ' wasm/npm/package.json "$PKG/package.json"

tarball=$(cd "$PKG" && npm pack --silent --pack-destination "$(cd .. && pwd)")
version=$(node -p 'require(process.argv[1]).version' "$(cd "$PKG" && pwd)/package.json")

wasm_gz=$(gzip -9 -c "$PKG/verge_wasm_bg.wasm" | wc -c)
js_gz=$(gzip -9 -c "$PKG/verge_wasm.js" | wc -c)
echo "verge-npm: @verge/runtime@$version: verge_wasm_bg.wasm $wasm_gz bytes gzipped (budget 204800)," \
  "verge_wasm.js $js_gz bytes gzipped (budget 15360), tarball $(wc -c <"$OUT/$tarball") bytes" >&2
echo "$OUT/$tarball"
