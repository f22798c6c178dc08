"""The web app in-process against the real gateway and services (the `system`
fixture), through werkzeug's test client: login, a page, the gateway's words
on a refusal, what happens when the gateway is gone. The browser tests walk
the flows; these run with the rest of the suite."""
import re

import pytest
from werkzeug.test import Client

from tests.conftest import HELPDESK_PASSWORD
from web.app import create_app
from web.settings import WebSettings


@pytest.fixture
def web(system, tmp_path):
    settings = WebSettings(secret_key="web-test-" + "k" * 40, session_dir=tmp_path / "sessions",
                           gateway_url=system.base_url)
    return Client(create_app(settings))


def csrf(response):
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))[1]


def login(web, institution="platform", code="helpdesk", password=HELPDESK_PASSWORD):
    page = web.get("/inloggen")
    return web.post("/inloggen", data={"csrf_token": csrf(page), "institution": institution,
                                       "code": code, "password": password})


def test_login_page_and_school_list(web, system):
    r = web.get("/scholen")
    assert r.status_code == 303 and r.headers["Location"] == "/inloggen?volgende=%2Fscholen"
    r = login(web)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    r = web.get("/scholen")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "School toevoegen" in html
    assert "Helpdesk" in html and "Uitloggen" in html
    assert re.search(r"app;dur=[\d.]+, api;dur=[\d.]+", r.headers["Server-Timing"])
    assert "eyJ" not in html


def test_refusal_in_the_apis_words_and_typed_values_kept(web, system):
    login(web)
    page = web.get("/scholen")
    r = web.post("/scholen", data={"csrf_token": csrf(page), "name": "Het <b>Testcollege</b>",
                                   "brin": "XYZ", "school_type": "vo"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'value="Het &lt;b&gt;Testcollege&lt;/b&gt;"' in html  # kept, and escaped
    assert 'id="brin-fout"' in html and 'aria-invalid="true"' in html


def test_gateway_gone_is_said_plainly(tmp_path):
    settings = WebSettings(secret_key="k" * 40, session_dir=tmp_path / "s",
                           gateway_url="http://127.0.0.1:9")
    web = Client(create_app(settings))
    page = web.get("/inloggen")
    r = web.post("/inloggen", data={"csrf_token": csrf(page), "institution": "platform",
                                    "code": "helpdesk", "password": "x"})
    assert r.status_code == 503
    assert "niet bereikbaar" in r.get_data(as_text=True)


def test_security_headers_on_every_answer(tmp_path):
    web = Client(create_app(WebSettings(secret_key="k" * 40, session_dir=tmp_path / "s",
                                        gateway_url="http://127.0.0.1:9")))
    for path in ("/inloggen", "/bestaat-niet", "/static/app.css"):
        r = web.get(path)
        assert "script-src 'self'" in r.headers["Content-Security-Policy"], path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert web.get("/bestaat-niet").status_code == 404
    assert web.get("/static/../app.py").status_code == 404
