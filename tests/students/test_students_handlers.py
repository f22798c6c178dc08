"""Use cases of the students service on real, migrated databases (make_db).

The users service is called in-process (tests/students/conftest.py LocalUsers:
the real users handlers on their own database), so these tests need no
broker; tests/students/test_students_service.py runs the same over RabbitMQ.
"""
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.common.errors import DomainError
from services.common.events import PermanentEventError
from services.students import handlers, lookups, placements, rules
from services.students.models import (bsn_audit, group_members, metadata, participations,
                                      processed_events, students)
from services.users.models import users as users_table

BSN = "100000009"
BSN2 = "100000010"
BSN_8 = "10000008"
ONDERWIJSNUMMER = "100000004"
ADMIN = {"user_id": 7, "code": "beheer", "roles": ["admin"]}
MENTOR = {"user_id": 8, "code": "mentor", "roles": ["mentor"]}

THIS_YEAR = rules.school_year_of(handlers.today())
NEXT_YEAR = rules.next_school_year(THIS_YEAR)
LAST_YEAR = f"{int(THIS_YEAR[:4]) - 1}-{THIS_YEAR[:4]}"


def student(number="123456", **kw):
    data = {"student_number": number, "type": "potential_transfer", "bsn": BSN,
            "initials": "S.", "first_name": "Sanne", "prefix": "de", "last_name": "Jong",
            "email": f"l{number}@institution.nl"}
    data.update(kw)
    return data


class World:
    """Runs use cases on the test databases, one unit of work per call."""

    def __init__(self, students_db, users_db, users, institution):
        self.sdb, self.udb, self.users = students_db, users_db, users
        self.iid = institution["id"]

    def h(self, fn, *args, **kw):
        with self.sdb.uow() as uow:
            return fn(uow, self.users, self.iid, *args, **kw)

    def p(self, fn, *args, **kw):
        with self.sdb.uow() as uow:
            return fn(uow, self.iid, *args, **kw)

    def project(self, school_year=THIS_YEAR, branch="Hoofdvestiging"):
        return self.p(placements.create_project, {"name": f"Rooster {school_year}",
                                                  "school_year": school_year,
                                                  "branch": branch})

    def departments(self, project_id):
        h4 = self.p(placements.create_department, project_id, {
            "code": "h4", "year_of_education": 4, "education": "havo",
            "home_class_authority": "portal",
            "learning_paths": [{"code": "H4NT", "name": "havo 4 NT", "element_code": "E401"},
                               {"code": "H4EM", "name": "havo 4 EM", "element_code": "E402"}]})
        v4 = self.p(placements.create_department, project_id, {
            "code": "v4", "year_of_education": 4, "education": "vwo",
            "home_class_authority": "desktop",
            "learning_paths": [{"code": "V4NT", "name": "vwo 4 NT", "element_code": "E501"}]})
        return h4, v4

    def participate(self, project_id, number, **kw):
        data = {"student_number": number, "department": "h4"}
        data.update(kw)
        return self.p(placements.create_participation, project_id, data)


@pytest.fixture
def world(students_db, users_db, users, institution):
    return World(students_db, users_db, users, institution)


def raises(code, status=None):
    class _Ctx:
        def __enter__(self):
            self.cm = pytest.raises(DomainError)
            self.info = self.cm.__enter__()
            return self.info

        def __exit__(self, *exc):
            result = self.cm.__exit__(*exc)
            assert self.info.value.code == code, self.info.value
            if status is not None:
                assert self.info.value.status == status
            return result
    return _Ctx()


def test_migrations_match_the_models(students_db):
    with students_db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    assert diff == []


# --- creating one student ----------------------------------------------------------

def test_create_student_masks_audits_and_announces_without_bsn(world, students_db, users_db):
    view = world.h(handlers.create_student, student(bsn=BSN_8, year_of_education="4",
                                                    date_of_birth="2010-03-04",
                                                    home_class="h4a"), actor=ADMIN)
    assert view["bsn"] == "*****0008" and view["onderwijsnummer"] is None
    assert (view["first_name"], view["prefix"], view["last_name"]) == ("Sanne", "de", "Jong")
    assert view["registered"] is False and view["archived"] is False
    assert view["date_of_birth"] == "2010-03-04" and view["year_of_education"] == 4
    assert students_db.scalar(sa.select(students.c.bsn)) == "010000008"   # padded, 9 digits

    (user,) = world.users.get_users(world.iid, ["123456"])
    assert user["type"] == "student" and user["roles"] == ["student"]
    assert view["user_id"] == user["id"]

    (audit,) = world.p(handlers.bsn_audit_trail)["items"]
    assert (audit["action"], audit["fields"], audit["actor_code"], audit["student_number"]) \
        == ("create", ["bsn"], "beheer", "123456")
    (event,) = students_db.events("student_registered")
    assert event["data"] == {"student_number": "123456", "user_id": user["id"],
                             "type": "potential_transfer", "year_of_education": 4,
                             "track": None, "home_class": "h4a", "has_bsn": True,
                             "has_onderwijsnummer": False}
    assert event["institution_id"] == world.iid and event["version"] == 1
    assert not any("010000008" in b or "10000008" in b for b in students_db.bodies())


def test_create_student_validation(world, students_db, users_db):
    with raises("bsn_required", 422) as exc:
        world.h(handlers.create_student, student(bsn=None))
    assert exc.value.field == "bsn"
    with raises("bsn_invalid", 422):
        world.h(handlers.create_student, student(bsn="123456789"))
    with raises("onderwijsnummer_invalid", 422) as exc:
        world.h(handlers.create_student, student(bsn=None, onderwijsnummer="100000005"))
    assert exc.value.field == "onderwijsnummer"
    with raises("student_number_not_digits", 422):
        world.h(handlers.create_student, student("12a"))
    # the users service's own rules cross intact, and nothing is left behind
    with raises("email_invalid", 422):
        world.h(handlers.create_student, student(email="geen-adres"))
    assert students_db.count(students) == 0 and users_db.count(users_table) == 0
    view = world.h(handlers.create_student, student(bsn=None,
                                                    onderwijsnummer=ONDERWIJSNUMMER))
    assert view["onderwijsnummer"] == "*****0004"


def test_duplicates_are_409_and_leave_no_account(world, students_db, users_db):
    world.h(handlers.create_student, student("1001"))
    with raises("student_exists", 409):
        world.h(handlers.create_student, student("1001", bsn=BSN2))
    with raises("bsn_exists", 409) as exc:
        world.h(handlers.create_student, student("1002"))
    assert exc.value.field == "bsn"
    with raises("bsn_exists", 409):      # the same BSN written with 8 digits... or spaces
        world.h(handlers.create_student, student("1002", bsn="100 000 009"))
    assert users_db.count(users_table) == 1 and students_db.count(students) == 1
    assert world.users.calls.count("create_user") == 1


def test_create_is_atomic_when_the_second_step_fails(world, students_db, users_db,
                                                     monkeypatch):
    def broken(uow, values):
        raise RuntimeError("disk full")

    monkeypatch.setattr(handlers.create_one, "_insert_student", broken)
    with pytest.raises(RuntimeError):
        world.h(handlers.create_student, student())
    assert students_db.count(students) == 0
    assert users_db.count(users_table) == 0
    assert users_db.events("user_discarded")[0]["data"]["code"] == "123456"
    assert students_db.events() == []


