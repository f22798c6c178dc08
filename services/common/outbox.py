"""The outbox: events written in the change's transaction, published after.

Every service's metadata holds an `outbox` table (see `outbox_table`). The
publisher sends unpublished rows to the topic exchange `<service>.events` with
the event type as routing key, persistent and with publisher confirms, then
marks them published. A crash between commit and publish loses nothing: each
service runs `relay_outbox` on a timer. A crash between publish and marking
may publish an event twice; consumers are idempotent by `event_id`.

Replicas of a service each run a relay over the same table: a relay holds the
rows it publishes until it has marked them (`_claim`), so no two relays send one
row and the events leave in outbox order.
"""

import datetime as dt
import json
import logging
import threading
import uuid

import orjson
import sqlalchemy as sa
from kombu import Connection, Exchange, Producer

log = logging.getLogger(__name__)

# A publish with the broker briefly away: a few quick tries, then the caller
# decides (the relay retries later; the gateway answers 503).
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1}


def utcnow():
    return dt.datetime.now(dt.UTC)


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True, index=True),
    )


def processed_events_table(metadata: sa.MetaData) -> sa.Table:
    """Event ids a service's handlers have already applied (idempotency)."""
    return sa.Table(
        "processed_events",
        metadata,
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    )


def envelope(event_type, institution_id, data, version=1):
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "version": version,
        "occurred_at": utcnow().isoformat(),
        "institution_id": institution_id,
        "data": data,
    }


_OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.Integer),
    sa.column("event_id", sa.String),
    sa.column("event_type", sa.String),
    sa.column("body", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("published_at", sa.DateTime(timezone=True)),
)


_BODY_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _body(env):
    """The envelope as JSON text, as json.dumps(env, default=str) reads (dates
    and other values as their str()), written by orjson: a batch event of 500
    rows costs a tenth. What orjson refuses (non-str keys, integers past 64
    bits, lone surrogates) goes through json.dumps itself; a float NaN would be
    null (event data come from the service's database: there are none)."""
    try:
        return orjson.dumps(env, default=str, option=_BODY_OPTIONS).decode("utf-8")
    except (TypeError, ValueError):
        return json.dumps(env, default=str)


def write_outbox(session, service_name, events):
    rows = []
    for event_type, institution_id, data, version in events:
        env = envelope(event_type, institution_id, data, version)
        rows.append(
            {
                "event_id": env["event_id"],
                "event_type": event_type,
                "body": _body(env),
                "created_at": utcnow(),
            }
        )
    session.execute(sa.insert(_OUTBOX), rows)
    return rows


def events_exchange(service_name) -> Exchange:
    # The same declaration nameko's EventDispatcher/event_handler use.
    return Exchange(f"{service_name}.events", type="topic", durable=True, auto_delete=False)


class EventPublisher:
    """Publishes the outbox of one service. Safe to call from many green threads.

    With the broker away a flush fails within a few seconds (short connect and
    publish retries) and leaves the rows unpublished; the relay timer tries again
    every couple of seconds and sends them, with their event ids, once it is back.
    """

    CONNECT_TIMEOUT = 3.0
    LOCK_WAIT = 5.0

    def __init__(self, amqp_uri, service_name, session_factory, batch=500):
        self.amqp_uri = amqp_uri
        self.service_name = service_name
        self.session_factory = session_factory
        self.batch = batch
        self.exchange = events_exchange(service_name)
        self._lock = threading.Lock()  # green under monkey_patch
        self._conn = None
        self._producer = None

    def _producer_for(self):
        if self._conn is None:
            self._conn = Connection(
                self.amqp_uri,
                connect_timeout=self.CONNECT_TIMEOUT,
                transport_options={"confirm_publish": True},
            )
            self._conn.ensure_connection(max_retries=1, interval_start=0.5, interval_step=0.5)
            self._producer = Producer(self._conn.channel(), exchange=self.exchange)
            self.exchange(self._producer.channel).declare()
        return self._producer

    def _reset(self):
        try:
            if self._conn is not None:
                self._conn.release()
        except Exception:  # pragma: no cover
            pass
        self._conn = None
        self._producer = None

    def flush(self):
        """Publish every unpublished outbox row; returns how many were sent.

        When another green thread is flushing for longer than LOCK_WAIT seconds
        (the broker away), returns 0: the relay timer sends the rows later."""
        sent = 0
        if not self._lock.acquire(timeout=self.LOCK_WAIT):
            return sent
        try:
            while True:
                session = self.session_factory()
                try:
                    rows = self._claim(session)
                    if not rows:
                        session.commit()
                        return sent
                    try:
                        producer = self._producer_for()
                        for row in rows:
                            producer.publish(
                                row.body,
                                routing_key=row.event_type,
                                content_type="application/json",
                                content_encoding="utf-8",
                                delivery_mode=2,
                                retry=True,
                                retry_policy=PUBLISH_RETRY,
                            )
                    except Exception:
                        self._reset()
                        raise
                    session.execute(
                        sa.update(_OUTBOX)
                        .where(_OUTBOX.c.id.in_([r.id for r in rows]))
                        .values(published_at=utcnow())
                    )
                    session.commit()
                    sent += len(rows)
                finally:
                    session.close()
        finally:
            self._lock.release()

    def _claim(self, session):
        """The next unpublished rows, held by this relay until its commit; [] when
        none are due or another relay (a replica) holds earlier ones. That relay
        selects again after its commit, so it sends what it kept us from.

        PostgreSQL: the rows locked FOR UPDATE SKIP LOCKED, left again when an
        earlier row is still unpublished (held by another relay: the events
        leave in outbox order). SQLite: the database's write lock first (one
        writer; a replica waits for it), then the rows."""
        query = (
            sa.select(_OUTBOX.c.id, _OUTBOX.c.event_type, _OUTBOX.c.body)
            .where(_OUTBOX.c.published_at.is_(None))
            .order_by(_OUTBOX.c.id)
            .limit(self.batch)
        )
        if session.get_bind().dialect.name == "sqlite":
            session.execute(sa.update(_OUTBOX).where(sa.false()).values(published_at=None))
            return session.execute(query).all()
        rows = session.execute(query.with_for_update(skip_locked=True)).all()
        if rows:
            earlier = session.execute(
                sa.select(_OUTBOX.c.id)
                .where(_OUTBOX.c.published_at.is_(None), _OUTBOX.c.id < rows[0].id)
                .limit(1)
            ).first()
            if earlier is not None:
                session.rollback()
                return []
        return rows

    def close(self):
        with self._lock:
            self._reset()
