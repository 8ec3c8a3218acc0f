"""A stand-in for a Feast feature server that logs every request, to learn what
Feast's remote online store client sends and which answers it accepts.

    python log_server.py PORT LOGFILE [UPSTREAM]

Each request is appended to LOGFILE as one JSON line (method, path, headers, body).
With UPSTREAM (the URL of a real `feast serve`), requests are forwarded there as they
came (body and Content-Type) and its answer is passed back and logged: this records
what Feast's own server answers. Without it, POST /get-online-features (0.60's
per-view shape) is answered in the shape of Feast's feature server, built from the
request: the entity column first, then one column per requested feature, bare names
(no view prefix), the last entity row NOT_FOUND. POST /__mode {"mode": M} (never
sent by Feast) switches to an error answer for the probes of error handling:
  ok | feast_error (404, body a JSON string holding {module,class,message}, as Feast's
  server sends) | detail (404, {"detail": "..."}) | text (400, plain text) | s500 (500 JSON)
"""

import json
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Plausible values by feature name, so the client's type inference sees the real kinds.
KINDS = {"conv_rate": 0.5, "acc_rate": 0.25, "avg_daily_trips": 7, "lifetime_value": 12.5, "tier": "gold"}
STATE = {"mode": "ok"}


def forward(method, path, headers, raw):
    """Sends the request on to UPSTREAM as it came; returns (status, content type, body)."""
    keep = {k: v for k, v in headers.items() if k.lower() == "content-type"}
    req = urllib.request.Request(UPSTREAM + path, data=raw.encode() if raw else None,
                                 headers=keep, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def online_answer(req):
    """Entity columns (all keys sent, so 0.67's request fields too), then the features."""
    names, results, n = [], [], 0
    for key, values in req["entities"].items():
        n = len(values)
        names.append(key)
        results.append({"values": values, "statuses": ["PRESENT"] * n,
                        "event_timestamps": ["1970-01-01T00:00:00Z"] * n})
    for i, ref in enumerate(req.get("features") or []):
        name = ref.split(":", 1)[1]
        base = KINDS.get(name, 1.0)
        vals = [base if isinstance(base, str) else base + i * 100 + j for j in range(n)]
        statuses = ["PRESENT"] * n
        vals[-1], statuses[-1] = None, "NOT_FOUND"
        names.append(ref.replace(":", "__") if req.get("full_feature_names") else name)
        results.append({"values": vals, "statuses": statuses,
                        "event_timestamps": [f"2026-01-01T0{j % 10}:00:00Z" for j in range(n)]})
    return 200, {"metadata": {"feature_names": names}, "results": results}


def error_answer(mode):
    msg = "Feature view driver_hourly_stats does not exist in project verge_test"
    if mode == "feast_error":
        inner = {"module": "feast.errors", "class": "FeatureViewNotFoundException", "message": msg}
        return 404, json.dumps(inner)  # encoded again below: a JSON string, as FastAPI sends it
    if mode == "detail":
        return 404, {"detail": msg}
    if mode == "s500":
        return 500, {"detail": "internal: " + msg}
    return 400, None  # text


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, status, payload):
        body = (b"bad request: plain text" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if payload is None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if self.path == "/__mode":
            STATE["mode"] = json.loads(raw)["mode"]
            return self._reply(200, STATE)
        entry = {"method": self.command, "path": self.path, "mode": STATE["mode"],
                 "headers": dict(self.headers.items()), "body": raw}
        if STATE["mode"] == "ok" and UPSTREAM:
            status, ctype, body = forward(self.command, self.path, self.headers, raw)
            entry["upstream"] = {"status": status, "content_type": ctype, "body": body.decode("utf-8", "replace")}
            self._log(entry)
            self.send_response(status)
            self.send_header("Content-Type", ctype or "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        self._log(entry)
        if STATE["mode"] != "ok":
            return self._reply(*error_answer(STATE["mode"]))
        if self.path == "/get-online-features":
            return self._reply(*online_answer(json.loads(raw)))
        if self.path == "/health":
            return self._reply(200, {"status": "ok"})
        return self._reply(404, {"detail": "Not Found"})

    def _log(self, entry):
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")

    do_GET = do_POST = _handle

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    PORT, LOG = int(sys.argv[1]), sys.argv[2]
    UPSTREAM = sys.argv[3].rstrip("/") if len(sys.argv) > 3 else ""
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
