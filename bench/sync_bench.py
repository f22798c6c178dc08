"""Portal connector benchmark: status and differences for projects of 2,000 and
20,000 students with realistic differences between the portal and the desktop.

A synthetic project (12 departments, half of them with desktop-led home
classes, packages, cluster groups of ~25) is built twice: as the students and
users services answer it (project_state, get_users) and as the desktop's
snapshot (docs/connector.md), with differences the way a school year makes them:
3% personal data, 5% forecasts, 2% LWOO, 4% home classes, 1% department
changes, 10% packages (2% exemptions), 1% portal-only and 1% desktop-only
students, 3% cluster memberships.

Measured, median of --repeat runs:
  pure      snapshot_check.check_snapshot (PUT validation), rules.portal_view, compare.status
            (all eight categories), compare.differences per category
  service   the sync service's use cases on a real database without the broker:
            put_snapshot (validation, storing both sides, the status answer; the
            portal read is a stub returning the synthetic state); status when it
            must compare (load both sides from the database, compare all eight
            categories: after a refresh or a new portal read) and when the
            status kept for this snapshot and portal read is still current
            (after PUT, download, upload); differences of the largest category

    .venv/bin/python bench/sync_bench.py [--sizes 2000,20000] [--repeat 5]
        [--pg-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres] [--split 0.05]

--split places that share of the students in a second department as well
(next year's forecasts: 60% and 40%; the desktop lacks a tenth of those second
participations). Without it the workload is the same as it always was.

The goal: status under 0.5 s for 2,000 students, growing linearly.
"""
import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from services.common import migrate  # noqa: E402
from services.common.db import UnitOfWork, make_engine  # noqa: E402
from services.sync import compare, rules, snapshot_check, store  # noqa: E402
from services.sync import snapshots as snapshot_cases  # noqa: E402
from services.sync.models import snapshots  # noqa: E402

CATEGORIES = rules.CATEGORIES
SUBJECTS = ["ne", "en", "wi", "na", "sk", "bi", "ec", "ak", "gs", "du", "fa", "lo", "ckv",
            "in", "ma"]
FIRST = ["Daan", "Eva", "Finn", "Sanne", "Luuk", "Noor", "Bram", "Lotte", "Sem", "Julia"]
LAST = ["Berg", "Smit", "Jong", "Bos", "Visser", "Mulder", "Meijer", "Dekker", "Bakker"]


