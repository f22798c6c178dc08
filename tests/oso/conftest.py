"""Fixtures of the oso tests: the standard's files (read from ../shared, never
copied), a fake LAS serving dossiers over HTTP, and the oso configuration of
the in-process system."""
import pytest

from tests.oso.oso_support import KEY, SKIP_REASON, STANDARD_DIR, FakeLas


def pytest_configure(config):
    config.addinivalue_line("markers", "oso_source(kind): the oso dossier source of `system` "
                                       "(http: the fake LAS, folder: a temp folder)")


@pytest.fixture
def standard_dir():
    if not (STANDARD_DIR / "examples").is_dir():
        pytest.skip(SKIP_REASON)
    return STANDARD_DIR


@pytest.fixture
def fake_las():
    import eventlet
    from eventlet import wsgi

    las = FakeLas(KEY)
    sock = eventlet.listen(("127.0.0.1", 0))
    server = eventlet.spawn(wsgi.server, sock, las, log_output=False)
    las.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield las
    server.kill()


@pytest.fixture
def dossier_folder(tmp_path):
    folder = tmp_path / "oso-dossiers"
    folder.mkdir()
    return folder


@pytest.fixture
def service_config(service_config, request, fake_las, dossier_folder):
    """The system's config plus the oso source chosen by @pytest.mark.oso_source
    (default http: the fake LAS) and the standard directory when present."""
    config = dict(service_config)
    marker = request.node.get_closest_marker("oso_source")
    kind = marker.args[0] if marker else "http"
    if kind == "http":
        config["LEERLINGBUS_OSO_SOURCE_URL"] = fake_las.url
    elif kind == "folder":
        config["LEERLINGBUS_OSO_SOURCE_DIR"] = str(dossier_folder)
    if STANDARD_DIR.is_dir():
        config["LEERLINGBUS_OSO_STANDARD_DIR"] = str(STANDARD_DIR)
    return config
