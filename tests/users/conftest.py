"""Fixtures of the users tests (on top of tests/conftest.py)."""
import pytest
from sqlalchemy.orm import sessionmaker

from services.common.db import UnitOfWork, make_engine
from services.users import institutions


@pytest.fixture
def service_config(rabbit_config, make_db, tmp_path):
    """A nameko config on a fresh vhost with a fresh users database only, so
    these tests do not depend on the other services' migrations."""
    config = dict(rabbit_config)
    config["LEERLINGBUS_DATA_DIR"] = str(tmp_path / "var")
    config["USERS_DATABASE_URL"] = make_db("users")
    return config


@pytest.fixture
def users_db(make_db):
    """(url, session_factory) of a fresh, migrated users database."""
    url = make_db("users")
    engine = make_engine(url)
    yield url, sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def uow(users_db):
    """uow() -> a new UnitOfWork on the test database (no broker: events stay
    in the outbox)."""
    _url, session_factory = users_db

    def make():
        return UnitOfWork(session_factory, "users")

    return make


@pytest.fixture
def school(uow):
    with uow() as u:
        return institutions.create_institution(
            u, {"name": "Het Lyceum", "brin": "05KQ", "school_type": "vo"})
