"""The request context on its own: the caller's actor and tenancy, and the
deadline a route's RPC calls get (a recording bus stands in for RabbitMQ;
tests/gateway/test_api.py covers the same over the real bus)."""

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.context import RequestContext
from gateway.routing import Route, route
from gateway.settings import Settings
from services.common.errors import DomainError

ADMIN = {"user_id": 7, "code": "adm", "roles": ["admin"], "institution_id": 3}
HELPDESK = {"user_id": 1, "code": "hd", "roles": ["helpdesk"], "institution_id": 1,
            "is_platform": True}


class RecordingBus:
    def __init__(self):
        self.calls = []

    def call(self, service, method, *args, timeout, **kwargs):
        self.calls.append((service, method, timeout))
        return {"method": method}


class App:
    def __init__(self):
        self.settings = Settings(amqp_uri="memory://", secret_key="k" * 48, rpc_timeout=8.0,
                                 request_deadline=9.0, health_timeout=2.0, sync_deadline=120.0)
        self.bus = RecordingBus()


def context(principal, query=None, **route_options):
    app = App()
    request = Request(EnvironBuilder(path="/").get_environ())
    ctx = RequestContext(app, request, Route("GET", "/x", handler=print, **route_options))
    ctx.principal = principal
    ctx.query = query or {}
    return ctx


def test_actor_tenant_and_scope_of_a_school_user():
    ctx = context(dict(ADMIN, email="x@example.org"))
    assert ctx.actor == {"user_id": 7, "code": "adm", "roles": ["admin"]}
    assert ctx.tenant == 3 and ctx.scope == 3 and not ctx.is_helpdesk
    assert ctx.institution_id() == 3 and ctx.institution_id(3) == 3
    with pytest.raises(DomainError) as exc:
        ctx.institution_id(4)
    assert exc.value.status == 404


def test_the_helpdesk_names_the_institution_by_default_in_the_query():
    ctx = context(HELPDESK, query={"institution_id": 5})
    assert ctx.is_helpdesk and ctx.scope is None and ctx.tenant == 1
    assert ctx.institution_id() == 5 and ctx.institution_id(6) == 6
    with pytest.raises(DomainError) as exc:
        context(HELPDESK).institution_id()
    assert (exc.value.status, exc.value.code) == (422, "institution_id_required")


def test_a_helpdesk_role_outside_the_platform_is_no_helpdesk():
    ctx = context(dict(HELPDESK, is_platform=False))
    assert not ctx.is_helpdesk and ctx.scope == 1


def test_calls_get_the_request_deadline_unless_the_route_names_a_longer_one():
    ctx = context(ADMIN)
    ctx.call("sync", "status", 3, 1)
    assert ctx.app.bus.calls == [("sync", "status", pytest.approx(8.0, abs=0.5))]

    ctx = context(ADMIN, deadline="sync_deadline")
    ctx.call("sync", "status", 3, 1)
    ctx.call("sync", "differences", 3, 1)
    # One quick probe per service and request, then the long deadline.
    assert ctx.app.bus.calls == [("sync", "health", 2.0), ("sync", "status", 120.0),
                                 ("sync", "differences", 120.0)]


def test_a_route_option_must_name_a_setting():
    with pytest.raises(ValueError, match="sync_dedline"):
        route("GET", "/x", deadline="sync_dedline")
    with pytest.raises(ValueError, match="max_body"):
        route("GET", "/x", max_body=1024)


def test_settings_are_read_once_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LEERLINGBUS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEERLINGBUS_SECRET_KEY", "s" * 48)
    monkeypatch.setenv("LEERLINGBUS_SYNC_DEADLINE", "30.5")
    monkeypatch.setenv("LEERLINGBUS_SYNC_SNAPSHOT_MAX_BYTES", "1000")
    monkeypatch.setenv("LEERLINGBUS_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("LEERLINGBUS_IMPORT_DEADLINE", "")  # empty: the default
    settings = Settings.from_env(port=0)
    assert (settings.sync_deadline, settings.sync_snapshot_max_bytes) == (30.5, 1000)
    assert (settings.host, settings.port, settings.import_deadline) == ("0.0.0.0", 0, 300.0)


def test_an_upload_is_streamed_into_the_store_and_dropped_when_the_call_fails(tmp_path):
    """gateway/files.py: the multipart file goes into the store within the
    route's limit; a call that fails (a service down) deletes it again."""
    import io

    from werkzeug.datastructures import FileStorage

    from gateway import files
    from services.common import filestore
    from services.common.errors import DomainError as Refused

    ctx = context(ADMIN)
    ctx.app.files = store = filestore.LocalStore(tmp_path)
    ctx.app.settings.max_upload_bytes = 1000
    ctx.files = {"file": FileStorage(io.BytesIO(b"a;b\n" * 10), filename="x.csv")}
    name, ref = files.receive(ctx)
    assert name == "x.csv" and store.read(ref) == b"a;b\n" * 10
    assert files.call_with_file(ctx, ref, "uploads", "create_import", ref) == {
        "method": "create_import"}
    assert store.exists(ref["key"])  # kept: the service adopts or deletes it

    def down(*_args, **_kwargs):
        raise Refused("service_unavailable", "weg", status=503)

    ctx.app.bus.call = down
    with pytest.raises(Refused):
        files.call_with_file(ctx, ref, "uploads", "create_import", ref)
    assert not store.exists(ref["key"])

    ctx.files = {"file": FileStorage(io.BytesIO(b"x" * 1001), filename="big.csv")}
    with pytest.raises(Refused) as exc:
        files.receive(ctx)
    assert exc.value.code == "file_too_large"
    assert list(store.keys("incoming/")) == []
