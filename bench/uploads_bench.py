"""Uploads benchmark: a generated 50,000-row student list from upload to
verdict, and an approved 20,000-row list loaded end to end.

For each database backend the script starts from nothing: a fresh RabbitMQ
vhost (management API), fresh databases (SQLite files in a temporary
directory; new PostgreSQL databases, dropped afterwards), migrated, the
helpdesk account bootstrapped, and the users, students and uploads services
plus the HTTP gateway as separate processes. Through the gateway it creates an
institution and an admin, then

1. POSTs the 50,000-row list (17-18 columns, ~4 MB) and polls GET /uploads/{id}
   until the verdict: upload-to-verdict seconds, rows/s, and the peak RSS
   (VmHWM) of the uploads service process;
2. POSTs a 20,000-row list, waits for its verdict, approves it as helpdesk and
   polls until `loaded`: students/s from approval to loaded.

Beside it, in the same run, bare reads of the same 50,000-row file in fresh
processes: openpyxl read-only and python-calamine (seconds and peak RSS), and
the verdict time as a ratio of each.

    .venv/bin/python bench/uploads_bench.py [--rows 50000] [--load-rows 20000]
        [--backends sqlite,postgresql] [--pg-url postgresql+psycopg2://...]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.uploads.xlsxfactory import make_big_list  # noqa: E402
from benchsupport import drop_vhost, make_vhost  # noqa: E402

AMQP_BASE = os.environ.get("BENCH_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
PG_URL = os.environ.get("LEERLINGBUS_TEST_POSTGRES_URL",
                        "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
SERVICES = ("users", "students", "uploads")
HELPDESK_PASSWORD = "bench-helpdesk-wachtwoord-1"
API = "/api/v1"

READ_OPENPYXL = """
import sys, time
from openpyxl import load_workbook
t = time.perf_counter()
wb = load_workbook(sys.argv[1], read_only=True, data_only=True)
n = sum(1 for _ in wb["Leerlingen"].iter_rows(values_only=True))
elapsed = time.perf_counter() - t
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(n, elapsed, int(hwm) // 1024)
"""
READ_CALAMINE = """
import sys, time
import python_calamine
t = time.perf_counter()
wb = python_calamine.CalamineWorkbook.from_path(sys.argv[1])
n = sum(1 for _ in wb.get_sheet_by_name("Leerlingen").iter_rows())
elapsed = time.perf_counter() - t
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(n, elapsed, int(hwm) // 1024)
"""


def bare_read(script, path):
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                         text=True, check=True).stdout.split()
    return {"rows": int(out[0]), "seconds": float(out[1]), "peak_rss_mb": int(out[2])}


# --- infrastructure --------------------------------------------------------------------

def make_databases(backend, data_dir, pg_url):
    if backend == "sqlite":
        return ({s: f"sqlite:///{data_dir / (s + '.sqlite3')}" for s in SERVICES},
                lambda: None)
    suffix = uuid.uuid4().hex[:8]
    names = {s: f"lbbench_{s}_{suffix}" for s in SERVICES}
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()

    def cleanup():
        engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in names.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    base = pg_url.rsplit("/", 1)[0]
    return {s: f"{base}/{n}" for s, n in names.items()}, cleanup


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None


class Stack:
    """users, students, uploads (`nameko run`) and the gateway, as processes."""

    def __init__(self, amqp_uri, urls, data_dir):
        self.data_dir = data_dir
        self.port = free_port()
        config = {"AMQP_URI": amqp_uri, "LEERLINGBUS_DATA_DIR": str(data_dir),
                  "max_workers": 10, "serializer": "json", "HEARTBEAT": 60,
                  "LOGGING": {"version": 1, "disable_existing_loggers": False,
                              "handlers": {"console": {"class": "logging.StreamHandler"}},
                              "root": {"level": "WARNING", "handlers": ["console"]},
                              "loggers": {"services.uploads.jobs": {"level": "INFO"}}}}
        for service in SERVICES:
            config[f"{service.upper()}_DATABASE_URL"] = urls[service]
        self.config_path = data_dir / "config.yaml"
        self.config_path.write_text(json.dumps(config))
        self.env = {k: v for k, v in os.environ.items()
                    if not k.endswith("_DATABASE_URL") and not k.startswith("LEERLINGBUS_")}
        self.env.update(PYTHONPATH=str(ROOT), AMQP_URI=amqp_uri,
                        LEERLINGBUS_DATA_DIR=str(data_dir), PYTHONWARNINGS="ignore",
                        LEERLINGBUS_HELPDESK_PASSWORD=HELPDESK_PASSWORD,
                        LEERLINGBUS_HTTP_PORT=str(self.port),
                        LEERLINGBUS_SECRET_KEY="bench-secret-" + "x" * 40,
                        LEERLINGBUS_RPC_TIMEOUT="20", LEERLINGBUS_LOG_LEVEL="WARNING")
        for service in SERVICES:
            self.env[f"{service.upper()}_DATABASE_URL"] = urls[service]
        self.procs = {}

    def run(self, *argv):
        result = subprocess.run([sys.executable, *argv], cwd=ROOT, env=self.env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{argv} failed:\n{result.stdout}{result.stderr}")

    def start(self):
        self.run("-m", "services.common.migrate", *SERVICES)
        self.run("-m", "services.users.bootstrap")
        nameko = Path(sys.executable).with_name("nameko")
        for service in SERVICES:
            log = open(self.data_dir / f"{service}.log", "w")
            self.procs[service] = subprocess.Popen(
                [sys.executable, str(nameko), "run", "--config", str(self.config_path),
                 f"services.{service}.service"], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        log = open(self.data_dir / "gateway.log", "w")
        self.procs["gateway"] = subprocess.Popen(
            [sys.executable, "-m", "gateway"], cwd=ROOT, env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = requests.post(self.base + API + "/auth/token", json={
                    "institution": "platform", "code": "helpdesk",
                    "password": HELPDESK_PASSWORD}, timeout=5)
                if r.status_code == 200:
                    self.helpdesk = r.json()["access_token"]
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the gateway did not answer; see " + str(self.data_dir))
            time.sleep(0.5)

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def call(self, method, path, token=None, **kw):
        headers = {"Authorization": f"Bearer {token or self.helpdesk}"}
        r = requests.request(method, self.base + API + path, headers=headers, timeout=60, **kw)
        if r.status_code >= 400:
            raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json()


def bench_school(stack):
    """(institution, admin token) of a new institution with an admin account."""
    inst = stack.call("POST", "/institutions", json={
        "name": "Bench College", "brin": "00AB", "school_type": "vo"})
    stack.call("POST", "/users", json={
        "institution_id": inst["id"], "code": "beheer", "first_name": "B",
        "last_name": "Beheer", "password": "Bench-wachtwoord-1", "roles": ["admin"]})
    admin = requests.post(stack.base + API + "/auth/token", json={
        "institution": "00AB", "code": "beheer", "password": "Bench-wachtwoord-1"},
        timeout=10).json()["access_token"]
    return inst, admin


def poll(stack, token, upload_id, leave, timeout=900):
    deadline = time.monotonic() + timeout
    while True:
        up = stack.call("GET", f"/uploads/{upload_id}?errors_limit=5", token)
        if up["status"] not in leave:
            return up
        if time.monotonic() > deadline:
            raise SystemExit(f"upload {upload_id} stuck in {up['status']}")
        time.sleep(0.05)


def submit(stack, token, path):
    with open(path, "rb") as fh:
        r = requests.post(stack.base + API + "/uploads",
                          headers={"Authorization": f"Bearer {token}"},
                          data={"school_type": "vo", "student_type": "potential_transfer",
                                "name": "Bench", "email": "bench@school.nl"},
                          files={"file": (path.name, fh, "application/octet-stream")},
                          timeout=60)
    if r.status_code != 202:
        raise SystemExit(f"POST /uploads: {r.status_code} {r.text[:500]}")
    return r.json()["id"]


def run_backend(backend, big, load_list, rows, load_rows, pg_url):
    data_dir = Path(tempfile.mkdtemp(prefix=f"lb-uploads-bench-{backend}-"))
    vhost = make_vhost("leerlingbus_uploads_bench")
    urls, cleanup = make_databases(backend, data_dir, pg_url)
    stack = Stack(f"{AMQP_BASE}/{vhost}", urls, data_dir)
    try:
        stack.start()
        _inst, admin = bench_school(stack)
        uploads_pid = stack.procs["uploads"].pid
        rss_before = peak_rss_mb(uploads_pid)

        started = time.perf_counter()
        big_id = submit(stack, admin, big)
        accepted = time.perf_counter() - started
        up = poll(stack, admin, big_id, ("validating",))
        verdict = time.perf_counter() - started
        if up["status"] != "awaiting_review":
            raise SystemExit(f"the big list was {up['status']}: {up['errors'][:3]}")
        rss_after = peak_rss_mb(uploads_pid)
        stack.call("POST", f"/uploads/{big_id}/decline", json={"reason": "bench"})

        load_id = submit(stack, admin, load_list)
        poll(stack, admin, load_id, ("validating",))
        started = time.perf_counter()
        stack.call("POST", f"/uploads/{load_id}/approve", json={})
        done = poll(stack, admin, load_id, ("loading", "awaiting_review"))
        loaded_in = time.perf_counter() - started
        if done["status"] != "loaded" or done["loaded"] != load_rows:
            raise SystemExit(f"loading ended {done['status']} with {done['loaded']} loaded: "
                             f"{done['load_errors'][:3]}")
        return {"backend": backend, "verdict_seconds": round(verdict, 3),
                "accepted_seconds": round(accepted, 3),
                "verdict_rows_per_s": round(rows / verdict),
                "uploads_peak_rss_mb": rss_after, "uploads_rss_at_start_mb": rss_before,
                "load_rows": load_rows, "load_seconds": round(loaded_in, 2),
                "load_rows_per_s": round(load_rows / loaded_in)}
    finally:
        stack.stop()
        for line in (data_dir / "uploads.log").read_text().splitlines():
            if "read and checked" in line:
                print("  uploads log:", line.split(": ", 1)[-1])
        cleanup()
        drop_vhost(vhost)
        shutil.rmtree(data_dir, ignore_errors=True)


def pg_answers(url):
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--load-rows", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lb-uploads-bench-files-"))
    try:
        big = work / "leerlingen-50000.xlsx"
        load_list = work / "leerlingen-20000.xlsx"
        t = time.perf_counter()
        make_big_list(args.rows, path=big)
        make_big_list(args.load_rows, path=load_list)
        print(f"generated {args.rows} + {args.load_rows} rows in {time.perf_counter() - t:.1f}s;"
              f" {big.stat().st_size / 1e6:.1f} MB")
        bare = {"openpyxl_read_only": bare_read(READ_OPENPYXL, big),
                "python_calamine": bare_read(READ_CALAMINE, big)}
        for name, res in bare.items():
            print(f"bare read {name:20s} {res['seconds']:6.2f}s "
                  f"{args.rows / res['seconds']:9.0f} rows/s  peak RSS {res['peak_rss_mb']} MB")
        results = []
        for backend in args.backends.split(","):
            if backend == "postgresql" and not pg_answers(args.pg_url):
                print("postgresql: not reachable, skipped")
                continue
            res = run_backend(backend, big, load_list, args.rows, args.load_rows, args.pg_url)
            res["verdict_vs_openpyxl"] = round(
                res["verdict_seconds"] / bare["openpyxl_read_only"]["seconds"], 2)
            res["verdict_vs_calamine"] = round(
                res["verdict_seconds"] / bare["python_calamine"]["seconds"], 2)
            results.append(res)
            print(f"{backend:10s} upload-to-verdict {res['verdict_seconds']:.2f}s "
                  f"(accepted after {res['accepted_seconds']:.2f}s) "
                  f"({res['verdict_rows_per_s']} rows/s; x{res['verdict_vs_openpyxl']} of a bare "
                  f"openpyxl read, x{res['verdict_vs_calamine']} of a bare calamine read), "
                  f"uploads peak RSS {res['uploads_peak_rss_mb']} MB; "
                  f"load {res['load_rows']} in {res['load_seconds']:.1f}s "
                  f"({res['load_rows_per_s']} students/s)")
        print(json.dumps({"bare_reads": bare, "runs": results}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