def test_a_race_on_the_bsn_is_a_409_and_compensated(world, students_db, users_db,
                                                    monkeypatch):
    world.h(handlers.create_student, student("1001"))
    monkeypatch.setattr(handlers.create_one, "_check_free", lambda *a, **k: None)  # lose the race
    with raises("bsn_exists", 409):
        world.h(handlers.create_student, student("1002"))
    assert [u["code"] for u in world.users.list_users(world.iid)["items"]] == ["1001"]


def test_other_institution_is_404(world, other_institution):
    world.h(handlers.create_student, student())
    project = world.project()
    world.departments(project["id"])
    part = world.participate(project["id"], "123456")
    group = world.p(placements.create_group, project["id"],
                    {"code": "h4a", "kind": "home_class", "department": "h4"})
    other = other_institution["id"]
    calls = [
        lambda u: handlers.get_student(u, world.users, other, "123456"),
        lambda u: handlers.update_student(u, world.users, other, "123456", {"track": "x"}),
        lambda u: handlers.leave_student(u, world.users, other, "123456"),
        lambda u: placements.get_project(u, other, project["id"]),
        lambda u: placements.create_department(u, other, project["id"], {"code": "x"}),
        lambda u: placements.list_participations(u, other, project["id"]),
        lambda u: placements.get_participation(u, other, part["id"]),
        lambda u: placements.update_participation(u, other, part["id"], {"forecast": 1}),
        lambda u: placements.delete_participation(u, other, part["id"]),
        lambda u: placements.get_package(u, other, part["id"]),
        lambda u: placements.set_package(u, other, part["id"], [], []),
        lambda u: placements.set_group_members(u, other, group["id"], []),
        lambda u: placements.placements_csv(u, other, project["id"]),
        lambda u: placements.get_project(u, world.iid, 999),
        lambda u: handlers.get_student(u, world.users, world.iid, "999"),
    ]
    for call in calls:
        with world.sdb.uow() as uow, raises("not_found", 404):
            call(uow)
    assert world.p(placements.list_projects, )["total"] == 1
    with world.sdb.uow() as uow:
        assert placements.list_projects(uow, other)["total"] == 0
        assert handlers.list_students(uow, world.users, other)["total"] == 0


# --- reading and changing ------------------------------------------------------------

def test_reveal_is_for_admins_and_audited(world):
    world.h(handlers.create_student, student(onderwijsnummer=ONDERWIJSNUMMER))
    masked = world.h(handlers.get_student, "123456", actor=MENTOR)
    assert (masked["bsn"], masked["onderwijsnummer"]) == ("*****0009", "*****0004")
    with raises("forbidden", 403):
        world.h(handlers.get_student, "123456", reveal_bsn=True, actor=MENTOR)
    with raises("forbidden", 403):
        world.h(handlers.get_student, "123456", reveal_bsn=True)
    shown = world.h(handlers.get_student, "123456", reveal_bsn=True, actor=ADMIN)
    assert (shown["bsn"], shown["onderwijsnummer"]) == (BSN, ONDERWIJSNUMMER)
    trail = world.p(handlers.bsn_audit_trail, "123456")
    assert [(a["action"], a["fields"], a["actor_user_id"]) for a in trail["items"]] == [
        ("reveal", ["bsn", "onderwijsnummer"], 7), ("create", ["bsn", "onderwijsnummer"], None)]
    assert world.p(handlers.bsn_audit_trail, "999")["total"] == 0


def test_update_student(world, students_db, users_db):
    world.h(handlers.create_student, student("1001"))
    world.h(handlers.create_student, student("1002", bsn=BSN2))
    view = world.h(handlers.update_student, "1001", {
        "first_name": "Sanna", "city": "Delft", "home_class": "h4b", "bsn": BSN_8,
        "student_number": "1001", "registered": False}, actor=ADMIN)
    assert (view["first_name"], view["city"], view["home_class"]) == ("Sanna", "Delft", "h4b")
    assert view["bsn"] == "*****0008"
    (event,) = students_db.events("student_updated")
    assert event["data"] == {"student_number": "1001",
                             "changes": {"home_class": [None, "h4b"], "bsn": ["***", "***"]}}
    assert users_db.events("user_updated")[0]["data"]["changes"]["first_name"] == [
        "Sanne", "Sanna"]
    trail = world.p(handlers.bsn_audit_trail, "1001")["items"]
    assert [(a["action"], a["actor_code"]) for a in trail][0] == ("change", "beheer")

    with raises("bsn_exists", 409):
        world.h(handlers.update_student, "1001", {"bsn": BSN2})
    with raises("field_immutable", 422):
        world.h(handlers.update_student, "1001", {"student_number": "1003"})
    with raises("bsn_required", 422):
        world.h(handlers.update_student, "1001", {"bsn": ""})
    with raises("gender_invalid", 422):      # the users service's rule
        world.h(handlers.update_student, "1001", {"gender": "Q", "track": "x"})
    assert world.h(handlers.get_student, "1001")["track"] is None


def test_update_restores_personal_data_when_the_record_fails(world, monkeypatch, users_db):
    world.h(handlers.create_student, student("1001"))

    real = lookups.load_student

    def failing(session, iid, number, for_update=False):
        if for_update:
            raise RuntimeError("database gone")
        return real(session, iid, number, for_update)

    monkeypatch.setattr(lookups, "load_student", failing)
    with pytest.raises(RuntimeError):
        world.h(handlers.update_student, "1001", {"first_name": "Sanna", "track": "havo"})
    monkeypatch.setattr(lookups, "load_student", real)
    view = world.h(handlers.get_student, "1001")
    assert (view["first_name"], view["track"]) == ("Sanne", None)


def test_a_change_made_meanwhile_is_not_merged_unseen(world, monkeypatch, students_db):
    """Two changes judged on the same record (two replicas): the first wins, the
    second is refused (409 student_changed) and puts its personal data back.
    Merged, they would leave a potential transfer with neither number."""
    world.h(handlers.create_student, student("1001", onderwijsnummer=ONDERWIJSNUMMER))
    real = world.users.update_user
    calls = []

    def meanwhile(iid, number, personal):
        calls.append(personal)
        if len(calls) == 1:  # the other request lands between our check and our write
            world.h(handlers.update_student, "1001", {"bsn": ""})
        return real(iid, number, personal)

    monkeypatch.setattr(world.users, "update_user", meanwhile)
    with raises("student_changed", 409) as info:
        world.h(handlers.update_student, "1001", {"onderwijsnummer": "", "first_name": "Sanna"})
    assert "intussen door een ander gewijzigd" in info.value.message
    view = world.h(handlers.get_student, "1001")
    assert (view["bsn"], view["onderwijsnummer"] is not None) == (None, True)
    assert view["first_name"] == "Sanne"  # put back
    assert len(students_db.events("student_updated")) == 1
    # judged on the record as it is now, the same change is refused for what it is
    with raises("bsn_required", 422):
        world.h(handlers.update_student, "1001", {"onderwijsnummer": ""})


