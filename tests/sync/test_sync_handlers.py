"""The students service's bulk read for the connector, and the feed's
idempotent event handling, on a real database (SQLite, or PostgreSQL when
LEERLINGBUS_TEST_POSTGRES_URL is set)."""
import pytest
import sqlalchemy as sa

from services.common.errors import DomainError
from services.common.events import PermanentEventError
from services.students import handlers as students_handlers
from services.students import placements, state
from services.sync import mutation_feed
from services.sync.models import mutations, processed_events
from services.users import institutions
from services.users.service import UsersService
from tests.helpers import Db


class LocalUsers:
    """The users service's RPC methods, called in-process on its database."""

    def __init__(self, db):
        self.db = db

    def __getattr__(self, name):
        service = UsersService()
        service.db = self.db.uow
        return getattr(service, name)


@pytest.fixture
def dbs(make_db):
    users, students = Db(make_db("users"), "users"), Db(make_db("students"), "students")
    yield users, students
    users.engine.dispose()
    students.engine.dispose()


def test_project_state_reads_the_whole_project(dbs):
    users_db, db = dbs
    users = LocalUsers(users_db)
    with users_db.uow() as uow:
        iid = institutions.create_institution(uow, {"name": "School", "brin": "00AB",
                                                    "school_type": "vo"})["id"]

    def run(fn, *args):
        with db.uow() as uow:
            return fn(uow, *args)

    project = run(placements.create_project, iid, {"name": "R", "school_year": "2025-2026",
                                                   "branch": "H"})
    pid = project["id"]
    run(placements.create_department, iid, pid, {"code": "h4", "year_of_education": 4,
                                                 "home_class_authority": "portal"})
    run(placements.create_department, iid, pid, {"code": "h5", "year_of_education": 5,
                                                 "home_class_authority": "desktop"})
    rows = [{"student_number": str(1000 + i), "type": "non_transfer", "first_name": f"L{i}",
             "last_name": "Test", "home_class": "3h1",
             "participation": {"department": "h4" if i < 3 else "h5", "forecast": 50 + i,
                               "home_class": "h4a" if i < 3 else None, "lwoo": i == 1}}
            for i in range(5)]
    with db.uow() as uow:
        students_handlers.create_students(uow, users, iid, rows, project_id=pid)
    parts = {p["student_number"]: p for p in run(
        placements.list_participations, iid, pid, None, 1, 50)["items"]}
    run(placements.set_package, iid, parts["1000"]["id"], ["ne", "wi"], ["lo"])
    group = run(placements.create_group, iid, pid, {"code": "h4.wi1", "department": "h4",
                                                    "kind": "cluster", "subject": "wi"})
    run(placements.set_group_members, iid, group["id"], ["1001", "1000"])

    result = run(state.project_state, iid, pid)
    assert result["project"]["id"] == pid
    assert {d["code"]: d["home_class_authority"] for d in result["departments"]} == \
        {"h4": "portal", "h5": "desktop"}
    by_number = {p["student_number"]: p for p in result["participations"]}
    assert set(by_number) == {"1000", "1001", "1002", "1003", "1004"}
    assert by_number["1001"]["lwoo"] is True and by_number["1001"]["forecast"] == 51
    assert by_number["1000"]["home_class"] == "h4a" and by_number["1004"]["department"] == "h5"
    package = next(p for p in result["packages"] if p["student_number"] == "1000")
    assert package["subjects"] == ["ne", "wi"] and package["exemptions"] == ["lo"]
    assert result["groups"] == [{"id": group["id"], "code": "h4.wi1", "department": "h4",
                                 "kind": "cluster", "subject": "wi",
                                 "student_numbers": ["1000", "1001"]}]
    assert {r["student_number"]: r["home_class"] for r in result["students"]}["1003"] == "3h1"
    with pytest.raises(DomainError) as exc:
        run(state.project_state, iid + 1, pid)
    assert exc.value.status == 404


