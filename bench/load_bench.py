"""Load benchmark: an approved 20,000-row student list loaded end to end
(accounts, records, participations, audit rows, events) through the real
path, against the floors of the same database measured in the same run.

For each backend the script starts from nothing (bench/uploads_bench.py's
Stack: a fresh RabbitMQ vhost, fresh databases, migrated, the users, students
and uploads services and the gateway as processes). Through the gateway it
creates an institution, an admin, a project with department h4, submits a
list whose every row is placed in h4, waits for the verdict, binds plain
queues to the batch events, approves with the project and waits (reading the
uploads database) until `loaded`: students/s from approval to loaded.

It then checks correctness: as many student accounts, records and
participations as rows, the batch events' counts summing to the rows, no
event_id twice, no student number twice in the events.

The floors, measured in the same run on the same database server (a scratch
table shaped like `users`, 20,000 rows, one transaction):
- PostgreSQL: COPY FROM STDIN (psycopg2 copy_expert) and a Core insert
  (SQLAlchemy executemany, insertmanyvalues) in rows/s;
- SQLite (WAL, synchronous=NORMAL, as the services run): the sqlite3 module's
  executemany (the fastest way in from Python) and a Core insert.
The ratios printed are students/s over each floor's rows/s. One student writes
four rows (account, record, participation, BSN audit) plus its share of events.
Beside them, the CPU the three services used during the load (from /proc), per
student: on a shared machine the wall time also measures everyone else's work.

    .venv/bin/python bench/load_bench.py [--rows 20000] [--chunk N] [--parallel N]
        [--backends postgresql,sqlite] [--pg-url postgresql+psycopg2://...] [--runs N]
"""
import argparse
import datetime as dt
import io
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from benchsupport import drain_bodies
from kombu import Connection, Queue
from uploads_bench import (
    PG_URL,
    pg_answers,
    poll,
    running_stack,
    submit,
)

from services.common.outbox import events_exchange
from tests.uploads.xlsxfactory import make_big_list

EVENTS = (("users", "users_created_batch"), ("students", "students_registered_batch"),
          ("students", "participations_created_batch"))
LIST_KEY = {"users_created_batch": "users", "students_registered_batch": "students",
            "participations_created_batch": "participations"}


# --- floors --------------------------------------------------------------------------

