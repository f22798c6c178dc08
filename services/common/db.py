"""Database access shared by the services: engines, the unit of work, and the
nameko dependency that hands a unit of work to each worker.

PostgreSQL is driven through psycopg2 made green with psycogreen, so a query
waiting on the server yields to other green threads. SQLite files run in WAL
mode; under eventlet a SQLite call cannot yield, so a process keeps one
connection and green threads queue for it instead of blocking on the file lock.
"""

import contextlib
import logging
from typing import Any

import eventlet
import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from . import config as cfg
from . import gctune
from .errors import DomainError
from .outbox import EventPublisher, write_outbox
from .rpc import SERVICE_NAMES_NL

log = logging.getLogger(__name__)

_green_pg = False


def _make_psycopg2_green():
    global _green_pg
    if _green_pg:
        return
    try:
        from eventlet import patcher
    except ImportError:  # pragma: no cover
        return
    if patcher.is_monkey_patched("socket"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        _green_pg = True


def make_engine(url: str) -> sa.Engine:
    """hide_parameters: a database error's message (which nameko logs with its
    traceback) never carries the statement's values, which may be a BSN."""
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg2://" + url[len("postgresql://") :]
        _make_psycopg2_green()
        return sa.create_engine(
            url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True
        )
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return sa.create_engine(url, hide_parameters=True)


class UnitOfWork:
    """Commits a change and the events it raised together (the outbox).

    with db() as uow:
        uow.session.add(...)
        uow.add_event("user_created", institution_id, {...})
        uow.commit()

    Events are written to the outbox table in the same transaction; after the
    commit the publisher sends whatever the outbox holds. Leaving the block
    without commit rolls everything back.
    """

    def __init__(self, session_factory, service_name, publisher=None):
        self._session_factory = session_factory
        self.service_name = service_name
        self.publisher = publisher
        self._session: Any = None
        self.events: list = []
        # Set by an entrypoint for the batches of a list load:
        # `publish_later` (see commit) and `lane`, a lock the process's batches
        # share. The domain code takes the lane around its own work on a batch
        # (checking rows, writing them) and lets go of it while it waits on
        # another service or hashes passwords, so batches sent together go
        # through one at a time and pipeline with the next service instead of
        # all being checked at once, all waiting at once and all written at
        # once (docs/uploads.md, "Load").
        self.publish_later = False
        self.lane: Any = contextlib.nullcontext()

    @property
    def session(self) -> Any:
        """The unit of work's Session (made when first asked for)."""
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def __enter__(self):
        self._session = None
        self.events = []
        return self

    def __exit__(self, *exc):
        session, self._session = self._session, None
        if session is None:
            return
        try:
            session.rollback()
        finally:
            session.close()

    def read_one(self, statement, params=None):
        """The first row of a read (or None). When nothing else was done in
        this unit of work, on a plain connection: for one small query a Session
        costs more than the query itself (the gateway's GET /users/{code})."""
        if self._session is not None:
            return self._session.execute(statement, params).first()
        with self._session_factory.kw["bind"].connect() as conn:
            return conn.execute(statement, params).first()

    def add_event(self, event_type, institution_id, data, version=1):
        self.events.append((event_type, institution_id, data, version))

    def commit(self):
        """Commit the change with its events in the outbox, then publish them:
        before returning, or, with `publish_later` set (a batch of a list
        load, so its caller can answer sooner and the next batch comes in), in
        a green thread of its own. The events are committed in the outbox
        either way; whatever a flush does not send, the relay timer does."""
        if self.events:
            write_outbox(self.session, self.service_name, self.events)
        self.session.commit()
        had_events = bool(self.events)
        self.events = []
        if had_events and self.publisher is not None:
            if self.publish_later:
                eventlet.spawn_n(self._flush)
            else:
                self._flush()

    def _flush(self):
        try:
            self.publisher.flush()
        except Exception as exc:  # the relay timer retries; the change is committed
            log.warning(
                "outbox not published now (%s: %s); the relay retries", type(exc).__name__, exc
            )

    def rollback(self):
        self.session.rollback()
        self.events = []


class Database(DependencyProvider):
    """Gives each worker a callable returning a fresh UnitOfWork."""

    def __init__(self, service_name):
        self.service_name = service_name
        self.engine = None

    def setup(self):
        config = self.container.config
        self.url = cfg.database_url(self.service_name, config)
        self.engine = make_engine(self.url)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.publisher = EventPublisher(
            cfg.amqp_uri(config), self.service_name, self.session_factory
        )

    def start(self):
        # every service has a Database: once its container starts, the objects of
        # start-up are frozen out of the garbage collector's way (gctune)
        gctune.settle(self.container.config)

    def stop(self):
        if self.publisher is not None:
            self.publisher.close()
        if self.engine is not None:
            self.engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return DatabaseAccess(self)


class DatabaseAccess:
    def __init__(self, provider):
        self._provider = provider

    def __call__(self):
        p = self._provider
        return UnitOfWork(p.session_factory, p.service_name, p.publisher)

    @property
    def engine(self):
        return self._provider.engine

    def ping(self):
        with self._provider.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True

    def health(self):
        """The answer of every service's health RPC: ok when its database
        answers; otherwise 503 `unavailable`, with the cause in the log."""
        name = self._provider.service_name
        try:
            self.ping()
        except Exception as exc:
            log.warning(
                "health: the %s database does not answer (%s: %s)", name, type(exc).__name__, exc
            )
            raise DomainError(
                "unavailable",
                f"De dienst '{SERVICE_NAMES_NL.get(name, name)}' kan zijn database niet bereiken.",
                status=503,
            ) from exc
        return {"service": name, "status": "ok"}

    def relay_outbox(self):
        """The timer's retry of the outbox: one log line per failed round (the
        broker away), never an exception that fills the log with tracebacks."""
        try:
            return self._provider.publisher.flush()
        except Exception as exc:
            log.warning(
                "outbox relay: broker not reachable (%s: %s); retrying", type(exc).__name__, exc
            )
            return 0