def test_feed_records_each_event_once(make_db):
    db = Db(make_db("sync"), "sync")
    payload = {"event_id": "3f1c0a56-0000-4000-8000-000000000001",
               "type": "participation_changed", "version": 1,
               "occurred_at": "2025-11-25T10:00:00+00:00", "institution_id": 5,
               "data": {"participation_id": 1, "project_id": 7, "student_number": "1001",
                        "department": "h4", "changes": {"forecast": [80, 100],
                                                        "lwoo": [False, True]}}}
    for expected in ("applied", "duplicate"):
        with db.uow() as uow:
            assert mutation_feed.on_event(uow, "students", payload) == expected
    assert db.count(mutations) == 2 and db.count(processed_events) == 1
    with db.uow() as uow, pytest.raises(PermanentEventError):
        mutation_feed.on_event(uow, "students", {"type": "x"})
    with db.uow() as uow, pytest.raises(PermanentEventError):
        mutation_feed.on_event(uow, "students", dict(payload, institution_id=10 ** 30))
    class Students:  # the project is the institution's
        def get_project(self, iid, pid):
            return {"id": pid}

    with db.uow() as uow:
        page = mutation_feed.list_mutations(uow, Students(), 5, 7)
    assert [(m["category"], m["changes"]) for m in page["items"]] == [
        ("forecasts", {"forecast": [80, 100]}), ("lwoo", {"lwoo": [False, True]})]
    with db.uow() as uow:
        later = mutation_feed.list_mutations(uow, Students(), 5, 7, since=page["as_of"])
    assert later["items"] == [] and later["total"] == 0
    db.engine.dispose()


def test_migration_0003_rewrites_stored_snapshots(make_db):
    """Snapshots stored with one participation and package per student are
    keyed by student, then department after the upgrade; portal reads (and the
    status kept with them) are dropped, to be read again."""
    import json

    import alembic.command
    from services.common import migrate
    from services.sync import snapshot_check
    from services.sync.models import portal_reads, snapshots

    url = make_db("sync")
    config = migrate.alembic_config("sync", url)
    alembic.command.downgrade(config, "0002")
    old = {"students": {"1001": {"first_name": "Daan"}, "1002": {"first_name": "Eva"},
                        "1003": {"first_name": "Finn"}},
           "participations": {
               "1001": {"department": "h4", "forecast": 80, "lwoo": False, "home_class": "h4a",
                        "profile": None, "programme": None},
               "1002": {"department": "v4", "forecast": None, "lwoo": True, "home_class": None,
                        "profile": None, "programme": None}},
           "packages": {"1001": {"department": None, "subjects": ["ne"], "exemptions": []},
                        "1003": {"department": None, "subjects": ["en"], "exemptions": []}},
           "groups": {}}
    db = Db(url, "sync")
    now = mutation_feed.utcnow()
    try:
        with db.session_factory() as session:
            session.execute(sa.insert(snapshots).values(
                institution_id=1, project_id=2, student_count=3, received_at=now,
                updated_at=now, status='{"students": {}}', status_of=now.isoformat(),
                data=json.dumps(old)))
            session.execute(sa.insert(portal_reads).values(
                institution_id=1, project_id=2, as_of=now, data="{}"))
            session.commit()
        db.engine.dispose()
        migrate.upgrade("sync", url)
        with db.session_factory() as session:
            row = session.execute(sa.select(snapshots)).one()
            assert session.execute(sa.select(sa.func.count()).select_from(portal_reads)
                                   ).scalar() == 0
        assert row.status is None and row.status_of is None
        data = json.loads(row.data)
        assert data["participations"]["1001"] == {"h4": old["participations"]["1001"]}
        assert data["participations"]["1002"]["v4"]["lwoo"] is True
        assert data["packages"]["1001"] == {"h4": {"department": "h4", "subjects": ["ne"],
                                                   "exemptions": []}}
        assert data["packages"]["1003"] == {"": {"department": None, "subjects": ["en"],
                                                 "exemptions": []}}
        document = snapshot_check.snapshot_document(data)
        assert [(p["student_number"], p["department"]) for p in document["participations"]] \
            == [("1001", "h4"), ("1002", "v4")]
        # a second department, then back down: the first department (by code) stays
        data["participations"]["1001"]["v4"] = dict(data["participations"]["1001"]["h4"],
                                                   department="v4", forecast=20)
        with db.session_factory() as session:
            session.execute(sa.update(snapshots).values(data=json.dumps(data)))
            session.commit()
        db.engine.dispose()
        alembic.command.downgrade(config, "0002")
        with db.session_factory() as session:
            back = json.loads(session.execute(sa.select(snapshots.c.data)).scalar())
        assert back["participations"]["1001"]["department"] == "h4"
        assert back["packages"]["1001"]["subjects"] == ["ne"]
    finally:
        db.engine.dispose()
