"""Fixtures of the students tests (on top of tests/conftest.py)."""

import pytest

from services.users.service import UsersService
from tests.helpers import Db


@pytest.fixture
def service_config(rabbit_config, make_db, tmp_path):
    """A nameko config on a fresh vhost with fresh users and students databases."""
    config = dict(rabbit_config)
    config["LEERLINGBUS_DATA_DIR"] = str(tmp_path / "var")
    config["USERS_DATABASE_URL"] = make_db("users")
    config["STUDENTS_DATABASE_URL"] = make_db("students")
    config["LEERLINGBUS_EVENT_RETRY_DELAY"] = "0.2"
    return config


class LocalUsers:
    """The users service's RPC methods called in-process on a real users
    database: what the students handlers get from RpcProxy("users"), without
    a broker. `calls` records the method names."""

    def __init__(self, db):
        self.db = db
        self.calls = []

    def __getattr__(self, name):
        service = UsersService()
        service.db = self.db.uow
        fn = getattr(service, name)

        def call(*args, **kwargs):
            self.calls.append(name)
            return fn(*args, **kwargs)

        return call


@pytest.fixture
def users_db(make_db):
    db = Db(make_db("users"), "users")
    yield db
    db.engine.dispose()


@pytest.fixture
def students_db(make_db):
    db = Db(make_db("students"), "students")
    yield db
    db.engine.dispose()


@pytest.fixture
def users(users_db):
    return LocalUsers(users_db)


@pytest.fixture
def institution(users):
    return users.create_institution({"name": "Het Lyceum", "brin": "05KQ", "school_type": "vo"})


@pytest.fixture
def other_institution(users):
    return users.create_institution({"name": "Het College", "brin": "06AB",
                                     "school_type": "vo"})
