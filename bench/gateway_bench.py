"""Gateway benchmark: GET /api/v1/users/{code} through one, then two gateway
processes on one port (SO_REUSEPORT), beside the bare nameko RPC round trip to
the same method, in one run.

Starts the whole system like `make run` (python -m deploy.run) on a fresh
RabbitMQ vhost and a temporary data dir, creates an institution, an admin and a
user, then measures for a fixed number of requests:
  - bare RPC users.get_user, sequential and from N green threads (the floor);
  - one extra gateway process (`python -m gateway`, started directly on a port
    of its own), 1 and N keep-alive clients;
  - a second gateway process on the same port, N and 2N clients;
and prints requests/s, p50 and p99 latency, the CPU time per request of the
gateway(s) and of the users service, and the ratios: gateway/RPC and two
gateways/one. The load generator (bench/loadgen.py) is a process of its own.

    .venv/bin/python bench/gateway_bench.py [--requests 2000] [--clients 10]
    .venv/bin/python bench/gateway_bench.py --hold   # keep it running (profiling)
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
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

import loadgen  # noqa: E402
from benchsupport import drop_vhost, make_vhost  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-helpdesk-wachtwoord-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def line(label, fig, cpu=""):
    print(f"{label:<40} {fig['rate']:7.0f} req/s   p50 {fig['p50_ms']:6.2f} ms   "
          f"p99 {fig['p99_ms']:6.2f} ms{cpu}", flush=True)
    if fig.get("errors"):
        print(f"    {fig['errors']} errors, first: {fig['first_error']}")
    return fig


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def child_pid(parent, marker):
    """The pid of the child of `parent` whose command line holds `marker`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and marker in cmdline:
            return int(entry.name)
    raise SystemExit(f"no child of {parent} runs {marker}")


def timed_loop(n, fn):
    lat = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t)
    return loadgen.figures(lat, time.perf_counter() - start)


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
    return loadgen.figures(lat, time.perf_counter() - start)


def wait_healthy(base, proc, timeout, what):
    deadline = time.time() + timeout
    while True:
        try:
            if requests.get(base + "/health", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        if time.time() > deadline or proc.poll() is not None:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.3)


def start_gateway(env, port, log_path):
    """`python -m gateway` on `port`; returns once it listens (its log says so)."""
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT,
                            env={**env, "LEERLINGBUS_HTTP_PORT": str(port),
                                 "LEERLINGBUS_LOG_LEVEL": "INFO"},
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while "gateway listening" not in Path(log_path).read_text():
        if time.time() > deadline or proc.poll() is not None:
            raise SystemExit(f"gateway did not start; see {log_path}")
        time.sleep(0.1)
    return proc


def seed(base):
    s = requests.Session()
    tok = s.post(base + "/api/v1/auth/token", json={
        "institution": "platform", "code": "helpdesk", "password": PASSWORD}).json()["access_token"]
    h = {"Authorization": f"Bearer {tok}"}
    inst = s.post(base + "/api/v1/institutions", headers=h,
                  json={"name": "Bench College", "brin": "00AB", "school_type": "vo"})
    assert inst.status_code == 201, inst.text
    inst = inst.json()
    s.post(base + "/api/v1/users", headers=h, json={
        "institution_id": inst["id"], "code": "beheer", "first_name": "B", "last_name": "B",
        "password": "Bench-beheer-wachtwoord", "roles": ["admin"]}).raise_for_status()
    admin = s.post(base + "/api/v1/auth/token", json={
        "institution": "00AB", "code": "beheer",
        "password": "Bench-beheer-wachtwoord"}).json()["access_token"]
    s.post(base + "/api/v1/users", headers={"Authorization": f"Bearer {admin}"}, json={
        "code": "123456", "first_name": "Daan", "last_name": "Berg",
        "is_student": True}).raise_for_status()
    return inst["id"], admin


