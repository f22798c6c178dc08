"""Shared fixtures. Run the suite through `nameko test` (it monkey-patches).

Database-facing tests ask for `make_db(service)`; they run on SQLite files by
default and on a fresh PostgreSQL database per test when
LEERLINGBUS_TEST_POSTGRES_URL is set (make test does that when PostgreSQL
answers). Either way each database is a copy of a template migrated once per
session. Such tests are marked `db` automatically.
"""
import os
import shutil
import uuid

import pytest
import sqlalchemy as sa

from services.common import migrate
from services.common.db import make_engine
from services.common.config import SERVICES

PG_URL = os.environ.get("LEERLINGBUS_TEST_POSTGRES_URL")


def pytest_collection_modifyitems(config, items):
    """Mark `db` what runs again on PostgreSQL: every test that works on a
    database directly, and of the tests on the whole system (gateway and five
    services) the flow tests; the other whole-system tests check HTTP answers
    that do not depend on the database engine, so one pass on SQLite does."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "make_db" not in names:
            continue
        whole_system = "gateway_settings" in names
        if not whole_system or "/tests/flows/" in str(item.fspath) \
                or item.get_closest_marker("pg") is not None:
            item.add_marker(pytest.mark.db)


def _admin_engine():
    return make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory):
    """One migrated database per service for the whole session; make_db copies it
    (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), which is
    far cheaper than running every migration for every test."""
    templates = {}
    folder = tmp_path_factory.mktemp("db-templates")

    def template(service):
        if service not in templates:
            if PG_URL:
                name = f"lbt_tpl_{service}_{uuid.uuid4().hex[:10]}"
                admin = _admin_engine()
                with admin.connect() as conn:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                admin.dispose()
                migrate.upgrade(service, PG_URL.rsplit("/", 1)[0] + "/" + name)
                templates[service] = name
            else:
                path = folder / f"{service}.sqlite3"
                url = f"sqlite:///{path}"
                migrate.upgrade(service, url)
                engine = make_engine(url)
                with engine.connect() as conn:  # fold the WAL into the file before copying
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
                engine.dispose()
                templates[service] = path
        return templates[service]

    yield template
    if PG_URL and templates:
        admin = _admin_engine()
        with admin.connect() as conn:
            for name in templates.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def make_db(tmp_path, db_templates):
    """make_db("users") -> a migrated, empty database URL for that service."""
    created = []

    def make(service):
        template = db_templates(service)
        if PG_URL:
            name = f"lbt_{service}_{uuid.uuid4().hex[:10]}"
            admin = _admin_engine()
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            admin.dispose()
            created.append(name)
            return PG_URL.rsplit("/", 1)[0] + "/" + name
        path = tmp_path / f"{service}-{uuid.uuid4().hex[:6]}.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    yield make
    if created:
        admin = _admin_engine()
        with admin.connect() as conn:
            for name in created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (tests.helpers.S3Server) for the session."""
    from tests.helpers import S3Server
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def service_config(rabbit_config, make_db, tmp_path):
    """A nameko config on a fresh vhost with a fresh database for every service."""
    config = dict(rabbit_config)
    config["LEERLINGBUS_DATA_DIR"] = str(tmp_path / "var")
    for service in SERVICES:
        config[f"{service.upper()}_DATABASE_URL"] = make_db(service)
    return config


HELPDESK_PASSWORD = "helpdesk-test-wachtwoord-1"


@pytest.fixture
def gateway_settings(service_config):
    from gateway.settings import Settings
    return Settings(amqp_uri=service_config["AMQP_URI"], secret_key="test-secret-key-" + "x" * 32,
                    port=0, rpc_timeout=8.0, request_deadline=9.0, health_timeout=2.0)


@pytest.fixture
def system(service_config, runner_factory, gateway_settings):
    """All five services (real containers on a fresh vhost) plus the gateway
    serving HTTP on a free port; yields an `Api` with a helpdesk token."""
    import eventlet
    from gateway.app import create_app
    from gateway.bus import BusClient
    from gateway.server import serve_app
    from services.users.bootstrap import ensure_helpdesk
    from tests.helpers import Api, service_class

    ensure_helpdesk(service_config["USERS_DATABASE_URL"], service_config["LEERLINGBUS_DATA_DIR"],
                    password=HELPDESK_PASSWORD)
    runner = runner_factory(service_config, *[service_class(n) for n in SERVICES])
    runner.start()
    bus = BusClient(gateway_settings.amqp_uri, gateway_settings.rpc_timeout).start()
    from services.common import filestore
    app = create_app(gateway_settings, bus, filestore.from_config(service_config))
    sock = eventlet.listen(("127.0.0.1", 0))
    server = eventlet.spawn(serve_app, app, None, None, sock)
    api = Api(f"http://127.0.0.1:{sock.getsockname()[1]}")
    api.app = app
    api.runner = runner
    api.config = service_config
    api.token = api.login("platform", "helpdesk", HELPDESK_PASSWORD)
    yield api
    server.kill()
    bus.stop()
