"""Feast's real SDK pushing into `verge serve` (tests/tests/feast_push.rs).

    $PY tests/feast/push_client.py REPO URL TOKEN

REPO is a `feast init` template repository after `feast apply` (its registry
file is what the SDK plans with); URL is `verge serve --bundle
driver_activity_v3 --admin-token-env VAR` over the template's verge port.
The client's feature_store.yaml points the remote online store at URL with
`auth: {type: kubernetes, user_token: TOKEN}`, which makes the SDK send
`Authorization: Bearer TOKEN` (the admin token verge's write routes want).

Each step's observed result goes into one JSON object printed on stdout:
{"feast_version", "sent": [{"path", "authorization", "body"}...] (every
request the SDK sent, as it sent it), "steps": {name: {"dict": {column:
[values]}} or {"error": "module.Class: message"}}}. The Rust test judges it.
"""

import json
import pathlib
import sys
import tempfile
from datetime import datetime, timedelta, timezone

import feast
import pandas as pd
import requests
from feast import FeatureStore
from feast.data_source import PushMode

FEATURES = ["driver_hourly_stats_fresh:conv_rate",
            "driver_hourly_stats_fresh:acc_rate",
            "driver_hourly_stats_fresh:avg_daily_trips"]
ROWS = [{"driver_id": 1001}, {"driver_id": 1002}, {"driver_id": 1003}]

SENT = []


def record_requests():
    """Wraps requests.Session.request so every request the SDK sends is kept."""
    original = requests.Session.request

    def request(self, method, url, *args, **kwargs):
        headers = dict(self.headers)
        headers.update(kwargs.get("headers") or {})
        SENT.append({"method": method, "path": "/" + url.split("/", 3)[-1],
                     "authorization": headers.get("Authorization"),
                     "body": kwargs.get("json")})
        answer = original(self, method, url, *args, **kwargs)
        SENT[-1]["status"] = answer.status_code
        return answer

    requests.Session.request = request


def client_store(repo, url, token, work):
    """A client repository: the template's registry, verge's URL, the token."""
    auth = {"type": "kubernetes", "user_token": token} if token else {"type": "no_auth"}
    config = {
        "project": "verge_template",
        "registry": str(pathlib.Path(repo) / "data" / "registry.db"),
        "provider": "local",
        "online_store": {"type": "remote", "path": url},
        "entity_key_serialization_version": 3,
        "auth": auth,
    }
    work.mkdir()
    (work / "feature_store.yaml").write_text(json.dumps(config))
    return FeatureStore(repo_path=str(work))


def frame(ids, conv, acc, trips, event_ts):
    """Rows with every field of driver_hourly_stats_fresh, naive UTC times."""
    naive = event_ts.astimezone(timezone.utc).replace(tzinfo=None)
    n = len(ids)
    return pd.DataFrame({
        "driver_id": ids,
        "event_timestamp": [naive] * n,
        "created": [naive] * n,
        "conv_rate": conv,
        "acc_rate": acc,
        "avg_daily_trips": trips,
        "driver_metadata": [{"vehicle_type": "bike", "rating": "4.5"}] * n,
        "driver_config": [json.dumps({"max_distance_km": 10})] * n,
        "driver_profile": [{"name": "p", "age": "30"}] * n,
    })


def step(steps, name, call):
    try:
        steps[name] = call()
    except Exception as e:  # the SDK's error is the observation
        steps[name] = {"error": f"{type(e).__module__}.{type(e).__name__}: {e}"}


def main():
    repo, url, token = sys.argv[1:4]
    record_requests()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    steps = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = client_store(repo, url, token, pathlib.Path(tmp) / "with_token")
        bare = client_store(repo, url, None, pathlib.Path(tmp) / "no_token")
        read = lambda: {"dict": store.get_online_features(
            features=FEATURES, entity_rows=ROWS).to_dict()}
        step(steps, "before", read)
        # Newer than anything materialized (which ends hours ago): wins for
        # 1001 and 1002. In the past, as verge hides rows from after `now`.
        step(steps, "push", lambda: store.push(
            "driver_stats_push_source",
            frame([1001, 1002], [0.25, 0.5], [0.75, 0.125], [111, 222],
                  now - timedelta(minutes=3)),
            to=PushMode.ONLINE))
        step(steps, "after_push", read)
        # Newer still, for 1002 only, by the direct write.
        step(steps, "write", lambda: store.write_to_online_store(
            "driver_hourly_stats_fresh",
            frame([1002], [0.0625], [0.375], [333], now - timedelta(minutes=2))))
        step(steps, "after_write", read)
        # Older than the first push (and newer than the materialized rows):
        # must not override 1001.
        step(steps, "older_push", lambda: store.push(
            "driver_stats_push_source",
            frame([1001], [0.875], [0.875], [999], now - timedelta(minutes=4)),
            to=PushMode.ONLINE))
        step(steps, "after_older_push", read)
        # Without the token: refused, and 1003 keeps its materialized value.
        step(steps, "push_without_token", lambda: bare.push(
            "driver_stats_push_source",
            frame([1003], [0.5], [0.5], [777], now - timedelta(minutes=1)),
            to=PushMode.ONLINE))
        step(steps, "after_refused", read)
    for name, value in steps.items():
        if value is None:
            steps[name] = {"returned": None}
    print(json.dumps({"feast_version": feast.__version__, "sent": SENT, "steps": steps},
                     default=str))


if __name__ == "__main__":
    main()