def test_list_and_search(world, users_db):
    world.h(handlers.create_student, student("1001", first_name="Anna", last_name="Bakker",
                                             home_class="h4a", year_of_education=4,
                                             track="havo"))
    world.h(handlers.create_student, student("1002", bsn=BSN2, first_name="Bram",
                                             last_name="Visser", email="bram@thuis.nl",
                                             home_class="h4b", year_of_education=4))
    world.h(handlers.create_student, student("2001", type="non_transfer", bsn=BSN_8,
                                             first_name="Cor", last_name="Smit",
                                             year_of_education=3))
    world.users.create_user(world.iid, {"code": "anna", "first_name": "Anna",
                                        "last_name": "Docent"})   # an employee: not listed

    def numbers(**kw):
        result = world.h(handlers.list_students, **kw)
        return [s["student_number"] for s in result["items"]], result["total"]

    assert numbers() == (["1001", "1002", "2001"], 3)
    assert numbers(q="anna") == (["1001"], 1)                 # name
    assert numbers(q="bram@thuis") == (["1002"], 1)           # e-mail
    assert numbers(q="1002") == (["1002"], 1)                 # student number
    assert numbers(q=BSN2) == (["1002"], 1)                   # exact BSN
    assert numbers(q="10000008") == (["2001"], 1)             # 8-digit BSN
    assert numbers(q="10000000") == ([], 0)                   # not a BSN, no match
    assert numbers(q="00000") == ([], 0)                      # no BSN substrings
    assert numbers(home_class="H4A") == (["1001"], 1)
    assert numbers(year_of_education=4) == (["1001", "1002"], 2)
    assert numbers(track="havo") == (["1001"], 1)
    assert numbers(type="non_transfer") == (["2001"], 1)
    assert numbers(page=2, page_size=2) == (["2001"], 3)
    items = world.h(handlers.list_students, q="bakker")["items"]
    assert items[0]["bsn"] == "*****0009" and items[0]["last_name"] == "Bakker"

    with users_db.session_factory() as session:
        session.execute(sa.update(users_table).where(users_table.c.code == "1002")
                        .values(last_login_at=dt.datetime.now(dt.timezone.utc)))
        session.commit()
    assert numbers(registered=True) == (["1002"], 1)
    assert numbers(registered=False) == (["1001", "2001"], 2)
    assert numbers(registered=True, q="anna") == ([], 0)
    assert world.h(handlers.get_student, "1002")["registered"] is True
    with raises("registered_invalid", 422):
        world.h(handlers.list_students, registered="soms")


# --- projects, departments, participations ------------------------------------------------

def test_projects_and_departments(world):
    project = world.project()
    assert project["school_year"] == THIS_YEAR and project["branch"] == "Hoofdvestiging"
    with raises("project_exists", 409):
        world.project()
    world.project(branch="Dependance")
    with raises("school_year_invalid", 422):
        world.p(placements.create_project, {"name": "x", "school_year": "2025-2027",
                                            "branch": "b"})
    assert world.p(placements.list_projects)["total"] == 2
    h4, v4 = world.departments(project["id"])
    assert v4["home_class_authority"] == "desktop"
    with raises("department_exists", 409):
        world.p(placements.create_department, project["id"], {"code": "h4"})
    listed = world.p(placements.list_departments, project["id"])
    assert [d["code"] for d in listed["items"]] == ["h4", "v4"]


def test_participations(world, students_db):
    world.h(handlers.create_student, student("1001"))
    world.h(handlers.create_student, student("1002", bsn=BSN2))
    project = world.project()
    world.departments(project["id"])
    part = world.participate(project["id"], "1001", forecast=80, learning_path="H4NT",
                             lwoo=True, profile="NT")
    assert part["department"] == "h4" and part["forecast"] == 80 and part["lwoo"] is True
    assert part["school_year"] == THIS_YEAR
    with raises("participation_exists", 409) as exc:
        world.participate(project["id"], "1001")      # h4 again
    assert exc.value.field == "department" and "afdeling h4" in exc.value.message
    with raises("forecast_required", 422):            # a second department: forecasts
        world.participate(project["id"], "1001", department="v4")
    with raises("forecast_invalid", 422):
        world.participate(project["id"], "1002", forecast=101)
    with raises("learning_path_unknown", 422):
        world.participate(project["id"], "1002", learning_path="V4NT")
    with raises("department_unknown", 422):
        world.participate(project["id"], "1002", department="m2")
    with raises("student_unknown", 422):
        world.participate(project["id"], "9999")
    world.participate(project["id"], "1002", department="v4")
    listed = world.p(placements.list_participations, project["id"])
    assert [(p["student_number"], p["department"]) for p in listed["items"]] == [
        ("1001", "h4"), ("1002", "v4")]
    assert world.p(placements.list_participations, project["id"], department="v4")["total"] \
        == 1
    assert world.p(placements.get_participation, part["id"]) == part
    (event,) = students_db.events("participation_created")[:1]
    assert event["data"]["student_number"] == "1001" and event["data"]["forecast"] == 80


def test_department_change_keeps_or_wipes_the_package_and_drops_groups(world, students_db):
    world.h(handlers.create_student, student("1001"))
    project = world.project()
    world.departments(project["id"])
    part = world.participate(project["id"], "1001", learning_path="H4NT", home_class="h4a")
    hc = world.p(placements.create_group, project["id"],
                 {"code": "h4a", "kind": "home_class", "department": "h4"})
    cluster = world.p(placements.create_group, project["id"],
                      {"code": "h4.wi1", "kind": "cluster", "department": "h4",
                       "subject": "wi"})
    world.p(placements.set_group_members, hc["id"], ["1001"])
    world.p(placements.set_group_members, cluster["id"], ["1001"])
    world.p(placements.set_package, part["id"], ["ne", "en", "wi"], ["lo"])

    with raises("keep_package_required", 422) as exc:
        world.p(placements.update_participation, part["id"], {"department": "v4"})
    assert exc.value.field == "keep_package"
    changed = world.p(placements.update_participation, part["id"],
                      {"department": "v4", "keep_package": True}, actor=ADMIN)
    assert changed["department"] == "v4" and changed["learning_path"] is None
    assert world.p(placements.get_package, part["id"])["subjects"] == ["ne", "en", "wi"]
    groups = world.p(placements.list_groups, project["id"])["items"]
    assert [g["student_numbers"] for g in groups] == [[], []]
    event = students_db.events("participation_changed")[-1]["data"]
    assert event["changes"] == {"department": ["h4", "v4"], "learning_path": ["H4NT", None]}
    assert event["dropped_groups"] == ["h4.wi1", "h4a"] and event["package"] == "kept"

    world.p(placements.set_group_members, cluster["id"], ["1001"])   # clusters span
    changed = world.p(placements.update_participation, part["id"],
                      {"department": "h4", "keep_package": False})
    assert world.p(placements.get_package, part["id"]) == {
        "participation_id": part["id"], "student_number": "1001", "subjects": [],
        "exemptions": []}
    assert world.p(placements.list_groups, project["id"])["items"][0]["student_numbers"] == []
    assert students_db.events("package_changed")[-1]["data"]["reason"] == "department_changed"


