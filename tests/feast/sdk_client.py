"""Feast's real SDK as a client of `verge serve`, next to Feast's own SQLite store.

    $PY tests/feast/sdk_client.py LOCAL_REPO FEATURES_URL ODFV_URL

LOCAL_REPO is a copy of tests/feast/repo after `feast apply` and `feast materialize`
(the reference: Feast reading its own SQLite online store). FEATURES_URL is a
`verge serve --bundle driver_activity`, ODFV_URL a `verge serve --bundle driver_odfv`
(one verge server serves one bundle, and on-demand programs travel in bundles).
Both remote stores read the same registry file as the local one, so the SDK plans
every call identically; only the online store differs.

Every call runs on both stores, through `.to_dict()` and `.to_df()`; one JSON object
is printed on stdout: {"feast_version", "calls": {name: {"local": R, "remote": R}}}
with R = {"dict": {column: [values]}, "df": {column: {"dtype", "values"}}} or
{"error": "module.Class: message"}. tests/tests/feast_sdk.rs compares them.
"""

import json
import math
import pathlib
import sys
import tempfile

import feast
from feast import FeatureStore

PLAIN = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips",
         "customer_profile:tier", "customer_profile:lifetime_value"]
ODFV = ["driver_hourly_stats:conv_rate", "transformed_conv_rate:conv_rate_plus_val",
        "transformed_conv_rate:trips_plus_val"]
# 1002/c019 and 9999/c002: one key known, the other not; 9999 and c019 have no rows.
ROWS = [{"driver_id": 1001, "customer_id": "c001"},
        {"driver_id": 1002, "customer_id": "c019"},
        {"driver_id": 9999, "customer_id": "c002"}]
ODFV_ROWS = [{"driver_id": 1001, "val_to_add": 10}, {"driver_id": 1003, "val_to_add": -1},
             {"driver_id": 9999, "val_to_add": 5}]


def many_rows(n):
    """n rows cycling over known and unknown keys of both types, with repeats, so
    the SDK's deduplication (0.60) and the server's row order both matter."""
    return [{"driver_id": 1001 + (i * 7) % 23, "customer_id": f"c{1 + (i * 5) % 21:03d}"}
            for i in range(n)]


def many_odfv_rows(n):
    return [{"driver_id": 1001 + (i * 7) % 23, "val_to_add": (i % 11) - 5} for i in range(n)]


def calls(store):
    """(name, which verge server, kwargs of get_online_features) for every call."""
    return [
        ("plain_two_views", "features", dict(features=PLAIN, entity_rows=ROWS)),
        ("int64_key_only", "features", dict(
            features=["driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"],
            entity_rows=[{"driver_id": 1020}, {"driver_id": 1000}, {"driver_id": 1005}])),
        ("string_key_only", "features", dict(
            features=["customer_profile:lifetime_value", "customer_profile:tier"],
            entity_rows=[{"customer_id": "c017"}, {"customer_id": "c020"}, {"customer_id": "c003"}])),
        ("feature_service", "features", dict(
            features=store.get_feature_service("driver_activity"), entity_rows=ROWS)),
        ("full_feature_names", "features", dict(features=PLAIN, entity_rows=ROWS, full_feature_names=True)),
        ("unknown_keys_only", "features", dict(
            features=PLAIN, entity_rows=[{"driver_id": 5, "customer_id": "zzz"}])),
        ("one_row", "features", dict(features=PLAIN, entity_rows=ROWS[:1])),
        ("rows_1000", "features", dict(features=PLAIN, entity_rows=many_rows(1000))),
        ("odfv_request_field", "odfv", dict(features=ODFV, entity_rows=ODFV_ROWS)),
        ("odfv_full_feature_names", "odfv", dict(features=ODFV, entity_rows=ODFV_ROWS,
                                                 full_feature_names=True)),
        ("odfv_rows_1000", "odfv", dict(features=ODFV, entity_rows=many_odfv_rows(1000))),
    ]


def plain(v):
    """A JSON-ready Python value: numpy scalars unwrapped, NaN (pandas' missing) as None."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def run(store, kwargs):
    try:
        response = store.get_online_features(**kwargs)
        as_dict = {k: [plain(v) for v in vs] for k, vs in response.to_dict().items()}
        df = response.to_df()
        as_df = {c: {"dtype": str(df[c].dtype), "values": [plain(v) for v in df[c].tolist()]}
                 for c in df.columns}
        return {"dict": as_dict, "df": as_df}
    except Exception as e:  # recorded, so the test can show what the SDK raised
        return {"error": f"{type(e).__module__}.{type(e).__name__}: {e}"}


def remote_store(tmp, name, registry, url):
    """A FeatureStore over `registry` whose online store is the server at `url`."""
    repo = pathlib.Path(tmp) / name
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(
        f"project: verge_test\nprovider: local\nregistry: {registry}\n"
        f"online_store:\n  type: remote\n  path: {url}\n"
        "entity_key_serialization_version: 3\n")
    return FeatureStore(repo_path=str(repo))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: sdk_client.py LOCAL_REPO FEATURES_URL ODFV_URL")
    local_repo, features_url, odfv_url = sys.argv[1:]
    registry = pathlib.Path(local_repo).resolve() / "data" / "registry.db"
    local = FeatureStore(repo_path=local_repo)
    out = {"feast_version": feast.__version__, "calls": {}}
    with tempfile.TemporaryDirectory() as tmp:
        remotes = {"features": remote_store(tmp, "features", registry, features_url),
                   "odfv": remote_store(tmp, "odfv", registry, odfv_url)}
        for name, server, kwargs in calls(local):
            out["calls"][name] = {"local": run(local, kwargs), "remote": run(remotes[server], kwargs)}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
