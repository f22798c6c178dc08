"""Web pages benchmark: the pages people wait on, with realistic data.

Starts the system as `make run` does (python -m deploy.run on free ports, a
fresh data dir and RabbitMQ vhost), loads 20,000 students (a student list of
20,000 rows, approved by the helpdesk) and submits a 5,000-row list that waits
for review. Then, for each page:

- server time: the web process's own time per request (its Server-Timing
  header `app`, which includes the calls to the gateway), median and p95 over
  `--repeat` requests with a logged-in session (plain HTTP);
- browser time: real Chromium (Debian's, through Playwright) navigating to the
  page until it is usable (DOMContentLoaded: the table is in the DOM and the
  controls work) and until the load event, median over `--repeat` navigations.

Pages: the students overview (first page, a search by name, a filter on
class), the review page of the 5,000-row list. Goal: under 300 ms server time
and under 1 s in the browser.

    .venv/bin/python bench/web_bench.py [--students 20000] [--review-rows 5000]
        [--repeat 15] [--json results.json]
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchsupport import drop_vhost, make_vhost  # noqa: E402
from tests.uploads.xlsxfactory import make_big_list  # noqa: E402

API = "/api/v1"
PASSWORD = "Bench-helpdesk-wachtwoord-1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    def __init__(self, base):
        self.base = base + API
        self.http = requests.Session()

    def token(self, institution, code, password):
        r = self.http.post(self.base + "/auth/token", json={
            "institution": institution, "code": code, "password": password}, timeout=30)
        r.raise_for_status()
        return r.json()["access_token"]

    def call(self, method, path, token, **kwargs):
        r = self.http.request(method, self.base + path, timeout=600,
                              headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None


def wait_status(api, token, upload_id, leave, timeout=900):
    deadline = time.monotonic() + timeout
    while True:
        up = api.call("GET", f"/uploads/{upload_id}?errors_limit=1", token)
        if up["status"] not in leave:
            return up
        if time.monotonic() > deadline:
            raise RuntimeError(f"upload {upload_id} still {up['status']}")
        time.sleep(1)


def submit(api, token, rows, student_type="potential_transfer"):
    started = time.perf_counter()
    content = make_big_list(rows, student_type=student_type)
    r = api.call("POST", "/uploads", token, data={
        "school_type": "vo", "student_type": student_type, "name": "Bench",
        "email": "bench@school.nl"}, files={"file": ("lijst.xlsx", content, XLSX)})
    up = wait_status(api, token, r["id"], ("validating",))
    assert up["status"] == "awaiting_review", up
    return r["id"], time.perf_counter() - started


def web_session(web, institution, code, password):
    http = requests.Session()
    html = http.get(web + "/inloggen", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = http.post(web + "/inloggen", data={"csrf_token": csrf, "institution": institution,
                                          "code": code, "password": password},
                  allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text[:500]
    return http


def server_time(http, url, repeat):
    """(web process ms, of which waiting for the gateway ms, HTTP round trip ms)."""
    times, api, wall = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        r = http.get(url, timeout=60)
        wall.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (url, r.status_code)
        timing = r.headers["Server-Timing"]
        times.append(float(re.search(r"app;dur=([\d.]+)", timing).group(1)))
        api.append(float(re.search(r"api;dur=([\d.]+)", timing).group(1)))
    return times, api, wall


def browser_times(web, cookies, paths, repeat):
    from playwright.sync_api import sync_playwright
    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get(
            "LEERLINGBUS_CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_cookies([{"name": c.name, "value": c.value, "url": web} for c in cookies])
        page = context.new_page()
        for name, path in paths.items():
            page.goto(web + path)  # warm: static files cached, as for a person
            usable, loaded = [], []
            for _ in range(repeat):
                page.goto(web + path, wait_until="load")
                timing = page.evaluate("""() => {
                    const n = performance.getEntriesByType('navigation')[0];
                    return [n.domContentLoadedEventEnd, n.loadEventEnd]; }""")
                usable.append(timing[0])
                loaded.append(timing[1])
                assert page.locator("table").count() >= 1, (name, page.url)
            results[name] = (usable, loaded)
        browser.close()
    return results


def stats(values):
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--review-rows", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    vhost = make_vhost("leerlingbus_webbench")
    tmp = Path(tempfile.mkdtemp(prefix="webbench-"))
    port, web_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_DATABASE_URL") and not k.startswith("LEERLINGBUS_")}
    env.update({"AMQP_URI": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
                "LEERLINGBUS_HTTP_PORT": str(port), "LEERLINGBUS_WEB_PORT": str(web_port),
                "LEERLINGBUS_DATA_DIR": str(tmp / "var"),
                "LEERLINGBUS_HELPDESK_PASSWORD": PASSWORD, "LEERLINGBUS_LOG_LEVEL": "WARNING"})
    log = open(tmp / "run.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "deploy.run", "--no-rabbitmq",
                             "--health-timeout", "120"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    web, gateway = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        while ">>> http://" not in (tmp / "run.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp / "run.log").read_text()[-3000:])
            time.sleep(0.5)
        api = Api(gateway)
        helpdesk = api.token("platform", "helpdesk", PASSWORD)
        inst = api.call("POST", "/institutions", helpdesk, json={
            "name": "Het Benchcollege", "brin": "99ZZ", "school_type": "vo"})
        api.call("POST", "/users", helpdesk, json={
            "institution_id": inst["id"], "code": "beheer", "first_name": "Bench",
            "last_name": "Beheer", "password": "Beheer-wachtwoord-1", "roles": ["admin"]})
        admin = api.token("99ZZ", "beheer", "Beheer-wachtwoord-1")

        print(f"loading {args.students} students (a list, approved)...", flush=True)
        big, checked = submit(api, admin, args.students)
        started = time.perf_counter()
        api.call("POST", f"/uploads/{big}/approve", helpdesk, json={})
        up = wait_status(api, admin, big, ("loading", "awaiting_review"), timeout=1800)
        assert up["status"] == "loaded" and up["loaded"] == args.students, up
        print(f"  checked in {checked:.1f} s, loaded in {time.perf_counter() - started:.1f} s",
              flush=True)
        review, _ = submit(api, admin, args.review_rows, student_type="non_transfer")

        admin_web = web_session(web, "99ZZ", "beheer", "Beheer-wachtwoord-1")
        helpdesk_web = web_session(web, "platform", "helpdesk", PASSWORD)
        sample = api.call("GET", "/students?page=7&page_size=1", admin)["items"][0]
        pages = {
            "students: first page": (admin_web, "/leerlingen"),
            "students: search by name": (admin_web, f"/leerlingen?q={sample['last_name']}"),
            "students: filter on class": (admin_web, f"/leerlingen?home_class="
                                                      f"{sample['home_class']}"),
            "review page, 5,000-row list": (helpdesk_web, f"/uploads/{review}"),
        }
        results = {}
        for name, (http, path) in pages.items():
            server_time(http, web + path, 2)  # warm-up
            app, api_ms, wall = server_time(http, web + path, args.repeat)
            results[name] = {"path": path, "server_ms": stats(app), "gateway_ms": stats(api_ms),
                             "http_ms": stats(wall)}
        for who, http in (("admin", admin_web), ("helpdesk", helpdesk_web)):
            mine = {n: p for n, (h, p) in pages.items() if h is http}
            for name, (usable, loaded) in browser_times(web, http.cookies, mine,
                                                        args.repeat).items():
                results[name]["browser_usable_ms"] = stats(usable)
                results[name]["browser_load_ms"] = stats(loaded)

        print(f"\nweb pages, {args.students:,} students, review list of {args.review_rows:,} "
              f"rows; median (p95) over {args.repeat} requests, ms")
        header = (f"{'page':30} {'server':>15} {'of it gateway':>15} {'HTTP':>15} "
                  f"{'usable':>15} {'loaded':>15}")
        print(header)
        print("-" * len(header))
        ok = True
        for name, r in results.items():
            cells = [f"{r[k][0]:7.1f} ({r[k][1]:5.0f})" for k in
                     ("server_ms", "gateway_ms", "http_ms", "browser_usable_ms",
                      "browser_load_ms")]
            print(f"{name:30} " + " ".join(f"{c:>15}" for c in cells))
            ok = ok and r["server_ms"][0] < 300 and r["browser_usable_ms"][0] < 1000
        print(f"\ngoal (server < 300 ms, browser < 1 s, medians): {'met' if ok else 'NOT met'}")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        drop_vhost(vhost)


if __name__ == "__main__":
    sys.exit(main())
