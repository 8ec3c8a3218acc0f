"""The Python side of bench/trees/run: trains the benchmark's tree models with the
real XGBoost and LightGBM, times their own predict on one core, and prints the
side-by-side table once verge's figures are in.

    peers.py train OUT_DIR [--calls N] [--runs N]   # models, rows, the libraries' timings
    peers.py table OUT_DIR                           # the table (reads OUT_DIR/*.json)

Data: 20,000 training rows x 30 features from a fixed seed, 10% NaN, a binary
label from a noisy nonlinear score; 1,000 fresh benchmark rows from the same
generator (another seed). Models: 100 trees of depth 6 and 500 of depth 8, for
each library (binary logistic). Timings: nthread=1 (per core), single-row calls
of `inplace_predict` (XGBoost) and `Booster.predict` (LightGBM) on a 1x30 numpy
view, and the same on the 1,000-row batch; medians in microseconds (per call,
and per row of the batch).
"""
import json
import os
import sys
import time

import numpy as np

FEATURES = 30
SIZES = [(100, 6), (500, 8)]


def data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES))
    score = x[:, 0] * x[:, 1] + np.sin(3 * x[:, 2]) + 0.5 * x[:, 3:10].sum(axis=1)
    y = (score + rng.normal(scale=0.5, size=n) > 0).astype(np.float64)
    x[rng.random(size=x.shape) < 0.1] = np.nan
    return x, y


def median_us(fn, runs, per=1):
    times = []
    for _ in range(runs):
        t = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t) / 1000 / per)
    times.sort()
    return times[len(times) // 2]


def train(out, calls, runs):
    import lightgbm as lgb
    import xgboost as xgb

    os.makedirs(out, exist_ok=True)
    x, y = data(20_000, 15)
    rows, _ = data(1_000, 16)
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    rows.astype("<f8").tofile(os.path.join(out, "rows.f64"))
    for trees, depth in SIZES:
        tag = f"{trees}x{depth}"
        booster = xgb.train(
            {"objective": "binary:logistic", "max_depth": depth, "eta": 0.1,
             "tree_method": "hist", "nthread": 2, "seed": 1},
            xgb.DMatrix(x, label=y), num_boost_round=trees)
        booster.set_param({"nthread": 1})
        path = os.path.join(out, f"xgboost-{tag}.json")
        booster.save_model(path)
        p1 = booster.inplace_predict(rows).astype(np.float64)
        p1.astype("<f8").tofile(os.path.join(out, f"xgboost-{tag}.p1.f64"))
        i = [0]

        def one_xgb():
            i[0] = (i[0] + 1) % len(rows)
            booster.inplace_predict(rows[i[0]:i[0] + 1])

        report(out, "xgboost", tag, path,
               median_us(one_xgb, calls),
               median_us(lambda: booster.inplace_predict(rows), runs, len(rows)),
               xgb.__version__)

        model = lgb.train(
            {"objective": "binary", "max_depth": depth, "num_leaves": 2 ** depth,
             "min_data_in_leaf": 5, "learning_rate": 0.1, "num_threads": 2,
             "seed": 1, "verbose": -1, "deterministic": True},
            lgb.Dataset(x, label=y), num_boost_round=trees)
        path = os.path.join(out, f"lightgbm-{tag}.txt")
        model.save_model(path)
        p1 = model.predict(rows, num_threads=1)
        p1.astype("<f8").tofile(os.path.join(out, f"lightgbm-{tag}.p1.f64"))

        def one_lgb():
            i[0] = (i[0] + 1) % len(rows)
            model.predict(rows[i[0]:i[0] + 1], num_threads=1)

        report(out, "lightgbm", tag, path,
               median_us(one_lgb, calls),
               median_us(lambda: model.predict(rows, num_threads=1), runs, len(rows)),
               lgb.__version__)


def report(out, source, tag, path, one, batch, version):
    with open(os.path.join(out, f"{source}-{tag}.peer.json"), "w") as f:
        json.dump({"source": source, "size": tag, "model": path, "version": version,
                   "one_us": one, "batch_us": batch}, f)
    print(f"  {source} {version} {tag}: one row {one:.2f} us, batch {batch:.3f} us/row",
          file=sys.stderr)


def table(out):
    lines = [
        "| model | peer one row | verge one row (native) | ratio | verge one row (wasmtime) "
        "| peer batch-1000 /row | verge batch (native) /row | ratio | verge batch (wasmtime) /row "
        "| predictions |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    sizes = []
    for source in ["xgboost", "lightgbm"]:
        for trees, depth in SIZES:
            tag = f"{trees}x{depth}"
            with open(os.path.join(out, f"{source}-{tag}.peer.json")) as f:
                peer = json.load(f)
            with open(os.path.join(out, f"{source}-{tag}.verge.json")) as f:
                verge = json.load(f)
            check = f"{verge['bitwise_equal_rows']}/{verge['rows']} bit-equal, " \
                    f"max diff {verge['max_abs_diff']:.1e}" \
                    + ("" if verge["wasm_equals_native"] else ", WASM DIFFERS")
            lines.append(
                f"| {source} {peer['version']} {tag} | {peer['one_us']:.2f} µs "
                f"| {verge['one_native_us']:.2f} µs | {peer['one_us'] / verge['one_native_us']:.1f}x "
                f"| {verge['one_wasm_us']:.2f} µs "
                f"| {peer['batch_us']:.3f} µs | {verge['batch_native_us']:.3f} µs "
                f"| {peer['batch_us'] / verge['batch_native_us']:.2f}x "
                f"| {verge['batch_wasm_us']:.3f} µs | {check} |")
            sizes.append((source, tag, verge["bundle_bytes"], verge["model_file_bytes"]))
    lines.append("")
    lines.append("ratio = peer time / verge time (above 1: verge is faster). Sizes:")
    lines.append("")
    lines.append("| model | verge bundle | model file | bundle / file |")
    lines.append("|---|---|---|---|")
    for source, tag, bundle, file in sizes:
        kind = "XGBoost JSON" if source == "xgboost" else "LightGBM text"
        lines.append(f"| {source} {tag} | {bundle:,} B | {file:,} B ({kind}) | {bundle / file:.2f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(text)
    print(text)


def main():
    cmd, out = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    if cmd == "train":
        train(out, int(opts.get("--calls", 2000)), int(opts.get("--runs", 30)))
    elif cmd == "table":
        table(out)
    else:
        sys.exit(f"peers.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