def test_mentor_changes_forecast_and_home_class_and_nobody_a_desktop_led_home_class(world):
    world.h(handlers.create_student, student("1001"))
    world.h(handlers.create_student, student("1002", bsn=BSN2))
    project = world.project()
    world.departments(project["id"])
    h4 = world.participate(project["id"], "1001")
    v4 = world.participate(project["id"], "1002", department="v4")
    changed = world.p(placements.update_participation, h4["id"],
                      {"forecast": 60, "home_class": "h4b"}, actor=MENTOR)
    assert (changed["forecast"], changed["home_class"]) == (60, "h4b")
    # v4's home classes are led by the desktop: refused for every role, naming v4
    for who in (MENTOR, ADMIN):
        with raises("home_class_desktop_led", 409) as exc:
            world.p(placements.update_participation, v4["id"], {"home_class": "v4a"},
                    actor=who)
        assert "v4" in exc.value.message and exc.value.field == "home_class"
    # prognoses are the mentors' in every department
    assert world.p(placements.update_participation, v4["id"], {"forecast": 80},
                   actor=MENTOR)["forecast"] == 80
    with raises("forbidden", 403):
        world.p(placements.update_participation, h4["id"], {"profile": "NT"}, actor=MENTOR)
    with raises("forbidden", 403):
        world.p(placements.delete_participation, h4["id"], actor=MENTOR)
    # the desktop's own upload (no actor: the connector) still sets it
    assert world.p(placements.update_participation, v4["id"],
                   {"home_class": "v4a"})["home_class"] == "v4a"
    # the authority changes from now on: then the portal leads
    world.p(placements.update_department, project["id"], "v4",
            {"home_class_authority": "portal"})
    assert world.p(placements.update_participation, v4["id"], {"home_class": "v4b"},
                   actor=MENTOR)["home_class"] == "v4b"
    types = [e["type"] for e in world.sdb.events()]
    assert types[-3:] == ["department_changed", "participation_changed", "home_class_changed"]


def test_home_classes_and_home_class_groups_agree(world, students_db):
    for number, bsn in (("1001", BSN), ("1002", BSN2)):
        world.h(handlers.create_student, student(number, bsn=bsn))
    project = world.project()
    world.departments(project["id"])
    p1 = world.participate(project["id"], "1001")
    world.participate(project["id"], "1002", department="v4")
    h4a = world.p(placements.create_group, project["id"],
                  {"code": "h4a", "kind": "home_class", "department": "h4"})
    h4b = world.p(placements.create_group, project["id"],
                  {"code": "h4b", "kind": "home_class", "department": "h4"})
    with raises("group_exists", 409):
        world.p(placements.create_group, project["id"],
                {"code": "h4a", "kind": "cluster"})
    with raises("not_in_department", 422) as exc:
        world.p(placements.set_group_members, h4a["id"], ["1001", "1002"])
    assert [(e["row"], e["field"]) for e in exc.value.errors] == [(2, "student_numbers")]
    with raises("student_unknown", 422):
        world.p(placements.set_group_members, h4a["id"], ["4242"])

    group = world.p(placements.set_group_members, h4a["id"], ["1001"])
    assert group["student_numbers"] == ["1001"]
    assert world.p(placements.get_participation, p1["id"])["home_class"] == "h4a"
    # moving the home class in the participation moves the membership
    world.p(placements.update_participation, p1["id"], {"home_class": "h4b"})
    members = {g["code"]: g["student_numbers"]
               for g in world.p(placements.list_groups, project["id"])["items"]}
    assert members == {"h4a": [], "h4b": ["1001"]}
    # emptying a home-class group clears the home class
    world.p(placements.set_group_members, h4b["id"], [])
    assert world.p(placements.get_participation, p1["id"])["home_class"] is None
    kinds = [e["type"] for e in students_db.events()]
    assert "home_class_changed" in kinds and "group_members_changed" in kinds


def test_group_members_need_a_participation(world):
    world.h(handlers.create_student, student("1001"))
    project = world.project()
    world.departments(project["id"])
    cluster = world.p(placements.create_group, project["id"],
                      {"code": "wi1", "kind": "cluster", "subject": "wi"})
    with raises("not_participating", 422):
        world.p(placements.set_group_members, cluster["id"], ["1001"])
    with raises("department_unknown", 422):
        world.p(placements.create_group, project["id"],
                {"code": "x", "kind": "home_class", "department": "m1"})


def test_delete_participation(world, students_db):
    world.h(handlers.create_student, student("1001"))
    project = world.project()
    world.departments(project["id"])
    part = world.participate(project["id"], "1001")
    assert world.p(placements.delete_participation, part["id"], actor=ADMIN) == {
        "id": part["id"], "deleted": True}
    assert students_db.count(participations) == 0
    assert students_db.events("participation_removed")[0]["data"]["reason"] == "deleted"
    world.participate(project["id"], "1001")   # again possible


def test_learning_paths_and_the_placements_export(world):
    for number, bsn in (("1001", BSN), ("999", BSN2)):
        world.h(handlers.create_student, student(number, bsn=bsn))
    project = world.project()
    world.departments(project["id"])
    world.participate(project["id"], "1001", learning_path="H4EM")
    world.participate(project["id"], "999", department="v4")
    with raises("learning_path_in_use", 409):
        world.p(placements.set_learning_paths, project["id"], "h4",
                [{"code": "H4NT", "element_code": "E401"}])
    dept = world.p(placements.set_learning_paths, project["id"], "h4",
                   [{"code": "H4EM", "name": "EM", "element_code": "E9"}])
    assert dept["learning_paths"] == [{"code": "H4EM", "name": "EM", "element_code": "E9"}]
    with raises("not_found", 404):
        world.p(placements.set_learning_paths, project["id"], "m9", [])
    csv_text = world.p(placements.placements_csv, project["id"])
    assert csv_text == ("leerlingnummer;afdeling;leerpad;elementcode\r\n"
                        "999;v4;;\r\n"
                        "1001;h4;H4EM;E9\r\n")


def test_the_placements_export_writes_no_formulas(world):
    """A department or learning path code that a spreadsheet would read as a
    formula is exported as text (a leading apostrophe); plain values as they are."""
    world.h(handlers.create_student, student("1001", bsn=BSN))
    project = world.project()
    world.p(placements.create_department, project["id"], {
        "code": "=1+2", "year_of_education": 4, "education": "havo",
        "learning_paths": [{"code": "@SUM(A1)", "element_code": "-E1+E2"}]})
    world.participate(project["id"], "1001", department="=1+2", learning_path="@SUM(A1)")
    csv_text = world.p(placements.placements_csv, project["id"])
    assert csv_text == ("leerlingnummer;afdeling;leerpad;elementcode\r\n"
                        "1001;'=1+2;'@SUM(A1);'-E1+E2\r\n")


# --- several participations of one student in one project -------------------------------

