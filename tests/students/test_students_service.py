"""StudentsService and UsersService as real nameko containers on a fresh
RabbitMQ vhost: every rule over RPC, the two ways of leaving institution, the
durable event handler, and the events as a program without nameko sees them
(a plain kombu consumer)."""
import json
import socket
import time

import pytest
from kombu import Connection, Queue
from nameko.cli.run import import_service
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from services.common.errors import DomainError
from services.common.outbox import events_exchange
from services.students import handlers, rules
from services.students.service import StudentsService
from services.users.service import UsersService
from tests.helpers import wait_until

BSN = "100000009"
BSN2 = "100000010"
BSN_8 = "10000008"
ONDERWIJSNUMMER = "100000004"
ADMIN = {"user_id": 1, "code": "beheer", "roles": ["admin"]}
MENTOR = {"user_id": 2, "code": "mentor", "roles": ["mentor"]}
THIS_YEAR = rules.school_year_of(handlers.today())
NEXT_YEAR = rules.next_school_year(THIS_YEAR)
LAST_YEAR = f"{int(THIS_YEAR[:4]) - 1}-{THIS_YEAR[:4]}"

ALL_TYPES = {"student_registered", "student_updated", "participation_created",
             "participation_changed", "participation_removed", "home_class_changed",
             "package_changed", "group_members_changed", "student_left",
             "students_registered_batch", "participations_created_batch"}


def student(number, **kw):
    data = {"student_number": number, "type": "potential_transfer", "bsn": BSN,
            "initials": "S.", "first_name": "Sanne", "last_name": f"Jong {number}",
            "email": f"l{number}@institution.nl"}
    data.update(kw)
    return data


class System:
    def __init__(self, students_rpc, users_rpc, config, containers):
        self.students, self.users, self.config = students_rpc, users_rpc, config
        self.containers = containers


@pytest.fixture
def rpc_system(container_factory, service_config):
    users_container = container_factory(UsersService, service_config)
    students_container = container_factory(StudentsService, service_config)
    users_container.start()
    students_container.start()
    with ServiceRpcProxy("students", service_config, timeout=60) as students_rpc, \
            ServiceRpcProxy("users", service_config, timeout=60) as users_rpc:
        yield System(students_rpc, users_rpc, service_config,
                     {"users": users_container, "students": students_container})


@pytest.fixture
def institution(rpc_system):
    return rpc_system.users.create_institution({"name": "Het Lyceum", "brin": "05KQ01",
                                            "school_type": "vo"})


def error_of(call, *args, **kwargs):
    with pytest.raises(DomainError) as exc:
        call(*args, **kwargs)
    return exc.value


def placed(rpc_system, iid, year=THIS_YEAR):
    project = rpc_system.students.create_project(iid, {"name": f"Rooster {year}",
                                                   "school_year": year, "branch": "Hoofd"})
    rpc_system.students.create_department(iid, project["id"], {
        "code": "h4", "year_of_education": 4, "education": "havo",
        "home_class_authority": "portal",
        "learning_paths": [{"code": "H4NT", "name": "havo 4 NT", "element_code": "E401"}]})
    rpc_system.students.create_department(iid, project["id"], {
        "code": "v4", "year_of_education": 4, "education": "vwo",
        "home_class_authority": "desktop", "learning_paths": []})
    return project


def test_module_holds_exactly_one_service():
    assert import_service("services.students.service") == [StudentsService]


def test_health(rpc_system):
    assert rpc_system.students.health() == {"service": "students", "status": "ok"}


