"""CSV import benchmark: a generated 50,000-row users CSV from upload through
preview to a committed import, through the gateway.

The stack is uploads_bench.py's (a fresh vhost and databases, the users,
students and uploads services and the gateway as processes). Per backend:

1. POST /imports (the file; seconds to the answer);
2. PUT /imports/{id}/mapping?preview_rows=20 (mode import): seconds to the
   preview. Goal: at most 3 s, and within the gateway's ordinary RPC deadline
   (LEERLINGBUS_RPC_TIMEOUT, 8 s by default; this stack runs with 20 s);
3. POST /imports/{id}/commit?async=true: 202 at once, then GET /imports/{id}
   polled until `committed`: rows/s from the 202 to committed. Goal: at least
   10,000 rows/s. The uploads service logs how long of its commit went to the
   users service's create_users calls; printed beside it.

Beside the wall-clock figures it prints the CPU seconds (user + system, from
/proc/<pid>/stat) the uploads, users, students and gateway processes spent in the
preview and in the commit: on a shared machine these vary less than the
seconds.

    .venv/bin/python bench/csv_import_bench.py [--rows 50000]
        [--backends sqlite,postgresql] [--pg-url postgresql+psycopg2://...]
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from uploads_bench import API, PG_URL, pg_answers, running_stack

COMMIT_LOG = re.compile(r"import (\d+) committed: (\d+) change\(s\) in ([\d.]+)s, of which "
                        r"([\d.]+)s in the users service's calls \(([^)]*)\)")
PREVIEW_LOG = re.compile(r"import (\d+) previewed: (\d+) row\(s\) in ([\d.]+)s, of which "
                         r"([\d.]+)s in the users service's calls")
HEADER = ["Leerlingcode", "Voorletters", "Roepnaam", "Tussenvoegsel", "Achternaam",
          "Geslacht", "E-mailadres", "Postcode", "Woonplaats"]
FIRST = ("Daan", "Emma", "Sem", "Julia", "Lucas", "Mila", "Finn", "Tess", "Levi", "Sara")
LAST = ("Berg", "Jansen", "Visser", "Smit", "Bakker", "Meijer", "Mulder", "Bos", "Vos", "Dekker")


def make_csv(count, path):
    lines = [";".join(HEADER)]
    for i in range(count):
        first = FIRST[i % 10]
        lines.append(";".join([
            str(200000 + i), first[0] + ".", first, "van der" if i % 7 == 0 else "",
            f"{LAST[(i // 10) % 10]}{i}", "MVX"[i % 3], f"l{i}@school.nl", "7311 BA",
            "Apeldoorn"]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPU_PROCESSES = ("uploads", "users", "students", "gateway")


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (None when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def cpu_of(stack):
    return {name: cpu_seconds(stack.procs[name].pid) for name in CPU_PROCESSES}


def cpu_spent(before, after):
    return {name: round(after[name] - before[name], 2) for name in CPU_PROCESSES
            if before.get(name) is not None and after.get(name) is not None}


def service_log(data_dir, import_id):
    """The uploads service's own figures of the preview and the commit."""
    found = {}
    for line in (data_dir / "uploads.log").read_text().splitlines():
        m = PREVIEW_LOG.search(line)
        if m and int(m.group(1)) == import_id:
            found.update(preview_service_seconds=float(m.group(3)),
                         preview_users_calls_seconds=float(m.group(4)))
        m = COMMIT_LOG.search(line)
        if m and int(m.group(1)) == import_id:
            found.update(commit_service_seconds=float(m.group(3)),
                         users_calls_seconds=float(m.group(4)), users_calls=m.group(5))
    return found