def build(n, seed=1, split=0.0):
    """(portal state, people, desktop snapshot document) for n students."""
    rnd = random.Random(seed)
    departments = []
    for year in range(1, 7):
        for level in ("h", "v"):
            code = f"{level}{year}"
            departments.append({"id": len(departments) + 1, "code": code,
                                "year_of_education": year, "education": level,
                                "home_class_authority": "desktop" if year >= 4 else "portal"})
    codes = [d["code"] for d in departments]
    numbers = [str(100000 + i) for i in range(n)]
    portal_only = set(rnd.sample(numbers, n // 100))
    parts, packages, records, people = [], [], [], []
    desktop = {"students": [], "participations": [], "packages": [], "groups": []}
    members_p, members_d = {}, {}
    for index, number in enumerate(numbers):
        dept = codes[index % len(codes)]
        home = f"{dept}{'abcd'[index % 4]}"
        subjects = rnd.sample(SUBJECTS, 7)
        exemptions = ["lo"] if rnd.random() < 0.05 else []
        person = {"code": number, "first_name": rnd.choice(FIRST), "prefix": None,
                  "last_name": rnd.choice(LAST), "gender": rnd.choice("MV"),
                  "street": "Hoofdstraat", "house_number": str(index % 300 + 1),
                  "postcode": f"{7000 + index % 2000} AB", "city": "Apeldoorn",
                  "email": f"l{number}@school.nl", "initials": None}
        people.append(person)
        part = {"id": index + 1, "student_number": number, "department": dept,
                "forecast": rnd.choice([None, 60, 80, 100]), "lwoo": rnd.random() < 0.1,
                "home_class": home, "profile": None, "programme": None}
        parts.append(part)
        packages.append({"participation_id": index + 1, "student_number": number,
                         "department": dept, "subjects": subjects, "exemptions": exemptions})
        second = None
        if split and rnd.random() < split:
            part["forecast"] = 60
            second = dict(part, id=n + index + 1, department=codes[(index + 1) % len(codes)],
                          forecast=40, home_class=None)
            parts.append(second)
            packages.append({"participation_id": second["id"], "student_number": number,
                             "department": second["department"], "subjects": [],
                             "exemptions": []})
        records.append({"student_number": number, "home_class": f"prev{index % 30}"})
        cluster = f"{dept}.{subjects[0]}{index % 3}"
        members_p.setdefault(cluster, (dept, subjects[0], []))[2].append(number)
        if number in portal_only:
            continue
        # the desktop's copy, with differences
        d_person = {k: v for k, v in person.items() if k not in ("code", "initials")}
        d_person.update(student_number=number, previous_home_class=f"prev{index % 30}",
                        properties={"#EMAIL": person["email"]})
        if rnd.random() < 0.03:
            d_person["street"] = "Oude straat"
        d_part = {k: v for k, v in part.items() if k != "id"}
        if rnd.random() < 0.05:
            d_part["forecast"] = 100 if part["forecast"] != 100 else 80
        if rnd.random() < 0.02:
            d_part["lwoo"] = not part["lwoo"]
        if rnd.random() < 0.04:
            d_part["home_class"] = f"{dept}{'abcd'[(index + 1) % 4]}"
        if rnd.random() < 0.01:
            d_part["department"] = codes[(index + 1) % len(codes)]
        d_pkg = {"student_number": number, "department": dept, "subjects": list(subjects),
                 "exemptions": list(exemptions)}
        if rnd.random() < 0.08:
            d_pkg["subjects"] = subjects[:-1]
        if rnd.random() < 0.02:
            d_pkg["exemptions"] = [] if exemptions else ["lo"]
        desktop["students"].append(d_person)
        desktop["participations"].append(d_part)
        if second is not None and second["department"] != d_part["department"] \
                and rnd.random() > 0.1:
            desktop["participations"].append({k: v for k, v in second.items() if k != "id"})
        desktop["packages"].append(d_pkg)
        d_cluster = cluster if rnd.random() > 0.03 else f"{dept}.{subjects[0]}{(index + 1) % 3}"
        members_d.setdefault(d_cluster, (dept, subjects[0], []))[2].append(number)
    for extra in range(n // 100):  # desktop-only: new students, half with an account
        number = str(900000 + extra)
        desktop["students"].append({"student_number": number, "first_name": "Nieuw",
                                    "last_name": "Leerling", "properties": {}})
        desktop["participations"].append({"student_number": number, "department": codes[0]})
        if extra % 2:
            people.append({"code": number, "first_name": "Oud", "prefix": None,
                           "last_name": "Leerling", "gender": None, "street": None,
                           "house_number": None, "postcode": None, "city": None,
                           "email": None, "initials": None})
    groups = []
    for gid, (code, (dept, subject, members)) in enumerate(sorted(members_p.items()), 1):
        groups.append({"id": gid, "code": code, "department": dept, "kind": "cluster",
                       "subject": subject, "student_numbers": members})
    for code, (dept, subject, members) in sorted(members_d.items()):
        desktop["groups"].append({"code": code, "department": dept, "kind": "cluster",
                                  "subject": subject, "student_numbers": members})
    state = {"project": {"id": 1, "school_year": "2025-2026"}, "departments": departments,
             "participations": parts, "packages": packages, "groups": groups,
             "students": records}
    return state, people, desktop


def timed(fn, repeat, paused_gc=False):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        if paused_gc:
            with store.paused_gc():
                result = fn()
        else:
            result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


class Portal:
    """Stub of the students and users services answering the synthetic state."""

    def __init__(self, state, people):
        self.state, self.people = state, people

    def project_state(self, iid, pid):
        return self.state

    def get_users(self, iid, codes):
        return self.people

    def get_project(self, iid, pid):
        return self.state["project"]


def database(kind, pg_url, tmp):
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/sync-{uuid.uuid4().hex[:6]}.sqlite3"
        migrate.upgrade("sync", url)
        return url, None
    name = f"lbbench_sync_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = pg_url.rsplit("/", 1)[0] + "/" + name
    migrate.upgrade("sync", url)
    return url, name


def drop(pg_url, name):
    admin = make_engine(pg_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def bench_size(n, repeat, backends, pg_url, tmp, split=0.0):
    state, people, document = build(n, split=split)
    out = {"n": n}
    # pure functions measured as the service runs them: the cyclic GC paused
    out["validate"], desktop = timed(lambda: snapshot_check.check_snapshot(document), repeat,
                                     True)
    out["portal_view"], portal = timed(
        lambda: rules.portal_view(state, people, desktop["students"], "2025-11-25T10:00:00"),
        repeat, True)
    out["status"], status = timed(lambda: compare.status(portal, desktop), repeat, True)
    out["counts"] = {c: status[c]["differences"] for c in CATEGORIES}
    out["exemptions"] = status["packages"]["exemptions"]
    per = {}
    for category in CATEGORIES:
        per[category], _ = timed(lambda c=category: compare.differences(c, portal, desktop),
                                 repeat, True)
    out["differences"] = per
    stub = Portal(state, people)
    largest = max(CATEGORIES, key=lambda c: out["counts"][c])
    out["largest"] = largest
    for kind in backends:
        url, name = database(kind, pg_url, tmp)
        engine = make_engine(url)
        factory = sessionmaker(bind=engine, expire_on_commit=False)

        def uow():
            return UnitOfWork(factory, "sync")

        def put():
            with uow() as u:
                return snapshot_cases.put_snapshot(u, stub, stub, 1, 1, document)

        def get_status():
            with uow() as u:
                return snapshot_cases.status(u, stub, stub, 1, 1)

        def get_differences():
            with uow() as u:
                return snapshot_cases.differences(u, stub, stub, 1, 1, largest)

        def stale_status():  # the portal was read again: compare both sides
            with uow() as u:
                u.session.execute(sa.update(snapshots).values(status_of=None))
                u.commit()
            return get_status()

        out[f"{kind}_put"], _ = timed(put, max(1, repeat // 2))
        out[f"{kind}_status"], answer = timed(stale_status, repeat)
        assert answer["forecasts"]["differences"] == out["counts"]["forecasts"]
        out[f"{kind}_status_kept"], answer = timed(get_status, repeat)
        assert answer["forecasts"]["differences"] == out["counts"]["forecasts"]
        out[f"{kind}_differences"], _ = timed(get_differences, repeat)
        engine.dispose()
        if name:
            drop(pg_url, name)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-url", default=None,
                        help="also measure the service path on PostgreSQL")
    parser.add_argument("--split", type=float, default=0.0,
                        help="share of students also placed in a second department")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = ["sqlite"] + (["postgresql"] if args.pg_url else [])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            results.append(bench_size(n, args.repeat, backends, args.pg_url, tmp, args.split))

    ms = lambda s: f"{s * 1000:8.1f}"  # noqa: E731
    split = f"; {args.split:.0%} in a second department" if args.split else ""
    print(f"\nPortal connector benchmark (median of {args.repeat}; milliseconds{split})\n")
    for r in results:
        counts = ", ".join(f"{c} {r['counts'][c]}" for c in CATEGORIES)
        print(f"{r['n']} students: differences {counts} (packages [{r['exemptions']}])")
    header = f"{'':34}" + "".join(f"{r['n']:>10}" for r in results)
    print("\n" + header)
    rows = [("pure: validate snapshot (PUT)", "validate"), ("pure: portal view", "portal_view"),
            ("pure: status, all 8 categories", "status")]
    for label, key in rows:
        print(f"{label:34}" + "".join(f"{ms(r[key]):>10}" for r in results))
    for category in CATEGORIES:
        print(f"{'pure: differences ' + category:34}"
              + "".join(f"{ms(r['differences'][category]):>10}" for r in results))
    for kind in backends:
        for label, key in (("PUT snapshot", "put"), ("GET status (compare)", "status"),
                           ("GET status (kept)", "status_kept"),
                           ("GET differences (largest)", "differences")):
            print(f"{kind + ': ' + label:34}" + "".join(f"{ms(r[f'{kind}_{key}']):>10}"
                                                      for r in results))
    if len(results) >= 2:
        a, b = results[0], results[-1]
        factor = b["n"] / a["n"]
        print(f"\ngrowth {a['n']} -> {b['n']} ({factor:.0f}x students): "
              f"pure status {b['status'] / a['status']:.1f}x, "
              + ", ".join(f"{k} status {b[f'{k}_status'] / a[f'{k}_status']:.1f}x"
                          for k in backends))
    first = results[0]
    worst = max(first[f"{k}_status"] for k in backends)
    verdict = "met" if worst < 0.5 else "NOT met"
    print(f"goal (GET status, comparing, under 0.5 s for {first['n']} students): {verdict}")


if __name__ == "__main__":
    main()
