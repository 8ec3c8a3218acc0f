#!/usr/bin/env python3
"""The Python side of bench/edge-scale/run (standard library only).

  load.py healthz URL --since EPOCH_SECS [--timeout S]
      Polls GET URL (keep trying on refused connections) until it answers 200;
      prints the seconds from EPOCH_SECS (when the server was launched) to that
      answer. Exit 2 if it never does within the timeout.

  load.py zipf URL --keys N --requests R [--s 1.1] [--features f0,f1]
          [--max-seconds S] [--seed SEED] --out FILE.json
      POSTs R one-entity /get-online-features bodies over one keep-alive
      connection to a sharded Worker. Key popularity is Zipf(s) over N ranks;
      ranks map to keys 0..N-1 through a seeded shuffle. Each answer's
      `x-verge-shards: fetched=N held=M bytes=B` header says whether the
      request made the isolate fetch a shard (fetched went up): such requests
      are "cold", the others "warm". Writes p50/p99 of each, the counts, the
      last header, and how many requests ran before --max-seconds stopped it.

Loopback only: any other address is refused.
"""

import argparse
import bisect
import http.client
import ipaddress
import itertools
import json
import random
import socket
import sys
import time
import urllib.parse


def loopback(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        sys.exit(f"load.py: `{url}` is not an http:// URL")
    addr = socket.gethostbyname(parts.hostname)
    if not ipaddress.ip_address(addr).is_loopback:
        sys.exit(f"load.py: {addr} is not a loopback address; this client only talks to 127.0.0.1")
    return addr, parts.port or 80, parts.path or "/"


def healthz(args):
    host, port, path = loopback(args.url)
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection(host, port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                print(f"{time.time() - args.since:.3f}")
                return 0
        except OSError:
            pass
        time.sleep(0.005)
    print(f"load.py: {args.url} gave no 200 within {args.timeout} s", file=sys.stderr)
    return 2


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    rank = min(max(int(-(-p * len(sorted_values) // 1)), 1), len(sorted_values))
    return sorted_values[rank - 1]


def shards_header(value, url):
    fields = dict(part.split("=", 1) for part in (value or "").split() if "=" in part)
    try:
        return int(fields["fetched"]), int(fields["held"]), int(fields["bytes"])
    except (KeyError, ValueError):
        sys.exit(f"load.py: {url} answered without a readable x-verge-shards header: {value!r}")


def zipf(args):
    host, port, path = loopback(args.url)
    rng = random.Random(args.seed)
    # Inverse-CDF sampling over ranks 1..N with weight rank^-s.
    cumulative = list(itertools.accumulate(r ** -args.s for r in range(1, args.keys + 1)))
    total = cumulative[-1]
    key_of_rank = list(range(args.keys))
    rng.shuffle(key_of_rank)
    keys = [key_of_rank[min(bisect.bisect_left(cumulative, rng.random() * total), args.keys - 1)]
            for _ in range(args.requests)]
    del cumulative
    features = [f for f in args.features.split(",") if f]
    conn = http.client.HTTPConnection(host, port, timeout=120)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cold, warm, first = [], [], None
    fetched_before, last = 0, None
    started = time.monotonic()
    done = 0
    for key in keys:
        body = json.dumps({"features": features, "entities": {"driver_id": [key]}})
        t = time.perf_counter()
        conn.request("POST", path, body, {"content-type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        us = (time.perf_counter() - t) * 1e6
        if r.status != 200:
            sys.exit(f"load.py: key {key} answered {r.status}: {data[:300]!r}")
        fetched, held, size = shards_header(r.getheader("x-verge-shards"), args.url)
        if first is None:
            first = us  # /healthz loaded bundles and shard 0; this may fetch a shard too
        elif fetched > fetched_before:
            cold.append(us)
        else:
            warm.append(us)
        fetched_before, last = fetched, (fetched, held, size)
        done += 1
        if time.monotonic() - started > args.max_seconds:
            break
    elapsed = time.monotonic() - started
    cold.sort()
    warm.sort()
    distinct = len(set(keys[:done]))
    report = {
        "url": args.url, "keys": args.keys, "zipf_s": args.s, "requested": args.requests,
        "done": done, "stopped_by_time": done < args.requests, "seconds": elapsed,
        "distinct_keys": distinct, "first_request_us": first,
        "cold": {"count": len(cold), "p50_us": percentile(cold, 0.5), "p99_us": percentile(cold, 0.99)},
        "warm": {"count": len(warm), "p50_us": percentile(warm, 0.5), "p99_us": percentile(warm, 0.99)},
        "fetched": last[0], "held": last[1], "held_bytes": last[2],
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("healthz")
    h.add_argument("url")
    h.add_argument("--since", type=float, required=True)
    h.add_argument("--timeout", type=float, default=300)
    z = sub.add_parser("zipf")
    z.add_argument("url")
    z.add_argument("--keys", type=int, required=True)
    z.add_argument("--requests", type=int, default=100_000)
    z.add_argument("--s", type=float, default=1.1)
    z.add_argument("--features", default="")
    z.add_argument("--max-seconds", type=float, default=900)
    z.add_argument("--seed", type=int, default=0x5EED)
    z.add_argument("--out", required=True)
    args = p.parse_args()
    if args.cmd == "zipf" and (args.keys < 1 or args.requests < 1):
        p.error("--keys and --requests must be at least 1")
    return healthz(args) if args.cmd == "healthz" else zipf(args)


if __name__ == "__main__":
    sys.exit(main())