def test_student_rules_over_rpc(rpc_system, institution):
    iid = institution["id"]
    rpc = rpc_system.students
    err = error_of(rpc.create_student, iid, student("1001", bsn="123456789"), ADMIN)
    assert (err.code, err.status, err.field) == ("bsn_invalid", 422, "bsn")
    err = error_of(rpc.create_student, iid, student("1001", bsn=None), ADMIN)
    assert (err.code, err.status, err.field) == ("bsn_required", 422, "bsn")
    assert err.message.startswith("Een potentiële overstapper heeft een BSN nodig")
    err = error_of(rpc.create_student, iid, student("10a1"), ADMIN)
    assert (err.code, err.status) == ("student_number_not_digits", 422)

    created = rpc.create_student(iid, student("1001", bsn=BSN_8), ADMIN)
    assert created["bsn"] == "*****0008" and created["last_name"] == "Jong 1001"
    shown = rpc.get_student(iid, "1001", reveal_bsn=True, actor=ADMIN)
    assert shown["bsn"] == "010000008"                      # stored padded, 9 digits
    assert rpc.get_student(iid, "1001")["bsn"] == "*****0008"
    err = error_of(rpc.get_student, iid, "1001", reveal_bsn=True, actor=MENTOR)
    assert (err.code, err.status) == ("forbidden", 403)
    assert [a["action"] for a in rpc.bsn_audit(iid, "1001")["items"]] == ["reveal", "create"]

    err = error_of(rpc.create_student, iid, student("1002", bsn="010000008"), ADMIN)
    assert (err.code, err.status, err.field) == ("bsn_exists", 409, "bsn")
    err = error_of(rpc.create_student, iid, student("1001", bsn=BSN2), ADMIN)
    assert (err.code, err.status) == ("student_exists", 409)
    assert rpc_system.users.get_users(iid, ["1002"]) == []

    other = rpc_system.users.create_institution({"name": "Ander", "brin": "06AB",
                                             "school_type": "vo"})
    err = error_of(rpc.get_student, other["id"], "1001")
    assert (err.code, err.status) == ("not_found", 404)
    err = error_of(rpc.update_student, other["id"], "1001", {"track": "x"}, ADMIN)
    assert err.status == 404
    project = placed(rpc_system, iid)
    err = error_of(rpc.get_project, other["id"], project["id"])
    assert (err.code, err.status) == ("not_found", 404)
    assert rpc.list_students(other["id"])["total"] == 0

    updated = rpc.update_student(iid, "1001", {"city": "Delft", "year_of_education": 4},
                                 ADMIN)
    assert (updated["city"], updated["year_of_education"]) == ("Delft", 4)
    found = rpc.list_students(iid, q="010000008")
    assert [s["student_number"] for s in found["items"]] == ["1001"]
    assert found["items"][0]["bsn"] == "*****0008"


def test_create_is_atomic_when_the_second_step_fails(rpc_system, institution, monkeypatch):
    def broken(uow, values):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(handlers.create_one, "_insert_student", broken)
    with pytest.raises(RemoteError):
        rpc_system.students.create_student(institution["id"], student("1001"), ADMIN)
    assert rpc_system.users.get_users(institution["id"], ["1001"]) == []
    err = error_of(rpc_system.students.get_student, institution["id"], "1001")
    assert err.code == "not_found"
    monkeypatch.undo()
    assert rpc_system.students.create_student(institution["id"], student("1001"), ADMIN)["user_id"]