def test_forecast_rules_over_a_students_departments(world, students_db):
    for number, bsn in (("1001", BSN), ("1002", BSN2)):
        world.h(handlers.create_student, student(number, bsn=bsn))
    project = world.project(NEXT_YEAR)
    pid = project["id"]
    world.departments(pid)
    world.p(placements.create_department, pid, {"code": "m4", "year_of_education": 4})
    h4 = world.participate(pid, "1001", forecast=60)
    with raises("forecast_required", 422) as exc:
        world.participate(pid, "1001", department="v4")
    assert exc.value.field == "forecast" and "afdeling v4" in exc.value.message
    with raises("forecast_total_exceeded", 422) as exc:
        world.participate(pid, "1001", department="v4", forecast=50)
    assert "110%" in exc.value.message and "h4 60%" in exc.value.message
    v4 = world.participate(pid, "1001", department="v4", forecast=40)
    with raises("participation_exists", 409):
        world.participate(pid, "1001", department="v4", forecast=0)
    with raises("forecast_total_exceeded", 422):       # a third: 60 + 40 + 10
        world.participate(pid, "1001", department="m4", forecast=10)
    world.participate(pid, "1001", department="m4", forecast=0)
    assert students_db.count(participations) == 3

    # PATCH keeps the rule: forecasts over the sum, a forecast cannot go
    with raises("forecast_total_exceeded", 422):      # a mentor too (h4: the portal leads)
        world.p(placements.update_participation, h4["id"], {"forecast": 61}, actor=MENTOR)
    with raises("forecast_required", 422):
        world.p(placements.update_participation, h4["id"], {"forecast": None})
    assert world.p(placements.update_participation, h4["id"], {"forecast": 50},
                   actor=MENTOR)["forecast"] == 50
    assert world.p(placements.update_participation, v4["id"], {"forecast": 30},
                   actor=ADMIN)["forecast"] == 30
    # into a department the student already has: 409; into a free one: fine
    with raises("participation_exists", 409) as exc:
        world.p(placements.update_participation, v4["id"],
                {"department": "h4", "keep_package": True})
    assert exc.value.field == "department"
    world.p(placements.delete_participation, h4["id"])
    moved = world.p(placements.update_participation, v4["id"],
                    {"department": "h4", "keep_package": True})
    assert (moved["department"], moved["forecast"]) == ("h4", 30)
    # a student with one participation needs no forecast
    world.participate(pid, "1002", department="v4")
    assert world.p(placements.update_participation,
                   world.p(placements.list_participations, pid,
                           student_number="1002")["items"][0]["id"],
                   {"forecast": None})["forecast"] is None


def test_lists_by_student_and_the_export_with_two_departments(world):
    for number, bsn in (("1001", BSN), ("999", BSN2)):
        world.h(handlers.create_student, student(number, bsn=bsn))
    this = world.project(THIS_YEAR)
    world.departments(this["id"])
    following = world.project(NEXT_YEAR)
    world.departments(following["id"])
    world.participate(this["id"], "1001", learning_path="H4NT")
    world.participate(following["id"], "1001", department="v4", forecast=40,
                      learning_path="V4NT")
    world.participate(following["id"], "1001", forecast=60, learning_path="H4EM")
    world.participate(following["id"], "999", department="v4")
    listed = world.p(placements.list_student_participations, "1001")
    assert [(p["school_year"], p["department"], p["forecast"]) for p in listed["items"]] == [
        (NEXT_YEAR, "h4", 60), (NEXT_YEAR, "v4", 40), (THIS_YEAR, "h4", None)]
    assert listed["total"] == 3 and listed["items"][0]["project_name"] == f"Rooster {NEXT_YEAR}"
    paged = world.p(placements.list_student_participations, "1001", page=2, page_size=2)
    assert [p["school_year"] for p in paged["items"]] == [THIS_YEAR]
    with raises("not_found", 404):
        world.p(placements.list_student_participations, "4242")
    only = world.p(placements.list_participations, following["id"], student_number="1001")
    assert [(p["department"], p["forecast"]) for p in only["items"]] == [("h4", 60),
                                                                        ("v4", 40)]
    assert world.p(placements.list_participations, following["id"],
                   student_number="12x")["total"] == 0
    assert world.p(placements.placements_csv, following["id"]) == (
        "leerlingnummer;afdeling;leerpad;elementcode\r\n"
        "999;v4;;\r\n"
        "1001;h4;H4EM;E402\r\n"
        "1001;v4;V4NT;E501\r\n")


def test_home_classes_and_groups_per_department(world, students_db):
    world.h(handlers.create_student, student("1001"))
    project = world.project(NEXT_YEAR)
    pid = project["id"]
    world.departments(pid)
    h4 = world.participate(pid, "1001", forecast=60)
    v4 = world.participate(pid, "1001", department="v4", forecast=40)
    groups = {code: world.p(placements.create_group, pid, body) for code, body in (
        ("h4a", {"code": "h4a", "kind": "home_class", "department": "h4"}),
        ("h4b", {"code": "h4b", "kind": "home_class", "department": "h4"}),
        ("v4a", {"code": "v4a", "kind": "home_class", "department": "v4"}),
        ("h4.wi", {"code": "h4.wi", "kind": "cluster", "department": "h4"}),
        ("v4.wi", {"code": "v4.wi", "kind": "cluster", "department": "v4"}),
        ("lo", {"code": "lo", "kind": "cluster"}))}

    def members():
        return {g["code"]: g["student_numbers"]
                for g in world.p(placements.list_groups, pid)["items"]}

    # a home-class group counts the participation in its department
    world.p(placements.set_group_members, groups["h4a"]["id"], ["1001"])
    world.p(placements.set_group_members, groups["v4a"]["id"], ["1001"])
    assert world.p(placements.get_participation, h4["id"])["home_class"] == "h4a"
    assert world.p(placements.get_participation, v4["id"])["home_class"] == "v4a"
    # one home class per department: h4b takes the student out of h4a, not out of v4a
    world.p(placements.set_group_members, groups["h4b"]["id"], ["1001"])
    assert members()["h4a"] == [] and members()["v4a"] == ["1001"]
    assert world.p(placements.get_participation, h4["id"])["home_class"] == "h4b"
    assert world.p(placements.get_participation, v4["id"])["home_class"] == "v4a"
    # setting the home class on the participation moves within its department only
    world.p(placements.update_participation, h4["id"], {"home_class": "h4a"})
    assert members()["h4a"] == ["1001"] and members()["h4b"] == [] \
        and members()["v4a"] == ["1001"]
    # emptying the v4 group clears the v4 home class only
    world.p(placements.set_group_members, groups["v4a"]["id"], [])
    assert world.p(placements.get_participation, v4["id"])["home_class"] is None
    assert world.p(placements.get_participation, h4["id"])["home_class"] == "h4a"
    world.p(placements.set_group_members, groups["v4a"]["id"], ["1001"])
    for code in ("h4.wi", "v4.wi", "lo"):
        world.p(placements.set_group_members, groups[code]["id"], ["1001"])

    # h4 -> m4: only h4's groups go; v4's and the departmentless cluster stay
    world.p(placements.create_department, pid, {"code": "m4", "year_of_education": 4})
    world.p(placements.update_participation, h4["id"], {"department": "m4",
                                                        "keep_package": True})
    assert students_db.events("participation_changed")[-1]["data"]["dropped_groups"] == [
        "h4.wi", "h4a"]
    assert {c for c, m in members().items() if m} == {"v4a", "v4.wi", "lo"}
    # deleting v4 (m4 remains): v4's groups go, the departmentless one stays
    world.p(placements.delete_participation, v4["id"])
    assert {c for c, m in members().items() if m} == {"lo"}
    # the last participation takes everything along (the rule for one participation)
    (m4,) = world.p(placements.list_participations, pid)["items"]
    world.p(placements.delete_participation, m4["id"])
    assert {c for c, m in members().items() if m} == set()


