"""Start-up of `verge serve --from DIR --native`: launch to the "listening" line
and to the first 200 on /healthz, and the RSS then, over several launches.

    python3 bench/edge-scale/ready.py VERGE_BIN DIR [--runs 5]

Run it in the repository bench/edge-scale/run left behind
(target/bench/edge-scale/<N>-release/repo, DIR = site). One launch at a time on
127.0.0.1 (port 0), each stopped before the next.
"""
import argparse
import subprocess
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verge")
    ap.add_argument("dir")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    for _ in range(args.runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [args.verge, "serve", "--from", args.dir, "--native", "--addr", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            line = p.stdout.readline().strip()
            t1 = time.perf_counter()
            if "listening on " not in line:
                raise SystemExit(f"ready.py: unexpected first line {line!r}")
            urllib.request.urlopen(line.split("listening on ")[1] + "/healthz", timeout=30).read()
            t2 = time.perf_counter()
            with open(f"/proc/{p.pid}/status") as status:
                rss = next(l for l in status if l.startswith("VmRSS")).split()[1]
            print(f"listening after {1000 * (t1 - t0):.1f} ms, first /healthz 200 after "
                  f"{1000 * (t2 - t0):.1f} ms, RSS {int(rss) / 1024:.1f} MiB")
        finally:
            p.terminate()
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