def test_placement_rules_over_rpc(rpc_system, institution):
    iid, rpc = institution["id"], rpc_system.students
    rpc.create_student(iid, student("1001"), ADMIN)
    rpc.create_student(iid, student("1002", bsn=BSN2), ADMIN)
    project = placed(rpc_system, iid)
    pid = project["id"]
    part = rpc.create_participation(iid, pid, {"student_number": "1001", "department": "h4",
                                               "learning_path": "H4NT", "forecast": 90})
    err = error_of(rpc.create_participation, iid, pid, {"student_number": "1001",
                                                        "department": "h4"})
    assert (err.code, err.status, err.field) == ("participation_exists", 409, "department")
    assert "afdeling h4" in err.message
    # a second department needs a forecast on both participations
    err = error_of(rpc.create_participation, iid, pid, {"student_number": "1001",
                                                        "department": "v4"})
    assert (err.code, err.status, err.field) == ("forecast_required", 422, "forecast")
    assert "afdeling v4" in err.message
    err = error_of(rpc.create_participation, iid, pid, {"student_number": "1002",
                                                        "department": "h4", "forecast": 150})
    assert (err.code, err.status) == ("forecast_invalid", 422)
    v4 = rpc.create_participation(iid, pid, {"student_number": "1002", "department": "v4"})

    # mentor: forecast and home class; a home class only where the portal leads
    assert rpc.update_participation(iid, part["id"], {"home_class": "h4b"},
                                    MENTOR)["home_class"] == "h4b"
    err = error_of(rpc.update_participation, iid, v4["id"], {"home_class": "v4a"}, MENTOR)
    assert (err.code, err.status) == ("home_class_desktop_led", 409)
    assert "desktop" in err.message and "v4" in err.message

    # a department change asks keep_package and drops the group memberships
    cluster = rpc.create_group(iid, pid, {"code": "h4.wi1", "kind": "cluster",
                                          "department": "h4", "subject": "wi"})
    home = rpc.create_group(iid, pid, {"code": "h4b", "kind": "home_class",
                                       "department": "h4"})
    assert rpc.set_group_members(iid, cluster["id"], ["1001"])["student_numbers"] == ["1001"]
    rpc.set_group_members(iid, home["id"], ["1001"])
    rpc.set_package(iid, part["id"], ["ne", "wi"], ["lo"])
    err = error_of(rpc.update_participation, iid, part["id"], {"department": "v4"}, ADMIN)
    assert (err.code, err.status, err.field) == ("keep_package_required", 422, "keep_package")
    moved = rpc.update_participation(iid, part["id"], {"department": "v4",
                                                       "keep_package": False}, ADMIN)
    assert moved["department"] == "v4" and moved["learning_path"] is None
    assert rpc.get_package(iid, part["id"])["subjects"] == []
    assert [g["student_numbers"] for g in rpc.list_groups(iid, pid)["items"]] == [[], []]
    rpc.set_package(iid, part["id"], ["ne"], [])
    kept = rpc.update_participation(iid, part["id"], {"department": "h4",
                                                      "keep_package": True}, ADMIN)
    assert kept["department"] == "h4" and rpc.get_package(iid, part["id"])["subjects"] == ["ne"]

    csv_text = rpc.placements_csv(iid, pid)
    assert csv_text.splitlines() == ["leerlingnummer;afdeling;leerpad;elementcode",
                                     "1001;h4;;", "1002;v4;;"]
    assert rpc.delete_participation(iid, v4["id"], ADMIN)["deleted"] is True
    assert rpc.list_participations(iid, pid)["total"] == 1


def test_create_participations_applies_each_students_rows_together(rpc_system, institution):
    iid, rpc = institution["id"], rpc_system.students
    for number, bsn in (("1001", BSN), ("1002", BSN2), ("1003", BSN_8)):
        rpc.create_student(iid, student(number, bsn=bsn), ADMIN)
    rpc.create_student(iid, student("1004", type="non_transfer", bsn=None), ADMIN)
    pid = placed(rpc_system, iid, NEXT_YEAR)["id"]
    rpc.create_participation(iid, pid, {"student_number": "1003", "department": "v4"})
    result = rpc.create_participations(iid, pid, [
        {"student_number": "1001", "department": "h4", "forecast": 60},   # 1
        {"student_number": "1002", "department": "h4", "forecast": 70},   # 2
        {"student_number": "1003", "department": "h4", "forecast": 50},   # 3
        {"student_number": "1001", "department": "v4", "forecast": 40},   # 4
        {"student_number": "1002", "department": "v4", "forecast": 50},   # 5
        {"student_number": "1004", "department": "h4", "forecast": 50},   # 6
        {"student_number": "1004", "department": "x9", "forecast": 50},   # 7
    ])
    assert sorted((p["student_number"], p["department"], p["forecast"])
                  for p in result["created"]) == [("1001", "h4", 60), ("1001", "v4", 40)]
    # 1003 is placed already: left alone (the import rule)
    assert [(s["row"], s["code"]) for s in result["skipped"]] == [(3, "participation_exists")]
    failed = {f["row"]: f for f in result["failed"]}
    assert {r: f["code"] for r, f in failed.items()} == {
        2: "forecast_total_exceeded", 5: "forecast_total_exceeded",
        6: "other_row_invalid", 7: "department_unknown"}
    assert "120%" in failed[2]["message"] and failed[6]["student_number"] == "1004"
    placed_now = {(p["student_number"], p["department"])
                  for p in rpc.list_participations(iid, pid)["items"]}
    assert placed_now == {("1001", "h4"), ("1001", "v4"), ("1003", "v4")}
    # the preview's check, without writing anything
    check = rpc.check_new_participations(iid, pid, [
        {"row": 10, "student_number": "1002", "department": "h4", "forecast": 70},
        {"row": 11, "student_number": "1002", "department": "v4", "forecast": None},
        {"row": 12, "student_number": "1004", "department": "h4", "forecast": None},
        {"row": 13, "student_number": "1005", "department": "v4", "home_class": "v4a"}])
    assert [(e["row"], e["code"]) for e in check["errors"]] == [
        (11, "forecast_required"), (13, "home_class_desktop_led")]
    assert check["errors"][1]["field"] == "home_class" and "v4" in check["errors"][1]["message"]
    assert rpc.list_participations(iid, pid)["total"] == 3