def test_leave_removes_every_participation_of_a_project(world, students_db):
    world.h(handlers.create_student, student("1001"))
    project = world.project(NEXT_YEAR)
    world.departments(project["id"])
    first = world.participate(project["id"], "1001", forecast=60)
    second = world.participate(project["id"], "1001", department="v4", forecast=40)
    group = world.p(placements.create_group, project["id"],
                    {"code": "v4a", "kind": "home_class", "department": "v4"})
    world.p(placements.set_group_members, group["id"], ["1001"])
    result = world.h(handlers.leave_student, "1001", actor=ADMIN)
    assert sorted(result["removed_participations"]) == sorted([first["id"], second["id"]])
    assert students_db.count(participations) == 0 and students_db.count(group_members) == 0


def test_project_state_lists_each_participation_and_each_student_once(world):
    from services.students import state
    world.h(handlers.create_student, student("1001"))
    project = world.project(NEXT_YEAR)
    world.departments(project["id"])
    world.participate(project["id"], "1001", forecast=60)
    world.participate(project["id"], "1001", department="v4", forecast=40)
    with world.sdb.uow() as uow:
        read = state.project_state(uow, world.iid, project["id"])
    assert sorted((p["student_number"], p["department"], p["forecast"])
                  for p in read["participations"]) == [("1001", "h4", 60), ("1001", "v4", 40)]
    assert [p["department"] for p in read["packages"]] == ["h4", "v4"]
    assert [s["student_number"] for s in read["students"]] == ["1001"]


def test_create_students_with_several_participations(world):
    project = world.project(NEXT_YEAR)
    world.departments(project["id"])
    rows = [{"student_number": "2001", "type": "non_transfer", "first_name": "A",
             "last_name": "B", "participations": [{"department": "h4", "forecast": 70},
                                                  {"department": "v4", "forecast": 40}]},
            {"student_number": "2002", "type": "non_transfer", "first_name": "C",
             "last_name": "D", "participations": [{"department": "h4", "forecast": 50},
                                                  {"department": "h4", "forecast": 50}]}]
    with raises("forecast_total_exceeded", 422) as exc:
        world.h(handlers.create_students, rows, project_id=project["id"])
    assert {(e["row"], e["code"], e["field"]) for e in exc.value.errors} == {
        (1, "forecast_total_exceeded", "participations.forecast"),
        (2, "duplicate_department", "participations.department")}
    rows[0]["participations"][0]["forecast"] = 60
    rows[1]["participations"][1]["department"] = "v4"
    world.h(handlers.create_students, rows, project_id=project["id"])
    listed = world.p(placements.list_participations, project["id"])
    assert sorted((p["student_number"], p["department"], p["forecast"])
                  for p in listed["items"]) == [("2001", "h4", 60), ("2001", "v4", 40),
                                                ("2002", "h4", 50), ("2002", "v4", 50)]


def test_migration_0003_keeps_participations_and_allows_several(make_db):
    """A database at 0002 with a participation upgrades in place; then a second
    department is allowed, the same one twice is not; the downgrade refuses
    while a student has two participations in a project."""
    import alembic.command
    from services.common import migrate
    from services.common.db import make_engine
    url = make_db("students")
    config = migrate.alembic_config("students", url)
    alembic.command.downgrade(config, "0002")
    engine = make_engine(url)
    now = dt.datetime(2025, 11, 25, tzinfo=dt.timezone.utc)
    insert = sa.text(
        "INSERT INTO participations (institution_id, project_id, student_id, department_id, "
        "forecast, lwoo, subjects, exemptions, created_at, updated_at) "
        "VALUES (1, 1, 1, :dept, :forecast, false, '[]', '[]', :now, :now)")

    def add(dept, forecast):
        with engine.begin() as conn:
            conn.execute(insert, {"dept": dept, "forecast": forecast, "now": now})

    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO projects (id, institution_id, name, school_year, branch, "
                "created_at) VALUES (1, 1, 'R', '2026-2027', 'H', :now)"), {"now": now})
            for dept_id, code in ((1, "h4"), (2, "v4")):
                conn.execute(sa.text(
                    "INSERT INTO departments (id, project_id, code, home_class_authority, "
                    "learning_paths, created_at) VALUES (:id, 1, :code, 'portal', '[]', :now)"),
                    {"id": dept_id, "code": code, "now": now})
            conn.execute(sa.text(
                "INSERT INTO students (id, institution_id, student_number, type, created_at, "
                "updated_at) VALUES (1, 1, '1001', 'non_transfer', :now, :now)"), {"now": now})
        add(1, 60)
        with pytest.raises(sa.exc.IntegrityError):   # before: one per project
            add(2, 40)
        engine.dispose()
        migrate.upgrade("students", url)
        add(2, 40)
        with pytest.raises(sa.exc.IntegrityError):   # after: one per department
            add(2, 0)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM participations")).scalar() == 2
        engine.dispose()
        with pytest.raises(RuntimeError, match="more than one participation"):
            alembic.command.downgrade(config, "0002")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM participations WHERE department_id = 2"))
        engine.dispose()
        alembic.command.downgrade(config, "0002")
        names = {c["name"] for c in sa.inspect(engine).get_unique_constraints("participations")}
        assert names == {"uq_participations_project_id_student_id"}
    finally:
        engine.dispose()


# --- leaving institution ------------------------------------------------------------------

def _three_years(world, number="1001"):
    ids = {}
    for year in (LAST_YEAR, THIS_YEAR, NEXT_YEAR):
        project = world.project(year)
        world.departments(project["id"])
        ids[year] = world.participate(project["id"], number)["id"]
    return ids


def test_leave_removes_this_and_next_year_and_archives(world, students_db):
    world.h(handlers.create_student, student("1001"))
    ids = _three_years(world)
    project_id = world.p(placements.get_participation, ids[THIS_YEAR])["project_id"]
    group = world.p(placements.create_group, project_id, {"code": "wi", "kind": "cluster"})
    world.p(placements.set_group_members, group["id"], ["1001"])

    result = world.h(handlers.leave_student, "1001", actor=ADMIN)
    assert result == {"student_number": "1001", "archived": True,
                      "removed_participations": [ids[THIS_YEAR], ids[NEXT_YEAR]],
                      "leave_date": handlers.today().isoformat(), "status": "left"}
    remaining = students_db.scalar(sa.select(sa.func.count()).select_from(participations))
    assert remaining == 1   # last year's stays: it is history
    assert world.users.get_user(world.iid, "1001")["archived"] is True
    assert students_db.count(group_members) == 0
    (left,) = students_db.events("student_left")
    assert left["data"]["removed_participations"] == [ids[THIS_YEAR], ids[NEXT_YEAR]]
    assert left["data"]["source"] == "leave"
    assert world.h(handlers.get_student, "1001")["left_at"] is not None
    # again: nothing more to do, no second student_left
    again = world.h(handlers.leave_student, "1001")
    assert again["removed_participations"] == [] and len(students_db.events("student_left")) \
        == 1


