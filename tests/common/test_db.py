"""No BSN reaches a log, even through an unexpected database error."""
import io
import logging
import logging.config

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.exc import IntegrityError

from services.common.db import make_engine
from services.common.logredact import RedactFilter, redact

BSN = "020355889"


def test_redact_masks_long_numbers_only():
    assert redact(f"Key (bsn)=({BSN}) already exists") == "Key (bsn)=(*********) already exists"
    assert redact("leerling 123456 in klas h4a") == "leerling 123456 in klas h4a"


def test_a_failing_insert_with_a_bsn_is_logged_masked(make_db):
    """The database's own message names the value (PostgreSQL: `Key (bsn)=(…)`);
    the filter every process installs masks it in message and traceback."""
    engine = make_engine(make_db("users"))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter())
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE probe (bsn VARCHAR(9) PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (:b)"), {"b": BSN})
        with pytest.raises(IntegrityError) as info:
            with engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO probe VALUES (:b)"), {"b": BSN})
        try:
            raise info.value
        except IntegrityError:
            log.exception("unexpected error handling %s", f"student {BSN}")
    finally:
        log.removeHandler(handler)
        engine.dispose()
    output = stream.getvalue()
    assert "IntegrityError" in output and "Traceback" in output
    assert BSN not in output
    # SQLAlchemy itself never prints the statement's parameters; PostgreSQL's
    # own DETAIL line may name the value, which the log filter above masks
    assert "parameters hidden" in str(info.value)


def test_the_service_logging_config_installs_the_filter():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "deploy" / "config.yaml").read_text()
    logging_conf = yaml.safe_load(text.replace("${LEERLINGBUS_LOG_LEVEL:INFO}", "INFO"))["LOGGING"]
    assert "redact" in logging_conf["handlers"]["console"]["filters"]
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_conf)
        assert any(isinstance(f, RedactFilter) for h in root.handlers for f in h.filters)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_health_answers_ok_or_503_with_the_cause_in_the_log(tmp_path, caplog):
    from types import SimpleNamespace

    from services.common.db import DatabaseAccess
    from services.common.errors import DomainError

    good = make_engine(f"sqlite:///{tmp_path / 'ok.sqlite3'}")
    access = DatabaseAccess(SimpleNamespace(engine=good, service_name="students"))
    assert access.health() == {"service": "students", "status": "ok"}
    good.dispose()

    bad = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite3'}")
    access = DatabaseAccess(SimpleNamespace(engine=bad, service_name="students"))
    with caplog.at_level(logging.WARNING), pytest.raises(DomainError) as info:
        access.health()
    assert (info.value.code, info.value.status) == ("unavailable", 503)
    assert "leerlingen" in info.value.message
    assert "unable to open database file" in caplog.text


def test_read_one_needs_no_session_and_reads_the_unit_of_works_own_writes(make_db):
    """UnitOfWork.read_one: a plain connection while the unit of work made no
    session (a small read costs less), its session once it has one (and so sees
    what it wrote but did not commit)."""
    import datetime as dt

    from sqlalchemy.orm import sessionmaker

    from services.common.db import UnitOfWork

    engine = make_engine(make_db("users"))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    count = sa.text("SELECT count(*) FROM processed_events")
    with UnitOfWork(factory, "users") as uow:
        assert uow.read_one(count)[0] == 0
        assert uow._session is None  # no session was made for it
        uow.session.execute(sa.text("INSERT INTO processed_events (event_id, handled_at) "
                                    "VALUES ('e1', :at)"), {"at": dt.datetime.now(dt.UTC)})
        assert uow.read_one(count)[0] == 1  # in the session: its own write
    with UnitOfWork(factory, "users") as uow:
        assert uow.read_one(count)[0] == 0  # rolled back: never committed
    engine.dispose()


def test_publish_later_answers_before_the_events_go_out(make_db):
    """A list load's batch: commit() returns with the events in the outbox and
    their flush started in a green thread of its own; without publish_later
    the flush is done before commit() returns."""
    import eventlet
    from sqlalchemy.orm import sessionmaker

    from services.common.db import UnitOfWork

    class Publisher:
        def __init__(self):
            self.flushed = 0

        def flush(self):
            eventlet.sleep(0.01)  # the broker's confirms
            self.flushed += 1

    engine = make_engine(make_db("users"))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    unpublished = sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    publisher = Publisher()
    with UnitOfWork(factory, "users", publisher) as uow:
        uow.add_event("users_created_batch", 1, {"count": 0, "users": []})
        uow.commit()
        assert publisher.flushed == 1
    with UnitOfWork(factory, "users", publisher) as uow:
        uow.publish_later = True
        uow.add_event("users_created_batch", 1, {"count": 0, "users": []})
        uow.commit()
        assert publisher.flushed == 1  # not yet
        assert uow.read_one(unpublished)[0] == 2  # both committed in the outbox
    eventlet.sleep(0.05)
    assert publisher.flushed == 2
    engine.dispose()
