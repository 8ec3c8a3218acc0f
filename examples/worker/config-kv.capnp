# workerd configuration for a sharded deployment: config.capnp plus a
# Workers KV namespace binding, SHARDS, that the worker reads shards from
# (docs/worker.md, "Sharded deployments"). workerd speaks the KV binding's
# protocol to a service; here that service is a disk directory holding the
# shards under their KV keys (`<shard id>.bin`, which is how `verge publish
# --to DIR` names them under DIR/snapshots). On Cloudflare, bind SHARDS to a
# KV namespace holding the same keys. Build first (examples/worker/build.sh), then:
#
#   workerd serve examples/worker/config-kv.capnp \
#     --directory-path artifacts=DIR --directory-path shards=DIR/snapshots \
#     --socket-addr http=127.0.0.1:8787
#
# The artifact directory holds the publish layout (docs/publish.md; `verge
# publish --to DIR` writes it): manifest.json, bundles/<id>.bin,
# snapshots/<id>.bin. On Cloudflare, bind ARTIFACTS to a static-assets or
# R2-backed worker serving the same paths.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "verge", worker = .vergeWorker),
    # The artifact store. Writable so that PUT /admin/artifacts can publish
    # (workerd writes a temporary file and renames it into place). The
    # directory comes from `--directory-path artifacts=DIR` (a relative path
    # here would resolve against workerd's working directory, not this file).
    (name = "artifacts", disk = (writable = true)),
    # The KV namespace's backing store: GET /<key> reads the file <key>.
    (name = "shards", disk = (writable = false)),
  ],
  sockets = [
    # `--socket-addr http=HOST:PORT` overrides the address.
    (name = "http", address = "127.0.0.1:8787", http = (), service = "verge"),
  ],
);

const vergeWorker :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "build/index.js"),
    (name = "index_bg.wasm", wasm = embed "build/index_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "ARTIFACTS", service = "artifacts"),
    (name = "SHARDS", kvNamespace = "shards"),
    # The shard cache's budget in bytes (default 64 MiB).
    (name = "SHARD_CACHE_BYTES", fromEnvironment = "VERGE_SHARD_CACHE_BYTES"),
    # How long (ms) an isolate trusts the manifest before re-reading it.
    (name = "MANIFEST_TTL_MS", fromEnvironment = "VERGE_MANIFEST_TTL_MS"),
    # Bearer token for PUT /admin/artifacts and POST /admin/rollback; the
    # routes are off when unset.
    (name = "ADMIN_TOKEN", fromEnvironment = "VERGE_ADMIN_TOKEN"),
    # ed25519 public key (64 hex digits, from `verge keygen`): when set, only
    # pairs signed by it are served or accepted (docs/publish.md).
    (name = "PUBLIC_KEY", fromEnvironment = "VERGE_PUBLIC_KEY"),
    # Request limits, as `verge serve --max-body-bytes/--max-entities/--max-cells`
    # (docs/http.md); unset keeps the defaults.
    (name = "MAX_BODY_BYTES", fromEnvironment = "VERGE_MAX_BODY_BYTES"),
    (name = "MAX_ENTITIES", fromEnvironment = "VERGE_MAX_ENTITIES"),
    (name = "MAX_CELLS", fromEnvironment = "VERGE_MAX_CELLS"),
  ],
);
