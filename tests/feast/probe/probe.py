"""Runs Feast's real SDK against the logging stand-in server and against Feast's own
SQLite store, for the Feast version of the interpreter that runs it.

    "$(scripts/feast-venv 0.60.0)" tests/feast/probe/probe.py

Done twice: once with the stand-in answering itself ("synthetic") and once with it
forwarding to Feast's own `feast serve` of the same version over the SQLite store
("proxy"), which records the real server's answers.

Writes tests/feast/work/<version>/ (scratch: the applied repos, requests.jsonl) and
tests/feast/reference/<version>.json: Feast's own to_dict() answers after
`feast materialize`, the values verge must later reproduce, plus what the remote client
made of the stand-in's answers and of each error answer.
"""

import json
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import feast
from feast import FeatureStore

HERE = pathlib.Path(__file__).resolve().parent
FEAST_DIR = HERE.parent
VERSION = feast.__version__
WORK = FEAST_DIR / "work" / VERSION
FEAST_BIN = pathlib.Path(sys.executable).parent / "feast"

ROWS = [{"driver_id": 1001, "customer_id": "c001"},
        {"driver_id": 1002, "customer_id": "c019"},  # c019 has no rows
        {"driver_id": 9999, "customer_id": "c002"}]  # 9999 has no rows
PLAIN = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips",
         "customer_profile:tier", "customer_profile:lifetime_value"]
ODFV = ["driver_hourly_stats:conv_rate", "transformed_conv_rate:conv_rate_plus_val",
        "transformed_conv_rate:trips_plus_val"]


def calls(store):
    """The calls probed, each as (name, kwargs of get_online_features)."""
    return [
        ("plain_two_views", dict(features=PLAIN, entity_rows=ROWS)),
        ("feature_service", dict(features=store.get_feature_service("driver_activity"), entity_rows=ROWS)),
        ("full_feature_names", dict(features=PLAIN, entity_rows=ROWS, full_feature_names=True)),
        ("on_demand_request_field", dict(features=ODFV, entity_rows=[
            {"driver_id": 1001, "val_to_add": 10}, {"driver_id": 1003, "val_to_add": -1},
            {"driver_id": 9999, "val_to_add": 5}])),
    ]


def run(store, name, kwargs):
    try:
        return {"ok": store.get_online_features(**kwargs).to_dict()}
    except Exception as e:  # the point is to record what the client raises
        return {"error": f"{type(e).__module__}.{type(e).__name__}: {e}"}


def setup_repos():
    if WORK.exists():
        shutil.rmtree(WORK)
    local = WORK / "local"
    shutil.copytree(FEAST_DIR / "repo", local, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    subprocess.run([str(FEAST_BIN), "apply"], cwd=local, check=True)
    subprocess.run([str(FEAST_BIN), "materialize", "2025-12-01T00:00:00", "2026-02-01T00:00:00"],
                   cwd=local, check=True)
    remote = WORK / "remote"
    remote.mkdir()
    shutil.copy(local / "features.py", remote / "features.py")
    return local, remote


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_mode(port, mode):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/__mode", data=json.dumps({"mode": mode}).encode(),
                                 method="POST")
    urllib.request.urlopen(req).read()


def log_lines(log):
    return [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []


def start_feast_serve(local):
    """`feast serve` on the materialized repo; returns (process, url) once /health answers."""
    port = free_port()
    proc = subprocess.Popen([str(FEAST_BIN), "serve", "-h", "127.0.0.1", "-p", str(port)], cwd=local,
                            stdout=subprocess.DEVNULL, stderr=open(WORK / "feast-serve.log", "w"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/health").read()
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("feast serve did not answer /health within 60 s")


def probe_remote(local, remote, upstream, tag, out):
    """All calls and error answers through the logging stand-in; results under out[tag]."""
    port = free_port()
    (remote / "feature_store.yaml").write_text(
        f"project: verge_test\nprovider: local\nregistry: {local / 'data' / 'registry.db'}\n"
        f"online_store:\n  type: remote\n  path: http://127.0.0.1:{port}\n"
        "entity_key_serialization_version: 3\n")
    log = WORK / f"requests-{tag}.jsonl"
    args = [sys.executable, str(HERE / "log_server.py"), str(port), str(log)] + ([upstream] if upstream else [])
    server = subprocess.Popen(args)
    out = out.setdefault(tag, {"remote": {}, "errors": {}})
    try:
        time.sleep(1.0)
        rstore = FeatureStore(repo_path=str(remote))
        out["requests_at_construction"] = len(log_lines(log))
        for name, kw in calls(rstore):
            before = len(log_lines(log))
            out["remote"][name] = run(rstore, name, kw)
            out["remote"][name]["requests"] = log_lines(log)[before:]
        if upstream:  # a real error from Feast's server instead of the synthetic ones
            before = len(log_lines(log))
            res = run(rstore, "unknown_view", dict(features=["nope:conv_rate"], entity_rows=ROWS[:1]))
            res["requests"] = log_lines(log)[before:]
            out["errors"]["real_unknown_view"] = res
        for mode in ([] if upstream else ["feast_error", "detail", "text", "s500"]):
            set_mode(port, mode)
            before, t0 = len(log_lines(log)), time.time()
            res = run(rstore, mode, dict(features=PLAIN[:1], entity_rows=ROWS[:1]))
            res["seconds"] = round(time.time() - t0, 2)
            res["attempts"] = len(log_lines(log)) - before
            out["errors"][mode] = res
        set_mode(port, "ok")
    finally:
        server.terminate()
        server.wait()


def main():
    local, remote = setup_repos()
    out = {"feast_version": VERSION, "reference": {}}
    ref_store = FeatureStore(repo_path=str(local))
    for name, kw in calls(ref_store):
        out["reference"][name] = run(ref_store, name, kw)
    probe_remote(local, remote, "", "synthetic", out)
    serve, url = start_feast_serve(local)
    try:
        probe_remote(local, remote, url, "proxy", out)
    finally:
        serve.terminate()
        serve.wait()
    ref_dir = FEAST_DIR / "reference"
    ref_dir.mkdir(exist_ok=True)
    (ref_dir / f"{VERSION}.json").write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"wrote {ref_dir / (VERSION + '.json')} and {WORK}/requests-*.jsonl")


if __name__ == "__main__":
    main()
