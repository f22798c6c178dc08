"""Uploads benchmark: a generated 50,000-row student list from upload to
verdict, and an approved 20,000-row list loaded end to end.

Over 400 lines: the stack it starts (csv_import_bench.py uses it too) and the
two measurements with their floors.

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
the verdict time as a ratio of each. The goal of the verdict ("judged"): the
service's own claim-to-verdict time (its log line) at most 2x the median of
bare calamine reads made while the stack is up (one before and one after each of
--verdict-runs verdicts; medians of both), and the peak RSS of the
uploads service plus its check process (VmHWM each) plus the memory of the
check's forked part not shared with it at most 250 MB; the CPU seconds of
the check (both parts) over the bare read's are printed too (steadier on a
busy machine).

    .venv/bin/python bench/uploads_bench.py [--rows 50000] [--load-rows 20000] [--verdict-runs 3]
        [--backends sqlite,postgresql] [--pg-url postgresql+psycopg2://...]
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
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
import resource, sys, time
import python_calamine
t = time.perf_counter()
wb = python_calamine.CalamineWorkbook.from_path(sys.argv[1])
n = sum(1 for _ in wb.get_sheet_by_name("Leerlingen").iter_rows())
elapsed = time.perf_counter() - t
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
u = resource.getrusage(resource.RUSAGE_SELF)
print(n, elapsed, int(hwm) // 1024, u.ru_utime + u.ru_stime)
"""
# the uploads service's log line of a verdict (jobs.validate)
VERDICT_LOG = re.compile(
    r"submission (\d+): \w+, \d+ rows, \d+ errors; read and checked in ([\d.]+)s \(check "
    r"process peak RSS (\d+) MB \+ (\d+) MB of its forked part, CPU ([\d.]+)s\), looked up in "
    r"([\d.]+)s, verdict after ([\d.]+)s; the check process started in ([\d.]+|None)s")


def bare_read(script, path):
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                         text=True, check=True).stdout.split()
    res = {"rows": int(out[0]), "seconds": float(out[1]), "peak_rss_mb": int(out[2])}
    if len(out) > 3:  # the process's CPU seconds (start-up included)
        res["cpu_seconds"] = float(out[3])
    return res


def verdict_log(data_dir, submission_id):
    """The service's own figures of a verdict: seconds in the check process,
    its peak RSS and CPU, the students lookup, claim to verdict."""
    for line in (data_dir / "uploads.log").read_text().splitlines():
        m = VERDICT_LOG.search(line)
        if m and int(m.group(1)) == submission_id:
            return {"checked_seconds": float(m.group(2)), "check_peak_rss_mb": int(m.group(3)),
                    "check_part_own_mb": int(m.group(4)), "check_cpu_seconds": float(m.group(5)),
                    "lookup_seconds": float(m.group(6)), "judged_seconds": float(m.group(7)),
                    "check_startup_seconds": m.group(8)}
    return {}


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
                              "loggers": {"services.uploads.jobs": {"level": "INFO"},
                                          "services.uploads.imports": {"level": "INFO"}}}}
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

    def school_admin(self):
        """A school (00AB, vo) and its admin: the admin's token."""
        inst = self.call("POST", "/institutions", json={
            "name": "Bench College", "brin": "00AB", "school_type": "vo"})
        self.call("POST", "/users", json={
            "institution_id": inst["id"], "code": "beheer", "first_name": "B",
            "last_name": "Beheer", "password": "Bench-wachtwoord-1", "roles": ["admin"]})
        return requests.post(self.base + API + "/auth/token", json={
            "institution": "00AB", "code": "beheer", "password": "Bench-wachtwoord-1"},
            timeout=10).json()["access_token"]

    def call(self, method, path, token=None, **kw):
        headers = {"Authorization": f"Bearer {token or self.helpdesk}"}
        r = requests.request(method, self.base + API + path, headers=headers, timeout=60, **kw)
        if r.status_code >= 400:
            raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json()


def poll(stack, token, upload_id, leave, timeout=900):
    """Polled 4 times a second: faster polling (gateway, RPC, database) takes
    CPU from the check it waits for; the service logs the verdict's own time."""
    deadline = time.monotonic() + timeout
    while True:
        up = stack.call("GET", f"/uploads/{upload_id}?errors_limit=5", token)
        if up["status"] not in leave:
            return up
        if time.monotonic() > deadline:
            raise SystemExit(f"upload {upload_id} stuck in {up['status']}")
        time.sleep(0.25)


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


@contextlib.contextmanager
def running_stack(backend, name, pg_url, before_stop=None, env=None):
    """(stack, a school admin's token) on fresh databases and a fresh vhost,
    all removed afterwards; `env` is added to the processes' environment,
    `before_stop(data_dir)` reads the logs first."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"lb-{name}-{backend}-"))
    vhost = make_vhost(f"leerlingbus_{name.replace('-', '_')}")
    urls, cleanup = make_databases(backend, data_dir, pg_url)
    stack = Stack(f"{AMQP_BASE}/{vhost}", urls, data_dir)
    stack.urls = urls
    stack.env.update(env or {})
    try:
        stack.start()
        yield stack, stack.school_admin()
    finally:
        stack.stop()
        if before_stop is not None:
            before_stop(data_dir)
        cleanup()
        drop_vhost(vhost)
        shutil.rmtree(data_dir, ignore_errors=True)


def print_verdict_lines(data_dir):
    for line in (data_dir / "uploads.log").read_text().splitlines():
        if "read and checked" in line:
            print("  uploads log:", line.split(": ", 1)[-1])


def load_average():
    """The machine's 1-minute load average (figures are noisy above ~1 on two cores)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return None


