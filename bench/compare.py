"""Correctness cross-check of the benchmark: Feast's and verge's point-in-time
results against a reference written straight from the documented semantics.

The semantics (Feast's documentation and verge's DESIGN.md agree on them): for
each entity row (key, t) the candidates are that key's rows with
t - ttl <= event_timestamp <= t; the winner is the greatest
(event_timestamp, created); no candidate gives nulls; one output row per input
row. The reference below is a plain pandas merge + filter + sort, independent
of both systems, so a disagreement says which of them departs from the
documented behaviour, and on what kind of row.

Materialization is checked the same way when the online rows are given: per
key, the row with the greatest (event_timestamp, created) over the whole range.

usage: compare.py DATA_DIR FEAST_OUT.parquet VERGE_OUT.parquet OUT.json
                  [FEAST_ONLINE.parquet VERGE_ONLINE.json]
"""

import json
import os
import sys

import numpy as np
import pandas as pd

EXAMPLES = 3


def reference(data, meta):
    source = pd.read_parquet(os.path.join(data, "stats.parquet"))
    entities = pd.read_parquet(os.path.join(data, "entities.parquet"))
    ttl = pd.Timedelta(seconds=meta["ttl_seconds"])
    joined = entities[["request_id", "driver_id", "event_timestamp"]].merge(
        source.rename(columns={"event_timestamp": "row_event"}), on="driver_id", how="inner"
    )
    window = joined[
        (joined["row_event"] <= joined["event_timestamp"])
        & (joined["row_event"] >= joined["event_timestamp"] - ttl)
    ]
    # Candidates per request, for classifying disagreements.
    counts = window.groupby("request_id").size()
    winner = window.sort_values(["request_id", "row_event", "created"]).groupby("request_id").tail(1)
    # Is the winner's event time shared by another candidate (a created-time tie)?
    ties = window.groupby(["request_id", "row_event"]).size().rename("tie_size").reset_index()
    winner = winner.merge(ties, on=["request_id", "row_event"], how="left")
    ref = entities.merge(
        winner.drop(columns=["driver_id", "event_timestamp"]), on="request_id", how="left"
    )
    ref["candidates"] = ref["request_id"].map(counts).fillna(0).astype(int)
    ref["tie_size"] = ref["tie_size"].fillna(0).astype(int)
    ref["known_key"] = ref["driver_id"].isin(set(source["driver_id"].unique()))
    # Entity rows whose (key, time) repeats another entity row's.
    ref["repeated"] = ref.duplicated(["driver_id", "event_timestamp"], keep=False)
    return source, entities, ref.set_index("request_id").sort_index()


def same(a, b):
    """Cell-wise equality with null == null, numbers compared as float64."""
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    return (a == b) | (np.isnan(a) & np.isnan(b))


def kind_of(row, ttl):
    if row["candidates"] == 0:
        if not row["known_key"]:
            return "no candidate: a key the source has never seen"
        return "no candidate: a known key with no row in [t - ttl, t]"
    if row["tie_size"] > 1:
        return "winner's event time tied (created time decides)"
    if row["row_event"] == row["event_timestamp"] - ttl:
        return "winner exactly ttl before the entity time (inclusive lower bound)"
    if row["row_event"] == row["event_timestamp"]:
        return "winner exactly at the entity time (inclusive upper bound)"
    return "other"


def describe(source, ref_row, got_values, feats):
    """Which source row (if any) the system's values came from."""
    key = ref_row["driver_id"]
    rows = source[source["driver_id"] == key]
    picked = None
    if not np.all(np.isnan(np.asarray(got_values, dtype="float64"))):
        for _, r in rows.iterrows():
            if np.all(same(r[feats].to_numpy(dtype="float64"), got_values)):
                picked = r
                break
    out = {
        "request_id": int(ref_row.name),
        "driver_id": int(key),
        "entity_time": str(ref_row["event_timestamp"]),
        "candidates": int(ref_row["candidates"]),
        "expected_row": None
        if ref_row["candidates"] == 0
        else {"event": str(ref_row["row_event"]), "created": str(ref_row["created"])},
        "returned_row": None
        if picked is None
        else {"event": str(picked["event_timestamp"]), "created": str(picked["created"])},
        "returned": "all nulls" if picked is None else "values of the row above",
    }
    return out


def check(name, out, ref, source, feats, ttl):
    result = {"rows_in": int(len(ref)), "rows_out": int(len(out))}
    # The input is in request_id order; is the output too?
    result["input_order_kept"] = bool(out["request_id"].is_monotonic_increasing)
    dup = out["request_id"].duplicated()
    result["duplicated_rows"] = int(dup.sum())
    out = out[~dup].set_index("request_id")
    missing = ref.index.difference(out.index)
    result["dropped_rows"] = int(len(missing))
    dropped_kinds, dropped_examples = {}, {}
    for rid in missing:
        row = ref.loc[rid]
        if row["candidates"] > 0 and row["repeated"]:
            k = "has candidates, but its (key, time) repeats another entity row's"
        else:
            k = kind_of(row, ttl)
        dropped_kinds[k] = dropped_kinds.get(k, 0) + 1
        if len(dropped_examples.setdefault(k, [])) < EXAMPLES:
            dropped_examples[k].append(
                {
                    "request_id": int(rid),
                    "driver_id": int(row["driver_id"]),
                    "entity_time": str(row["event_timestamp"]),
                    "candidates": int(row["candidates"]),
                    "repeated_key_time": bool(row["repeated"]),
                }
            )
    result["dropped_by_kind"] = dropped_kinds
    result["dropped_examples"] = dropped_examples
    common = ref.index.intersection(out.index)
    r = ref.loc[common]
    o = out.loc[common]
    ok = np.ones(len(common), dtype=bool)
    for f in feats:
        ok &= same(o[f].to_numpy(), r[f].to_numpy())
    result["compared_rows"] = int(len(common))
    result["matching_rows"] = int(ok.sum())
    bad = r[~ok]
    kinds, examples = {}, {}
    for rid, row in bad.iterrows():
        k = kind_of(row, ttl)
        kinds[k] = kinds.get(k, 0) + 1
        if len(examples.setdefault(k, [])) < EXAMPLES:
            examples[k].append(describe(source, row, o.loc[rid, feats].to_numpy(dtype="float64"), feats))
    result["mismatches_by_kind"] = kinds
    result["mismatch_examples"] = examples
    # Label (carried column) must come through unchanged.
    result["label_mismatches"] = int((o["label"].to_numpy() != r["label"].to_numpy()).sum())
    # How many rows of each kind exist, to put the counts in proportion.
    return result


