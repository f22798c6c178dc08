"""Creates across the users and students services are resumable: a crash
between the users commit and the students commit leaves accounts that a retry
of the same operation (the same request id, the same list's origin key)
adopts, while any other operation still finds them taken.

The crash is a BaseException raised at the students step: it passes every
`except Exception`, so no compensation runs, as when the process is killed.
Real, migrated users and students databases (SQLite, and PostgreSQL with the
`db` marker); the users service called in-process (conftest.LocalUsers).
"""
import pytest
import sqlalchemy as sa

from services.common.errors import DomainError
from services.students import handlers
from services.students.models import students
from services.users.models import users as users_table
from tests.students.test_students_handlers import (ADMIN, World, batch_rows, raises,
                                                   student)


class Crash(BaseException):
    """The process dies here."""


def crash(*args, **kwargs):
    raise Crash()


@pytest.fixture
def world(students_db, users_db, users, institution):
    return World(students_db, users_db, users, institution)


def rows_of(db, query):
    with db.session_factory() as session:
        return session.execute(query).all()


def accounts_without_record(world):
    codes = {c for (c,) in rows_of(world.udb, sa.select(users_table.c.code).where(
        users_table.c.type == "student"))}
    numbers = {n for (n,) in rows_of(world.sdb, sa.select(students.c.student_number))}
    return codes - numbers


def test_a_single_create_resumes_after_a_crash_between_the_steps(world, students_db,
                                                                 users_db, monkeypatch):
    monkeypatch.setattr(handlers.create_one, "_insert_student", crash)
    with pytest.raises(Crash):
        world.h(handlers.create_student, student("1001"), ADMIN, request_id="req-1")
    assert users_db.count(users_table) == 1 and students_db.count(students) == 0
    monkeypatch.undo()

    # the orphan account belongs to request req-1: anybody else is refused
    with raises("user_exists", 409):
        world.h(handlers.create_student, student("1001"), ADMIN, request_id="req-2")
    with raises("user_exists", 409):
        world.h(handlers.create_student, student("1001"), ADMIN)

    # the retry of req-1 adopts it and completes the record
    first = world.h(handlers.create_student, student("1001"), ADMIN, request_id="req-1")
    assert first["student_number"] == "1001" and first["last_name"] == "Jong"
    account = users_db.scalar(sa.select(users_table.c.id).where(users_table.c.code == "1001"))
    assert first["user_id"] == account
    assert users_db.count(users_table) == 1 and students_db.count(students) == 1
    assert accounts_without_record(world) == set()

    # a repeat of the finished request answers as the first one did
    again = world.h(handlers.create_student, student("1001"), ADMIN, request_id="req-1")
    assert again == first
    with raises("student_exists", 409):
        world.h(handlers.create_student, student("1001"), ADMIN, request_id="req-2")
    assert len(users_db.events("user_created")) == 1
    assert len(students_db.events("student_registered")) == 1
    assert users_db.count(users_table) == 1 and students_db.count(students) == 1


def test_a_request_id_is_checked(world):
    for bad in ("", "x" * 65, "r\n1", 12):
        with raises("value_invalid", 422):
            world.h(handlers.create_student, student("1001"), ADMIN, request_id=bad)


def test_a_batch_resumes_with_its_accounts_and_new_rows(world, students_db, users_db,
                                                        monkeypatch):
    key = "submission:7:2026-11-29T03:00:00+00:00"
    rows = batch_rows(700, with_participation=False)
    monkeypatch.setattr(handlers.create_many, "_bulk_insert", crash)
    with pytest.raises(Crash):
        world.h(handlers.create_students, rows[:600], origin_key=key)
    assert users_db.count(users_table) == 600 and students_db.count(students) == 0
    monkeypatch.undo()

    # another operation (another list, no list) finds the accounts taken
    with raises("user_exists", 409) as exc:
        world.h(handlers.create_students, rows[:2], origin_key="submission:8:other")
    assert [e["row"] for e in exc.value.errors] == [1, 2]
    with raises("user_exists", 409):
        world.h(handlers.create_students, rows[:1])

    # the retry (here with the rest of the list too) adopts and completes
    result = world.h(handlers.create_students, rows, origin_key=key)
    assert result["created"] == 700
    assert users_db.count(users_table) == 700 and students_db.count(students) == 700
    assert accounts_without_record(world) == set()
    with students_db.uow() as uow:
        assert handlers.count_by_origin(uow, world.iid, key) == 700
        assert handlers.count_by_origin(uow, world.iid, "submission:8:other") == 0
    user_ids = dict(rows_of(users_db, sa.select(users_table.c.code, users_table.c.id)))
    records = rows_of(students_db, sa.select(students.c.student_number, students.c.user_id))
    assert all(user_ids[number] == user_id for number, user_id in records)
    # accounts are announced once: 600 by the first attempt, 100 by the retry
    assert sum(e["data"]["count"] for e in users_db.events("users_created_batch")) == 700
    assert sum(e["data"]["count"] for e in
               students_db.events("students_registered_batch")) == 700


