"""The envelope check and the retry-or-park decision of a durable consumer
(services/common/events.py), without a broker."""
import datetime as dt

import pytest
from sqlalchemy.exc import DataError, OperationalError

from services.common.errors import DomainError
from services.common.events import (PermanentEventError, RetryPolicy, decide, describe_error,
                                    parse_envelope)


def envelope(**changes):
    env = {"event_id": "3f1c0a56-0000-4000-8000-000000000001", "type": "user_archived",
           "version": 1, "occurred_at": "2026-03-01T10:00:00+01:00", "institution_id": 5,
           "data": {"code": "1001", "type": "student"}}
    env.update(changes)
    return env


def test_a_well_formed_envelope():
    env = parse_envelope(envelope(), "user_archived")
    assert (env.event_id, env.type, env.institution_id) == (
        "3f1c0a56-0000-4000-8000-000000000001", "user_archived", 5)
    assert env.occurred_at == dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
    assert parse_envelope(envelope(occurred_at=None)).occurred_at is None
    naive = parse_envelope(envelope(occurred_at="2026-03-01T10:00:00")).occurred_at
    assert naive.tzinfo == dt.timezone.utc


@pytest.mark.parametrize("changes", [
    {"occurred_at": "9999-12-31T23:59:59-14:00"},     # beyond datetime.max in UTC
    {"occurred_at": "0001-01-01T00:00:00+14:00"},
    {"occurred_at": "1850-01-01T00:00:00+00:00"},
    {"occurred_at": "gisteren"}, {"occurred_at": 1700000000}, {"occurred_at": "2" * 5000},
    {"institution_id": 10 ** 30}, {"institution_id": -1}, {"institution_id": 0},
    {"institution_id": "5"}, {"institution_id": True}, {"institution_id": 5.0},
    {"institution_id": None}, {"institution_id": 2 ** 31},
    {"event_id": 7}, {"event_id": ""}, {"event_id": "x" * 37}, {"event_id": None},
    {"type": "user_unarchived"}, {"type": ["user_archived"]},
    {"data": "nonsense"}, {"data": [1, 2]}, {"data": None},
])
def test_hostile_values_are_permanent_errors(changes):
    with pytest.raises(PermanentEventError):
        parse_envelope(envelope(**changes), "user_archived")


@pytest.mark.parametrize("payload", [None, [], "x", 5, {"type": "user_archived"}])
def test_what_is_no_envelope_at_all(payload):
    with pytest.raises(PermanentEventError):
        parse_envelope(payload)


def test_the_message_never_repeats_a_value_from_the_event():
    with pytest.raises(PermanentEventError) as info:
        parse_envelope(envelope(institution_id="123456782"))
    assert "123456782" not in str(info.value)


POLICY = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=3.0)


def test_back_off_doubles_up_to_the_maximum():
    assert [POLICY.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]
    assert POLICY.total_delay() == 6.0


def test_a_transient_error_is_retried_then_parked():
    boom = OperationalError("select", {}, Exception("database is locked"))
    decisions = [decide(n, boom, POLICY) for n in (1, 2, 3, 4)]
    assert [(d.action, d.delay) for d in decisions[:3]] == [
        ("retry", 1.0), ("retry", 2.0), ("retry", 3.0)]
    assert (decisions[3].action, decisions[3].reason) == ("park", "attempts")
    assert decide(9, boom, POLICY).action == "park"
    down = DomainError("service_unavailable", "weg", status=503)
    assert decide(1, down, POLICY).action == "retry"
    assert decide(1, RuntimeError("x"), POLICY).action == "retry"


@pytest.mark.parametrize("exc", [
    PermanentEventError("bad"), ValueError("x"), TypeError("x"), OverflowError("x"),
    KeyError("data"), DataError("insert", {}, Exception("integer out of range")),
    DomainError("not_found", "Niet gevonden.", status=404)])
