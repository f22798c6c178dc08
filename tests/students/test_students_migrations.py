"""Migrations of the students service that change what is stored (SQLite, and
PostgreSQL with -m db)."""
import datetime as dt

import alembic.command
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common import migrate
from services.common.db import make_engine
from services.students.models import (PARTICIPATION_KEYS, departments, participations,
                                      projects, students)

NOW = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)


def participation(pid, student_id):
    return {"id": pid, "institution_id": 7, "project_id": 1, "student_id": student_id,
            "department_id": 1, "lwoo": False, "subjects": [], "exemptions": [],
            "created_at": NOW, "updated_at": NOW}


def deferrable_keys(engine):
    """{name: deferrable} of the participations' foreign keys, as reflected."""
    with engine.connect() as conn:
        return {fk["name"]: bool(fk.get("options", {}).get("deferrable"))
                for fk in sa.inspect(conn).get_foreign_keys("participations")}


def test_migration_0007_makes_the_participation_keys_deferrable_and_back(make_db):
    url = make_db("students")
    config = migrate.alembic_config("students", url)
    engine = make_engine(url)
    try:
        assert deferrable_keys(engine) == dict.fromkeys(PARTICIPATION_KEYS, True)
        with engine.begin() as conn:  # a participation, kept through both ways
            conn.execute(sa.insert(projects).values(
                id=1, institution_id=7, name="Rooster", branch="Hoofd", school_year="2026-2027",
                created_at=NOW))
            conn.execute(sa.insert(departments).values(
                id=1, project_id=1, code="h4", home_class_authority="portal", learning_paths=[],
                created_at=NOW))
            conn.execute(sa.insert(students).values(
                id=1, institution_id=7, student_number="1001", type="non_transfer",
                archive_pending=False, created_at=NOW, updated_at=NOW))
            conn.execute(sa.insert(participations).values(participation(1, student_id=1)))
        engine.dispose()
        alembic.command.downgrade(config, "0006")
        assert deferrable_keys(engine) == dict.fromkeys(PARTICIPATION_KEYS, False)
        alembic.command.upgrade(config, "head")
        assert deferrable_keys(engine) == dict.fromkeys(PARTICIPATION_KEYS, True)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT student_id FROM participations")).all() == [(1,)]
        # still checked per row, unless a transaction defers them
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(participations).values(participation(2, student_id=99)))
        # and deleting a project still takes its participations along
        with engine.begin() as conn:
            conn.execute(sa.delete(projects))
        with engine.connect() as conn:
            assert conn.execute(sa.select(participations.c.id)).all() == []
    finally:
        engine.dispose()
