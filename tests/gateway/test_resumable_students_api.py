"""POST /students is resumable: a repeat of the same request (the caller's
Idempotency-Key, or the RPC message the gateway sent, redelivered) answers as
the first one did, and completes a create that crashed between the users
commit and the students commit; another request for that number stays a 409.

All five services on a real RabbitMQ vhost (tests/conftest.py `system`). The
crash is made deterministic in the students service (same process): the
record insert fails once and the compensation does not run (a killed process
runs none).
"""
import json
import uuid

import pytest
import sqlalchemy as sa
from kombu import Connection, Consumer, Exchange, Queue

from services.common.db import make_engine
from services.students import handlers as students_handlers
from tests.helpers import make_admin, make_institution, problem

pytestmark = pytest.mark.pg  # whole system, also on PostgreSQL

API = "/api/v1"


@pytest.fixture
def school(system):
    inst = make_institution(system)
    return inst, make_admin(system, inst)


def student(number, **extra):
    data = {"student_number": number, "type": "potential_transfer", "initials": "D.",
            "first_name": "Daan", "last_name": "Berg", "email": f"l{number}@school.nl",
            "bsn": "020355889"}
    data.update(extra)
    return data


def accounts(config, code):
    engine = make_engine(config["USERS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM users WHERE code = :c"),
                                {"c": code}).scalar()
    finally:
        engine.dispose()


def records(config, number):
    engine = make_engine(config["STUDENTS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM students "
                                        "WHERE student_number = :n"), {"n": number}).scalar()
    finally:
        engine.dispose()


def test_a_crashed_create_resumes_with_its_idempotency_key(system, school, monkeypatch):
    _inst, admin = school

    def crash(uow, values):
        raise RuntimeError("the students service died here")

    monkeypatch.setattr(students_handlers.create_one, "_insert_student", crash)
    monkeypatch.setattr(students_handlers.create_one, "_compensate", lambda *a, **k: None)
    r = system.post(f"{API}/students", token=admin, json=student("1001"),
                    headers={"Idempotency-Key": "create-1001"})
    assert r.status_code >= 500, r.text
    monkeypatch.undo()
    assert (accounts(system.config, "1001"), records(system.config, "1001")) == (1, 0)

    # another request for that number finds the account taken
    problem(system.post(f"{API}/students", token=admin, json=student("1001"),
                        headers={"Idempotency-Key": "another"}), 409, "user_exists")
    problem(system.post(f"{API}/students", token=admin, json=student("1001")), 409,
            "user_exists")

    # the retry of the crashed request completes it, a repeat answers the same
    first = system.post(f"{API}/students", token=admin, json=student("1001"),
                        headers={"Idempotency-Key": "create-1001"})
    assert first.status_code == 201, first.text
    again = system.post(f"{API}/students", token=admin, json=student("1001"),
                        headers={"Idempotency-Key": "create-1001"})
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert first.json()["bsn"] == "*****5889" and first.json()["user_id"]
    assert (accounts(system.config, "1001"), records(system.config, "1001")) == (1, 1)
    problem(system.post(f"{API}/students", token=admin, json=student("1001"),
                        headers={"Idempotency-Key": "another"}), 409, "student_exists")
    got = system.get(f"{API}/students/1001", token=admin)
    assert got.status_code == 200 and got.json()["user_id"] == first.json()["user_id"]


def test_a_key_is_scoped_to_its_caller_and_checked(system, school):
    inst, admin = school
    other = make_admin(system, inst, code="beheer2")
    key = {"Idempotency-Key": "same-key"}
    r = system.post(f"{API}/students", token=admin, json=student("2001"), headers=key)
    assert r.status_code == 201, r.text
    # the same key from another caller is another request
    problem(system.post(f"{API}/students", token=other, json=student("2001"), headers=key),
            409, "student_exists")
    for bad in ("x" * 201, "tab\there"):
        problem(system.post(f"{API}/students", token=admin, json=student("2002"),
                            headers={"Idempotency-Key": bad}), 422,
                "idempotency_key_invalid")
    assert records(system.config, "2002") == 0


def call_twice(config, method, args, kwargs, together=False):
    """One nameko RPC request message delivered twice (as RabbitMQ redelivers
    a message whose consumer died before acking); both replies. `together`:
    the second is sent before the first is answered (two workers at once)."""
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    name = f"test-replies-{uuid.uuid4().hex}"
    queue = Queue(name, exchange=exchange, routing_key=name, auto_delete=True)
    replies = []
    with Connection(config["AMQP_URI"]) as conn:
        def on_reply(body, message):
            replies.append(body if isinstance(body, dict) else json.loads(body))
            message.ack()

        with Consumer(conn, [queue], callbacks=[on_reply], accept=["json"]):
            producer = conn.Producer(serializer="json")
            for attempt in range(2):
                producer.publish({"args": args, "kwargs": kwargs}, exchange=exchange,
                                 routing_key=f"students.{method}", reply_to=name,
                                 correlation_id=f"delivery-{attempt}")
                while len(replies) <= attempt and not (together and attempt == 0):
                    conn.drain_events(timeout=30)
    return replies


def test_a_redelivered_rpc_answers_as_the_first_delivery(system, school):
    inst, _admin = school
    actor = {"user_id": 1, "code": "beheer1", "roles": ["admin"]}
    first, second = call_twice(system.config, "create_student",
                               [inst["id"], student("3001"), actor],
                               {"request_id": "gw-" + uuid.uuid4().hex})
    assert first["error"] is None and second["error"] is None, (first, second)
    assert second["result"] == first["result"]
    assert first["result"]["student_number"] == "3001"
    assert (accounts(system.config, "3001"), records(system.config, "3001")) == (1, 1)
    # without a request id the repeat is a new request: refused
    first, second = call_twice(system.config, "create_student",
                               [inst["id"], student("3002", bsn="123456782"), actor], {})
    assert first["error"] is None
    assert second["error"]["exc_type"] == "DomainError"
    assert "student_exists" in second["error"]["value"]


def test_two_deliveries_at_once_create_one_student(system, school):
    inst, _admin = school
    actor = {"user_id": 1, "code": "beheer1", "roles": ["admin"]}
    for number in ("4001", "4002", "4003"):
        first, second = call_twice(system.config, "create_student",
                                   [inst["id"], student(number, bsn=None, type="non_transfer"),
                                    actor], {"request_id": "gw-" + uuid.uuid4().hex},
                                   together=True)
        assert first["error"] is None and second["error"] is None, (first, second)
        assert second["result"]["id"] == first["result"]["id"]
        assert second["result"]["user_id"] == first["result"]["user_id"]
        assert (accounts(system.config, number), records(system.config, number)) == (1, 1)
