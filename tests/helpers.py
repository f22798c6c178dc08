"""Helpers for tests that run services and the gateway in-process."""
import importlib
import json
import time

import eventlet
import requests
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.common.config import SERVICES
from services.common.db import UnitOfWork, make_engine
from services.common.outbox import outbox_table

outbox = outbox_table(sa.MetaData())  # every service's outbox has this shape


def service_class(name):
    module = importlib.import_module(f"services.{name}.service")
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "name", None) == name \
                and value.__module__ == module.__name__:
            return value
    raise LookupError(name)


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


class Api:
    """A tiny HTTP client for the gateway under test."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.session = requests.Session()
        self.token = None

    def request(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        token = token if token is not None else self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else self.base_url + path
        return self.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, institution, code, password):
        r = self.post("/api/v1/auth/token",
                      json={"institution": institution, "code": code, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


API = "/api/v1"


def make_institution(api, brin="00AB", name="Het Testcollege", school_type="vo"):
    r = api.post(f"{API}/institutions", json={"name": name, "brin": brin,
                                                "school_type": school_type})
    assert r.status_code == 201, r.text
    return r.json()


def make_admin(api, institution, code="beheer1", password="Geheim-wachtwoord-1"):
    """An admin of `institution`; returns their token."""
    r = api.post(f"{API}/users", json={
        "institution_id": institution["id"], "code": code, "first_name": "Anna",
        "last_name": "Beheer", "email": f"{code}@school.nl", "password": password,
        "roles": ["admin"]})
    assert r.status_code == 201, r.text
    return api.login(institution["brin"], code, password)


def problem(r, status, code=None):
    """Assert a problem+json answer with that status (and code); returns its body."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    if code is not None:
        assert body["code"] == code, body
    assert body["status"] == status
    return body


def wait_until(predicate, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        eventlet.sleep(interval)
    raise AssertionError("condition not met in time")


__all__ = ["SERVICES", "service_class", "Db", "Api", "wait_until", "make_institution", "make_admin",
           "problem"]


class S3Server:
    """moto's S3 server (moto[server], pinned in pyproject) in a child process
    on a free loopback port: a real S3-compatible HTTP server for the file
    store's tests (no MinIO server is obtainable from PyPI or apt here)."""

    def __init__(self):
        import socket
        import subprocess
        import sys
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        script = ("import sys; from moto.server import main; "
                  "sys.exit(main(['-H', '127.0.0.1', '-p', sys.argv[1]]))")
        self.proc = subprocess.Popen([sys.executable, "-c", script, str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.endpoint + "/moto-api/", timeout=1).status_code < 500:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("the S3 test server (moto_server) did not start")
            time.sleep(0.1)

    def config(self, bucket):
        """Settings that point the file store at this server."""
        return {"LEERLINGBUS_FILESTORE": "s3", "LEERLINGBUS_S3_ENDPOINT": self.endpoint,
                "LEERLINGBUS_S3_BUCKET": bucket, "LEERLINGBUS_S3_ACCESS_KEY": "test",
                "LEERLINGBUS_S3_SECRET_KEY": "test-secret", "LEERLINGBUS_S3_REGION": "eu-west-1"}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except Exception:  # pragma: no cover
            self.proc.kill()


def wait_for_health(base, proc, log_path, timeout=180):
    """Poll GET /health until 200. While a service is still starting, the
    gateway waits its own health deadline (3 s) for that service before it
    answers 503, so the client's read timeout must be longer than that, and a
    slow answer is one more round, not a failure."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log_path.read_text()
        try:
            if requests.get(base + "/health", timeout=15).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.5)


def wait_for_output(log_path, proc, text, timeout=60):
    """The whole of a process's log once `text` is in it."""
    deadline = time.monotonic() + timeout
    while True:
        output = log_path.read_text()
        if text in output:
            return output
        assert proc.poll() is None, output
        assert time.monotonic() < deadline, output
        time.sleep(0.2)
