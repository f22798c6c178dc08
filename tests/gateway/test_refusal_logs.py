"""Expected refusals are not errors in the logs: a 4xx answered by a service
is one line without a traceback, from the first request of a fresh system on
(the services and the gateway run in-process here, so their log is
captured)."""
import logging

import pytest

from gateway.bus import ServiceUnavailable
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


def test_a_call_to_a_service_not_running_is_a_503_without_channel_warnings(system, caplog):
    """As at a first start, while the services come up: the broker returns the
    request (mandatory) and then acknowledges it; the gateway answers 503 and
    the late acknowledgement is not logged as a channel warning."""
    caplog.set_level(logging.INFO)
    for _ in range(3):
        with pytest.raises(ServiceUnavailable):
            system.app.bus.call("notrunning", "health", timeout=3)
    r = system.get("/health")
    assert r.status_code == 200, r.text
    noisy = [f"{r.name}: {r.getMessage()}" for r in caplog.records
             if r.levelno >= logging.WARNING]
    assert noisy == []
