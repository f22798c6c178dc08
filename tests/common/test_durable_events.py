"""The durable consumer on the real broker (services/common/durable.py): a
failing event is retried with back-off and parked, other events keep
flowing, and parked events can be listed, replayed and dropped
(services/common/parked.py)."""
import json
import time

import pytest
from kombu import Connection, Exchange, Producer
from nameko.standalone.events import event_dispatcher

from services.common import parked
from services.common.durable import durable_event_handler
from services.common.events import PermanentEventError
from tests.helpers import wait_until

pytestmark = pytest.mark.faults

QUEUE = "evt-src-thing--flaky.on_thing"


class State:
    seen = []
    fixed = False


class Flaky:
    name = "flaky"

    @durable_event_handler("src", "thing")
    def on_thing(self, payload):
        State.seen.append((payload["event_id"], time.monotonic()))
        if payload["fail"] == "always" or (payload["fail"] == "until_fixed"
                                           and not State.fixed):
            raise RuntimeError("database is down")
        if payload["fail"] == "bad":
            raise PermanentEventError("institution_id is out of range")


@pytest.fixture
def flaky(rabbit_config, container_factory):
    State.seen, State.fixed = [], False
    config = dict(rabbit_config, LEERLINGBUS_EVENT_MAX_ATTEMPTS="3",
                  LEERLINGBUS_EVENT_RETRY_DELAY="0.3", LEERLINGBUS_EVENT_RETRY_MAX_DELAY="5")
    container_factory(Flaky, config).start()
    dispatch = event_dispatcher(config)

    def send(event_id, fail="no"):
        dispatch("src", "thing", {"event_id": event_id, "fail": fail})
    send.uri = config["AMQP_URI"]
    return send


def attempts(event_id):
    return [t for e, t in State.seen if e == event_id]


def parked_count(uri):
    return parked.counts(uri, QUEUE)[QUEUE]


def test_a_failing_event_is_retried_with_back_off_then_parked(flaky, caplog):
    started = time.monotonic()
    flaky("e-fail", "always")
    flaky("e-good")
    # the good one does not wait for the failing one
    wait_until(lambda: attempts("e-good"), timeout=5)
    assert attempts("e-good")[0] - started < 2
    wait_until(lambda: parked_count(flaky.uri) == 1, timeout=15)
    times = attempts("e-fail")
    assert len(times) == 3, "max_attempts deliveries, then parked"
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.55, gaps   # 0.3 s, then 0.6 s
    [item] = parked.list_parked(flaky.uri, QUEUE)
    assert item == {"consumer": QUEUE, "event_id": "e-fail", "type": None,
                    "institution_id": None, "error_type": "RuntimeError",
                    "error": "database is down", "attempts": 3,
                    "parked_at": item["parked_at"]}
    time.sleep(1)
    assert len(attempts("e-fail")) == 3 and len(attempts("e-good")) == 1
    lines = [r.getMessage() for r in caplog.records if "flaky.on_thing" in r.getMessage()]
    assert len(lines) == 3, lines        # one line per failed delivery
    assert not any(r.exc_info for r in caplog.records
                   if r.name == "nameko.containers"), "no traceback per retry"


def test_a_permanent_error_is_parked_at_once(flaky):
    flaky("e-bad", "bad")
    wait_until(lambda: parked_count(flaky.uri) == 1, timeout=5)
    assert len(attempts("e-bad")) == 1
    [item] = parked.list_parked(flaky.uri, QUEUE)
    assert (item["error_type"], item["attempts"]) == ("PermanentEventError", 1)


def test_a_body_that_is_no_json_is_parked_and_blocks_nothing(flaky):
    with Connection(flaky.uri) as conn:
        exchange = Exchange("src.events", type="topic", durable=True)
        Producer(conn.channel()).publish(b"\xff{not json", exchange=exchange,
                                         routing_key="thing", content_type="application/json",
                                         content_encoding="binary")
    flaky("e-after")
    wait_until(lambda: attempts("e-after"), timeout=5)
    wait_until(lambda: parked_count(flaky.uri) == 1, timeout=5)
    [item] = parked.list_parked(flaky.uri, QUEUE)
    assert (item["error_type"], item["event_id"]) == ("DecodeError", None)
    assert parked.drop(flaky.uri, QUEUE) == 1


def test_replay_and_drop(flaky, capsys):
    flaky("e-later", "until_fixed")
    flaky("e-bad-1", "bad")
    flaky("e-bad-2", "bad")
    wait_until(lambda: parked_count(flaky.uri) == 3, timeout=15)
    # listing does not consume
    assert parked.main(["count", QUEUE, "--amqp-uri", flaky.uri]) == 0
    assert capsys.readouterr().out.split() == ["3", "flaky.on_thing"]
    assert parked.main(["list", QUEUE, "--amqp-uri", flaky.uri]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {i["event_id"] for i in listed} == {"e-later", "e-bad-1", "e-bad-2"}
    assert parked_count(flaky.uri) == 3

    # the cause is fixed: replay one event; it is applied, the others stay parked
    State.fixed = True
    assert parked.replay(flaky.uri, QUEUE, event_id="e-later") == 1
    wait_until(lambda: len(attempts("e-later")) == 4, timeout=5)
    time.sleep(0.5)
    assert parked_count(flaky.uri) == 2
    # drop one by event_id, then the rest
    assert parked.drop(flaky.uri, QUEUE, event_id="e-bad-1") == 1
    assert [i["event_id"] for i in parked.list_parked(flaky.uri, QUEUE)] == ["e-bad-2"]
    assert parked.main(["drop", QUEUE, "--amqp-uri", flaky.uri]) == 0
    assert "drop: 1 message(s)" in capsys.readouterr().out
    assert parked_count(flaky.uri) == 0
    # a replayed event that fails again is parked again, with a fresh count
    flaky("e-again", "always")
    wait_until(lambda: parked_count(flaky.uri) == 1, timeout=15)
    assert parked.replay(flaky.uri, QUEUE) == 1
    wait_until(lambda: len(attempts("e-again")) == 6 and parked_count(flaky.uri) == 1,
               timeout=15)


def test_an_unknown_consumer_is_named(capsys):
    assert parked.main(["list", "nobody.on_nothing"]) == 2
    assert "unknown consumer" in capsys.readouterr().err