def test_leave_on_a_given_date(world):
    world.h(handlers.create_student, student("1001"))
    ids = _three_years(world)
    day = dt.date(int(LAST_YEAR[:4]), 12, 1).isoformat()
    with raises("date_invalid", 422):
        world.h(handlers.leave_student, "1001", date="gisteren")
    result = world.h(handlers.leave_student, "1001", date=day)
    # left in an earlier institution year: no placement from that year on remains
    assert result["removed_participations"] == [ids[LAST_YEAR], ids[THIS_YEAR], ids[NEXT_YEAR]]
    assert (result["leave_date"], result["status"]) == (day, "left")
    shown = world.h(handlers.get_student, "1001")
    assert (shown["leave_date"], shown["status"]) == (day, "left")


def test_a_leave_in_the_future_is_planned_and_carried_out_on_its_day(world, students_db):
    world.h(handlers.create_student, student("1001"))
    world.h(handlers.create_student, student("1002", bsn=BSN2))
    ids = _three_years(world)
    today = handlers.today()
    day = today + dt.timedelta(days=10)
    result = world.h(handlers.leave_student, "1001", date=day.isoformat(), actor=ADMIN)
    assert result == {"student_number": "1001", "archived": False, "removed_participations": [],
                      "leave_date": day.isoformat(), "status": "leaving"}
    shown = world.h(handlers.get_student, "1001")
    assert (shown["status"], shown["left_at"], shown["archived"]) == ("leaving", None, False)
    assert students_db.count(participations) == 3
    (planned,) = students_db.events("student_leave_planned")
    assert planned["data"] == {"student_number": "1001", "user_id": shown["user_id"],
                               "date": day.isoformat()}
    # the list without students who left still shows a planned leave
    listed = world.h(handlers.list_students, left=False)["items"]
    assert [s["student_number"] for s in listed] == ["1001", "1002"]
    # not yet due
    with students_db.uow() as uow:
        assert handlers.carry_out_planned_leaves(uow, world.users, as_of=today) == []
    # its day has come
    with students_db.uow() as uow:
        assert handlers.carry_out_planned_leaves(uow, world.users, as_of=day) == ["1001"]
    shown = world.h(handlers.get_student, "1001")
    assert (shown["status"], shown["leave_date"]) == ("left", day.isoformat())
    assert world.users.get_user(world.iid, "1001")["archived"] is True
    with students_db.session_factory() as session:
        left = list(session.execute(sa.select(participations.c.id)).scalars())
    assert left == [ids[LAST_YEAR]]
    (event,) = students_db.events("student_left")
    assert (event["data"]["source"], event["data"]["date"]) == ("planned", day.isoformat())
    with students_db.uow() as uow:   # nothing left to do
        assert handlers.carry_out_planned_leaves(uow, world.users, as_of=day) == []
    assert [s["student_number"] for s in world.h(handlers.list_students, left=False)["items"]] \
        == ["1002"]
    assert [s["student_number"] for s in world.h(handlers.list_students, left=True)["items"]] \
        == ["1001"]


def test_a_planned_leave_moves_and_is_withdrawn(world, students_db):
    world.h(handlers.create_student, student("1001"))
    today = handlers.today()
    first, second = today + dt.timedelta(days=3), today + dt.timedelta(days=30)
    world.h(handlers.leave_student, "1001", date=first.isoformat())
    assert world.h(handlers.leave_student, "1001", date=second.isoformat())["leave_date"] \
        == second.isoformat()
    assert len(students_db.events("student_leave_planned")) == 2
    withdrawn = world.h(handlers.cancel_leave, "1001")
    assert (withdrawn["status"], withdrawn["leave_date"]) == ("active", None)
    assert students_db.events("student_leave_cancelled")[0]["data"]["student_number"] == "1001"
    with students_db.uow() as uow:
        assert handlers.carry_out_planned_leaves(uow, world.users, as_of=second) == []
    world.h(handlers.leave_student, "1001")
    with raises("student_already_left", 409):
        world.h(handlers.cancel_leave, "1001")
    with raises("leave_date_too_late", 422):
        world.h(handlers.leave_student, "1001", date=(today + dt.timedelta(days=400)).isoformat())


def _archived_event(world, code, user_type="student", event_id="e-1", occurred=None):
    return {"event_id": event_id, "type": "user_archived", "version": 1,
            "occurred_at": occurred or dt.datetime.now(dt.timezone.utc).isoformat(),
            "institution_id": world.iid, "data": {"user_id": 1, "code": code,
                                                  "type": user_type}}


def test_user_archived_event_does_what_leave_does(world, students_db):
    world.h(handlers.create_student, student("1001"))
    ids = _three_years(world)
    world.users.archive_user(world.iid, "1001")
    event = _archived_event(world, "1001")
    with students_db.uow() as uow:
        assert handlers.on_user_archived(uow, event) == "applied"
    with students_db.uow() as uow:
        assert handlers.on_user_archived(uow, event) == "duplicate"
    with students_db.session_factory() as session:
        left = list(session.execute(sa.select(participations.c.id)).scalars())
    assert left == [ids[LAST_YEAR]]
    (evt,) = students_db.events("student_left")
    assert evt["data"]["source"] == "user_archived"
    assert students_db.count(processed_events) == 1
    # another event id for the same archive (e.g. archived twice) changes nothing more
    with students_db.uow() as uow:
        assert handlers.on_user_archived(uow, _archived_event(world, "1001",
                                                              event_id="e-2")) == "applied"
    assert len(students_db.events("student_left")) == 1


def test_user_archived_event_skips_non_students_and_garbage(world, students_db):
    world.h(handlers.create_student, student("1001"))
    _three_years(world)
    for event in (_archived_event(world, "1001", user_type="employee"),
                  _archived_event(world, "4242", event_id="e-2")):
        with students_db.uow() as uow:
            assert handlers.on_user_archived(uow, event) == "ignored"
    hostile = _archived_event(world, "1001", event_id="e-3")
    for bad in ({"type": "user_archived", "data": "nonsense"},
                dict(hostile, occurred_at="9999-12-31T23:59:59-14:00"),
                dict(hostile, institution_id=10 ** 30),
                dict(hostile, institution_id="1"),
                dict(hostile, type="user_unarchived")):
        with students_db.uow() as uow, pytest.raises(PermanentEventError):
            handlers.on_user_archived(uow, bad)
    assert students_db.count(participations) == 3


def test_leave_then_event_and_unarchive(world, students_db):
    world.h(handlers.create_student, student("1001"))
    _three_years(world)
    world.h(handlers.leave_student, "1001")
    with students_db.uow() as uow:
        assert handlers.on_user_archived(uow, _archived_event(world, "1001")) == "applied"
    assert len(students_db.events("student_left")) == 1
    unarchived = dict(_archived_event(world, "1001", event_id="e-3"), type="user_unarchived")
    with students_db.uow() as uow:
        assert handlers.on_user_unarchived(uow, unarchived) == "applied"
    assert world.h(handlers.get_student, "1001")["left_at"] is None


# --- batches ---------------------------------------------------------------------------

def bsns(count, start=20000000):
    """`count` valid BSNs."""
    found, number = [], start
    while len(found) < count:
        head = f"{number:08d}"
        check = sum(int(d) * w for d, w in zip(head, range(9, 1, -1))) % 11
        if check < 10:
            found.append(head + str(check))
        number += 1
    return found


