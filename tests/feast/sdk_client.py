"""Feast's real SDK as a client of `verge serve`, next to Feast's own SQLite store.

    $PY tests/feast/sdk_client.py LOCAL_REPO URL

LOCAL_REPO is a copy of tests/feast/repo after `feast apply` and `feast materialize`
(the reference: Feast reading its own SQLite online store). URL is ONE verge
deployment serving every call, as a Feast user configures one `path:`: `verge serve
--bundle driver_activity --bundle driver_odfv` (or the Worker over `verge publish` of
both); the on-demand features are computed by the `driver_odfv` bundle. The remote
store reads a copy of the local store's registry file, so the SDK plans every call
identically; only the online store differs. The copy has one view more,
`verge_lacks` (see ERROR_CALLS), which verge's deployment does not serve.

Every call runs on both stores, through `.to_dict()` and `.to_df()`; one JSON object
is printed on stdout: {"feast_version", "calls": {name: {"local": R, "remote": R}},
"errors": {name: {"local": R, "remote": R}}} with R = {"dict": {column: [values]},
"df": {column: {"dtype", "values"}}} or {"error": "module.Class: message"}, plus
"seconds" (the call's wall time) and "statuses" (the HTTP status of every answer the
SDK read during the call; none when it raised before sending). The "errors" calls are
expected to raise. tests/tests/feast_sdk.rs compares them.
"""

import json
import math
import pathlib
import shutil
import sys
import tempfile
import time
from datetime import timedelta

import feast
import requests
from feast import FeatureService, FeatureStore, FeatureView, Field
from feast.types import Int64

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
    """(name, kwargs of get_online_features) for every call expected to answer."""
    return [
        ("plain_two_views", dict(features=PLAIN, entity_rows=ROWS)),
        ("int64_key_only", dict(
            features=["driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"],
            entity_rows=[{"driver_id": 1020}, {"driver_id": 1000}, {"driver_id": 1005}])),
        ("string_key_only", dict(
            features=["customer_profile:lifetime_value", "customer_profile:tier"],
            entity_rows=[{"customer_id": "c017"}, {"customer_id": "c020"}, {"customer_id": "c003"}])),
        ("feature_service", dict(features=store.get_feature_service("driver_activity"), entity_rows=ROWS)),
        ("full_feature_names", dict(features=PLAIN, entity_rows=ROWS, full_feature_names=True)),
        ("unknown_keys_only", dict(features=PLAIN, entity_rows=[{"driver_id": 5, "customer_id": "zzz"}])),
        ("one_row", dict(features=PLAIN, entity_rows=ROWS[:1])),
        ("rows_1000", dict(features=PLAIN, entity_rows=many_rows(1000))),
        ("odfv_request_field", dict(features=ODFV, entity_rows=ODFV_ROWS)),
        ("odfv_full_feature_names", dict(features=ODFV, entity_rows=ODFV_ROWS, full_feature_names=True)),
        ("odfv_rows_1000", dict(features=ODFV, entity_rows=many_odfv_rows(1000))),
    ]


def error_calls(store):
    """(name, kwargs) for every call expected to raise, on Feast's store and through verge."""
    view = store.get_feature_view("driver_hourly_stats")
    return [
        ("unknown_view", dict(features=["nope:x"], entity_rows=[{"driver_id": 1001}])),
        ("unknown_field", dict(features=["driver_hourly_stats:nope"], entity_rows=[{"driver_id": 1001}])),
        # A FeatureService object that no registry holds: 0.67 sends its name as is.
        ("unknown_feature_service", dict(
            features=FeatureService(name="nope", features=[view[["conv_rate"]]]),
            entity_rows=[{"driver_id": 1001}])),
        ("odfv_without_request_data", dict(features=ODFV, entity_rows=[{"driver_id": 1001}])),
        # In the remote store's registry only (extra_view): the SDK's checks pass, verge's do not.
        ("view_verge_lacks", dict(features=["verge_lacks:x"], entity_rows=[{"driver_id": 1001}])),
    ]


def extra_view(store):
    """A view of the driver source that the remote registry has and verge does not serve,
    so that even 0.60 (which checks every name against its registry before sending)
    sends a request verge refuses."""
    source = store.get_feature_view("driver_hourly_stats").batch_source
    return FeatureView(name="verge_lacks", entities=[store.get_entity("driver")],
                       schema=[Field(name="x", dtype=Int64)], source=source,
                       ttl=timedelta(days=3650))


# The HTTP status of every answer the SDK's session read during the current call:
# requests.Session.send sees the final answer of urllib3's retries.
STATUSES = []
_send = requests.Session.send


def _recording_send(self, request, **kwargs):
    response = _send(self, request, **kwargs)
    STATUSES.append(response.status_code)
    return response


requests.Session.send = _recording_send


def plain(v):
    """A JSON-ready Python value: numpy scalars unwrapped, NaN (pandas' missing) as None."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def run(store, kwargs):
    STATUSES.clear()
    started = time.monotonic()
    try:
        response = store.get_online_features(**kwargs)
        as_dict = {k: [plain(v) for v in vs] for k, vs in response.to_dict().items()}
        df = response.to_df()
        as_df = {c: {"dtype": str(df[c].dtype), "values": [plain(v) for v in df[c].tolist()]}
                 for c in df.columns}
        out = {"dict": as_dict, "df": as_df}
    except Exception as e:  # recorded, so the test can show what the SDK raised
        out = {"error": f"{type(e).__module__}.{type(e).__name__}: {e}"}
    out["seconds"] = time.monotonic() - started
    out["statuses"] = list(STATUSES)
    return out


def remote_store(tmp, local_repo, url):
    """A FeatureStore over a copy of the local registry (plus extra_view) whose online
    store is the verge deployment at `url`."""
    repo = pathlib.Path(tmp) / "remote"
    repo.mkdir()
    registry = repo / "registry.db"
    shutil.copy(pathlib.Path(local_repo).resolve() / "data" / "registry.db", registry)
    (repo / "feature_store.yaml").write_text(
        f"project: verge_test\nprovider: local\nregistry: {registry}\n"
        f"online_store:\n  type: remote\n  path: {url}\n"
        "entity_key_serialization_version: 3\n")
    store = FeatureStore(repo_path=str(repo))
    store.registry.apply_feature_view(extra_view(store), "verge_test", commit=True)
    return store


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: sdk_client.py LOCAL_REPO URL")
    local_repo, url = sys.argv[1:]
    local = FeatureStore(repo_path=local_repo)
    out = {"feast_version": feast.__version__, "calls": {}, "errors": {}}
    with tempfile.TemporaryDirectory() as tmp:
        remote = remote_store(tmp, local_repo, url)
        for name, kwargs in calls(local):
            out["calls"][name] = {"local": run(local, kwargs), "remote": run(remote, kwargs)}
        for name, kwargs in error_calls(local):
            out["errors"][name] = {"local": run(local, kwargs), "remote": run(remote, kwargs)}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