def _three_years(rpc_system, iid, numbers):
    projects = {}
    for year in (LAST_YEAR, THIS_YEAR, NEXT_YEAR):
        projects[year] = placed(rpc_system, iid, year)
        for number in numbers:
            rpc_system.students.create_participation(
                iid, projects[year]["id"], {"student_number": number, "department": "h4"})
    return projects


def _numbers_in(rpc_system, iid, project):
    return {p["student_number"]
            for p in rpc_system.students.list_participations(iid, project["id"])["items"]}


def test_leaving_via_rpc_and_via_archive_agree(rpc_system, institution):
    iid, rpc = institution["id"], rpc_system.students
    rpc.create_student(iid, student("1001"), ADMIN)
    rpc.create_student(iid, student("1002", bsn=BSN2), ADMIN)
    projects = _three_years(rpc_system, iid, ["1001", "1002"])

    result = rpc.leave_student(iid, "1001", actor=ADMIN)
    assert result["student_number"] == "1001" and result["archived"] is True
    assert len(result["removed_participations"]) == 2

    rpc_system.users.archive_user(iid, "1002")         # archived directly: the event does it
    wait_until(lambda: "1002" not in _numbers_in(rpc_system, iid, projects[THIS_YEAR]), 15)
    wait_until(lambda: "1002" not in _numbers_in(rpc_system, iid, projects[NEXT_YEAR]), 15)

    for number in ("1001", "1002"):
        assert rpc_system.users.get_user(iid, number)["archived"] is True
        view = rpc.get_student(iid, number)
        assert view["archived"] is True and view["left_at"] is not None
    for year in (THIS_YEAR, NEXT_YEAR):
        assert _numbers_in(rpc_system, iid, projects[year]) == set()
    assert _numbers_in(rpc_system, iid, projects[LAST_YEAR]) == {"1001", "1002"}


