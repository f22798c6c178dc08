"""Expected refusals are not errors in the logs: a 4xx answered by a service
is one line without a traceback, from the first request of a fresh system on
(the services and the gateway run in-process here, so their log is
captured)."""
import logging

from tests.helpers import API, make_admin, make_institution, problem


def test_refusals_log_one_line_each_and_no_traceback(system, caplog):
    caplog.set_level(logging.INFO)
    school = make_institution(system)
    admin = make_admin(system, school)
    problem(system.post(f"{API}/students", token=admin, json={
        "student_number": "1001", "type": "potential_transfer", "bsn": "123456789",
        "initials": "S.", "first_name": "Sanne", "last_name": "Jong"}), 422, "bsn_invalid")
    problem(system.get(f"{API}/students/424242", token=admin), 404, "not_found")
    problem(system.post(f"{API}/users", token=admin, json={
        "code": "x1", "first_name": "A", "last_name": "B", "postcode": "2235 SD"}),
        422, "postcode_invalid")
    records = list(caplog.records)
    with_traceback = [r for r in records if r.exc_info or r.exc_text]
    assert with_traceback == [], [r.getMessage() for r in with_traceback]
    noisy = [f"{r.name}: {r.getMessage()}" for r in records if r.levelno >= logging.WARNING]
    assert noisy == []
    refusals = [r.getMessage() for r in records if " answered 4" in r.getMessage()]
    assert refusals == ["students.create_student answered 422 bsn_invalid",
                        "students.get_student answered 404 not_found",
                        "users.create_user answered 422 postcode_invalid"]
    assert all(r.levelno == logging.INFO for r in records if " answered 4" in r.getMessage())
    assert not any("123456789" in r.getMessage() for r in records)
