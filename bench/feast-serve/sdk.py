"""Issue 13's speed figures, the in-process halves (driven by bench/feast-serve/run).

    $PY sdk.py sdk REGISTRY FEATURES CALLS ROUNDS OUT NAME=URL...
        Feast's SDK (remote online store) against each server, in rounds that
        alternate between them (A, B, A, B, ...): N calls of
        get_online_features(features=20 features, entity_rows=[1 row]).to_dict()
        after a warm-up. Also checks that every server's first answer equals the
        first server's (values, not only shapes), so a fast wrong answer shows.
    $PY sdk.py startup ROUNDS OUT BODY NAME=CMD...
        Time from spawning CMD (a server on 127.0.0.1; "{port}" in it is replaced)
        to its first 200 on POST /get-online-features with BODY, polled every
        millisecond; the rounds alternate between the commands.

Every loop is bounded (call counts, a 60 s budget per loop, 60 s per start-up);
servers are loopback only and are stopped by process id.
"""

import json
import math
import os
import pathlib
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BUDGET_S = 60.0
WARMUP = 200


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    rank = min(max(math.ceil(p * len(sorted_values)), 1), len(sorted_values))
    return sorted_values[rank - 1]


def median(values):
    v = sorted(x for x in values if x == x)
    if not v:
        return float("nan")
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def remote_store(tmp, name, registry, url):
    """A FeatureStore over Feast's registry whose online store is the server at url
    (as tests/feast/sdk_client.py points the SDK at a server)."""
    from feast import FeatureStore

    repo = pathlib.Path(tmp) / name
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(
        f"project: bench\nprovider: local\nregistry: {registry}\n"
        f"online_store:\n  type: remote\n  path: {url}\n"
        "entity_key_serialization_version: 3\n")
    return FeatureStore(repo_path=str(repo))


def plain(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def sdk(registry, features, calls, rounds, out, targets):
    import feast

    features = features.split(",")
    calls, rounds = int(calls), int(rounds)
    keys = [(i * 7919) % 1000 for i in range(1000)]
    result = {"feast_version": feast.__version__, "calls_per_round": calls, "rounds": rounds, "targets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {}
        first = None
        for spec in targets:
            name, url = spec.split("=", 1)
            store = remote_store(tmp, name, registry, url)
            answer = store.get_online_features(features=features, entity_rows=[{"driver_id": 1}]).to_dict()
            answer = {k: [plain(x) for x in v] for k, v in answer.items()}
            if first is None:
                first = answer
            elif answer != first:
                raise SystemExit(f"sdk.py: {name} answered {answer}, the first server {first}")
            for i in range(WARMUP):
                store.get_online_features(features=features, entity_rows=[{"driver_id": keys[i]}]).to_dict()
            stores[name] = store
            result["targets"][name] = {"url": url, "runs_p50_us": [], "runs_p99_us": [], "loadavg": []}
        for _ in range(rounds):
            for name, store in stores.items():
                t_load = loadavg()
                lat = []
                started = time.perf_counter()
                for i in range(calls):
                    rows = [{"driver_id": keys[i % len(keys)]}]
                    t = time.perf_counter()
                    d = store.get_online_features(features=features, entity_rows=rows).to_dict()
                    lat.append((time.perf_counter() - t) * 1e6)
                    if len(d["driver_id"]) != 1:
                        raise SystemExit(f"sdk.py: {name} returned {len(d['driver_id'])} rows for 1")
                    if time.perf_counter() - started > BUDGET_S:
                        break
                lat.sort()
                r = result["targets"][name]
                r["runs_p50_us"].append(percentile(lat, 0.50))
                r["runs_p99_us"].append(percentile(lat, 0.99))
                r["loadavg"].append(t_load)
    for r in result["targets"].values():
        r["p50_us"], r["p99_us"] = median(r["runs_p50_us"]), median(r["runs_p99_us"])
    json.dump(result, open(out, "w"), indent=1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def first_answer_seconds(cmd, body, log):
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in shlex.split(cmd)]
    url = f"http://127.0.0.1:{port}/get-online-features"
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
    try:
        while time.perf_counter() - t0 < 60:
            if proc.poll() is not None:
                raise SystemExit(f"sdk.py: `{cmd}` exited with {proc.returncode} before answering")
            try:
                req = urllib.request.Request(url, data=body.encode(), headers={"content-type": "application/json"})
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.001)
        raise SystemExit(f"sdk.py: `{cmd}` did not answer within 60 s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def startup(rounds, out, body, targets):
    cmds = [t.split("=", 1) for t in targets]
    result = {"rounds": int(rounds), "targets": {n: {"cmd": c, "runs_s": [], "loadavg": []} for n, c in cmds}}
    with open(out + ".log", "w") as log:
        for _ in range(int(rounds)):
            for name, cmd in cmds:
                r = result["targets"][name]
                r["loadavg"].append(loadavg())
                r["runs_s"].append(first_answer_seconds(cmd, body, log))
    for r in result["targets"].values():
        r["median_s"] = median(r["runs_s"])
    json.dump(result, open(out, "w"), indent=1)


def main(argv):
    if len(argv) >= 7 and argv[1] == "sdk":
        sdk(*argv[2:7], argv[7:])
    elif len(argv) >= 6 and argv[1] == "startup":
        startup(argv[2], argv[3], argv[4], argv[5:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
