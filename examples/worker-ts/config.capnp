# workerd configuration for the TypeScript Worker: serves it on 127.0.0.1 with
# its artifacts read from a directory. Build first (examples/worker-ts/build.sh), then:
#
#   [VERGE_PUBLIC_KEY=hex] workerd serve examples/worker-ts/config.capnp \
#     --directory-path artifacts=/path/to/artifacts --socket-addr http=127.0.0.1:8787
#
# The artifact directory holds the publish layout (docs/publish.md). On
# Cloudflare, bind ARTIFACTS to a static-assets or R2-backed Worker serving
# the same paths (wrangler's `[[services]]`).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "verge", worker = .vergeWorker),
    (name = "artifacts", disk = (writable = false)),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "verge"),
  ],
);

const vergeWorker :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "build/index.js"),
    (name = "verge_wasm_bg.wasm", wasm = embed "build/verge_wasm_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "ARTIFACTS", service = "artifacts"),
    (name = "MANIFEST_TTL_MS", fromEnvironment = "VERGE_MANIFEST_TTL_MS"),
    (name = "PUBLIC_KEY", fromEnvironment = "VERGE_PUBLIC_KEY"),
    (name = "MAX_BODY_BYTES", fromEnvironment = "VERGE_MAX_BODY_BYTES"),
    (name = "MAX_ENTITIES", fromEnvironment = "VERGE_MAX_ENTITIES"),
    (name = "MAX_CELLS", fromEnvironment = "VERGE_MAX_CELLS"),
  ],
);
