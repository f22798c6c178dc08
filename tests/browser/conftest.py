"""Browser tests: real Chromium (Debian's `chromium`, driven by Playwright for
Python) against the whole system started as `make run` starts it
(`python -m deploy.run` on free ports, a fresh data dir and RabbitMQ vhost),
one system for the whole session. Every page a test opens is checked with
axe-core (from npm, tests/browser/package.json): no violation of impact
serious or critical. A failing test leaves a screenshot in
var/browser-failures/; with LEERLINGBUS_DOC_SCREENSHOTS=1 (make screenshots)
the tests write docs/screenshots/.

Run them with plain pytest (`make test-browser`, part of `make test`):
Playwright's driver does not run under the eventlet monkey-patching of
`nameko test`, which therefore skips them.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
FAILURES = ROOT / "var" / "browser-failures"
SCREENSHOTS = ROOT / "docs" / "screenshots"
API = "/api/v1"
HELPDESK_PASSWORD = "Helpdesk-browser-wachtwoord-1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium_path():
    for candidate in (os.environ.get("LEERLINGBUS_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _monkey_patched():
    try:
        from eventlet import patcher
    except ImportError:  # pragma: no cover
        return False
    return patcher.is_monkey_patched("socket")


def missing_prerequisite():
    """Why the browser tests cannot run here, or None."""
    if _monkey_patched():
        return ("browser tests run under plain pytest (make test-browser), not under "
                "`nameko test`: Playwright's driver does not run with eventlet's monkey-patching")
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "no Chromium here (as root: apt-get install -y chromium)"
    if not AXE.exists():
        return "axe-core is not installed (npm ci --prefix tests/browser)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = missing_prerequisite()
    here = str(Path(__file__).resolve().parent)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.browser)
            # In CI a missing browser is a failure (the `system` fixture says why).
            if reason and not (IN_CI and not _monkey_patched()):
                item.add_marker(pytest.mark.skip(reason=reason))


# --------------------------------------------------------------------------- the system

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RabbitVhost:
    """A fresh vhost on the local broker (management API), removed afterwards."""

    def __init__(self, api="http://127.0.0.1:15672", user="guest", password="guest"):
        self.api, self.auth = api, (user, password)
        self.name = "lb-browser-" + uuid.uuid4().hex[:8]

    def __enter__(self):
        name = quote(self.name, safe="")
        r = requests.put(f"{self.api}/api/vhosts/{name}", auth=self.auth, timeout=10)
        r.raise_for_status()
        r = requests.put(f"{self.api}/api/permissions/{name}/{self.auth[0]}", auth=self.auth,
                         json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10)
        r.raise_for_status()
        return f"amqp://{self.auth[0]}:{self.auth[1]}@127.0.0.1:5672/{name}"

    def __exit__(self, *exc):
        requests.delete(f"{self.api}/api/vhosts/{quote(self.name, safe='')}", auth=self.auth,
                        timeout=10)


OSO_STANDARD = ROOT.parent / "shared" / "standards" / "oso"


class System:
    """The running system: its web address, its gateway, and API helpers to set
    up what a test needs before the person starts (through the public API).
    `oso_dir` is the OSO dossier source (a folder: a primary school's LAS that
    put dossiers ready)."""

    def __init__(self, web, gateway, data_dir, oso_dir=None):
        self.web = web
        self.gateway = gateway
        self.data_dir = data_dir
        self.oso_dir = oso_dir
        self.http = requests.Session()

    def url(self, path):
        return self.web + path

    def token(self, institution, code, password):
        r = self.http.post(self.gateway + API + "/auth/token", json={
            "institution": institution, "code": code, "password": password}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def api(self, method, path, token, **kwargs):
        r = self.http.request(method, self.gateway + API + path, timeout=60,
                              headers={"Authorization": f"Bearer {token}"}, **kwargs)
        return r

    @property
    def helpdesk(self):
        return self.token("platform", "helpdesk", HELPDESK_PASSWORD)

    def user(self, token, code, roles, password="Medewerker-wachtwoord-1", first="Mo",
             last="Mentor"):
        """An employee of the admin's school with these roles; returns their password."""
        r = self.api("POST", "/users", token, json={
            "code": code, "first_name": first, "last_name": last, "password": password,
            "roles": list(roles), "email": f"{code}@school.nl"})
        assert r.status_code == 201, r.text
        return password

    def ok(self, method, path, token, status=(200, 201), **kwargs):
        r = self.api(method, path, token, **kwargs)
        assert r.status_code in ((status,) if isinstance(status, int) else status), r.text
        return r.json() if r.content else None

    def school(self, brin, name, school_type="vo", admin="beheer",
               password="Beheer-wachtwoord-1"):
        """An institution with an administrator (through the API); (institution, token)."""
        token = self.helpdesk
        r = self.api("POST", "/institutions", token, json={"name": name, "brin": brin,
                                                           "school_type": school_type})
        assert r.status_code == 201, r.text
        inst = r.json()
        r = self.api("POST", "/users", token, json={
            "institution_id": inst["id"], "code": admin, "first_name": "Janneke",
            "last_name": "Wolff", "email": f"{admin}@{brin.lower()}.nl", "password": password,
            "roles": ["admin"]})
        assert r.status_code == 201, r.text
        return inst, self.token(brin, admin, password)


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    reason = missing_prerequisite()
    if reason:
        pytest.fail(f"CI must run the browser tests: {reason}")
    tmp = tmp_path_factory.mktemp("browser-system")
    data_dir = tmp / "var"
    oso_dir = tmp / "oso-dossiers"
    oso_dir.mkdir()
    port, web_port = free_port(), free_port()
    with RabbitVhost() as amqp_uri:
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("_DATABASE_URL") and not k.startswith("LEERLINGBUS_")}
        env.update({"AMQP_URI": amqp_uri, "LEERLINGBUS_HTTP_PORT": str(port),
                    "LEERLINGBUS_WEB_PORT": str(web_port), "LEERLINGBUS_DATA_DIR": str(data_dir),
                    "LEERLINGBUS_HELPDESK_PASSWORD": HELPDESK_PASSWORD,
                    "LEERLINGBUS_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                    "LEERLINGBUS_OSO_SOURCE_DIR": str(oso_dir)})
        if OSO_STANDARD.is_dir():
            env["LEERLINGBUS_OSO_STANDARD_DIR"] = str(OSO_STANDARD)
        log_path = tmp / "run.log"
        log = open(log_path, "w+")
        proc = subprocess.Popen([sys.executable, "-m", "deploy.run", "--no-rabbitmq",
                                 "--health-timeout", "120"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 150
            while ">>> http://127.0.0.1" not in log_path.read_text():
                assert proc.poll() is None, log_path.read_text()[-4000:]
                assert time.monotonic() < deadline, log_path.read_text()[-4000:]
                time.sleep(0.3)
            match = re.search(r">>> (http://127\.0\.0\.1:\d+)/ <<<", log_path.read_text())
            assert match and match.group(1) == f"http://127.0.0.1:{web_port}", \
                "make run prints the web pages as the address to open"
            yield System(match.group(1), f"http://127.0.0.1:{port}", data_dir, oso_dir)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()


# --------------------------------------------------------------------------- the browser

@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def context(browser, system):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="nl-NL",
                              accept_downloads=True, base_url=system.web)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, request):
    pg = context.new_page()
    request.node._browser_page = pg
    yield pg


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    pg = getattr(item, "_browser_page", None)
    if report.when == "call" and report.failed and pg is not None:
        FAILURES.mkdir(parents=True, exist_ok=True)
        target = FAILURES / (re.sub(r"[^\w.-]+", "_", item.name) + ".png")
        try:
            pg.screenshot(path=str(target), full_page=True)
            report.sections.append(("screenshot", str(target)))
        except Exception as exc:  # noqa: BLE001 - a closed page: say so, keep the failure
            report.sections.append(("screenshot", f"none: {exc}"))


# --------------------------------------------------------------------------- helpers

_AXE_SOURCE = None


def check_a11y(pg):
    """axe-core on the page as it is: no serious or critical violation."""
    global _AXE_SOURCE
    if _AXE_SOURCE is None:
        _AXE_SOURCE = AXE.read_text(encoding="utf-8")
    if not pg.evaluate("() => typeof window.axe !== 'undefined'"):
        pg.evaluate(_AXE_SOURCE)
    violations = pg.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    assert violations == [], f"axe on {pg.url}: {violations}"


def screenshot(pg, name):
    """A picture of the page for docs/ (docs/screenshots/<name>.png)."""
    if os.environ.get("LEERLINGBUS_DOC_SCREENSHOTS", "0") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def login(pg, school, code, password, expect="/"):
    pg.goto("/inloggen")
    pg.get_by_label("School").fill(school)
    pg.get_by_label("Gebruikersnaam").fill(code)
    pg.get_by_label("Wachtwoord").fill(password)
    pg.get_by_role("button", name="Inloggen").click()
    if expect:
        pg.wait_for_url(lambda url: url.endswith(expect))


def path_of(pg):
    from urllib.parse import urlsplit
    parts = urlsplit(pg.url)
    return parts.path + (("?" + parts.query) if parts.query else "")
