"""Fixtures of the students tests (on top of tests/conftest.py)."""
import json

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.common.db import UnitOfWork, make_engine
from services.students.models import outbox
from services.users.service import UsersService


@pytest.fixture
def service_config(rabbit_config, make_db, tmp_path):
    """A nameko config on a fresh vhost with fresh users and students databases."""
    config = dict(rabbit_config)
    config["LEERLINGBUS_DATA_DIR"] = str(tmp_path / "var")
    config["USERS_DATABASE_URL"] = make_db("users")
    config["STUDENTS_DATABASE_URL"] = make_db("students")
    config["LEERLINGBUS_EVENT_RETRY_DELAY"] = "0.2"
    return config


class Db:
    """A migrated database of one service: url, session factory, unit of work."""

    def __init__(self, url, service):
        self.url = url
        self.service = service
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)

    def uow(self):
        return UnitOfWork(self.session_factory, self.service)

    def scalar(self, query):
        with self.session_factory() as session:
            return session.execute(query).scalar()

    def count(self, table, *where):
        return self.scalar(sa.select(sa.func.count()).select_from(table).where(*where))

    def events(self, event_type=None):
        """Outbox envelopes (all, or of one type), oldest first."""
        with self.session_factory() as session:
            query = sa.select(outbox.c.body).order_by(outbox.c.id)
            if event_type:
                query = query.where(outbox.c.event_type == event_type)
            return [json.loads(body) for (body,) in session.execute(query)]

    def bodies(self):
        with self.session_factory() as session:
            return [body for (body,) in session.execute(sa.select(outbox.c.body))]


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
def school(users):
    return users.create_institution({"name": "Het Lyceum", "brin": "05KQ", "school_type": "vo"})


@pytest.fixture
def other_school(users):
    return users.create_institution({"name": "Het College", "brin": "06AB",
                                     "school_type": "vo"})
