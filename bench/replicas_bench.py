"""Replicas benchmark: a student list's load with 1, 2 and 3 processes each of the
students and uploads services (`python -m deploy.run --replicas students=N,uploads=N`),
on PostgreSQL, and where the time goes.

For each N it starts the whole system with the launcher on a private RabbitMQ node
(tests/faults/harness.py) and fresh PostgreSQL databases, then

1. one list of --rows rows: approved, timed until `loaded`;
2. --lists lists of --rows/--lists rows each, for as many schools, approved at once:
   timed until all are `loaded`.

Each phase reports rows per second, how busy the machine was (every process, other
users of it included: near its cores, the load waited for CPU) and the CPU each part
spent per 1000 rows (summed over its replicas; postgres counts every backend of the
machine). On a quiet machine the part with the most CPU per row per replica is where
one list waits; with several lists at once, the part whose replicas run out of cores.

    .venv/bin/python bench/replicas_bench.py [--rows 20000] [--lists 3] [--replicas 1,2,3]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.harness import (  # noqa: E402
    PostgresDatabases,
    PrivateBroker,
    System,
    assert_loaded_exactly_once,
    big_list,
    postgres_answers,
)
from services.common.config import SERVICES  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def processes_named(comm):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == comm:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def broker_pids(broker):
    group = broker.process.pid
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == group:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def parts(system, broker):
    """{part: [pids]}: each service (its replicas together), the gateway,
    RabbitMQ and PostgreSQL."""
    grouped = {}
    for name, pid in system.pids().items():
        grouped.setdefault(name.rsplit("-", 1)[0] if name[-1].isdigit() else name, []).append(pid)
    grouped["rabbitmq"] = broker_pids(broker)
    grouped["postgres"] = processes_named("postgres")
    return grouped


def cpu_of(groups):
    return {part: sum(cpu_seconds(p) for p in pids) for part, pids in groups.items()}


def machine_busy():
    """CPU seconds the whole machine spent busy (all cores, /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICKS


def measured(system, broker, work):
    """(seconds, {part: share of one core}) of running work(); "machine" is
    every process of the machine (other users of it included)."""
    groups = parts(system, broker)
    before, busy = cpu_of(groups), machine_busy()
    started = time.monotonic()
    work()
    wall = time.monotonic() - started
    after = cpu_of(groups)
    shares = {part: (after[part] - before[part]) / wall for part in groups}
    shares["machine"] = (machine_busy() - busy) / wall
    return wall, shares


def reviewed(client, brin, content):
    """A school whose list awaits review: (admin token, upload id)."""
    _inst, admin = client.make_school(brin, f"Het Bankcollege {brin}")
    upload = client.send_list(admin, content)
    verdict = client.wait_upload(upload["id"], ("validating",), timeout=600)
    assert verdict["status"] == "awaiting_review", verdict
    return admin, upload["id"]


def load_phase(system, broker, lists, rows_each, tag):
    client = system.client()
    content = big_list(rows_each)
    schools = [reviewed(client, f"{tag}BC{i:02d}", content) for i in range(lists)]

    def work():
        for _admin, upload_id in schools:
            client.approve(upload_id)
        with ThreadPoolExecutor(lists) as pool:
            list(pool.map(lambda s: assert_loaded_exactly_once(system.client(), s[1], s[0],
                                                               rows_each), schools))
    return measured(system, broker, work)


def run_one(broker, n, args, base):
    databases = PostgresDatabases(SERVICES, prefix="lbb")
    system = System(base / f"replicas-{n}", broker.uri, rpc_timeout=30,
                    extra_env=databases.env(),
                    args=["--replicas", f"students={n},uploads={n}"])
    try:
        started = time.monotonic()
        system.start(timeout=300)
        print(f"  {n} replica(s): system up in {time.monotonic() - started:.0f} s", flush=True)
        results = {}
        for label, lists in (("one list", 1), (f"{args.lists} lists", args.lists)):
            wall, shares = load_phase(system, broker, lists, args.rows // lists,
                                      f"{n % 10}{lists % 10}")
            rows = (args.rows // lists) * lists
            results[label] = (rows / wall, shares)
            machine = shares.pop("machine")
            top = sorted(shares.items(), key=lambda kv: -kv[1])
            print(f"  {n} replica(s), {label}: {rows} rows in {wall:.1f} s = "
                  f"{rows / wall:.0f} rows/s; machine busy {machine:.2f} cores; "
                  "CPU ms per 1000 rows: "
                  + ", ".join(f"{k} {v * wall * 1e6 / rows:.0f}" for k, v in top
                              if v >= 0.01), flush=True)
        return results
    finally:
        system.stop(timeout=60)
        databases.drop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--lists", type=int, default=3)
    parser.add_argument("--replicas", default="1,2,3")
    args = parser.parse_args(argv)
    if not postgres_answers():
        print("replicas bench skipped: PostgreSQL does not answer")
        return 0
    base = Path(tempfile.mkdtemp(prefix="leerlingbus-replicas-bench-"))
    broker = PrivateBroker(base / "rabbit").start()
    table = {}
    try:
        for n in (int(x) for x in args.replicas.split(",")):
            table[n] = run_one(broker, n, args, base)
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"\nrows per second ({os.cpu_count()} cores; students and uploads replicas):")
    labels = list(next(iter(table.values())))
    print("  replicas  " + "  ".join(f"{label:>12}" for label in labels))
    first = table[min(table)]
    for n, results in table.items():
        cells = [f"{results[lb][0]:7.0f} ({results[lb][0] / first[lb][0]:.2f}x)"
                 for lb in labels]
        print(f"  {n:>8}  " + "  ".join(f"{c:>12}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
