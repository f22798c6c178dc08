"""Recovery benchmark: how long the system is unavailable after a crash and after a
broker restart (goal: under 10 s each).

On a private RabbitMQ node (own ports and data dir, tests/faults/harness.py) it starts
the whole system with the launcher (`python -m deploy.run`, as `make run` does), makes
a school with an admin, and then

1. for each of students, users, uploads and the gateway, `--rounds` times: kill -9 the
   process and time until that service answers again through the gateway (its
   /health entry `ok`; for the gateway: /health answers 200) — the launcher's
   back-off, the process start and the reconnect;
2. `--rounds` times: stop the broker, leave it down `--outage` seconds, start it and
   time from the broker answering AMQP again to the first successful RPC through the
   gateway (GET /students as the admin answering 200), and to /health being all ok.

    .venv/bin/python bench/faults_bench.py [--rounds 3] [--outage 20]
"""
import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.harness import PrivateBroker, System  # noqa: E402

GOAL = 10.0


def service_ok(system, name):
    r = system.health(timeout=5)
    if r is None:
        return False
    if name == "gateway":
        return r.status_code in (200, 503)
    try:
        return r.json()["services"][name] == "ok"
    except (ValueError, KeyError):
        return False


def wait(predicate, timeout=120, interval=0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("gave up waiting")
        time.sleep(interval)


def kill_round(system, name):
    system.wait_healthy(timeout=120)
    started = time.monotonic()
    system.kill(name)
    time.sleep(0.05)  # SIGKILL has landed before we ask
    wait(lambda: service_ok(system, name))
    return time.monotonic() - started


def broker_round(system, broker, client, admin, outage):
    system.wait_healthy(timeout=120)
    broker.stop()
    time.sleep(outage)
    broker.start()
    up = time.monotonic()
    wait(lambda: client.request("GET", "/students", admin, timeout=10).status_code == 200,
         interval=0.1)
    first_rpc = time.monotonic() - up
    system.wait_healthy(timeout=120)
    return first_rpc, time.monotonic() - up


def summary(label, values):
    worst = max(values)
    verdict = "ok" if worst < GOAL else f"OVER the {GOAL:.0f} s goal"
    print(f"  {label:<44} median {statistics.median(values):5.1f} s   "
          f"max {worst:5.1f} s   ({verdict})", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--outage", type=float, default=20.0)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="lb-faults-bench-"))
    broker = PrivateBroker(base / "rabbit").start()
    system = System(base / "system", broker.uri)
    try:
        system.start()
        client = system.client()
        _, admin = client.make_school("33CC", "Het Meetcollege")
        print(f"faults bench: {args.rounds} rounds, broker outage {args.outage:.0f} s",
              flush=True)
        for name in ("students", "users", "uploads", "gateway"):
            times = [kill_round(system, name) for _ in range(args.rounds)]
            summary(f"kill -9 {name} -> answers again", times)
        first, healthy = [], []
        for _ in range(args.rounds):
            a, b = broker_round(system, broker, client, admin, args.outage)
            first.append(a)
            healthy.append(b)
        summary("broker restart -> first RPC via the gateway", first)
        summary("broker restart -> /health all ok", healthy)
    finally:
        system.stop()
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
