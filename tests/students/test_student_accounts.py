"""Every user of type student has a student record (services/students/accounts.py).

The handler tests run the real users handlers in-process (LocalUsers); the
last test runs both services over RabbitMQ and lets the events do the work.
"""
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from nameko.standalone.rpc import ServiceRpcProxy

from services.common.events import PermanentEventError
from services.students import accounts, handlers, placements
from services.students.models import participations, students
from services.students.service import StudentsService
from services.users.service import UsersService
from tests.helpers import wait_until


def person(code, **kw):
    data = {"code": code, "first_name": "Sem", "last_name": f"Visser {code}",
            "is_student": True}
    data.update(kw)
    return data


def envelope(event_type, iid, data):
    return {"event_id": str(uuid.uuid4()), "type": event_type, "version": 1,
            "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "institution_id": iid, "data": data}


def records(db, iid):
    with db.session_factory() as session:
        return {r.student_number: r for r in session.execute(
            sa.select(students).where(students.c.institution_id == iid))}


def test_register_gives_student_accounts_a_non_transfer_record(students_db, users, institution):
    iid = institution["id"]
    users.create_user(iid, person("1001"))
    users.create_user(iid, person("1002"))
    users.create_user(iid, {"code": "docent", "first_name": "Dirk", "last_name": "Docent"})
    users.create_user(iid, person("1003"))
    users.archive_user(iid, "1003")
    with students_db.uow() as uow:
        result = accounts.register_students(uow, users, iid,
                                            ["1001", "1002", "docent", "4242", "1003", "1001"])
    assert result == {"registered": ["1001", "1002", "1003"], "existing": [],
                      "not_students": ["docent", "4242"]}
    found = records(students_db, iid)
    assert sorted(found) == ["1001", "1002", "1003"]
    assert {r.type for r in found.values()} == {"non_transfer"}
    assert found["1001"].bsn is None and found["1001"].user_id == \
        users.get_user(iid, "1001")["id"]
    assert found["1003"].left_at is not None            # an archived student left
    (event,) = students_db.events("students_registered_batch")
    assert [s["student_number"] for s in event["data"]["students"]] == ["1001", "1002", "1003"]
    assert event["data"]["students"][0]["has_bsn"] is False
    assert {s["source"] for s in event["data"]["students"]} == {"account"}
    # again: nothing new, no event
    with students_db.uow() as uow:
        again = accounts.register_students(uow, users, iid, ["1001", "1002"])
    assert again == {"registered": [], "existing": ["1001", "1002"], "not_students": []}
    assert len(students_db.events("students_registered_batch")) == 1


def test_a_registered_student_gets_a_participation(students_db, users, institution):
    iid = institution["id"]
    users.create_user(iid, person("1001"))
    with students_db.uow() as uow:
        accounts.register_students(uow, users, iid, ["1001"])
    with students_db.uow() as uow:
        project = placements.create_project(uow, iid, {"name": "Rooster", "branch": "Hoofd",
                                                       "school_year": "2026-2027"})
    with students_db.uow() as uow:
        placements.create_department(uow, iid, project["id"], {
            "code": "b1", "year_of_education": 1, "education": "brugklas"})
    with students_db.uow() as uow:
        part = placements.create_participation(uow, iid, project["id"], {
            "student_number": "1001", "department": "b1"})
    assert part["student_number"] == "1001"
    with students_db.uow() as uow:
        view = handlers.get_student(uow, users, iid, "1001")
    assert (view["type"], view["first_name"], view["status"]) == ("non_transfer", "Sem",
                                                                  "active")


def test_account_events_register_except_the_students_own(students_db, users, institution):
    iid = institution["id"]
    one = users.create_user(iid, person("2001"))
    batch = users.create_users(iid, [person("2002"), person("2003"),
                                     {"code": "ouder", "first_name": "O", "last_name": "Ouder",
                                      "type": "guardian"}], batch_events=True)["created"]
    mine = users.create_user(iid, person("2004"), origin="students")

    def created(user, origin=None):   # the payload of users' creation events (docs/events.md)
        data = {"user_id": user["id"], "code": user["code"], "type": user["type"],
                "roles": user["roles"], "first_name": user["first_name"]}
        return dict(data, origin=origin) if origin else data

    event = envelope("user_created", iid, created(one))
    with students_db.uow() as uow:
        assert accounts.on_user_created(uow, users, event) == "applied"
    with students_db.uow() as uow:
        assert accounts.on_user_created(uow, users, event) == "duplicate"
    with students_db.uow() as uow:
        assert accounts.on_users_created_batch(uow, users, envelope(
            "users_created_batch", iid, {"count": 3, "users": [created(u) for u in batch]})) \
            == "applied"
    with students_db.uow() as uow:   # made by students itself: its own record is on its way
        own = envelope("users_created_batch", iid, {"count": 1,
                                                    "users": [created(mine, "students")]})
        statements = []

        def note(_conn, _cursor, statement, *_rest):
            statements.append(statement)

        engine = uow.session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", note)
        try:
            assert accounts.on_users_created_batch(uow, users, own) == "ignored"
            assert accounts.on_user_created(uow, users, envelope(
                "user_created", iid, created(mine, "students"))) == "ignored"
        finally:
            sa.event.remove(engine, "before_cursor_execute", note)
        assert statements == []  # nothing to do: not even the event's id is noted
    assert sorted(records(students_db, iid)) == ["2001", "2002", "2003"]
    # an employee who becomes a student
    users.create_user(iid, {"code": "3001", "first_name": "E", "last_name": "Mee"})
    users.update_user(iid, "3001", {"type": "student"})
    with students_db.uow() as uow:
        assert accounts.on_user_updated(uow, users, envelope("user_updated", iid, {
            "user_id": 1, "code": "3001", "changes": {"type": ["employee", "student"]}})) \
            == "applied"
    with students_db.uow() as uow:
        assert accounts.on_user_updated(uow, users, envelope("user_updated", iid, {
            "user_id": 1, "code": "2001", "changes": {"email": [None, "a@b.nl"]}})) \
            == "ignored"
    with students_db.uow() as uow, pytest.raises(PermanentEventError):
        accounts.on_user_created(uow, users, {"type": "user_created"})
    assert "3001" in records(students_db, iid)


def test_a_discarded_account_takes_its_record_along(students_db, users, institution):
    iid = institution["id"]
    user = users.create_user(iid, person("4001"))
    with students_db.uow() as uow:
        accounts.register_students(uow, users, iid, ["4001"])
    with students_db.uow() as uow:
        project = placements.create_project(uow, iid, {"name": "R", "branch": "Hoofd",
                                                       "school_year": "2026-2027"})
    with students_db.uow() as uow:
        placements.create_department(uow, iid, project["id"], {"code": "b1"})
    with students_db.uow() as uow:
        placements.create_participation(uow, iid, project["id"], {"student_number": "4001",
                                                                  "department": "b1"})
    stale = envelope("user_discarded", iid, {"user_id": user["id"] + 100, "code": "4001",
                                             "type": "student"})
    with students_db.uow() as uow:   # another account of that number: not this record
        assert accounts.on_user_discarded(uow, stale) == "ignored"
    event = envelope("users_discarded_batch", iid, {"count": 1, "users": [
        {"user_id": user["id"], "code": "4001", "type": "student"}]})
    with students_db.uow() as uow:
        assert accounts.on_users_discarded_batch(uow, event) == "applied"
    with students_db.uow() as uow:
        assert accounts.on_users_discarded_batch(uow, event) == "duplicate"
    assert records(students_db, iid) == {}
    assert students_db.count(participations) == 0
    assert students_db.events("participation_removed")[0]["data"]["reason"] == "discarded"
    assert students_db.events("students_removed_batch")[0]["data"]["student_numbers"] == \
        ["4001"]


def test_over_the_bus_an_account_made_by_users_alone_gets_its_record(container_factory,
                                                                    service_config):
    """users.create_user(s) alone (as a CSV import does): the students service
    reacts to the events; and a student made through students gets exactly
    one record (its own), not a second from the reaction."""
    for cls in (UsersService, StudentsService):
        container_factory(cls, service_config).start()
    with ServiceRpcProxy("users", service_config, timeout=30) as users_rpc, \
            ServiceRpcProxy("students", service_config, timeout=30) as students_rpc:
        iid = users_rpc.create_institution({"name": "Lyceum", "brin": "05KQ",
                                            "school_type": "vo"})["id"]
        users_rpc.create_user(iid, person("5001"))
        users_rpc.create_users(iid, [person("5002"), person("5003")], batch_events=True)
        students_rpc.create_student(iid, {
            "student_number": "5004", "type": "non_transfer", "initials": "S.",
            "first_name": "Sara", "last_name": "Smit"})

        def listed():
            page = students_rpc.list_students(iid, page_size=10)
            return page if page["total"] == 4 else None
        page = wait_until(listed, timeout=20)
        assert [s["student_number"] for s in page["items"]] == ["5001", "5002", "5003", "5004"]
        assert [s["type"] for s in page["items"]][:3] == ["non_transfer"] * 3
