"""File store benchmark: a ~20 MB file into the uploads service, by reference
(now) against base64 in the RPC message (before).

A generated CSV of ~19.5 MB (95,000 rows; POST /imports, the largest file the
upload limit takes) goes in three ways, each on a fresh stack (users,
students, uploads and the gateway as processes, bench/uploads_bench.py's Stack,
SQLite, a throw-away vhost), so every peak RSS (VmHWM) is of that run only:

1. `before`: what the gateway did until now, in a client process — read the
   file, base64-encode it and send it in the `create_import` RPC (the service
   still accepts base64). The client's peak RSS stands for the gateway's.
2. `after-local`: POST /imports through the gateway; the gateway streams the
   file into the local file store and the RPC carries its reference.
3. `after-s3`: the same with the S3 store on moto's S3 server (tests.helpers.S3Server).

Printed per run: seconds to the answer, RPC body bytes, the gateway's (or the
client's) and the uploads service's peak RSS, and the same as ratios of `before`.

    .venv/bin/python bench/filestore_bench.py [--rows 95000] [--modes before,after-local,after-s3]
"""
import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from kombu.serialization import dumps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from uploads_bench import (  # noqa: E402
    API,
    peak_rss_mb,
    running_stack,
)

# The old gateway's path in a process of its own: read, base64, one RPC.
BEFORE_CLIENT = """
import eventlet
eventlet.monkey_patch()
import base64, json, sys, time
from kombu.serialization import dumps
from gateway.bus import BusClient
amqp, path, inst = sys.argv[1], sys.argv[2], int(sys.argv[3])
bus = BusClient(amqp, 120.0).start()
started = time.perf_counter()
content = open(path, "rb").read()
b64 = base64.b64encode(content).decode("ascii")
args = [inst, "users", "export.csv", b64]
kwargs = {"delimiter": None, "encoding": None, "actor": {"code": "beheer"}}
body = len(dumps({"args": args, "kwargs": kwargs}, serializer="json")[2])
result = bus.call("uploads", "create_import", *args, timeout=120, **kwargs)
elapsed = time.perf_counter() - started
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"seconds": elapsed, "rows": result["row_count"], "rpc_bytes": body,
                  "client_peak_rss_mb": int(hwm) // 1024}))
bus.stop()
"""


def make_csv(path, rows):
    filler = "x" * 150
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("code;firstName;lastName;email;note\n")
        for i in range(rows):
            fh.write(f"{100000 + i};Voornaam{i};Achternaam{i};l{i}@school.nl;{filler}\n")


def rss_now_mb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return None


def run(mode, csv, s3=None):
    env = {"LEERLINGBUS_RPC_TIMEOUT": "120", "LEERLINGBUS_IMPORT_DEADLINE": "120"}
    if s3 is not None:
        env.update(s3.config(f"bench-{mode}"))
    with running_stack("sqlite", f"filestore-bench-{mode}", None, env=env) as (stack, admin):
        inst = next(i for i in stack.call("GET", "/institutions?page_size=500")["items"]
                    if i["brin"] == "00AB")
        uploads, gateway = stack.procs["uploads"].pid, stack.procs["gateway"].pid
        at_start = {"gateway_rss_at_start_mb": rss_now_mb(gateway),
                    "uploads_rss_at_start_mb": rss_now_mb(uploads)}
        if mode == "before":
            out = subprocess.run(
                [sys.executable, "-c", BEFORE_CLIENT, stack.env["AMQP_URI"], str(csv),
                 str(inst["id"])], cwd=ROOT, env=stack.env, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(out.stderr[-2000:])
            res = json.loads(out.stdout.strip().splitlines()[-1])
            res["sender_peak_rss_mb"] = res.pop("client_peak_rss_mb")
        else:
            started = time.perf_counter()
            with open(csv, "rb") as fh:
                r = requests.post(stack.base + API + "/imports",
                                  headers={"Authorization": f"Bearer {admin}"},
                                  data={"kind": "users"},
                                  files={"file": ("export.csv", fh, "text/csv")}, timeout=180)
            if r.status_code != 201:
                raise SystemExit(f"POST /imports: {r.status_code} {r.text[:500]}")
            res = {"seconds": time.perf_counter() - started, "rows": r.json()["row_count"],
                   # the reference dict and the other arguments, as the gateway sends them
                   "rpc_bytes": len(dumps({"args": [
                       inst["id"], "users", "export.csv",
                       {"key": "incoming/" + "0" * 32, "size": csv.stat().st_size,
                        "sha256": "0" * 64}],
                       "kwargs": {"delimiter": None, "encoding": None,
                                  "actor": {"user_id": 1, "code": "beheer",
                                            "roles": ["admin"]}}}, serializer="json")[2]),
                   "sender_peak_rss_mb": peak_rss_mb(gateway)}
        res.update(at_start, mode=mode, uploads_peak_rss_mb=peak_rss_mb(uploads),
                   seconds=round(res["seconds"], 2))
        return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=95_000)
    parser.add_argument("--modes", default="before,after-local,after-s3")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lb-filestore-bench-files-"))
    s3 = None
    try:
        csv = work / "export.csv"
        make_csv(csv, args.rows)
        size = csv.stat().st_size
        print(f"CSV of {args.rows} rows, {size / 2**20:.1f} MiB "
              f"(base64: {len(base64.b64encode(csv.read_bytes())) / 2**20:.1f} MiB)")
        results = []
        for mode in args.modes.split(","):
            if mode == "after-s3" and s3 is None:
                from tests.helpers import S3Server
                s3 = S3Server()
            res = run(mode, csv, s3)
            results.append(res)
            print(f"{mode:12s} answered in {res['seconds']:6.2f}s, RPC body "
                  f"{res['rpc_bytes']:>10,} B, sender (gateway/client) peak RSS "
                  f"{res['sender_peak_rss_mb']} MB (at start {res['gateway_rss_at_start_mb']}), "
                  f"uploads peak RSS {res['uploads_peak_rss_mb']} MB "
                  f"(at start {res['uploads_rss_at_start_mb']})")
        base = next((r for r in results if r["mode"] == "before"), None)
        if base is not None:
            for res in results:
                if res is base:
                    continue
                print(f"{res['mode']:12s} vs before: time x{res['seconds'] / base['seconds']:.2f}, "
                      f"RPC body x{res['rpc_bytes'] / base['rpc_bytes']:.6f}, uploads peak RSS "
                      f"x{res['uploads_peak_rss_mb'] / base['uploads_peak_rss_mb']:.2f}, "
                      f"sender peak RSS "
                      f"x{res['sender_peak_rss_mb'] / base['sender_peak_rss_mb']:.2f}")
        print(json.dumps(results, indent=2))
    finally:
        if s3 is not None:
            s3.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
