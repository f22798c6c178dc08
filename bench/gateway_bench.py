"""Gateway benchmark: GET /api/v1/users/{code} through one gateway process and
through two on one port (SO_REUSEPORT), beside the bare nameko RPC round trip
to the same method, in one run.

Starts the whole system like `make run` (python -m deploy.run) on a fresh
RabbitMQ vhost and a temporary data dir, creates an institution, an admin and a
user, starts three more gateway processes directly (`python -m gateway`): one
alone on a port, two sharing another. Then, in rounds (the load of a shared
machine varies: interleaving keeps the comparisons fair), it measures
  - bare RPC users.get_user, 1 client and N green threads (the floor);
  - the single gateway with 1, N and 2N keep-alive clients;
  - the pair with N and 2N clients;
and prints requests/s, p50 and p99 latency and the CPU time per request of
the gateway process(es), the users service, RabbitMQ (the whole node: other
work on it counts too) and the load generator, with the machine's load
average when the measure started; at the end the medians and the ratios
gateway/RPC and two gateways/one. The HTTP load generator (bench/loadgen.py)
is a process of its own. On a shared machine compare a round's figures with
the bare-RPC floor measured in the same round, and the CPU per request.

    .venv/bin/python bench/gateway_bench.py [--requests 1500] [--clients 10] [--rounds 3]
    .venv/bin/python bench/gateway_bench.py --hold   # keep it running (profiling)
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

import loadgen  # noqa: E402
from benchsupport import drop_vhost, make_vhost  # noqa: E402

from services.common import gctune  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-helpdesk-wachtwoord-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_text(fig):
    text = ""
    if "gw_cpu" in fig:
        text = f"   cpu/req ms: gateway {fig['gw_cpu']:.2f}, users {fig['users_cpu']:.2f}"
    if "rabbit_cpu" in fig:
        text += f", rabbitmq {fig['rabbit_cpu']:.2f}, loadgen {fig['loadgen_cpu']:.2f}"
    if "load" in fig:
        text += f"   load {fig['load']:.1f}"
    return text


def line(label, fig, cpu=None):
    if cpu is None:
        cpu = cpu_text(fig)
    print(f"{label:<40} {fig['rate']:7.0f} req/s   p50 {fig['p50_ms']:6.2f} ms   "
          f"p99 {fig['p99_ms']:6.2f} ms{cpu or ''}", flush=True)
    if fig.get("errors"):
        print(f"    {fig['errors']} errors, first: {fig['first_error']}")
    return fig


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rabbit_pid():
    """The pid of the RabbitMQ node (beam.smp) on this machine, or None."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"beam.smp" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    return None


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
        fig = timed_loop(n, lambda: rpc.users.get_user(institution_id, "123456"))
        fig["load"] = os.getloadavg()[0]
        seq = line("bare RPC users.get_user, 1 client", fig)
    proxies = []

    def make_rpc():
        p = ClusterRpcProxy(config)
        proxies.append(p)
        proxy = p.start()
        return lambda: proxy.users.get_user(institution_id, "123456")

    load = os.getloadavg()[0]
    fig = concurrent(c, n, make_rpc)
    fig["load"] = load
    par = line(f"bare RPC, {c} green threads", fig)
    for p in proxies:
        p.stop()
    return seq, par


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1500)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="measures interleaved in rounds (the load here varies); medians")
    ap.add_argument("--hold", action="store_true",
                    help="after seeding, print the port and token and wait for Ctrl-C")
    args = ap.parse_args()

    vhost = make_vhost("leerlingbus_bench")
    amqp = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    port, one_port, two_port = free_port(), free_port(), free_port()
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
                  f"cd bench && python -c 'import loadgen; loadgen.main()' --port {port} "
                  f"--path {path} --header '{header}'",
                  flush=True)
            wanted = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
            signal.sigwait(wanted)
            return

        n, c = args.requests, args.clients
        print(f"# {n} requests per measure; {c} clients; {args.rounds} rounds (medians at the "
              f"end); 5 services + gateways as separate processes (SQLite); HTTP load from a "
              f"process of its own", flush=True)
        single = [start_gateway(env, one_port, data_dir / "gateway-a.log")]
        pair = [start_gateway(env, two_port, data_dir / f"gateway-b{i}.log") for i in (1, 2)]
        gateways.extend(single + pair)
        loadgen.run(one_port, path, [header], 1, 100)  # warm up
        loadgen.run(two_port, path, [header], c, 200)

        rabbit = rabbit_pid()
        gctune.settle()  # the bench's own collector out of the bare RPC's way

        def load(label, procs, gw_port, clients):
            """The load generator's figures, with the CPU per request of the
            gateway processes, the users service, RabbitMQ and the load
            generator, and the load average at the start."""
            before = [cpu_seconds(g.pid) for g in procs], cpu_seconds(users_pid)
            rabbit_before = cpu_seconds(rabbit) if rabbit else 0.0
            loadgen_before, load_avg = children_cpu(), os.getloadavg()[0]
            fig = loadgen.run(gw_port, path, [header], clients, n)
            per = 1000 / fig["requests"]
            gw_cpu = sum(cpu_seconds(g.pid) for g in procs) - sum(before[0])
            fig["gw_cpu"] = gw_cpu * per
            fig["users_cpu"] = (cpu_seconds(users_pid) - before[1]) * per
            if rabbit:
                fig["rabbit_cpu"] = (cpu_seconds(rabbit) - rabbit_before) * per
                fig["loadgen_cpu"] = (children_cpu() - loadgen_before) * per
            fig["load"] = load_avg
            return line(label, fig)

        measures = {
            "rpc_1": "bare RPC users.get_user, 1 client",
            "rpc_c": f"bare RPC, {c} green threads",
            "one_1": "1 gateway, 1 client",
            "one_c": f"1 gateway, {c} clients",
            "two_c": f"2 gateways (one port), {c} clients",
            "one_2c": f"1 gateway, {2 * c} clients",
            "two_2c": f"2 gateways (one port), {2 * c} clients",
        }
        results = {key: [] for key in measures}
        for round_no in range(1, args.rounds + 1):
            print(f"## round {round_no}", flush=True)
            rpc_1, rpc_c = measure_rpc(amqp, institution_id, n, c)
            results["rpc_1"].append(rpc_1)
            results["rpc_c"].append(rpc_c)
            for key, procs, gw_port, clients in (
                    ("one_1", single, one_port, 1), ("one_c", single, one_port, c),
                    ("two_c", pair, two_port, c), ("one_2c", single, one_port, 2 * c),
                    ("two_2c", pair, two_port, 2 * c)):
                results[key].append(load(measures[key], procs, gw_port, clients))
            last = {key: runs[-1] for key, runs in results.items()}
            print(f"round {round_no}: 2 gateways/1  {c} clients "
                  f"{last['two_c']['rate'] / last['one_c']['rate']:.2f}, {2 * c} clients "
                  f"{last['two_2c']['rate'] / last['one_2c']['rate']:.2f};  p99 at {c} clients: "
                  f"1 gateway {last['one_c']['p99_ms']:.1f} ms, bare RPC "
                  f"{last['rpc_c']['p99_ms']:.1f} ms", flush=True)

        print("## medians")
        med = {key: {f: statistics.median(r[f] for r in runs) for f in runs[0]
                     if isinstance(runs[0][f], (int, float))}
               for key, runs in results.items()}
        for key, label in measures.items():
            line(label, med[key])
        rate = {key: m["rate"] for key, m in med.items()}
        print(f"ratio gateway/RPC       1 client {rate['one_1'] / rate['rpc_1']:.2f}   "
              f"{c} clients {rate['one_c'] / rate['rpc_c']:.2f}")
        print(f"ratio 2 gateways/1      {c} clients {rate['two_c'] / rate['one_c']:.2f}   "
              f"{2 * c} clients {rate['two_2c'] / rate['one_2c']:.2f}")
        print(f"goal p99 <= 20 ms at {c} clients: 1 gateway {med['one_c']['p99_ms']:.1f} ms, "
              f"2 gateways {med['two_c']['p99_ms']:.1f} ms (bare RPC "
              f"{med['rpc_c']['p99_ms']:.1f} ms)")
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