def test_an_error_a_retry_cannot_cure_is_parked_at_once(exc):
    decision = decide(1, exc, POLICY)
    assert (decision.action, decision.reason) == ("park", "permanent")


def test_a_policy_from_config():
    policy = RetryPolicy.from_config({"LEERLINGBUS_EVENT_MAX_ATTEMPTS": "3",
                                      "LEERLINGBUS_EVENT_RETRY_DELAY": "0.5",
                                      "LEERLINGBUS_EVENT_RETRY_MAX_DELAY": "10"})
    assert policy == RetryPolicy(3, 0.5, 10.0)
    assert RetryPolicy.from_config({"LEERLINGBUS_EVENT_MAX_ATTEMPTS": "0"}).max_attempts == 1


def test_the_stored_error_is_one_short_line_without_a_bsn():
    kind, text = describe_error(ValueError("Key (bsn)=(123456782) exists\nforged line" + "x" * 500))
    assert kind == "ValueError"
    assert "123456782" not in text and "\n" not in text and "\\n" in text
    assert len(text) <= 303


def test_the_default_bound():
    policy = RetryPolicy.from_config({})
    assert policy.max_attempts == 8
    assert [policy.delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert policy.total_delay() == 182   # about 3 minutes, then parked


# --- the consumer's wiring (services/common/durable.py) with a fake broker -------------

class FakeMessage:
    def __init__(self, headers=None):
        self.headers = headers or {}
        self.body = b'{"event_id": "e-1"}'
        self.content_type, self.content_encoding = "application/json", "utf-8"


class FakeQueueConsumer:
    def __init__(self):
        self.acked, self.requeued = [], []

    def ack_message(self, message):
        self.acked.append(message)

    def requeue_message(self, message):
        self.requeued.append(message)


class FakePublisher:
    def __init__(self, fail=False):
        self.fail, self.sent = fail, []

    def publish(self, body, **kwargs):
        if self.fail:
            raise ConnectionError("broker away")
        self.sent.append(kwargs)


def handler(publisher):
    from types import SimpleNamespace

    from services.common.durable import DurableEventHandler, parked_queue, retry_queue
    entry = DurableEventHandler("users", "user_archived")
    entry.container = SimpleNamespace(service_name="students")
    entry.method_name = "on_user_archived"
    entry.queue = SimpleNamespace(name="evt-users-user_archived--students.on_user_archived")
    entry.policy = RetryPolicy(3, 0.01, 1.0)
    entry.retry_queue = retry_queue(entry.queue.name)
    entry.parked_queue = parked_queue(entry.queue.name)
    entry.publisher = publisher
    entry.queue_consumer = FakeQueueConsumer()
    return entry


def failed(exc):
    try:
        raise exc
    except Exception:
        import sys
        return sys.exc_info()


def test_a_failed_delivery_goes_to_the_retry_queue_then_parked():
    publisher = FakePublisher()
    entry = handler(publisher)
    first, last = FakeMessage(), FakeMessage({"x-attempts": 2, "x-death": [{"count": 2}]})
    entry.handle_result(first, None, exc_info=failed(RuntimeError("database is down")))
    entry.handle_result(last, None, exc_info=failed(RuntimeError("database is down")))
    retry, park = publisher.sent
    assert retry["routing_key"].endswith(".retry") and retry["headers"]["x-attempts"] == 1
    assert retry["expiration"] == 0.01
    assert park["routing_key"].endswith(".parked") and park["headers"]["x-attempts"] == 3
    assert (park["headers"]["x-error-type"], park["headers"]["x-error"]) == (
        "RuntimeError", "database is down")
    assert "x-death" not in park["headers"]
    assert entry.queue_consumer.acked == [first, last]


def test_when_the_broker_refuses_the_copy_the_message_is_requeued_not_lost():
    entry = handler(FakePublisher(fail=True))
    message = FakeMessage()
    entry.handle_result(message, None, exc_info=failed(PermanentEventError("bad")))
    assert entry.queue_consumer.requeued == [message] and entry.queue_consumer.acked == []
