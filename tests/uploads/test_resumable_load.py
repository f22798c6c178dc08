"""A list's load survives a crash between the users commit and the students
commit of one chunk: the chunk retried by the resume timer adopts the accounts
its first attempt left, and the counts are what is stored for this list.

All five services on a real RabbitMQ vhost (tests/conftest.py `system`), with
SQLite or PostgreSQL databases. The crash is made deterministic in the
students service (same process): the second chunk's record insert fails once,
and the compensation that would remove the accounts does not run (a killed
process runs none).
"""
import pytest
import sqlalchemy as sa

from services.common.db import make_engine
from services.students import handlers as students_handlers
from tests.uploads import xlsxfactory as xf
from tests.uploads.conftest import API, submit, verdict
from tests.uploads.test_review_api import make_student, publish_again, students_total

pytestmark = pytest.mark.pg  # whole system, also on PostgreSQL


@pytest.fixture
def service_config(service_config):
    config = dict(service_config)
    config["LEERLINGBUS_UPLOAD_LOAD_CHUNK"] = "4"  # several chunks for a small list
    return config


def student_accounts(config):
    engine = make_engine(config["USERS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return {code for (code,) in conn.execute(sa.text(
                "SELECT code FROM users WHERE type = 'student'"))}
    finally:
        engine.dispose()


def student_numbers(config):
    engine = make_engine(config["STUDENTS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return [n for (n,) in conn.execute(sa.text("SELECT student_number FROM students"))]
    finally:
        engine.dispose()


def crash_once_at(monkeypatch, chunk):
    """The `chunk`-th records insert (1-based) dies after the users commit."""
    real = students_handlers.create_many._bulk_insert
    calls = []

    def insert(*args, **kwargs):
        calls.append(1)
        if len(calls) == chunk:
            monkeypatch.setattr(students_handlers.create_many, "_compensate", lambda *a, **k: None)
            raise RuntimeError("the students service died here")
        monkeypatch.setattr(students_handlers.create_many, "_compensate", real_compensate)
        return real(*args, **kwargs)

    real_compensate = students_handlers.create_many._compensate
    monkeypatch.setattr(students_handlers.create_many, "_bulk_insert", insert)
    return calls


def test_a_crash_between_the_users_and_students_commits_resumes(system, school,
                                                                 monkeypatch):
    _inst, admin = school
    numbers = xf.bsns(1, start=31_000_000)
    make_student(system, admin, "555001", numbers[0])  # in the list: skipped, not loaded
    rows = [xf.student_row(i) for i in range(1, 10)]
    rows.insert(5, {**xf.student_row(99), "Leerlingnummer": "555001", "BSN": numbers[0]})
    up = verdict(system, admin, submit(system, admin, xf.make_list(rows)).json()["id"])
    assert up["status"] == "awaiting_review", up["errors"]

    calls = crash_once_at(monkeypatch, 2)
    r = system.post(f"{API}/uploads/{up['id']}/approve", json={})
    assert r.status_code == 200, r.text
    # the resume timer takes the load up again and the retried chunk adopts
    # the accounts its first attempt left
    done = verdict(system, admin, up["id"], until=("loading",), timeout=90)
    assert len(calls) >= 3
    assert done["status"] == "loaded", done
    assert (done["loaded"], done["skipped"]) == (9, 1)
    assert done["load_errors"] == []
    assert done["progress"] == {"done": 10, "total": 10}
    numbers_stored = student_numbers(system.config)
    assert len(numbers_stored) == len(set(numbers_stored)) == 10
    assert student_accounts(system.config) == set(numbers_stored)  # no orphan account
    assert students_total(system, admin) == 10


def test_counts_after_the_progress_was_lost(system, school):
    """uploads killed after a chunk's students committed but before its
    progress did: the repeat skips what exists, and still counts the list's
    own students as loaded."""
    inst, admin = school
    rows = [xf.student_row(i) for i in range(1, 11)]
    up = verdict(system, admin, submit(system, admin, xf.make_list(rows)).json()["id"])
    system.post(f"{API}/uploads/{up['id']}/approve", json={})
    done = verdict(system, admin, up["id"], until=("loading", "awaiting_review"))
    assert (done["status"], done["loaded"], done["skipped"]) == ("loaded", 10, 0)

    engine = make_engine(system.config["UPLOADS_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE submissions SET status='loading', progress_done=4, "
                             "loaded=0, skipped=0, claim=NULL WHERE id=:id"), {"id": up["id"]})
    engine.dispose()
    publish_again(system.config, "submission_approved", inst["id"], {"submission_id": up["id"]})
    redone = verdict(system, admin, up["id"], until=("loading",), timeout=40)
    assert (redone["status"], redone["loaded"], redone["skipped"]) == ("loaded", 10, 0)
    assert students_total(system, admin) == 10
    assert student_accounts(system.config) == set(student_numbers(system.config))
