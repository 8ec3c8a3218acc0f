"""Writes docs/benchmarks.md and docs/benchmarks-latency.png from the results
bench/run left under target/bench/SIZE/results (every size found is reported;
the chart uses the largest).

Nothing here measures: it aggregates (medians of the timed runs), computes the
verge/Feast ratios, and marks every figure that was not measured as such, with
the reason, instead of inventing one.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess

SIZES = ("small", "large")
NOT_MEASURED = "not measured"


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def timings(res):
    out = {}
    path = os.path.join(res, "timings.tsv")
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for system, metric, value in csv.reader(f, delimiter="\t"):
            try:
                out.setdefault((system, metric), []).append(float(value))
            except ValueError:
                pass
    return out


def med(values):
    return statistics.median(values) if values else None


def fmt_s(v):
    if v is None:
        return NOT_MEASURED
    if v >= 1:
        return f"{v:.2f} s"
    return f"{v * 1e3:.1f} ms"


def fmt_us(v):
    if v is None:
        return NOT_MEASURED
    if v >= 1000:
        return f"{v / 1000:.2f} ms"
    return f"{v:.1f} µs"


def fmt_rate(v):
    return NOT_MEASURED if v is None else f"{v:,.0f} rows/s"


def fmt_mib(kib):
    return NOT_MEASURED if kib is None else f"{kib / 1024:.0f} MiB"


def fmt_bytes(b):
    if b is None:
        return NOT_MEASURED
    if b >= 1 << 20:
        return f"{b / (1 << 20):.1f} MiB"
    if b >= 1 << 10:
        return f"{b / (1 << 10):.1f} KiB"
    return f"{b} B"


def ratio(verge, feast):
    """verge/Feast, and how many times better verge is (lower is better for all figures here)."""
    if verge is None or feast is None or verge <= 0 or feast <= 0:
        return "—", "—", None
    r = verge / feast
    better = feast / verge
    return f"{r:.3g}", f"{better:.1f}×", better


def series(d, key):
    if not d or key not in d:
        return None
    return d[key]


def collect(res, size):
    t = timings(res)
    meta = load_json(os.path.join(res, "data.json")) or {}
    fo = load_json(os.path.join(res, "feast-online.json")) or {}
    vo = load_json(os.path.join(res, "verge-online.json")) or {}
    sizes = load_json(os.path.join(res, "sizes.json")) or {}
    http = {}
    for system, mode in (("feast", None), ("verge", "native"), ("verge", "wasm"), ("worker", None)):
        for b in ("1", "100", "predict"):
            name = f"{system}-http-{b}.json" if mode is None else f"{system}-http-{mode}-{b}.json"
            d = load_json(os.path.join(res, name))
            if d:
                http[(system if mode is None else f"verge_{mode}", b)] = d
    return {
        "size": size,
        "t": t,
        "meta": meta,
        "feast_online": fo,
        "verge_online": vo,
        "sizes": sizes,
        "http": http,
        "correctness": load_json(os.path.join(res, "correctness.json")),
        "loadavg": [
            (open(os.path.join(res, f)).read().split()[:3] if os.path.exists(os.path.join(res, f)) else None)
            for f in ("loadavg-start.txt", "loadavg-end.txt")
        ],
        "tree": (open(os.path.join(res, "tree.txt")).read().strip() if os.path.exists(os.path.join(res, "tree.txt")) else "not recorded"),
        "finished": (
            datetime.datetime.fromtimestamp(os.path.getmtime(os.path.join(res, "loadavg-end.txt")), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            if os.path.exists(os.path.join(res, "loadavg-end.txt")) else "unknown"
        ),
        "serve_missing": os.path.exists(os.path.join(res, "verge-serve-missing.txt")),
        "worker_failed": (open(os.path.join(res, "worker-failed.txt")).read().strip()
                          if os.path.exists(os.path.join(res, "worker-failed.txt")) else None),
    }


def table(c):
    t, meta = c["t"], c["meta"]
    rows = []
    goals = []
    src_rows = meta.get("source_rows")
    ent_rows = meta.get("entity_rows")

    def add(metric, feast_v, verge_v, fmt, goal=None, note=""):
        r, better, b = ratio(verge_v, feast_v)
        verdict = ""
        if goal is not None:
            verdict = "—" if b is None else ("met" if b >= goal else "not met")
            goals.append((metric, goal, b, verdict))
        rows.append(
            f"| {metric} | {fmt(feast_v)} | {fmt(verge_v)} | {r} | {better} | "
            f"{'' if goal is None else f'≥ {goal:g}× ({verdict})'} | {note} |"
        )

    add("`apply` (CLI, wall)", med(t.get(("feast", "apply"))), med(t.get(("verge", "apply"))), fmt_s)
    fh, vh = med(t.get(("feast", "historical"))), med(t.get(("verge", "historical")))
    add(
        f"point-in-time retrieval, {ent_rows:,} entity rows × {meta.get('features')} features (time)",
        fh,
        vh,
        fmt_s,
        goal=25 if c["size"] == "large" else None,
        note="Feast: in process after import (read entities, join, to_df, write); verge: whole CLI run",
    )
    add(
        "point-in-time retrieval, whole process (both include start-up)",
        med(t.get(("feast", "historical_process"))),
        vh,
        fmt_s,
        note="Feast: `python feast_bench.py historical` wall time, i.e. with interpreter start and `import feast`",
    )
    rate = lambda n, s: None if (n is None or s is None or s <= 0) else n / s
    rows.append(
        f"| point-in-time retrieval (throughput) | {fmt_rate(rate(ent_rows, fh))} | "
        f"{fmt_rate(rate(ent_rows, vh))} | | | | higher is better |"
    )
    add(
        "point-in-time retrieval, peak memory (process)",
        med(t.get(("feast", "historical_process_rss_kib"))),
        med(t.get(("verge", "historical_rss_kib"))),
        fmt_mib,
    )
    add(
        "point-in-time retrieval from CSV (verge only, whole CLI run)",
        None,
        med(t.get(("verge", "historical_csv"))),
        fmt_s,
    )
    fm, vm = med(t.get(("feast", "materialize"))), med(t.get(("verge", "materialize")))
    add(
        f"materialize the whole range, {src_rows:,} source rows (time)",
        fm,
        vm,
        fmt_s,
        goal=40 if c["size"] == "large" else None,
        note="Feast: `store.materialize` in process; verge: whole CLI run",
    )
    add(
        "materialize, whole process (both include start-up)",
        med(t.get(("feast", "materialize_process"))),
        vm,
        fmt_s,
        note="Feast: `python feast_bench.py materialize` wall time",
    )
    rows.append(
        f"| materialize (throughput) | {fmt_rate(rate(src_rows, fm))} | "
        f"{fmt_rate(rate(src_rows, vm))} | | | | higher is better |"
    )
    add(
        "materialize, peak memory (process)",
        med(t.get(("feast", "materialize_process_rss_kib"))),
        med(t.get(("verge", "materialize_rss_kib"))),
        fmt_mib,
        goal=5 if c["size"] == "large" else None,
        note="peak RSS by /usr/bin/time; Feast's includes the interpreter and its imports",
    )
    fo, vo = c["feast_online"], c["verge_online"]
    for b in ("1", "100"):
        fs = series(fo, f"sdk_{b}")
        for impl, key, label in (
            ("native", f"native_json_{b}", "verge core, JSON API"),
            ("typed", f"native_typed_{b}", "verge core, typed API"),
            ("wasm", f"wasm_json_{b}", "verge under wasmtime, JSON API"),
        ):
            vs = series(vo, key)
            for p in ("p50", "p99"):
                add(
                    f"online read in process, {b} entit{'y' if b == '1' else 'ies'}, {p} — Feast SDK vs {label}",
                    fs and fs[f"{p}_us"],
                    vs and vs[f"{p}_us"],
                    fmt_us,
                    goal=100 if (c["size"] == "large" and impl == "typed" and b == "1") else None,
                    note=(vo.get("wasm_skipped", "") if impl == "wasm" and not vs else ""),
                )
    h = c["http"]
    for b in ("1", "100"):
        fs = h.get(("feast", b))
        for mode, label in (("verge_native", "`verge serve --native`"), ("verge_wasm", "`verge serve` (Wasm under wasmtime)"), ("worker", "Worker under workerd")):
            vs = h.get((mode, b))
            note = ""
            if vs is None:
                if mode != "worker" and c["serve_missing"]:
                    note = "not measured (command not yet available)"
                elif mode == "worker":
                    note = f"not measured ({c['worker_failed']})" if c["worker_failed"] else "not measured (the worker is not in this tree)"
                else:
                    note = "not measured"
            for p in ("p50", "p99"):
                add(
                    f"HTTP `/get-online-features`, {b} entit{'y' if b == '1' else 'ies'}, {p} — `feast serve` vs {label}",
                    fs and fs[f"{p}_us"],
                    vs and vs[f"{p}_us"],
                    fmt_us,
                    goal=3 if (c["size"] == "large" and p == "p99" and mode == "verge_native") else None,
                    note=note,
                )
    return rows, goals


def verge_only(c):
    vo, s, h = c["verge_online"], c["sizes"], c["http"]
    rows = []

    def lat(d):
        return NOT_MEASURED if not d else f"{fmt_us(d['p50_us'])} / {fmt_us(d['p99_us'])}"

    rows.append(f"| predict, 1 entity, native core (p50 / p99) | {lat(series(vo, 'native_predict_1'))} |")
    rows.append(
        f"| predict, 1 entity, Wasm under wasmtime (p50 / p99) | "
        f"{lat(series(vo, 'wasm_predict_1')) if series(vo, 'wasm_predict_1') else NOT_MEASURED + ' (' + vo.get('wasm_skipped', 'module not built') + ')'} |"
    )
    rows.append(f"| predict over HTTP, `verge serve --native` (p50 / p99) | {lat(h.get(('verge_native', 'predict')))} |")
    rows.append(f"| predict over HTTP, `verge serve` Wasm (p50 / p99) | {lat(h.get(('verge_wasm', 'predict')))} |")
    rows.append(f"| predict over HTTP, Worker under workerd (p50 / p99) | {lat(h.get(('worker', 'predict')))} |")
    rows.append(f"| snapshot size | {fmt_bytes(s.get('snapshot_bytes'))} (source Parquet: {fmt_bytes(s.get('source_parquet_bytes'))}; Feast's SQLite online store: {fmt_bytes(s.get('feast_online_db_bytes'))}) |")
    load = vo.get("snapshot_load_ms")
    rows.append(f"| snapshot load (parse + hash check, from memory; median of 7) | {NOT_MEASURED if load is None else f'{load:.2f} ms'} |")
    rows.append(f"| bundle size | {fmt_bytes(s.get('bundle_bytes'))} |")
    rows.append(f"| Wasm ABI module (`verge_wasm.wasm`, `wasm` profile) | {fmt_bytes(s.get('wasm_abi_bytes'))} |")
    rows.append(f"| Worker module (`index_bg.wasm`) | {fmt_bytes(s.get('wasm_worker_bytes'))} |")
    if vo.get("wasm_load_artifacts_ms") is not None:
        rows.append(f"| Wasm: instantiate / load bundle + snapshot | {vo['wasm_instantiate_ms']:.2f} ms / {vo['wasm_load_artifacts_ms']:.2f} ms |")
    return rows


def correctness(c):
    r = c["correctness"]
    if not r:
        return ["Not run."]
    out = []
    kinds = r.get("reference_kinds", {})
    out.append(
        f"Reference: a plain pandas merge + window filter + sort over the same files "
        f"(`bench/compare.py`), written from the documented semantics. Of the {r['entity_rows']:,} entity rows: "
        + ", ".join(f"{v:,} {k}" for k, v in sorted(kinds.items()))
        + "."
    )
    out.append("")
    out.append("| | rows out | dropped | duplicated | input order kept | rows equal to the reference | label carried |")
    out.append("|---|---|---|---|---|---|---|")
    for name in ("feast", "verge"):
        x = r.get(name, {})
        if x.get("missing"):
            out.append(f"| {name} | {NOT_MEASURED} | | | | | |")
            continue
        out.append(
            f"| {'Feast' if name == 'feast' else 'verge'} | {x['rows_out']:,} / {x['rows_in']:,} | {x['dropped_rows']:,} | "
            f"{x['duplicated_rows']:,} | {'yes' if x.get('input_order_kept') else 'no'} | {x['matching_rows']:,} / {x['compared_rows']:,} | "
            f"{'yes' if x['label_mismatches'] == 0 else str(x['label_mismatches']) + ' differ'} |"
        )
    for name in ("feast", "verge"):
        x = r.get(name, {})
        if x.get("missing"):
            continue
        title = "Feast" if name == "feast" else "verge"
        if x["dropped_rows"] == 0 and not x["mismatches_by_kind"] and x["duplicated_rows"] == 0:
            out.append(f"\n**{title}** follows the documented semantics on every row.")
            continue
        out.append(f"\n**{title}** departs from the documented semantics:")
        for k, v in sorted(x["dropped_by_kind"].items()):
            out.append(f"- drops {v:,} entity rows whose reference case is: {k}")
            for ex in x["dropped_examples"].get(k, []):
                out.append(
                    f"  - e.g. request {ex['request_id']}: driver {ex['driver_id']} at {ex['entity_time']} "
                    f"({ex['candidates']} candidates{'; another entity row has the same key and time' if ex.get('repeated_key_time') else ''}) "
                    "is missing from the output"
                )
        for k, v in sorted(x["mismatches_by_kind"].items()):
            out.append(f"- {v:,} rows with different values; reference case: {k}")
            for ex in x["mismatch_examples"].get(k, []):
                out.append(
                    f"  - e.g. request {ex['request_id']}: driver {ex['driver_id']} at {ex['entity_time']}: "
                    f"expected row {ex['expected_row']}, got {ex['returned_row'] or ex['returned']}"
                )
    m = r.get("materialize")
    if m:
        out.append("")
        out.append(
            f"**Materialization** (whole range; each system's online rows for all {m['keys']:,} keys against the "
            f"per-key winner by (event time, created time); {m['keys_whose_latest_event_time_is_tied']:,} keys have "
            "their latest event time tied, so the created time decides):"
        )
        out.append("")
        out.append("| | keys read | missing | equal to the reference | differ on a tied event time | differ otherwise |")
        out.append("|---|---|---|---|---|---|")
        for name in ("feast", "verge"):
            x = m.get(name)
            if not x:
                out.append(f"| {name} | {NOT_MEASURED} | | | | |")
                continue
            out.append(
                f"| {'Feast' if name == 'feast' else 'verge'} | {x['keys_read']:,} | {x['missing_keys']:,} | "
                f"{x['matching_keys']:,} | {x['mismatches_with_tied_event_time']:,} | {x['mismatches_other']:,} |"
            )
        for name in ("feast", "verge"):
            x = m.get(name) or {}
            for ex in x.get("examples", []):
                out.append(
                    f"- {'Feast' if name == 'feast' else 'verge'}, driver {ex['driver_id']}: expected row "
                    f"{ex['expected_row']}, got {ex['returned_row'] or 'values of no single row'}"
                )
    return out


def machine():
    cpu, cores = "unknown", 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu == "unknown":
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("processor"):
                    cores += 1
    except OSError:
        pass
    try:
        mem = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout.rstrip()
    except OSError:
        mem = ""
    return cpu, cores, mem


def versions(venv, verge):
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "unknown"

    py = os.path.join(venv, "bin", "python")
    pkgs = run([py, "-c", "import importlib.metadata as m\nfor p in ('feast','pandas','pyarrow','dask','uvicorn','fastapi'):\n    print(p, m.version(p))"])
    return {
        "feast_and_deps": pkgs,
        "python": run([py, "--version"]),
        "verge": run([verge, "--version"]),
        "verge_commit": run(["git", "-C", os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rev-parse", "--short", "HEAD"]),
        "rust": run(["rustc", "--version"]),
        "kernel": platform.platform(),
    }


def chart(c, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fo, vo, h = c["feast_online"], c["verge_online"], c["http"]
    panels = []
    for b in ("1", "100"):
        s = [
            ("Feast SDK", series(fo, f"sdk_{b}")),
            ("verge native, typed", series(vo, f"native_typed_{b}")),
            ("verge native, JSON", series(vo, f"native_json_{b}")),
            ("verge wasmtime, JSON", series(vo, f"wasm_json_{b}")),
        ]
        panels.append((f"in process, {b} entit{'y' if b == '1' else 'ies'}", s))
    for b in ("1", "100"):
        s = [("feast serve", h.get(("feast", b))), ("verge serve --native", h.get(("verge_native", b))), ("verge serve (wasm)", h.get(("verge_wasm", b))), ("worker (workerd)", h.get(("worker", b)))]
        panels.append((f"HTTP, {b} entit{'y' if b == '1' else 'ies'}", s))
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    for ax, (title, s) in zip(axes.flat, panels):
        data = [(name, d["samples_us"]) for name, d in s if d and d.get("samples_us")]
        if data:
            ax.boxplot([v for _, v in data], whis=(1, 99), showfliers=False, orientation="horizontal")
            ax.set_yticks(range(1, len(data) + 1), [n for n, _ in data])
            ax.set_xscale("log")
            from matplotlib.ticker import NullFormatter

            ax.xaxis.set_minor_formatter(NullFormatter())
            lo = min(min(v) for _, v in data)
            hi = max(sorted(v)[min(len(v) - 1, int(0.99 * len(v)))] for _, v in data)
            ax.set_xlim(lo / 1.5, hi * 30)
            for i, (_, v) in enumerate(data, start=1):
                sv = sorted(v)
                p50 = sv[len(sv) // 2]
                p99 = sv[min(len(sv) - 1, int(0.99 * len(sv)))]
                ax.annotate(f"p50 {fmt_us(p50)}  p99 {fmt_us(p99)}", (p99, i), xytext=(6, 6), textcoords="offset points", fontsize=8)
        ax.set_title(title)
        ax.set_xlabel("µs per call, log scale (box: quartiles; whiskers: p1..p99; labels: all runs pooled)")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.suptitle(f"verge vs Feast: online read latency ({c['size']} data set)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--results", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--verge", required=True)
    a = ap.parse_args()
    found = []
    for size in SIZES:
        res = os.path.join(a.root, "target", "bench", size, "results")
        if os.path.exists(os.path.join(res, "timings.tsv")):
            found.append(collect(res, size))
    if not found:
        raise SystemExit("no results to report")
    cpu, cores, mem = machine()
    v = versions(a.venv, a.verge)
    lines = [
        "# Benchmarks: verge vs Feast",
        "",
        "Generated by `bench/run` (do not edit by hand; rerun it). Same data, same machine,",
        "both systems reading the same Parquet files. Times are medians of "
        f"{a.runs} runs; latencies are the median over runs of each run's p50 and p99.",
        "Ratios are verge ÷ Feast (below 1 = verge is faster or smaller); the next column",
        "says the same as \"N× better\".",
        "",
        f"Written {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "## Machine and versions",
        "",
        f"- CPU: {cpu}, {cores} logical cores",
        "- memory (`free -h`):",
        "",
        "```",
        mem,
        "```",
        "",
        f"- verge: {v['verge']}, {v['rust']} (report written at commit {v['verge_commit']}; each size names the tree it measured)",
        f"- {v['python']}; Feast and the packages that matter to it (as resolved by `pip install feast`):",
        "",
        "```",
        v["feast_and_deps"],
        "```",
        "",
        f"- {v['kernel']}",
        "",
        "## How to reproduce",
        "",
        "```sh",
        "bench/run                 # small: 1,000 keys × 30 rows × 20 features, 10,000 entity rows (minutes)",
        "bench/run --size large    # large: 100,000 keys × 10 rows × 20 features, 100,000 entity rows",
        "```",
        "",
        "`bench/run` creates `~/.cache/verge/bench-venv` (reused if present; `--upgrade` reinstalls the",
        "newest Feast), builds verge in release mode, generates the seeded data",
        "(`host/examples/bench_data.rs`: float32 and float64 columns with ~5% nulls, event times over",
        "30 days, ~2% created-time ties, shuffled rows; an entity table with request ids, rows exactly",
        "on an event time, rows exactly a ttl (2 days) after one, unknown keys, and a label), then",
        "measures Feast (local provider, file offline store, SQLite online store; `bench/feast_bench.py`)",
        "and verge (`verge` CLI; `host/examples/bench_probe.rs` for in-process reads and as the HTTP",
        "client). One HTTP client (Rust, one keep-alive connection, sequential requests on 127.0.0.1)",
        "sends the same request bodies to `feast serve` (1 worker) and `verge serve` (1 thread).",
        "Online reads use the same bodies in process: Feast's SDK `get_online_features(...).to_dict()`",
        "vs verge's core `get_online_features_json` (the JSON API every face calls), its typed",
        "`get_online_features`, and the Wasm ABI module under wasmtime.",
        "",
        "Notes on fairness: Feast's in-process figures exclude interpreter start-up and `import feast`",
        "(several seconds), while verge's CLI figures include the whole process; the goals are judged on",
        "these (conservative) rows, and a whole-process row for each is shown too. `apply` is the CLI for",
        "both. verge enforces the ttl online (values older than the ttl at the request's `now` come back",
        "`OUTSIDE_MAX_AGE` with a null value); Feast's SQLite online store returns them regardless.",
        "Both answers carry the same number of features and entities. The in-process goal is judged on",
        "verge's typed `get_online_features`, the counterpart of the SDK call (structured keys in,",
        "structured values out); the JSON API rows add request parsing and response encoding, which",
        "the SDK call does not do, and are shown beside it.",
    ]
    for c in reversed(found):
        rows, goals = table(c)
        m = c["meta"]
        lines += [
            "",
            f"## Size `{c['size']}`: {m.get('keys', 0):,} keys × {m.get('rows_per_key')} rows × {m.get('features')} features "
            f"({m.get('source_rows', 0):,} source rows), {m.get('entity_rows', 0):,} entity rows",
            "",
            f"Measurements finished {c['finished']}; verge measured: {c['tree']}.",
            "",
            f"Load average (1/5/15 min) at the start: {' '.join(c['loadavg'][0] or ['?'])}; at the end: "
            f"{' '.join(c['loadavg'][1] or ['?'])} (on {cores} cores; above {cores} means other work shared the machine "
            "and the tails (p99) are inflated for both systems).",
            "",
            "| metric | Feast | verge | verge/Feast | verge better by | goal (large) | note |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "### verge only",
            "",
            "| metric | figure |",
            "|---|---|",
            *verge_only(c),
            "",
            "### Correctness: point-in-time results compared",
            "",
            *correctness(c),
        ]
        if goals:
            lines += ["", "### Goals (issue 7, large size)", ""]
            for metric, goal, b, verdict in goals:
                lines.append(f"- {metric}: goal ≥ {goal:g}×, measured {'—' if b is None else f'{b:.1f}×'}: **{verdict}**")
    docs = os.path.join(a.root, "docs")
    os.makedirs(docs, exist_ok=True)
    chart(found[-1], os.path.join(docs, "benchmarks-latency.png"))
    lines += ["", "## Latency distributions", "", f"![latency distributions ({found[-1]['size']})](benchmarks-latency.png)", ""]
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines))
    print(os.path.join(docs, "benchmarks.md"))


if __name__ == "__main__":
    main()
