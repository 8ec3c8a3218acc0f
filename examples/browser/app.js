// The verge browser example: loads the wasm-bindgen package from ./pkg/, the
// model bundle and the online-feature snapshot from the same origin, and shows a
// prediction for the entity chosen on the page.
//
// Query parameters (all optional), so a page state can be linked to and tested:
//   horse=KEY        the first join key's value (e.g. a hospital number)
//   entity=JSON      the whole entity row, e.g. {"hospital_number":530101}
//   now=RFC3339      the read time (TTLs are judged against it); default: the clock
//   req=JSON         request data for on-demand features, e.g. {"ambient":21.5}
//   bundle=URL       default bundle.bin
//   snapshot=URL     default snapshot.bin
// The page computes on load; results land in elements with stable ids (#label,
// #probabilities, #features, #bundle-id, #snapshot-id, #result-json, #error),
// and #status carries data-state = loading | ready | error.
import init, { Runtime } from "./pkg/verge_wasm.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

let runtime = null;
let info = null;
let keys = [];

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function showError(error) {
  const message = error && error.message ? error.message : String(error);
  $("error").textContent = message;
  $("error").classList.add("shown");
  setStatus("error", "Failed — see the message below.");
}

function clearError() {
  $("error").textContent = "";
  $("error").classList.remove("shown");
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// A small seeded generator (mulberry32), so "random" picks are reproducible.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function entityLabel(row) {
  return Object.entries(row).map(([k, v]) => `${k} ${v}`).join(", ");
}

function addOption(row) {
  const option = document.createElement("option");
  option.value = JSON.stringify(row);
  option.textContent = entityLabel(row);
  $("horse").append(option);
  return option;
}

// `?horse=KEY` names the first join key's value; numbers for int64 keys. Text that
// is not a number is passed through, so the core's own message explains it.
function entityFromQuery() {
  if (params.has("entity")) return JSON.parse(params.get("entity"));
  if (!params.has("horse")) return null;
  const key = info.entity_keys[0];
  const raw = params.get("horse");
  const value = key.dtype === "int64" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  return { [key.name]: value };
}

function buildRequestInputs() {
  const given = params.has("req") ? JSON.parse(params.get("req")) : {};
  for (const field of info.request) {
    const label = document.createElement("label");
    label.textContent = `${field.name} (${field.dtype})`;
    const input = document.createElement("input");
    input.id = `req-${field.name}`;
    input.dataset.dtype = field.dtype;
    input.style.width = "8rem";
    if (given[field.name] !== undefined && given[field.name] !== null) input.value = String(given[field.name]);
    label.append(input);
    $("request-fields").append(label);
  }
}

function requestRow() {
  const row = {};
  for (const field of info.request) {
    const text = $(`req-${field.name}`).value.trim();
    if (text === "") row[field.name] = null;
    else if (field.dtype === "bool") row[field.name] = text === "true";
    else if (field.dtype === "string") row[field.name] = text;
    else row[field.name] = Number(text);
  }
  return row;
}

function formatValue(v) {
  if (v === null) return "—";
  return typeof v === "number" ? String(v) : JSON.stringify(v);
}

// `answer` is POST /predict's answer for one entity, exactly as the core gives it
// (the same JSON the worker and `verge serve` send): ids, feature names, and one
// prediction.
function render(answer) {
  const result = answer.predictions[0];
  $("result").hidden = false;
  $("features-section").hidden = false;
  $("result-json").textContent = JSON.stringify(answer);
  $("label").textContent = result.label === undefined ? "" : formatValue(result.label);

  const bars = $("probabilities");
  bars.replaceChildren();
  (result.classes || []).forEach((cls, i) => {
    const p = result.probabilities[i];
    const bar = document.createElement("div");
    bar.className = "bar" + (cls === result.label ? " winner" : "");
    bar.dataset.class = JSON.stringify(cls);
    bar.innerHTML = `<span></span><span class="track"><span class="fill"></span></span><span class="p"></span>`;
    bar.children[0].textContent = `class ${formatValue(cls)}`;
    bar.querySelector(".fill").style.width = `${(p * 100).toFixed(2)}%`;
    bar.querySelector(".p").textContent = `${(p * 100).toFixed(2)} %`;
    bar.querySelector(".p").title = String(p);
    bars.append(bar);
  });
  $("value").textContent = result.value === undefined ? "" : `value: ${formatValue(result.value)}`;

  const body = $("features");
  body.replaceChildren();
  answer.feature_names.forEach((name, i) => {
    const tr = document.createElement("tr");
    tr.dataset.name = name;
    const status = result.features.statuses[i];
    tr.innerHTML = `<td></td><td class="value"></td><td><span class="status"></span></td><td class="ts"></td>`;
    tr.children[0].textContent = name;
    tr.children[1].textContent = formatValue(result.features.values[i]);
    const badge = tr.querySelector(".status");
    badge.textContent = status;
    badge.classList.add(status);
    tr.children[3].textContent = result.features.event_timestamps[i];
    body.append(tr);
  });

  $("model").textContent = answer.model;
  $("bundle-id").textContent = answer.bundle_id;
  $("snapshot-id").textContent = answer.snapshot_id;
  $("registry-id").textContent = answer.registry_id;
}

function predict() {
  clearError();
  try {
    const entity = JSON.parse($("horse").value);
    const now = $("now").value.trim() || undefined;
    const started = performance.now();
    const result = runtime.predict(entity, info.request.length ? requestRow() : undefined, now);
    const ms = performance.now() - started;
    render(result);
    setStatus("ready", `Predicted for ${entityLabel(entity)} in ${ms.toFixed(2)} ms.`);
  } catch (e) {
    showError(e);
  }
}

function pickRandom() {
  const seed = Number($("seed").value) || 0;
  const row = keys[Math.floor(mulberry32(seed)() * keys.length)];
  $("seed").value = String(seed + 1);
  if (row) {
    $("horse").value = JSON.stringify(row);
    predict();
  }
}

async function main() {
  try {
    await init();
    const [bundle, snapshot] = await Promise.all([
      fetchBytes(params.get("bundle") || "bundle.bin"),
      fetchBytes(params.get("snapshot") || "snapshot.bin"),
    ]);
    runtime = Runtime.load(bundle, snapshot);
    info = runtime.describe();
    keys = runtime.keys(5000);
    keys.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b), undefined, { numeric: true }));
    keys.forEach(addOption);
    buildRequestInputs();
    if (params.has("now")) $("now").value = params.get("now");
    const wanted = entityFromQuery();
    if (wanted) {
      const value = JSON.stringify(wanted);
      const existing = [...$("horse").options].find((o) => o.value === value);
      (existing || addOption(wanted)).selected = true;
    }
    $("go").addEventListener("click", predict);
    $("random").addEventListener("click", pickRandom);
    $("horse").addEventListener("change", predict);
    const v = runtime.version();
    setStatus("loaded", `Loaded ${v.model}: ${keys.length} entities in the snapshot (window end ${v.snapshot_window_end}).`);
    if (keys.length || wanted) predict();
  } catch (e) {
    showError(e);
  }
}

main();
