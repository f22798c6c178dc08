"""Fixtures of the users tests (on top of tests/conftest.py)."""
import pytest

from services.users import institutions
from tests.helpers import Db


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
    """A fresh, migrated users database (tests.helpers.Db)."""
    db = Db(make_db("users"), "users")
    yield db
    db.engine.dispose()


@pytest.fixture
def uow(users_db):
    """uow() -> a new UnitOfWork on the test database (no broker: events stay
    in the outbox)."""
    return users_db.uow


@pytest.fixture
def institution(uow):
    with uow() as u:
        return institutions.create_institution(
            u, {"name": "Het Lyceum", "brin": "05KQ", "school_type": "vo"})
