// verge as a Cloudflare Worker written in TypeScript: the `@verge/runtime` npm
// package (the browser build of verge's core) answers the HTTP API from a
// deployment read through the ARTIFACTS binding, in the publish layout
// (docs/publish.md) that `verge publish --to DIR` writes. Every answer,
// errors included, is the core's own status and bytes (`Runtime.handle`), so
// this Worker answers byte for byte as `verge serve` and the Rust Worker.
//
// It only reads: uploads and rollbacks go through `verge publish` (the Rust
// Worker in examples/worker also takes them over its admin routes).
import { initSync, Runtime, type LoadOptions } from "@verge/runtime";
import wasm from "./verge_wasm_bg.wasm";

initSync({ module: wasm });

interface Env {
  /** The artifact store: GET manifest.json, bundles/<id>.bin, snapshots/<id>.bin. */
  ARTIFACTS: Fetcher;
  /** How long (ms) an isolate trusts the manifest before reading it again (default 1000). */
  MANIFEST_TTL_MS?: string | null;
  /** ed25519 public key (64 hex digits): only pairs signed by it are served. */
  PUBLIC_KEY?: string | null;
  MAX_BODY_BYTES?: string | null;
  MAX_ENTITIES?: string | null;
  MAX_CELLS?: string | null;
}

interface PublishedBundle {
  bundle: string;
  bundle_signature?: string;
}

/** A delta snapshot layered over the manifest's snapshot (docs/publish.md). */
interface PublishedDelta {
  snapshot: string;
  snapshot_signature?: string;
}

interface Manifest extends PublishedBundle {
  snapshot: string;
  snapshot_signature?: string;
  more_bundles?: PublishedBundle[];
  deltas?: PublishedDelta[];
}

/** The deployment this isolate serves, and when its manifest was last read. */
let served: { manifest: string; runtime: Runtime; checkedAt: number } | undefined;

async function fetchBytes(env: Env, path: string): Promise<Uint8Array> {
  const response = await env.ARTIFACTS.fetch(`http://artifacts/${path}`);
  if (!response.ok) {
    throw new Error(`artifact store: ${path} answered ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

function trust(env: Env, bundleSignature?: string, snapshotSignature?: string): LoadOptions {
  return env.PUBLIC_KEY ? { publicKey: env.PUBLIC_KEY, bundleSignature, snapshotSignature } : {};
}

/** A request limit binding as a number, or undefined to keep the default. */
function limit(value: string | null | undefined): number | undefined {
  return value ? Number(value) : undefined;
}

/** Loads (or keeps) the deployment the manifest names; a new manifest swaps it whole. */
async function deployment(env: Env): Promise<Runtime> {
  const now = Date.now();
  const ttl = limit(env.MANIFEST_TTL_MS) ?? 1000;
  if (served && now - served.checkedAt < ttl) {
    return served.runtime;
  }
  const listed = await env.ARTIFACTS.fetch("http://artifacts/manifest.json");
  if (listed.status === 404) {
    throw new Error(
      "nothing is published: `ARTIFACTS` has no manifest.json; publish a bundle and a snapshot first",
    );
  }
  if (!listed.ok) {
    throw new Error(`artifact store: manifest.json answered ${listed.status}`);
  }
  const text = await listed.text();
  if (served && served.manifest === text) {
    served.checkedAt = now;
    return served.runtime;
  }
  const m = JSON.parse(text) as Manifest;
  const [bundle, snapshot] = await Promise.all([
    fetchBytes(env, `bundles/${m.bundle}.bin`),
    fetchBytes(env, `snapshots/${m.snapshot}.bin`),
  ]);
  // The core checks every hash (and signature, given a key) before anything is served.
  const runtime = Runtime.load(bundle, snapshot, trust(env, m.bundle_signature, m.snapshot_signature));
  for (const more of m.more_bundles ?? []) {
    runtime.addBundle(await fetchBytes(env, `bundles/${more.bundle}.bin`), trust(env, more.bundle_signature));
  }
  // A published delta chain, oldest first: the newest row per key answers.
  for (const delta of m.deltas ?? []) {
    runtime.addDelta(
      await fetchBytes(env, `snapshots/${delta.snapshot}.bin`),
      trust(env, undefined, delta.snapshot_signature),
    );
  }
  runtime.setLimits({
    maxBodyBytes: limit(env.MAX_BODY_BYTES),
    maxEntities: limit(env.MAX_ENTITIES),
    maxCells: limit(env.MAX_CELLS),
  });
  served = { manifest: text, runtime, checkedAt: now };
  return runtime;
}

function json(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    let runtime: Runtime;
    try {
      runtime = await deployment(env);
    } catch (e) {
      // Nothing (or nothing trustworthy) to serve: the caller may retry.
      const message = e instanceof Error ? e.message : String(e);
      return json(503, JSON.stringify({ error: { status: 503, message } }));
    }
    const path = new URL(request.url).pathname;
    const body = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    const answer = runtime.handle(request.method, path, body, undefined);
    return json(answer.status, answer.body);
  },
} satisfies ExportedHandler<Env>;
