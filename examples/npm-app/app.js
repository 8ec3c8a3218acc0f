// An app that uses verge the npm way: `@verge/runtime` installed from its
// tarball, bundled by esbuild (`npm run build`), the `.wasm` copied by the
// bundler's file loader and handed to `init` as a URL. It loads a model bundle
// and a snapshot from its own origin and predicts for every horse in the
// snapshot.
//
// Query parameters (optional), so a test can pin what the page computes:
//   now=RFC3339   the read time (TTLs are judged against it); default: the clock
//   req=JSON      request data for on-demand features, e.g. {"ambient_temperature":21.5}
//   extra=JSON    more entity rows to ask for, e.g. [{"hospital_number":1}]
// The whole outcome lands as JSON in <pre id="out" data-state="done">:
// { version, predictions: [{ entity, ok | error }] }.
import init, { Runtime } from "@verge/runtime";
import wasmUrl from "@verge/runtime/wasm";

const params = new URLSearchParams(location.search);

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function attempt(f) {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: String((e && e.message) || e) };
  }
}

function show(rows) {
  const table = document.getElementById("predictions");
  for (const { entity, ok, error } of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = Object.values(entity).join(", ");
    const p = ok && ok.predictions[0];
    tr.insertCell().textContent = p ? String(p.label) : error;
    tr.insertCell().textContent = p ? p.probabilities.map((x) => x.toFixed(3)).join(" / ") : "";
  }
}

const out = {};
try {
  // The bundler turned the import into a path next to this bundle.
  await init({ module_or_path: new URL(wasmUrl, import.meta.url) });
  const [bundle, snapshot] = await Promise.all([fetchBytes("bundle.bin"), fetchBytes("snapshot.bin")]);
  const rt = Runtime.load(bundle, snapshot);
  const now = params.get("now") ?? undefined;
  const request = params.has("req") ? JSON.parse(params.get("req")) : undefined;
  const entities = [...rt.keys(), ...(params.has("extra") ? JSON.parse(params.get("extra")) : [])];
  out.version = rt.version();
  out.predictions = entities.map((entity) => ({ entity, ...attempt(() => rt.predict(entity, request, now)) }));
  show(out.predictions);
} catch (e) {
  out.fatal = String((e && e.message) || e);
}
const pre = document.getElementById("out");
pre.textContent = JSON.stringify(out);
pre.dataset.state = "done";