SCRATCH = sa.MetaData()
scratch = sa.Table(
    "lb_bench_scratch", SCRATCH,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("institution_id", sa.Integer, nullable=False),
    sa.Column("code", sa.String(50), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("initials", sa.String(20)), sa.Column("first_name", sa.String(100)),
    sa.Column("prefix", sa.String(30)), sa.Column("last_name", sa.String(100)),
    sa.Column("email", sa.String(200)), sa.Column("city", sa.String(100)),
    sa.Column("roles", sa.JSON), sa.Column("search_text", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("institution_id", "code"),
)


def scratch_rows(count):
    now = "2026-01-01T00:00:00+00:00"
    return [{"id": i + 1, "institution_id": 1, "code": str(100000 + i), "type": "student",
             "initials": "L.", "first_name": "Leerling", "prefix": None,
             "last_name": f"Achternaam{i}", "email": f"leerling{i}@school.nl",
             "city": "Apeldoorn", "roles": '["student"]',
             "search_text": f"{100000 + i} leerling achternaam{i}", "created_at": now}
            for i in range(count)]


def _timed(engine, fill):
    SCRATCH.drop_all(engine)
    SCRATCH.create_all(engine)
    started = time.perf_counter()
    fill()
    seconds = time.perf_counter() - started
    SCRATCH.drop_all(engine)
    return seconds


def floors(backend, url, count):
    """{floor name: rows/s} on the database at `url`."""
    rows = scratch_rows(count)
    columns = list(rows[0])
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    core_rows = [dict(r, roles=["student"], created_at=at) for r in rows]
    engine = sa.create_engine(url)
    out = {}

    def core():
        with engine.begin() as conn:
            conn.execute(sa.insert(scratch), core_rows)

    if backend == "postgresql":
        def copy():
            text = "".join("\t".join("\\N" if r[c] is None else str(r[c]) for c in columns)
                           + "\n" for r in rows)
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cursor:
                    cursor.copy_expert(f"COPY lb_bench_scratch ({', '.join(columns)}) "
                                       "FROM STDIN", io.StringIO(text))
                raw.commit()
            finally:
                raw.close()
        out["copy"] = count / _timed(engine, copy)
    else:
        path = url.split("///", 1)[1]

        def executemany():
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with conn:
                conn.executemany(
                    f"INSERT INTO lb_bench_scratch ({', '.join(columns)}) VALUES "
                    f"({', '.join('?' for _ in columns)})",
                    [tuple(r[c] for c in columns) for r in rows])
            conn.close()
        out["sqlite3_executemany"] = count / _timed(engine, executemany)
    out["core_insert"] = count / _timed(engine, core)
    engine.dispose()
    return out


# --- events --------------------------------------------------------------------------

def bind_event_queues(amqp_uri):
    queues = [Queue(f"bench.load.{source}.{key}", exchange=events_exchange(source),
                    routing_key=key, durable=True) for source, key in EVENTS]
    with Connection(amqp_uri) as conn:
        for queue in queues:
            queue(conn.default_channel).declare()
    return queues


def drain_events(amqp_uri, queues):
    """({type: {"count": sum of data.count, "codes": [...], "events": n}}, how
    many events came a second time (same event_id))."""
    seen, twice, out = set(), 0, {}
    for body in drain_bodies(amqp_uri, queues):
        if body["event_id"] in seen:
            twice += 1
            continue
        seen.add(body["event_id"])
        kind = out.setdefault(body["type"], {"count": 0, "codes": [], "events": 0})
        kind["events"] += 1
        kind["count"] += body["data"]["count"]
        for item in body["data"][LIST_KEY[body["type"]]]:
            kind["codes"].append(item.get("code") or item.get("student_number"))
    return out, twice


def wait_loaded(uploads_url, upload_id, timeout=900):
    """Until the list left `loading`, read from the uploads database: asking the
    gateway every few milliseconds would cost the uploads service CPU."""
    engine = sa.create_engine(uploads_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                status = conn.execute(sa.text("SELECT status FROM submissions WHERE id = :id"),
                                      {"id": upload_id}).scalar_one()
            if status not in ("loading", "awaiting_review"):
                return
            time.sleep(0.02)
        raise SystemExit(f"upload {upload_id} still {status} after {timeout}s")
    finally:
        engine.dispose()


def cpu_seconds(pids):
    """{name: user+system CPU seconds} of processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        out[name] = (int(fields[11]) + int(fields[12])) / tick
    return out


def machine_cpu():
    """(busy, all) CPU seconds of the whole machine so far, over every core
    (/proc/stat: busy is everything but idle and iowait)."""
    tick = os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])
    return (total - values[3] - values[4]) / tick, total / tick


def cpu_by_command(names):
    """{pid: (name, CPU seconds)} of every process whose command is in `names`
    (the database server's and the broker's processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        if name in names:
            fields = text.rsplit(")", 1)[1].split()
            out[stat.parent.name] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


def cpu_spent(before, after):
    """{name: CPU seconds} between two cpu_by_command snapshots (a process
    started meanwhile counts from nothing)."""
    spent = {}
    for pid, (name, seconds) in after.items():
        spent[name] = spent.get(name, 0.0) + seconds - before.get(pid, (name, 0.0))[1]
    return spent


SERVERS = {"postgres": "postgresql", "beam.smp": "rabbitmq"}


def db_counts(urls):
    counts = {}
    for name, url, query in (
            ("accounts", urls["users"], "SELECT count(*), count(DISTINCT code) FROM users "
                                        "WHERE type = 'student'"),
            ("records", urls["students"], "SELECT count(*), count(DISTINCT student_number) "
                                          "FROM students"),
            ("participations", urls["students"], "SELECT count(*), count(DISTINCT student_id) "
                                                 "FROM participations")):
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            counts[name] = tuple(conn.execute(sa.text(query)).one())
        engine.dispose()
    return counts


# --- one run -------------------------------------------------------------------------

def run_backend(backend, load_list, rows, pg_url, chunk, parallel):
    env = {}
    if chunk:
        env["LEERLINGBUS_UPLOAD_LOAD_CHUNK"] = str(chunk)
    if parallel:
        env["LEERLINGBUS_UPLOAD_LOAD_PARALLEL"] = str(parallel)
    with running_stack(backend, "load-bench", pg_url, env=env) as (stack, admin):
        urls, data_dir, amqp_uri = stack.urls, stack.data_dir, stack.env["AMQP_URI"]
        project = stack.call("POST", "/projects", admin, json={
            "name": "Rooster", "branch": "Hoofd", "school_year": "2026-2027"})
        stack.call("POST", f"/projects/{project['id']}/departments", admin, json={
            "code": "h4", "year_of_education": 4, "education": "havo",
            "home_class_authority": "portal"})
        load_id = submit(stack, admin, load_list)
        up = poll(stack, admin, load_id, ("validating",))
        if up["status"] != "awaiting_review":
            raise SystemExit(f"the list was {up['status']}: {up['errors'][:3]}")
        queues = bind_event_queues(amqp_uri)

        pids = {name: stack.procs[name].pid for name in ("users", "students", "uploads")}
        cpu_before, servers_before = cpu_seconds(pids), cpu_by_command(SERVERS)
        machine_before = machine_cpu()
        started = time.perf_counter()
        stack.call("POST", f"/uploads/{load_id}/approve", json={"project_id": project["id"]})
        wait_loaded(urls["uploads"], load_id)
        seconds = time.perf_counter() - started
        machine_after = machine_cpu()
        cpu = {k: v - cpu_before[k] for k, v in cpu_seconds(pids).items()}
        servers = {SERVERS[k]: v for k, v in
                   cpu_spent(servers_before, cpu_by_command(SERVERS)).items()}
        done = stack.call("GET", f"/uploads/{load_id}?errors_limit=5", admin)
        if done["status"] != "loaded" or done["loaded"] != rows:
            raise SystemExit(f"loading ended {done['status']} with {done['loaded']} loaded: "
                             f"{done['load_errors'][:3]}")
        counts = db_counts(urls)
        events, twice = drain_events(amqp_uri, queues)
        problems = [f"{name}: {n} rows, {distinct} distinct" for name, (n, distinct)
                    in counts.items() if not n == distinct == rows]
        for _source, kind in EVENTS:
            got = events.get(kind, {"count": 0, "codes": []})
            if got["count"] != rows or len(set(got["codes"])) != rows:
                problems.append(f"{kind}: count {got['count']}, "
                                f"{len(set(got['codes']))} distinct students")
        if twice:
            problems.append(f"{twice} event(s) delivered twice")
        result = {"backend": backend, "rows": rows, "seconds": seconds,
                  "students_per_s": rows / seconds, "counts": counts, "cpu": cpu,
                  "servers": servers,
                  "machine": [after - before for before, after
                              in zip(machine_before, machine_after, strict=True)],
                  "events": {k: v["events"] for k, v in events.items()},
                  "problems": problems}
        result["floors"] = floors(backend, urls["students"].replace(
            "lbbench_students", "lbbench_uploads") if backend == "postgresql"
            else f"sqlite:///{data_dir / 'scratch.sqlite3'}", rows)
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=0,
                        help="LEERLINGBUS_UPLOAD_LOAD_CHUNK (default: the service's)")
    parser.add_argument("--parallel", type=int, default=0,
                        help="LEERLINGBUS_UPLOAD_LOAD_PARALLEL (default: the service's)")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--runs", type=int, default=1,
                        help="loads per backend, each on a fresh stack; with more than one, "
                             "the median and range of students/s and of the ratios follow")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lb-load-bench-files-"))
    failed = False
    try:
        load_list = work / f"leerlingen-{args.rows}.xlsx"
        make_big_list(args.rows, path=load_list, department="h4")
        for backend in args.backends.split(","):
            if backend == "postgresql" and not pg_answers(args.pg_url):
                print("postgresql: not reachable, skipped")
                continue
            results = []
            for _run in range(max(args.runs, 1)):
                res = run_backend(backend, load_list, args.rows, args.pg_url, args.chunk,
                                  args.parallel)
                failed = report(backend, res) or failed
                results.append(res)
            if len(results) > 1:
                summary(backend, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        raise SystemExit("counts or events wrong")


def summary(backend, results):
    """Median and range over the runs: students/s and its ratio to each floor
    (each run against its own floors)."""
    def spread(values, form):
        values = sorted(values)
        return (f"median {form.format(statistics.median(values))} "
                f"({form.format(values[0])}–{form.format(values[-1])})")

    parts = [f"students/s {spread([r['students_per_s'] for r in results], '{:,.0f}')}"]
    for name in results[0]["floors"]:
        ratios = [r["students_per_s"] / r["floors"][name] for r in results]
        parts.append(f"of {name} {spread(ratios, '{:.3f}')}")
    print(f"{backend:10s} {len(results)} runs: " + "; ".join(parts), flush=True)


def report(backend, res):
    """Print one run; True when its counts or events were wrong."""
    rate = res["students_per_s"]
    floor_text = ", ".join(
        f"{name} {value:,.0f} rows/s (students/s = {rate / value:.3f} of it)"
        for name, value in res["floors"].items())
    print(f"{backend:10s} {res['rows']} students loaded in {res['seconds']:.2f}s: "
          f"{rate:,.0f} students/s; floors: {floor_text}")
    cpu = res["cpu"]
    print(f"{'':10s} CPU of the services during the load: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in cpu.items())
          + f"; {sum(cpu.values()) / res['rows'] * 1e6:.0f} µs per student "
          f"(~{res['rows'] / sum(cpu.values()):,.0f} students per CPU second)")
    busy, total = res["machine"]
    everything = busy / res["rows"] * 1e6
    print(f"{'':10s} CPU of the servers: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(res["servers"].items()))
          + f"; the whole machine {busy:.2f}s of {total:.2f}s "
          f"({busy / total:.0%} of its {os.cpu_count()} cores busy), "
          f"{everything:.0f} µs per student: at most "
          f"~{total / res['seconds'] * 1e6 / everything:,.0f} students/s "
          "with every core busy")
    print(f"{'':10s} counts {res['counts']} events {res['events']} "
          f"{'OK' if not res['problems'] else 'PROBLEMS: ' + '; '.join(res['problems'])}",
          flush=True)
    return bool(res["problems"])


if __name__ == "__main__":
    main()
