"""Poison events against the whole system (five services and the gateway on
the real broker): a malformed event on every exchange some service
subscribes to, including well-formed envelopes with hostile values, is parked
within the retry bound; a genuine user_archived published after them is
applied at once; the helpdesk sees, replays and drops them through the ops
routes, and /health counts them."""
import json
import logging
import os
import time
import uuid

import pytest
from kombu import Connection, Exchange, Producer

from services.common import parked
from tests.helpers import API, make_admin, make_institution, problem, wait_until

pytestmark = pytest.mark.faults

HOSTILE_OCCURRED_AT = "9999-12-31T23:59:59-14:00"
PER = 5  # poison events per routing key (malformed())


@pytest.fixture
def service_config(service_config):
    # production back-off, shortened: 3 deliveries, 0.2 s then 0.4 s
    return dict(service_config, LEERLINGBUS_EVENT_MAX_ATTEMPTS="3",
                LEERLINGBUS_EVENT_RETRY_DELAY="0.2")


def subscriptions():
    """Every (source service, event type) some durable consumer listens to."""
    pairs = set()
    for queue in parked.all_consumers():
        source, _, rest = queue.removeprefix("evt-").partition("-")
        pairs.add((source, rest.split("--")[0]))
    return sorted(pairs)


def malformed(event_type, iid, code):
    """Five poison events of one type; the first three are well-formed
    envelopes around a real student, so applying them would change data."""
    def env(**changes):
        body = {"event_id": str(uuid.uuid4()), "type": event_type, "version": 1,
                "occurred_at": "2026-03-01T10:00:00+00:00", "institution_id": iid,
                "data": {"code": code, "type": "student", "user_id": 1,
                         "student_number": code, "submission_id": 1,
                         "status": "awaiting_review"}}
        body.update(changes)
        return body
    return [env(occurred_at=HOSTILE_OCCURRED_AT), env(institution_id=10 ** 30),
            env(event_id=12345, data=["wrong", "types"]), ["not", "an", "envelope"],
            b"\xff{not even json"]


def publish(uri, source, event_type, body):
    raw = body if isinstance(body, bytes) else json.dumps(body)
    with Connection(uri) as conn:
        exchange = Exchange(f"{source}.events", type="topic", durable=True)
        Producer(conn.channel()).publish(raw, exchange=exchange,
                                         routing_key=event_type, delivery_mode=2,
                                         content_type="application/json",
                                         content_encoding="utf-8", declare=[exchange])


def test_poison_events_are_parked_and_the_next_event_is_applied(system, caplog):
    caplog.set_level(logging.INFO)
    uri = system.config["AMQP_URI"]
    school = make_institution(system)
    admin = make_admin(system, school)
    r = system.post(f"{API}/students", token=admin, json={
        "student_number": "1001", "type": "non_transfer", "initials": "S.",
        "first_name": "Sanne", "last_name": "Jong"})
    assert r.status_code == 201, r.text
    consumers = parked.all_consumers()
    pairs = subscriptions()
    assert ("users", "user_archived") in pairs and len(pairs) >= 17

    started = time.monotonic()
    for source, event_type in pairs:
        for body in malformed(event_type, school["id"], "1001"):
            publish(uri, source, event_type, body)
    publish(uri, "users", "user_archived", {
        "event_id": str(uuid.uuid4()), "type": "user_archived", "version": 1,
        "occurred_at": "2026-03-01T10:00:00+01:00", "institution_id": school["id"],
        "data": {"code": "1001", "type": "student", "user_id": 1}})

    # the genuine event is applied promptly, behind PER poison events per consumer
    def left():
        return system.get(f"{API}/students/1001", token=admin).json()["left_at"] is not None
    wait_until(left, timeout=10)
    applied_after = time.monotonic() - started

    # every poison event is parked on each consumer of its type, without retries
    wait_until(lambda: sum(parked.counts(uri).values()) == PER * len(consumers), timeout=15)
    counts = parked.counts(uri)
    assert set(counts.values()) == {PER}, counts
    assert applied_after < 10
    parked_lines = [r for r in caplog.records if "parked an event" in r.getMessage()]
    assert len(parked_lines) == PER * len(consumers), "one log line per parked event"
    assert not [r for r in caplog.records if "retried in" in r.getMessage()], "no retry loop"
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("nameko")]
    assert not [r for r in caplog.records if "10000000000000000" in r.getMessage()]
    # the log grows by one short line per poison event, not a traceback per retry
    logged = sum(len(r.getMessage()) + 60 for r in caplog.records)
    assert logged < 400 * PER * len(consumers) + 20_000, logged
    if os.environ.get("LEERLINGBUS_PRINT_FIGURES"):
        print(f"\n{PER * len(consumers)} poison events on {len(pairs)} routing keys: genuine "
              f"user_archived applied after {applied_after:.2f} s, all parked after "
              f"{time.monotonic() - started:.2f} s, {logged} bytes logged in all")

    # /health counts them; the ops routes show, replay and drop them (helpdesk only)
    assert system.get("/health").json()["parked"] == PER * len(consumers)
    problem(system.get(f"{API}/ops/parked", token=admin), 403, "forbidden")
    problem(system.delete(f"{API}/ops/parked/all", token=admin), 403, "forbidden")
    listing = system.get(f"{API}/ops/parked?consumer=students.on_user_archived").json()
    assert listing["total"] == PER and listing["counts"] == {"students.on_user_archived": PER}
    assert {i["error_type"] for i in listing["items"]} == {"PermanentEventError",
                                                          "DecodeError"}
    assert sorted(i["error"] for i in listing["items"]) == [
        "event_id is missing or invalid", "institution_id is missing or out of range",
        "occurred_at is not a valid timestamp", "the body is not valid JSON",
        "the event is not a JSON object"]
    assert all("1001" not in json.dumps(i) for i in listing["items"]), "no event data"
    problem(system.get(f"{API}/ops/parked?consumer=nobody.on_nothing"), 404, "not_found")

    # replay: a poison event comes straight back (it can never be applied)
    hostile = next(i for i in listing["items"] if "occurred_at" in i["error"])
    r = system.post(f"{API}/ops/parked/students.on_user_archived/replay"
                    f"?event_id={hostile['event_id']}")
    assert r.json() == {"consumer": "students.on_user_archived", "count": 1}
    wait_until(lambda: system.get(f"{API}/ops/parked?consumer=students.on_user_archived")
               .json()["total"] == PER, timeout=10)
    # drop one consumer's, then all
    r = system.delete(f"{API}/ops/parked/students.on_user_archived")
    assert r.json()["count"] == PER
    assert system.get(f"{API}/ops/parked").json()["total"] == PER * (len(consumers) - 1)
    assert system.delete(f"{API}/ops/parked/all").json()["count"] == PER * (len(consumers) - 1)
    assert system.get("/health").json()["parked"] == 0