def materialized(source, feats, feast_path, verge_path):
    """Online rows after materializing the whole range, against the per-key winner."""
    ordered = source.sort_values(["driver_id", "event_timestamp", "created"])
    winner = ordered.groupby("driver_id").tail(1).set_index("driver_id").sort_index()
    ties = source.groupby(["driver_id", "event_timestamp"]).size().rename("tie_size")
    winner = winner.join(ties, on=["driver_id", "event_timestamp"])
    out = {"keys": int(len(winner)), "keys_whose_latest_event_time_is_tied": int((winner["tie_size"] > 1).sum())}
    systems = {}
    if feast_path and os.path.exists(feast_path):
        systems["feast"] = pd.read_parquet(feast_path)
    if verge_path and os.path.exists(verge_path):
        with open(verge_path) as f:
            systems["verge"] = pd.DataFrame(json.load(f)).drop(columns=["event_ts"])
    for name, got in systems.items():
        got = got.drop_duplicates("driver_id").set_index("driver_id")
        common = winner.index.intersection(got.index)
        ok = np.ones(len(common), dtype=bool)
        for f in feats:
            ok &= same(got.loc[common, f].to_numpy(), winner.loc[common, f].to_numpy())
        bad = winner.loc[common][~ok]
        examples = []
        for key, row in bad.head(EXAMPLES).iterrows():
            rows = source[source["driver_id"] == key]
            vals = got.loc[key, feats].to_numpy(dtype="float64")
            picked = next(
                (r for _, r in rows.iterrows() if np.all(same(r[feats].to_numpy(dtype="float64"), vals))), None
            )
            examples.append(
                {
                    "driver_id": int(key),
                    "expected_row": {"event": str(row["event_timestamp"]), "created": str(row["created"])},
                    "returned_row": None
                    if picked is None
                    else {"event": str(picked["event_timestamp"]), "created": str(picked["created"])},
                }
            )
        out[name] = {
            "keys_read": int(len(got)),
            "missing_keys": int(len(winner.index.difference(got.index))),
            "matching_keys": int(ok.sum()),
            "mismatches_with_tied_event_time": int((bad["tie_size"] > 1).sum()),
            "mismatches_other": int((bad["tie_size"] <= 1).sum()),
            "examples": examples,
        }
    return out


def main(argv):
    data, feast_out, verge_out, out_path = argv[1:5]
    meta = json.load(open(os.path.join(data, "meta.json")))
    feats = [f"f{i}" for i in range(meta["features"])]
    ttl = pd.Timedelta(seconds=meta["ttl_seconds"])
    source, entities, ref = reference(data, meta)
    has = ref["candidates"] > 0
    kind = np.select(
        [
            ~has & ~ref["known_key"],
            ~has & ref["known_key"],
            has & (ref["tie_size"] > 1),
            has & (ref["row_event"] == ref["event_timestamp"] - ttl),
            has & (ref["row_event"] == ref["event_timestamp"]),
        ],
        [
            "no candidate: a key the source has never seen",
            "no candidate: a known key with no row in [t - ttl, t]",
            "winner's event time tied (created time decides)",
            "winner exactly ttl before the entity time (inclusive lower bound)",
            "winner exactly at the entity time (inclusive upper bound)",
        ],
        default="other",
    )
    totals = {str(k): int(v) for k, v in zip(*np.unique(kind, return_counts=True))}
    totals["(any kind) key and time repeat another entity row's"] = int(ref["repeated"].sum())
    report = {
        "entity_rows": int(len(entities)),
        "reference_kinds": totals,
        "data": meta,
    }
    for name, path in (("feast", feast_out), ("verge", verge_out)):
        if path == "-" or not os.path.exists(path):
            report[name] = {"missing": True}
            continue
        report[name] = check(name, pd.read_parquet(path), ref, source, feats, ttl)
    if len(argv) > 6:
        report["materialize"] = materialized(source, feats, argv[5], argv[6])
        for name in ("feast", "verge"):
            m = report["materialize"].get(name)
            if m:
                print(
                    f"materialize {name}: {m['matching_keys']}/{report['materialize']['keys']} keys match; "
                    f"tied mismatches {m['mismatches_with_tied_event_time']}, other {m['mismatches_other']}"
                )
    with open(out_path, "w") as f:
        json.dump(report, f, indent=2, default=str)
    for name in ("feast", "verge"):
        r = report[name]
        if r.get("missing"):
            continue
        print(
            f"{name}: {r['rows_out']} rows out of {r['rows_in']}, dropped {r['dropped_rows']}, "
            f"{r['matching_rows']}/{r['compared_rows']} match the reference, "
            f"mismatches {r['mismatches_by_kind']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
