"""An HTTP load generator in its own process: N keep-alive clients, each
sending GET requests one after another (a closed loop), on one asyncio loop
(no threads, so no GIL hand-offs inflate the latencies it measures).

    cd bench && python -c 'import loadgen; loadgen.main()' --port 8000 \
        --path /api/v1/users/123456 --header "Authorization: Bearer ..." \
        --clients 10 --requests 2000

Prints one JSON line: requests, seconds, rate, p50_ms, p99_ms, errors.
`run()` does the same from another script, in a child process. A helper
module, not a benchmark: run as a script (`make bench` runs every
bench/*.py) it does nothing.
"""
import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path


async def _client(host, port, request, count, latencies, errors):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status_line.split(b" ", 2)[1:2] != [b"200"]:
                errors.append(status_line.decode("latin-1").strip())
    finally:
        writer.close()


async def _load(host, port, path, headers, clients, requests):
    head = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", *headers]
    request = ("\r\n".join(head) + "\r\n\r\n").encode()
    latencies, errors = [], []
    per = max(1, requests // clients)
    started = time.perf_counter()
    await asyncio.gather(*(_client(host, port, request, per, latencies, errors)
                           for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def figures(latencies, seconds, errors=()):
    lat = sorted(latencies)
    return {
        "requests": len(lat),
        "seconds": round(seconds, 3),
        "rate": len(lat) / seconds,
        "p50_ms": lat[len(lat) // 2] * 1000,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def run(port, path, headers=(), clients=10, requests=2000, host="127.0.0.1"):
    """Run the load generator in a child process; its figures as a dict."""
    here = str(Path(__file__).resolve().parent)
    cmd = [sys.executable, "-c", f"import sys; sys.path.insert(0, {here!r}); "
           "import loadgen; loadgen.main()", "--host", host, "--port", str(port),
           "--path", path, "--clients", str(clients), "--requests", str(requests)]
    for header in headers:
        cmd += ["--header", header]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    latencies, errors, seconds = asyncio.run(
        _load(args.host, args.port, args.path, args.header, args.clients, args.requests))
    print(json.dumps(figures(latencies, seconds, errors)))