def measure_rpc(amqp, institution_id, n, c):
    config = {"AMQP_URI": amqp}
    with ClusterRpcProxy(config) as rpc:
        rpc.users.get_user(institution_id, "123456")  # warm up
        seq = line("bare RPC users.get_user, sequential",
                   timed_loop(n, lambda: rpc.users.get_user(institution_id, "123456")))
    proxies = []

    def make_rpc():
        p = ClusterRpcProxy(config)
        proxies.append(p)
        proxy = p.start()
        return lambda: proxy.users.get_user(institution_id, "123456")

    par = line(f"bare RPC, {c} green threads", concurrent(c, n, make_rpc))
    for p in proxies:
        p.stop()
    return seq, par


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--hold", action="store_true",
                    help="after seeding, print the port and token and wait for Ctrl-C")
    args = ap.parse_args()

    vhost = make_vhost("leerlingbus_bench")
    amqp = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    port, gw_port = free_port(), free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="leerlingbus-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update(AMQP_URI=amqp, LEERLINGBUS_HTTP_PORT=str(port), LEERLINGBUS_DATA_DIR=str(data_dir),
               LEERLINGBUS_WEB_PORT=str(free_port()), LEERLINGBUS_HELPDESK_PASSWORD=PASSWORD,
               LEERLINGBUS_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    log = open(data_dir / "bench-run.log", "w")
    launcher = subprocess.Popen([sys.executable, "-m", "deploy.run"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    gateways = []
    try:
        wait_healthy(f"http://127.0.0.1:{port}", launcher, 90,
                     "system (see " + str(data_dir / "bench-run.log") + ")")
        institution_id, admin = seed(f"http://127.0.0.1:{port}")
        users_pid = child_pid(launcher.pid, "services.users.service")
        path, header = "/api/v1/users/123456", f"Authorization: Bearer {admin}"
        if args.hold:
            print(f"port {port}  users pid {users_pid}  data {data_dir}\n"
                  f"python bench/loadgen.py --port {port} --path {path} --header '{header}'",
                  flush=True)
            wanted = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
            signal.sigwait(wanted)
            return

        n, c = args.requests, args.clients
        print(f"# {n} requests each; {c} clients; 5 services + gateways as separate processes "
              f"(SQLite); load generator in a process of its own", flush=True)
        rpc_seq, rpc_par = measure_rpc(amqp, institution_id, n, c)

        def load(clients):
            """The load generator's figures, with the CPU per request of the
            gateways and of the users service."""
            pids = [g.pid for g in gateways]
            before = [cpu_seconds(p) for p in pids], cpu_seconds(users_pid)
            fig = loadgen.run(gw_port, path, [header], clients, n)
            gw_cpu = sum(cpu_seconds(p) for p in pids) - sum(before[0])
            users_cpu = cpu_seconds(users_pid) - before[1]
            fig["cpu"] = (f"   cpu/req: gateway {gw_cpu / fig['requests'] * 1000:.2f} ms, "
                          f"users {users_cpu / fig['requests'] * 1000:.2f} ms")
            return fig

        gateways.append(start_gateway(env, gw_port, data_dir / "gateway-1.log"))
        loadgen.run(gw_port, path, [header], 1, 100)  # warm up
        gw_seq = load(1)
        line("1 gateway, 1 client", gw_seq, gw_seq["cpu"])
        one = load(c)
        line(f"1 gateway, {c} clients", one, one["cpu"])
        one_2c = load(2 * c)
        line(f"1 gateway, {2 * c} clients", one_2c, one_2c["cpu"])

        gateways.append(start_gateway(env, gw_port, data_dir / "gateway-2.log"))
        loadgen.run(gw_port, path, [header], c, 200)  # warm up the second
        two = load(c)
        line(f"2 gateways (one port), {c} clients", two, two["cpu"])
        two_2c = load(2 * c)
        line(f"2 gateways (one port), {2 * c} clients", two_2c, two_2c["cpu"])

        print(f"ratio gateway/RPC  sequential {gw_seq['rate'] / rpc_seq['rate']:.2f}   "
              f"{c} clients {one['rate'] / rpc_par['rate']:.2f}")
        print(f"ratio 2 gateways/1  {c} clients {two['rate'] / one['rate']:.2f}   "
              f"{2 * c} clients {two_2c['rate'] / one_2c['rate']:.2f}")
        print(f"goal: p99 at {c} clients <= 20 ms: 1 gateway {one['p99_ms']:.1f} ms, "
              f"2 gateways {two['p99_ms']:.1f} ms")
    finally:
        for g in gateways:
            g.terminate()
        for g in gateways:
            g.wait(timeout=10)
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
        drop_vhost(vhost)


if __name__ == "__main__":
    main()
