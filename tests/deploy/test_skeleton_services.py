"""The five services: shape, migrations, health, relay."""
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from kombu import Connection, Queue
from sqlalchemy.orm import Session
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.standalone.rpc import ServiceRpcProxy

from services.common.db import Database, make_engine
from services.common.outbox import events_exchange, write_outbox

ROOT = Path(__file__).resolve().parents[2]
SKELETONS = ("users", "students", "uploads", "sync", "oso")


def service_class(name):
    module = importlib.import_module(f"services.{name}.service")
    classes = [obj for _, obj in inspect.getmembers(module, inspect.isclass)
               if obj.__module__ == module.__name__
               and inspect.getmembers(obj, lambda m: hasattr(m, ENTRYPOINT_EXTENSIONS_ATTR))]
    assert len(classes) == 1, f"services.{name}.service must hold one service class"
    return classes[0]


@pytest.mark.parametrize("name", SKELETONS)
def test_shape(name):
    cls = service_class(name)
    assert cls.name == name
    assert isinstance(cls.db, Database) and cls.db.service_name == name
    entrypoints = {n for n, m in inspect.getmembers(cls)
                   if hasattr(m, ENTRYPOINT_EXTENSIONS_ATTR)}
    assert {"health", "relay_outbox"} <= entrypoints
    models = importlib.import_module(f"services.{name}.models")
    assert {"outbox", "processed_events"} <= set(models.metadata.tables)
    env_py = (ROOT / "services" / name / "migrations" / "env.py").read_text()
    assert f"from services.{name}.models import metadata" in env_py
    assert (ROOT / "services" / name / "migrations" / "script.py.mako").is_file()


@pytest.mark.parametrize("name", SKELETONS)
def test_migrate_command_creates_the_tables(name, tmp_path):
    env = dict(os.environ, LEERLINGBUS_DATA_DIR=str(tmp_path))
    env.pop(f"{name.upper()}_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "services.common.migrate", name], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"migrated {name}" in result.stdout
    engine = sa.create_engine(f"sqlite:///{tmp_path / (name + '.sqlite3')}")
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert {"outbox", "processed_events", "alembic_version"} <= tables
    from alembic.script import ScriptDirectory
    from services.common.migrate import alembic_config
    head = ScriptDirectory.from_config(alembic_config(name, "sqlite://")).get_current_head()
    assert version == head


@pytest.mark.parametrize("name", SKELETONS)
def test_migrations_match_the_models(name, make_db):
    url = make_db(name)
    metadata = importlib.import_module(f"services.{name}.models").metadata
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", SKELETONS)
def test_health_over_rpc(name, container_factory, service_config):
    container = container_factory(service_class(name), service_config)
    container.start()
    with ServiceRpcProxy(name, service_config, timeout=10) as proxy:
        assert proxy.health() == {"service": name, "status": "ok"}


@pytest.mark.parametrize("name", SKELETONS)
def test_relay_timer_publishes_the_outbox(name, container_factory, service_config):
    """An event left in the outbox (as after a crash) goes out on `<name>.events`."""
    url = service_config[f"{name.upper()}_DATABASE_URL"]
    with Connection(service_config["AMQP_URI"]) as conn:
        exchange = events_exchange(name)
        queue = Queue(f"test-{name}-events", exchange=exchange, routing_key="#",
                      auto_delete=True)
        with conn.SimpleQueue(queue) as received:
            engine = make_engine(url)
            try:
                with Session(engine) as session:
                    rows = write_outbox(session, name, [("test_event", 7, {"x": 1}, 1)])
                    session.commit()
                container = container_factory(service_class(name), service_config)
                container.start()
                message = received.get(block=True, timeout=15)
                message.ack()
                body = message.payload if isinstance(message.payload, dict) \
                    else json.loads(message.payload)
                assert body["event_id"] == rows[0]["event_id"]
                assert body["type"] == "test_event" and body["data"] == {"x": 1}
                assert message.delivery_info["routing_key"] == "test_event"
                deadline = time.monotonic() + 10
                while True:
                    with engine.connect() as check:
                        published = check.execute(sa.text(
                            "SELECT published_at FROM outbox WHERE event_id = :e"),
                            {"e": rows[0]["event_id"]}).scalar()
                    if published is not None or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert published is not None
            finally:
                engine.dispose()
