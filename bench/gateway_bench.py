"""Gateway benchmark: GET /api/v1/users/{code} through the gateway beside the
bare nameko RPC round trip to the same method, in one run.

Starts the whole system like `make run` (python -m deploy.run) on a fresh
RabbitMQ vhost and a temporary data dir, creates an institution, an admin and a
user, then measures for a fixed number of requests:
  - bare RPC, sequential (one ClusterRpcProxy)
  - bare RPC, N green threads with a proxy each
  - gateway, sequential
  - gateway, N concurrent keep-alive HTTP clients
and prints requests/s, p50 and p99 latency, and the gateway/RPC ratio.

    .venv/bin/python bench/gateway_bench.py [--requests 2000] [--clients 10]
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402
from benchsupport import drop_vhost, make_vhost  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-helpdesk-wachtwoord-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(label, latencies, wall):
    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    rate = len(lat) / wall
    print(f"{label:<38} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return rate, p50, p99


def timed_loop(n, fn):
    lat = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t)
    return lat, time.perf_counter() - start


def concurrent(n_clients, n_total, make_fn):
    per = n_total // n_clients
    lat = []

    def worker():
        fn = make_fn()
        for _ in range(per):
            t = time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t)

    pool = eventlet.GreenPool(n_clients)
    start = time.perf_counter()
    for _ in range(n_clients):
        pool.spawn(worker)
    pool.waitall()
    return lat, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=10)
    args = ap.parse_args()

    vhost = make_vhost("leerlingbus_bench")
    amqp = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="leerlingbus-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update(AMQP_URI=amqp, LEERLINGBUS_HTTP_PORT=str(port), LEERLINGBUS_DATA_DIR=str(data_dir),
               LEERLINGBUS_HELPDESK_PASSWORD=PASSWORD, LEERLINGBUS_LOG_LEVEL="WARNING")
    log = open(data_dir / "bench-run.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "deploy.run"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("system did not start; see " + str(data_dir / "bench-run.log"))
            time.sleep(0.5)
        s = requests.Session()
        tok = s.post(base + "/api/v1/auth/token", json={
            "institution": "platform", "code": "helpdesk", "password": PASSWORD}).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}"}
        inst = s.post(base + "/api/v1/institutions", headers=h,
                      json={"name": "Bench College", "brin": "00AB", "school_type": "vo"}).json()
        s.post(base + "/api/v1/users", headers=h, json={
            "institution_id": inst["id"], "code": "beheer", "first_name": "B", "last_name": "B",
            "password": "Bench-beheer-wachtwoord", "roles": ["admin"]}).raise_for_status()
        admin = s.post(base + "/api/v1/auth/token", json={
            "institution": "00AB", "code": "beheer",
            "password": "Bench-beheer-wachtwoord"}).json()["access_token"]
        ah = {"Authorization": f"Bearer {admin}"}
        s.post(base + "/api/v1/users", headers=ah, json={
            "code": "123456", "first_name": "Daan", "last_name": "Berg",
            "is_student": True}).raise_for_status()

        n, c = args.requests, args.clients
        config = {"AMQP_URI": amqp}
        print(f"# {n} requests each; {c} concurrent clients; system = 5 services + gateway "
              f"as separate processes (SQLite)")
        with ClusterRpcProxy(config) as rpc:
            rpc.users.get_user(inst["id"], "123456")  # warm up
            rpc_seq = summary("bare RPC users.get_user, sequential",
                              *timed_loop(n, lambda: rpc.users.get_user(inst["id"], "123456")))

        proxies = []

        def make_rpc():
            p = ClusterRpcProxy(config)
            proxies.append(p)
            proxy = p.start()
            return lambda: proxy.users.get_user(inst["id"], "123456")

        rpc_par = summary(f"bare RPC, {c} green threads", *concurrent(c, n, make_rpc))
        for p in proxies:
            p.stop()

        def make_http():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

            def get():
                conn.request("GET", "/api/v1/users/123456", headers=ah)
                resp = conn.getresponse()
                body = resp.read()
                assert resp.status == 200, body
                json.loads(body)
            return get

        gw_get = make_http()
        for _ in range(50):
            gw_get()  # warm up
        gw_seq = summary("gateway GET /users/{code}, sequential", *timed_loop(n, gw_get))
        gw_par = summary(f"gateway, {c} concurrent clients", *concurrent(c, n, make_http))
        print(f"ratio gateway/RPC sequential: {gw_seq[0] / rpc_seq[0]:.2f}   "
              f"concurrent: {gw_par[0] / rpc_par[0]:.2f}   "
              f"(goal >= 0.5; p99 at {c} clients {gw_par[2]:.1f} ms, goal < 50 ms)")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        drop_vhost(vhost)


if __name__ == "__main__":
    main()
