"""Students batch benchmark: create 20,000 students with their accounts and
participations through students.create_students over real RabbitMQ, on SQLite
and on PostgreSQL, and print students/s end to end.

For each database and each concurrency level the script starts from nothing:
a fresh RabbitMQ vhost (management API), fresh databases (SQLite files in a
temporary directory; new PostgreSQL databases, dropped afterwards), migrated,
and the users and students services as separate `nameko run` processes. It
creates an institution, a project and a department, then sends the rows in
chunks (2,000 per call by default) from `--concurrency` green threads, each
with its own RPC proxy. A call returns after both services committed and
published their events (publisher confirms), so the time measured covers
users, student records, participations, audit rows and events. Afterwards it
checks the counts in both services and that the batch events arrived (a
plain kombu queue bound before the run).

    .venv/bin/python bench/students_bench.py [--rows 20000] [--chunk 2000]
        [--concurrency 1,3] [--backends sqlite,postgresql]
        [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from kombu import Connection, Queue  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.outbox import events_exchange  # noqa: E402
from benchsupport import drain_bodies, drop_vhost, make_vhost  # noqa: E402

AMQP_BASE = os.environ.get("BENCH_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
PG_URL = os.environ.get("LEERLINGBUS_TEST_POSTGRES_URL",
                        "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
SERVICES = ("users", "students")


# --- infrastructure ------------------------------------------------------------------

def pg_admin(url):
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def make_databases(backend, data_dir, pg_url):
    """{service: url}, and a cleanup function."""
    if backend == "sqlite":
        return ({s: f"sqlite:///{data_dir / (s + '.sqlite3')}" for s in SERVICES},
                lambda: None)
    suffix = uuid.uuid4().hex[:8]
    names = {s: f"lbbench_{s}_{suffix}" for s in SERVICES}
    admin = pg_admin(pg_url)
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base = pg_url.rsplit("/", 1)[0]

    def cleanup():
        engine = pg_admin(pg_url)
        with engine.connect() as conn:
            for name in names.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return {s: f"{base}/{n}" for s, n in names.items()}, cleanup


def nameko_command():
    script = Path(sys.executable).with_name("nameko")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "from nameko.cli.main import main; main()"]


class Services:
    """users and students as `nameko run` processes on one config."""

    def __init__(self, amqp_uri, urls, data_dir, instances=1):
        self.data_dir = data_dir
        self.config_path = data_dir / "config.yaml"
        config = {
            "AMQP_URI": amqp_uri, "LEERLINGBUS_DATA_DIR": str(data_dir),
            "USERS_DATABASE_URL": urls["users"], "STUDENTS_DATABASE_URL": urls["students"],
            "max_workers": 10, "serializer": "json", "HEARTBEAT": 60,
            "LOGGING": {"version": 1, "disable_existing_loggers": False,
                        "handlers": {"console": {"class": "logging.StreamHandler"}},
                        "root": {"level": "WARNING", "handlers": ["console"]}},
        }
        self.config_path.write_text(json.dumps(config))  # JSON is YAML
        self.env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        self.env.update(PYTHONPATH=str(ROOT), USERS_DATABASE_URL=urls["users"],
                        STUDENTS_DATABASE_URL=urls["students"],
                        LEERLINGBUS_DATA_DIR=str(data_dir), PYTHONWARNINGS="ignore")
        self.instances = instances
        self.procs = []

    def migrate(self):
        result = subprocess.run([sys.executable, "-m", "services.common.migrate", *SERVICES],
                                cwd=ROOT, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit("migration failed:\n" + result.stdout + result.stderr)

    def start(self):
        for service in SERVICES:
            for i in range(self.instances):
                log = open(self.data_dir / f"{service}-{i}.log", "w")
                self.procs.append(subprocess.Popen(
                    nameko_command() + ["run", "--config", str(self.config_path),
                                        f"services.{service}.service"],
                    cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True))

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# --- data ----------------------------------------------------------------------------

def bsns(count, start=20000000):
    """`count` valid BSNs (9 digits, 11-proef)."""
    found, number = [], start
    while len(found) < count:
        head = f"{number:08d}"
        check = sum(int(d) * w for d, w in zip(head, range(9, 1, -1))) % 11
        if check < 10:
            found.append(head + str(check))
        number += 1
    return found


def make_rows(count):
    numbers = bsns(count)
    classes = ("h4a", "h4b", "h4c", "h4d")
    return [{
        "student_number": str(1000000 + i), "type": "potential_transfer", "bsn": numbers[i],
        "initials": "L.", "first_name": "Leerling", "prefix": "van" if i % 7 == 0 else None,
        "last_name": f"Achternaam {i}", "gender": "MVX"[i % 3],
        "email": f"leerling{i}@school.example.nl", "date_of_birth": "2010-05-17",
        "year_of_education": 4, "track": "havo", "home_class": classes[i % 4],
        "participation": {"department": "h4", "forecast": 80, "profile": "NT",
                          "programme": "havo", "learning_path": "H4NT",
                          "home_class": classes[i % 4], "lwoo": i % 10 == 0},
    } for i in range(count)]


# --- one run ---------------------------------------------------------------------------

def wait_healthy(config, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with ClusterRpcProxy(config, timeout=5) as rpc:
                rpc.users.health()
                rpc.students.health()
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def count_batch_records(amqp_uri, queues):
    """Sum of `count` over the batch events waiting in our queues."""
    totals = {}
    for body in drain_bodies(amqp_uri, queues):
        totals[body["type"]] = totals.get(body["type"], 0) + body["data"]["count"]
    return totals


def run_once(backend, rows, chunk, concurrency, pg_url, instances, keep_logs=False):
    vhost = make_vhost("leerlingbus_students_bench")
    amqp_uri = f"{AMQP_BASE}/{vhost}"
    data_dir = Path(tempfile.mkdtemp(prefix=f"leerlingbus-students-bench-{backend}-"))
    urls, cleanup = make_databases(backend, data_dir, pg_url)
    services = Services(amqp_uri, urls, data_dir, instances)
    config = {"AMQP_URI": amqp_uri, "serializer": "json"}
    try:
        services.migrate()
        services.start()
        wait_healthy(config)
        # a plain durable queue per batch event type, bound before the run
        queues = [Queue(f"bench.{source}.{key}", exchange=events_exchange(source),
                        routing_key=key, durable=True)
                  for source, key in (("students", "students_registered_batch"),
                                      ("students", "participations_created_batch"),
                                      ("users", "users_created_batch"))]
        with Connection(amqp_uri) as conn:
            for queue in queues:
                queue(conn.default_channel).declare()

        with ClusterRpcProxy(config, timeout=600) as rpc:
            school = rpc.users.create_institution({"name": "Bench College", "brin": "00AB",
                                                   "school_type": "vo"})
            iid = school["id"]
            project = rpc.students.create_project(iid, {"name": "Rooster", "branch": "Hoofd",
                                                        "school_year": "2025-2026"})
            rpc.students.create_department(iid, project["id"], {
                "code": "h4", "year_of_education": 4, "education": "havo",
                "learning_paths": [{"code": "H4NT", "name": "havo 4 NT",
                                    "element_code": "E401"}]})

        chunks = [rows[i:i + chunk] for i in range(0, len(rows), chunk)]
        durations = []

        def worker(queue_of_chunks):
            with ClusterRpcProxy(config, timeout=600) as rpc:
                while queue_of_chunks:
                    part = queue_of_chunks.pop(0)
                    started = time.perf_counter()
                    result = rpc.students.create_students(iid, part,
                                                          project_id=project["id"])
                    durations.append(time.perf_counter() - started)
                    assert result["created"] == len(part), result

        pending = list(chunks)
        pool = eventlet.GreenPool(concurrency)
        started = time.perf_counter()
        for _ in range(concurrency):
            pool.spawn(worker, pending)
        pool.waitall()
        wall = time.perf_counter() - started

        with ClusterRpcProxy(config, timeout=120) as rpc:
            n_students = rpc.students.list_students(iid, page_size=1)["total"]
            n_parts = rpc.students.list_participations(iid, project["id"],
                                                       page_size=1)["total"]
            n_users = rpc.users.list_users(iid, filter="students", page_size=1)["total"]
        events = count_batch_records(amqp_uri, queues)
        ok = (n_students == n_parts == n_users == len(rows)
              and all(events.get(k) == len(rows) for k in
                      ("students_registered_batch", "participations_created_batch",
                       "users_created_batch")))
        return {"backend": backend, "rows": len(rows), "chunk": chunk,
                "concurrency": concurrency, "instances": instances, "wall": wall,
                "rate": len(rows) / wall,
                "call_avg": sum(durations) / len(durations), "ok": ok,
                "counts": (n_users, n_students, n_parts), "events": events}
    finally:
        services.stop()
        drop_vhost(vhost)
        cleanup()
        if keep_logs:
            print(f"# logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def pg_available(url):
    try:
        engine = pg_admin(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--chunk", type=int, default=2000)
    ap.add_argument("--concurrency", default="1,3",
                    help="comma-separated numbers of concurrent calls (default 1,3)")
    ap.add_argument("--instances", type=int, default=1,
                    help="processes per service (default 1)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep each run's directory (service logs, SQLite files)")
    args = ap.parse_args()

    rows = make_rows(args.rows)
    print(f"# {args.rows} students with participations via students.create_students, "
          f"{args.chunk} rows per call; users + students as separate processes "
          f"({args.instances} each); fresh vhost and databases per run")
    results = []
    for backend in args.backends.split(","):
        if backend == "postgresql" and not pg_available(args.pg_url):
            print(f"{backend:<11} skipped: PostgreSQL does not answer at {args.pg_url}")
            continue
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            r = run_once(backend, rows, args.chunk, concurrency, args.pg_url, args.instances,
                         args.keep_logs)
            results.append(r)
            print(f"{backend:<11} concurrency {concurrency}: {r['rate']:7.0f} students/s "
                  f"({r['rows']} in {r['wall']:.2f} s; {r['call_avg']:.2f} s per call of "
                  f"{r['chunk']})  counts users/students/participations={r['counts']}  "
                  f"batch events complete={r['ok']}", flush=True)
    if any(not r["ok"] for r in results):
        raise SystemExit("counts or events incomplete")


if __name__ == "__main__":
    main()