def run_backend(backend, big, load_list, rows, load_rows, pg_url, runs=3):
    with running_stack(backend, "uploads-bench", pg_url, print_verdict_lines) as (stack, admin):
        uploads_pid = stack.procs["uploads"].pid
        load_before = load_average()
        rss_before = peak_rss_mb(uploads_pid)

        # the verdict `runs` times, each next to a bare calamine read of the same file
        # (the floor, read while this stack is up: the machine as loaded as for the
        # verdict); the medians are compared
        trials, floor = [], [bare_read(READ_CALAMINE, big)]
        for _ in range(runs):
            started = time.perf_counter()
            big_id = submit(stack, admin, big)
            accepted = time.perf_counter() - started
            up = poll(stack, admin, big_id, ("validating",))
            verdict = time.perf_counter() - started
            if up["status"] != "awaiting_review":
                raise SystemExit(f"the big list was {up['status']}: {up['errors'][:3]}")
            floor.append(bare_read(READ_CALAMINE, big))
            trials.append({"verdict_seconds": verdict, "accepted_seconds": accepted,
                           **verdict_log(stack.data_dir, big_id)})
            stack.call("POST", f"/uploads/{big_id}/decline", json={"reason": "bench"})
        rss_after = peak_rss_mb(uploads_pid)
        load_after = load_average()
        verdict = statistics.median(t["verdict_seconds"] for t in trials)
        accepted = statistics.median(t["accepted_seconds"] for t in trials)
        judged = {key: (max if key.endswith("_mb") else statistics.median)(t[key] for t in trials)
                  for key in trials[0] if key not in ("verdict_seconds", "accepted_seconds",
                                                      "check_startup_seconds")}
        judged["check_startup_seconds"] = [t.get("check_startup_seconds") for t in trials]
        judged["judged_runs_seconds"] = [t.get("judged_seconds") for t in trials]

        load_id = submit(stack, admin, load_list)
        poll(stack, admin, load_id, ("validating",))
        started = time.perf_counter()
        stack.call("POST", f"/uploads/{load_id}/approve", json={})
        done = poll(stack, admin, load_id, ("loading", "awaiting_review"))
        loaded_in = time.perf_counter() - started
        if done["status"] != "loaded" or done["loaded"] != load_rows:
            raise SystemExit(f"loading ended {done['status']} with {done['loaded']} loaded: "
                             f"{done['load_errors'][:3]}")
        bare_s = statistics.median(f["seconds"] for f in floor)
        bare_cpu = statistics.median(f["cpu_seconds"] for f in floor)
        return {"backend": backend, "verdict_seconds": round(verdict, 3),
                "accepted_seconds": round(accepted, 3),
                "calamine_bare_seconds": round(bare_s, 3),
                "calamine_bare_cpu_seconds": round(bare_cpu, 3), **judged,
                "judged_vs_calamine": round(judged.get("judged_seconds", 0) / bare_s, 2),
                "check_cpu_vs_calamine_cpu": round(
                    judged.get("check_cpu_seconds", 0) / bare_cpu, 2),
                "uploads_plus_check_peak_rss_mb": (rss_after or 0)
                + judged.get("check_peak_rss_mb", 0) + judged.get("check_part_own_mb", 0),
                "verdict_rows_per_s": round(rows / verdict),
                "uploads_peak_rss_mb": rss_after, "uploads_rss_at_start_mb": rss_before,
                "load_average_during_verdicts": [load_before, load_after],
                "load_rows": load_rows, "load_seconds": round(loaded_in, 2),
                "load_rows_per_s": round(load_rows / loaded_in)}


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
    parser.add_argument("--verdict-runs", type=int, default=3,
                        help="verdicts of the big list (medians reported)")
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
            res = run_backend(backend, big, load_list, args.rows, args.load_rows, args.pg_url,
                              args.verdict_runs)
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
            print(f"{backend:10s} judged (claim to verdict) {res.get('judged_seconds')}s = "
                  f"x{res['judged_vs_calamine']} of a bare calamine read in the same stack "
                  f"({res['calamine_bare_seconds']}s; goal <= x2; medians of "
                  f"{res.get('judged_runs_seconds')}s): in the check process "
                  f"{res.get('checked_seconds')}s (start-up {res.get('check_startup_seconds')}s), "
                  f"students lookup {res.get('lookup_seconds')}s;"
                  f" CPU of the check process x{res['check_cpu_vs_calamine_cpu']} of the bare "
                  f"read's; peak RSS uploads {res['uploads_peak_rss_mb']} MB + check process "
                  f"{res.get('check_peak_rss_mb')} MB + its forked part's own "
                  f"{res.get('check_part_own_mb')} MB = {res['uploads_plus_check_peak_rss_mb']}"
                  f" MB (goal <= 250); load average {res['load_average_during_verdicts']}")
        print(json.dumps({"bare_reads": bare, "runs": results}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