def test_users_adopt_only_accounts_of_the_same_operation(world, users_db):
    users = world.users
    row = {"code": "2001", "type": "student", "roles": ["student"], "first_name": "A",
           "last_name": "B"}
    made = users.create_user(world.iid, row, origin="students", origin_key="request:a")
    assert users.create_user(world.iid, row, origin="students", origin_key="request:a") == made
    for key in ("request:b", None):
        with raises("user_exists", 409):
            users.create_user(world.iid, row, origin="students", origin_key=key)
    with raises("value_invalid", 422):
        users.create_user(world.iid, {**row, "code": "2002"}, origin_key="x" * 81)
    assert len(users_db.events("user_created")) == 1
    # an account made without a key is never adopted
    plain = users.create_user(world.iid, {**row, "code": "2003"})
    with raises("user_exists", 409):
        users.create_users(world.iid, [{**row, "code": plain["code"]}], origin_key="request:a")


def test_an_unfinished_create_nobody_retries_is_swept(world, students_db, users_db,
                                                      monkeypatch):
    from services.students import accounts
    world.h(handlers.create_student, student("1001"), ADMIN, request_id="done")
    monkeypatch.setattr(handlers.create_one, "_insert_student", crash)
    with pytest.raises(Crash):
        world.h(handlers.create_student, student("1002", bsn=None, type="non_transfer"),
                ADMIN, request_id="crashed")
    monkeypatch.setattr(handlers.create_many, "_bulk_insert", crash)
    with pytest.raises(Crash):  # a list's accounts: left to the list's resume
        world.h(handlers.create_students, batch_rows(2, with_participation=False),
                origin_key="submission:1:x")
    monkeypatch.undo()
    assert accounts_without_record(world) == {"1002", "300000", "300001"}

    with students_db.uow() as uow:  # too young: a retry may still come
        assert accounts.sweep_unfinished_creates(uow, world.users) == []
    with students_db.uow() as uow:
        assert accounts.sweep_unfinished_creates(uow, world.users, min_age_seconds=0) == [
            "1002"]
    assert accounts_without_record(world) == {"300000", "300001"}
    assert [e["data"]["code"] for e in users_db.events("user_discarded")] == ["1002"]
    # the number is free again
    made = world.h(handlers.create_student, student("1002", bsn=None, type="non_transfer"),
                   ADMIN, request_id="new")
    assert made["student_number"] == "1002"
    with students_db.uow() as uow:
        assert accounts.sweep_unfinished_creates(uow, world.users, min_age_seconds=0) == []


def test_the_same_batch_twice_at_once_keeps_the_accounts_of_the_one_that_won(world,
                                                                              monkeypatch):
    """Two replicas run one repeated request (the same origin key) at once: the
    second adopts the first's accounts, then finds the records taken (409). Its
    compensation leaves those accounts alone: they are the first's records'."""
    rows = batch_rows(5, with_participation=False)
    key = "sync:1:1"
    real = world.users.create_users
    calls = []

    def the_other_replica_first(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            world.h(handlers.create_students, rows, origin_key=key)
        return real(*args, **kwargs)

    monkeypatch.setattr(world.users, "create_users", the_other_replica_first)
    with pytest.raises(DomainError) as refused:  # the first unique key to trip
        world.h(handlers.create_students, rows, origin_key=key)
    assert (refused.value.status, refused.value.code in ("student_exists", "bsn_exists")) == (
        409, True)
    assert accounts_without_record(world) == set()
    codes = {c for (c,) in rows_of(world.udb, sa.select(users_table.c.code).where(
        users_table.c.type == "student"))}
    assert codes == {r["student_number"] for r in rows}