def batch_rows(count, start=300000, with_participation=True):
    numbers = bsns(count)
    rows = []
    for i in range(count):
        row = {"student_number": str(start + i), "type": "potential_transfer",
               "bsn": numbers[i], "initials": "L.", "first_name": "Leerling",
               "last_name": f"Nummer {i}", "email": f"l{i}@institution.nl", "year_of_education": 4}
        if with_participation:
            row["participation"] = {"department": "h4", "forecast": 80,
                                    "learning_path": "H4NT", "home_class": "h4a"}
        rows.append(row)
    return rows


def test_batch_of_2000_with_one_bad_row_writes_nothing(world, students_db, users_db):
    project = world.project()
    world.departments(project["id"])
    rows = batch_rows(2000)
    rows[1499] = dict(rows[1499], bsn="123456789")
    rows[1799] = dict(rows[1799], participation={"department": "h4", "forecast": 120})
    with raises("bsn_invalid", 422) as exc:
        world.h(handlers.create_students, rows, project_id=project["id"])
    assert [(e["row"], e["field"], e["code"]) for e in exc.value.errors] == [
        (1500, "bsn", "bsn_invalid"), (1800, "participation.forecast", "forecast_invalid")]
    assert students_db.count(students) == 0 and users_db.count(users_table) == 0
    assert students_db.events() == [] and "create_users" not in world.users.calls


def test_batch_reports_duplicates_and_existing_students(world, students_db, users_db):
    world.h(handlers.create_student, student("300001", bsn=bsns(3)[2]))
    rows = batch_rows(4, with_participation=False)
    rows[3] = dict(rows[3], student_number="300000", bsn=BSN2)
    with raises("student_exists", 409) as exc:
        world.h(handlers.create_students, rows)
    assert [(e["row"], e["code"]) for e in exc.value.errors] == [
        (2, "student_exists"), (3, "bsn_exists"), (4, "student_exists")]
    rows = batch_rows(2, with_participation=True)
    with raises("project_required", 422):
        world.h(handlers.create_students, rows)
    assert users_db.count(users_table) == 1


def test_batch_creates_students_participations_and_chunked_events(world, students_db,
                                                                  users_db):
    project = world.project()
    world.departments(project["id"])
    rows = batch_rows(1200)
    rows[5].pop("participation")
    result = world.h(handlers.create_students, rows, project_id=project["id"], actor=ADMIN)
    assert result["created"] == 1200
    assert result["student_numbers"] == [r["student_number"] for r in rows]
    assert students_db.count(students) == 1200 and students_db.count(participations) == 1199
    assert students_db.count(bsn_audit) == 1200
    batches = students_db.events("students_registered_batch")
    assert [b["data"]["count"] for b in batches] == [500, 500, 200]
    assert batches[0]["data"]["students"][0]["student_number"] == "300000"
    parts = students_db.events("participations_created_batch")
    assert [b["data"]["count"] for b in parts] == [500, 500, 199]
    assert parts[0]["data"]["project_id"] == project["id"]
    assert students_db.events("student_registered") == []
    assert [e["data"]["count"] for e in users_db.events("users_created_batch")] == [500, 500,
                                                                                    200]
    assert users_db.events("user_created") == []
    view = world.h(handlers.get_student, "300007")
    assert view["last_name"] == "Nummer 7" and view["bsn"].startswith("*****")
    assert not any(r["bsn"] in body for body in students_db.bodies() + users_db.bodies()
                   for r in rows[:50])


def test_batch_compensates_when_the_inserts_fail(world, students_db, users_db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(handlers.create_many, "_bulk_insert", broken)
    with pytest.raises(RuntimeError):
        world.h(handlers.create_students, batch_rows(600, with_participation=False))
    assert users_db.count(users_table) == 0 and students_db.count(students) == 0
    assert [e["data"]["count"] for e in users_db.events("users_discarded_batch")] == [500, 100]


def test_no_bsn_in_any_event(world, students_db, users_db):
    world.h(handlers.create_student, student("1001", onderwijsnummer=ONDERWIJSNUMMER))
    world.h(handlers.update_student, "1001", {"bsn": BSN2})
    _three_years(world)
    world.h(handlers.leave_student, "1001")
    bodies = students_db.bodies() + users_db.bodies()
    assert len(bodies) > 5
    for secret in (BSN, BSN2, ONDERWIJSNUMMER):
        assert not any(secret in body for body in bodies)


def test_bsn_by_student_numbers_for_the_uploads_service(world, other_institution):
    world.h(handlers.create_student, student("1001"))
    world.h(handlers.create_student, student("1002", type="non_transfer", bsn=None))
    with world.sdb.uow() as uow:
        assert handlers.bsn_by_student_numbers(uow, world.iid, ["1001", "1002", "9", "x"]) \
            == {"1001": BSN, "1002": None}
        assert handlers.bsn_by_student_numbers(uow, other_institution["id"], ["1001"]) == {}
        assert handlers.bsn_by_student_numbers(uow, world.iid, "1001") == {}


def test_a_users_timeout_discards_what_may_have_been_created(world, users_db, students_db):
    """ServiceRpc answers 503 service_unavailable when users does not reply in
    time; the account may exist all the same (the reply was late), so it is
    discarded before the 503 goes back."""
    from services.common.rpc import unavailable

    class LateUsers:
        def __getattr__(self, name):
            fn = getattr(world.users, name)
            if name not in ("create_user", "create_users"):
                return fn

            def late(*args, **kwargs):
                fn(*args, **kwargs)
                raise unavailable("users")
            return late

    with students_db.uow() as uow, raises("service_unavailable", 503):
        handlers.create_student(uow, LateUsers(), world.iid, student("1001"))
    with students_db.uow() as uow, raises("service_unavailable", 503):
        handlers.create_students(uow, LateUsers(), world.iid,
                                 batch_rows(3, with_participation=False))
    assert users_db.count(users_table) == 0 and students_db.count(students) == 0


def test_a_leave_whose_account_cannot_be_archived_now_is_archived_later(world, students_db):
    """The users service does not answer: the leaving is done and said so
    (archived false); the next run of the timer archives the account."""
    world.h(handlers.create_student, student("1001"))
    ids = _three_years(world)
    real = world.users

    class UsersDown:
        def __getattr__(self, name):
            if name == "archive_user":
                def down(*args, **kwargs):
                    raise DomainError("service_unavailable", "niet bereikbaar", status=503)
                return down
            return getattr(real, name)

    with students_db.uow() as uow:
        result = handlers.leave_student(uow, UsersDown(), world.iid, "1001")
    assert (result["status"], result["archived"]) == ("left", False)
    assert len(result["removed_participations"]) == 2 and ids
    assert real.get_user(world.iid, "1001")["archived"] is False
    assert students_db.scalar(sa.select(students.c.archive_pending)) is True
    with students_db.uow() as uow:
        assert handlers.carry_out_planned_leaves(uow, UsersDown()) == []
    assert students_db.scalar(sa.select(students.c.archive_pending)) is True
    with students_db.uow() as uow:
        assert handlers.carry_out_planned_leaves(uow, real) == []
    assert real.get_user(world.iid, "1001")["archived"] is True
    assert students_db.scalar(sa.select(students.c.archive_pending)) is False
    assert len(students_db.events("student_left")) == 1