def run_backend(backend, csv_path, rows, pg_url):
    with running_stack(backend, "csv-bench", pg_url) as (stack, admin):
        headers = {"Authorization": f"Bearer {admin}"}

        started = time.perf_counter()
        with open(csv_path, "rb") as fh:
            r = requests.post(stack.base + API + "/imports", headers=headers,
                              data={"kind": "users"},
                              files={"file": (csv_path.name, fh, "text/csv")}, timeout=120)
        uploaded = time.perf_counter() - started
        if r.status_code != 201:
            raise SystemExit(f"POST /imports: {r.status_code} {r.text[:500]}")
        imp = r.json()
        columns = {str(c["index"]): c["suggested_field"] for c in imp["columns"]}

        cpu_before = cpu_of(stack)
        started = time.perf_counter()
        r = requests.put(stack.base + API + f"/imports/{imp['id']}/mapping?preview_rows=20",
                         headers=headers, json={"columns": columns, "mode": "import"},
                         timeout=120)
        preview = time.perf_counter() - started
        preview_cpu = cpu_spent(cpu_before, cpu_of(stack))
        if r.status_code != 200:
            raise SystemExit(f"PUT mapping: {r.status_code} {r.text[:500]}")
        counts = r.json()["counts"]
        if counts["create"] != rows:
            raise SystemExit(f"the preview plans {counts}, not {rows} creates")

        cpu_before = cpu_of(stack)
        started = time.perf_counter()
        r = requests.post(stack.base + API + f"/imports/{imp['id']}/commit?async=true",
                          headers=headers, timeout=60)
        accepted = time.perf_counter() - started
        if r.status_code != 202:
            raise SystemExit(f"POST commit: {r.status_code} {r.text[:500]}")
        seen_progress = set()
        while True:
            state = stack.call("GET", f"/imports/{imp['id']}?preview_rows=0", admin)
            seen_progress.add(state["progress"]["done"])
            if state["status"] != "committing":
                break
            if time.perf_counter() - started > 900:
                raise SystemExit("the commit did not finish")
            time.sleep(0.05)
        committed = time.perf_counter() - started
        commit_cpu = cpu_spent(cpu_before, cpu_of(stack))
        if state["status"] != "committed" or state["result"]["counts"]["created"] != rows:
            raise SystemExit(f"the commit ended {state['status']}: {state['problem']} "
                             f"{state['result']}")
        return {"backend": backend, "rows": rows, "upload_seconds": round(uploaded, 2),
                "preview_seconds": round(preview, 2), "commit_accepted_seconds":
                round(accepted, 3), "commit_seconds": round(committed, 2),
                "commit_rows_per_s": round(rows / committed),
                "progress_steps_seen": len(seen_progress),
                "preview_cpu_seconds": preview_cpu, "commit_cpu_seconds": commit_cpu,
                **service_log(stack.data_dir, imp["id"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lb-csv-bench-files-"))
    try:
        csv_path = work / f"gebruikers-{args.rows}.csv"
        make_csv(args.rows, csv_path)
        print(f"generated {args.rows} rows; {csv_path.stat().st_size / 1e6:.1f} MB")
        results = []
        for backend in args.backends.split(","):
            if backend == "postgresql" and not pg_answers(args.pg_url):
                print("postgresql: not reachable, skipped")
                continue
            res = run_backend(backend, csv_path, args.rows, args.pg_url)
            results.append(res)
            users = res.get("users_calls_seconds")
            share = f"{100 * users / res['commit_service_seconds']:.0f}%" \
                if users is not None and res.get("commit_service_seconds") else "?"
            print(f"{backend:10s} upload {res['upload_seconds']:.2f}s; preview "
                  f"{res['preview_seconds']:.2f}s (goal <= 3 s; in the service "
                  f"{res.get('preview_service_seconds')}s, of which users service calls "
                  f"{res.get('preview_users_calls_seconds')}s); commit 202 after "
                  f"{res['commit_accepted_seconds']:.3f}s, committed after "
                  f"{res['commit_seconds']:.2f}s = {res['commit_rows_per_s']} rows/s "
                  f"(goal >= 10000; {res['progress_steps_seen']} progress values seen); "
                  f"users service calls {users}s of the service's "
                  f"{res.get('commit_service_seconds')}s ({share}: {res.get('users_calls')}); "
                  f"CPU seconds of the preview {res['preview_cpu_seconds']}, of the commit "
                  f"{res['commit_cpu_seconds']}")
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