def test_event_handler_queue_is_durable_and_failures_are_retried(
        rpc_system, institution, container_factory, service_config, rabbit_manager, monkeypatch):
    iid, rpc = institution["id"], rpc_system.students
    rpc.create_student(iid, student("1001"), ADMIN)
    rpc.create_student(iid, student("1002", bsn=BSN2), ADMIN)
    projects = _three_years(rpc_system, iid, ["1001", "1002"])
    queue = rabbit_manager.get_queue(service_config["vhost"],
                                     "evt-users-user_archived--students.on_user_archived")
    assert queue["durable"] is True and queue["auto_delete"] is False

    # the first attempt fails: the message is requeued and handled again
    real, attempts = handlers.user_events._leave, []

    def flaky(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database restarting")
        return real(*args, **kwargs)

    monkeypatch.setattr(handlers.user_events, "_leave", flaky)
    rpc_system.users.archive_user(iid, "1001")
    wait_until(lambda: "1001" not in _numbers_in(rpc_system, iid, projects[THIS_YEAR]), 15)
    assert len(attempts) == 2
    monkeypatch.undo()

    # an event published while no students instance runs waits in the queue
    rpc_system.containers["students"].stop()
    rpc_system.users.archive_user(iid, "1002")
    time.sleep(0.5)
    container_factory(StudentsService, service_config).start()
    wait_until(lambda: "1002" not in _numbers_in(rpc_system, iid, projects[NEXT_YEAR]), 15)


def test_batch_of_2000_with_one_bad_row_writes_nothing(rpc_system, institution):
    iid, rpc = institution["id"], rpc_system.students
    project = placed(rpc_system, iid)
    rows = []
    for i in range(2000):
        rows.append({"student_number": str(500000 + i), "type": "non_transfer",
                     "first_name": "Leerling", "last_name": f"Nummer {i}",
                     "participation": {"department": "h4", "forecast": 75}})
    bad = dict(rows[1499], type="potential_transfer")          # no BSN, no onderwijsnummer
    err = error_of(rpc.create_students, iid, rows[:1499] + [bad] + rows[1500:],
                   project_id=project["id"])
    assert (err.code, err.status) == ("bsn_required", 422)
    assert [(e["row"], e["field"]) for e in err.errors] == [(1500, "bsn")]
    assert rpc.list_students(iid)["total"] == 0
    assert rpc_system.users.list_users(iid)["total"] == 0

    result = rpc.create_students(iid, rows, project_id=project["id"])
    assert result["created"] == 2000 and result["student_numbers"][1499] == "501499"
    assert rpc.list_students(iid)["total"] == 2000
    assert rpc.list_participations(iid, project["id"])["total"] == 2000
    assert rpc_system.users.list_users(iid, filter="students")["total"] == 2000


def drain(conn, received, until, timeout=15):
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        try:
            conn.drain_events(timeout=1)
        except socket.timeout:
            pass


def test_a_plain_kombu_consumer_reads_every_event_without_a_bsn(rpc_system, institution):
    """What a program without nameko does: declare its own durable queue,
    bind it to the topic exchange `students.events` with routing keys, read
    JSON envelopes."""
    iid, rpc = institution["id"], rpc_system.students
    received = []

    def on_message(body, message):
        received.append((message.delivery_info["exchange"],
                         message.delivery_info["routing_key"], message.body))
        message.ack()

    with Connection(rpc_system.config["AMQP_URI"]) as conn:
        queues = [Queue("other-institution-rpc_system.students", exchange=events_exchange("students"),
                        routing_key="#", durable=True, auto_delete=False),
                  Queue("other-institution-rpc_system.users", exchange=events_exchange("users"),
                        routing_key="#", durable=True, auto_delete=False)]
        with conn.Consumer(queues, callbacks=[on_message], accept=["json"]):
            rpc.create_student(iid, student("1001", onderwijsnummer=ONDERWIJSNUMMER), ADMIN)
            rpc.update_student(iid, "1001", {"bsn": BSN2, "home_class": "h4a"}, ADMIN)
            projects = _three_years(rpc_system, iid, [])
            pid = projects[THIS_YEAR]["id"]
            part = rpc.create_participation(iid, pid, {"student_number": "1001",
                                                       "department": "h4"})
            rpc.update_participation(iid, part["id"], {"forecast": 80, "home_class": "h4a"},
                                     ADMIN)
            rpc.set_package(iid, part["id"], ["ne", "wi"], [])
            group = rpc.create_group(iid, pid, {"code": "wi1", "kind": "cluster"})
            rpc.set_group_members(iid, group["id"], ["1001"])
            rpc.create_students(iid, [{"student_number": "2001", "type": "potential_transfer",
                                       "bsn": BSN, "first_name": "B", "last_name": "C",
                                       "participation": {"department": "h4"}}],
                                project_id=pid)
            rpc.leave_student(iid, "1001", actor=ADMIN)

            def seen():
                return {key for exchange, key, _b in received if exchange == "students.events"}

            drain(conn, received, lambda: ALL_TYPES <= seen())
            drain(conn, received, lambda: False, timeout=1)   # stragglers
        for queue in queues:
            queue(conn.default_channel).delete()

    assert ALL_TYPES <= {key for ex, key, _b in received if ex == "students.events"}
    users_keys = {key for ex, key, _b in received if ex == "users.events"}
    assert {"user_created", "user_archived", "users_created_batch"} <= users_keys
    for exchange, key, body in received:
        text = body.decode() if isinstance(body, bytes) else body
        envelope = json.loads(text)
        assert envelope["type"] == key and envelope["institution_id"] == iid
        assert set(envelope) == {"event_id", "type", "version", "occurred_at",
                                 "institution_id", "data"}
        for secret in (BSN, BSN2, ONDERWIJSNUMMER):
            assert secret not in text, (exchange, key)
