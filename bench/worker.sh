#!/usr/bin/env bash
# The verge Worker under workerd, measured by the same HTTP client as `feast
# serve` and `verge serve`. Called by bench/run:
#
#   bench/worker.sh DIST WORK RESULTS PROBE CALLS RUNS
#
# DIST holds `verge build`'s bundle.bin, snapshot.bin and manifest.json. The pair
# is laid out in the worker's publish layout (bundles/<id>.bin,
# snapshots/<id>.bin, manifest.json; see examples/worker/config.capnp), the
# worker is built with examples/worker/build.sh, and workerd serves it on
# 127.0.0.1 until the measurements end; it is stopped by its process id.
set -euo pipefail
dist="$1" work="$2" res="$3" probe="$4" calls="$5" runs="$6"
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ -z "${WORKERD_BIN:-}" ]; then
  eval "$("$root/scripts/setup" --print-env)"
fi
[ -x "${WORKERD_BIN:-}" ] || { echo "worker.sh: WORKERD_BIN is not an executable" >&2; exit 2; }
"$root/examples/worker/build.sh" >"$work/worker-build.log" 2>&1 || {
  echo "worker.sh: examples/worker/build.sh failed; see $work/worker-build.log" >&2; exit 2; }

store="$work/worker-artifacts"
rm -rf "$store"
mkdir -p "$store/bundles" "$store/snapshots"
ids=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["bundle"]["id"], m["snapshot"]["id"])' "$dist/manifest.json")
read -r bundle_id snapshot_id <<<"$ids"
cp "$dist/bundle.bin" "$store/bundles/$bundle_id.bin"
cp "$dist/snapshot.bin" "$store/snapshots/$snapshot_id.bin"
printf '{"bundle":"%s","snapshot":"%s"}' "$bundle_id" "$snapshot_id" >"$store/manifest.json"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# A long manifest ttl: the measurement is of serving, not of re-reading the manifest.
VERGE_MANIFEST_TTL_MS=3600000 setsid "$WORKERD_BIN" serve "$root/examples/worker/config.capnp" \
  "--directory-path=artifacts=$store" "--socket-addr=http=127.0.0.1:$port" >"$work/worker.log" 2>&1 &
pid=$!
stop() {
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
trap stop EXIT

ready=0
for _ in $(seq 1 240); do
  kill -0 "$pid" 2>/dev/null || { echo "worker.sh: workerd exited; see $work/worker.log" >&2; exit 2; }
  if "$probe" http --url "http://127.0.0.1:$port/get-online-features" --bodies "$work/bodies-1.jsonl" \
       --calls 1 --runs 1 --out /dev/null 2>/dev/null; then
    ready=1; break
  fi
  sleep 0.5
done
[ "$ready" = 1 ] || { echo "worker.sh: the worker did not answer within 120 s" >&2; exit 2; }

for b in 1 100; do
  "$probe" http --url "http://127.0.0.1:$port/get-online-features" --bodies "$work/bodies-$b.jsonl" \
    --calls "$calls" --runs "$runs" --out "$res/worker-http-$b.json"
done
"$probe" http --url "http://127.0.0.1:$port/predict" --bodies "$work/bodies-predict.jsonl" \
  --calls "$calls" --runs "$runs" --out "$res/worker-http-predict.json"
