"""The outbox relay with replicas: two relays over one outbox send every row once,
in outbox order (services/common/outbox.py, EventPublisher._claim)."""
import json
import sqlite3

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.common.db import make_engine
from services.common.outbox import EventPublisher, write_outbox


class Sent:
    """A producer that records what it publishes; `during` runs at the first publish."""

    def __init__(self, during=None):
        self.bodies = []
        self.during = during

    def publish(self, body, **_kw):
        if self.during is not None:
            during, self.during = self.during, None
            during()
        self.bodies.append(json.loads(body)["event_id"])


def relay(url, producer, batch=50):
    engine = make_engine(url)
    publisher = EventPublisher("amqp://unused", "users", sessionmaker(bind=engine), batch=batch)
    publisher._producer_for = lambda: producer
    return publisher, engine


def write_events(url, count):
    engine = make_engine(url)
    with sessionmaker(bind=engine)() as session:
        rows = write_outbox(session, "users", [("probe", 1, {"n": n}, 1) for n in range(count)])
        session.commit()
    engine.dispose()
    return [row["event_id"] for row in rows]


def test_two_relays_send_every_row_once_and_in_order(make_db):
    url = make_db("users")
    written = write_events(url, 120)
    second_sent = Sent()
    second, second_engine = relay(url, second_sent)
    seen_locked = []

    def the_replica_flushes_meanwhile():
        if url.startswith("sqlite"):
            # one writer: the relay holds the write lock while it publishes
            path = url.split("///", 1)[1]
            probe = sqlite3.connect(path, timeout=0.1)
            try:
                probe.execute("UPDATE outbox SET published_at = NULL WHERE 0")
            except sqlite3.OperationalError as exc:
                seen_locked.append(str(exc))
            finally:
                probe.close()
        else:
            assert second.flush() == 0  # the rows are held: it leaves them at once
            seen_locked.append("held")

    first_sent = Sent(during=the_replica_flushes_meanwhile)
    first, first_engine = relay(url, first_sent)
    assert first.flush() == 120
    assert seen_locked, "the second relay could take rows the first was publishing"
    assert second.flush() == 0
    assert first_sent.bodies == written and second_sent.bodies == []
    with first_engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        assert left.scalar() == 0
    first_engine.dispose()
    second_engine.dispose()


def test_a_relay_sends_what_a_replica_wrote_meanwhile(make_db):
    """Rows committed while one relay publishes are sent by it before it stops
    (PostgreSQL; on SQLite such a write waits for the relay's write lock)."""
    url = make_db("users")
    if url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: a write waits while a relay publishes")
    write_events(url, 10)
    late = []
    sent = Sent(during=lambda: late.extend(write_events(url, 5)))
    publisher, engine = relay(url, sent, batch=4)
    assert publisher.flush() == 15
    assert sent.bodies[-5:] == late and len(set(sent.bodies)) == 15
    engine.dispose()
