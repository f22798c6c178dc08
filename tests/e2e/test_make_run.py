"""End to end: start the system the way `make run` does (python -m deploy.run,
separate processes for the five services and the gateway; two each of students
and uploads, as `make run ARGS="--replicas students=2,uploads=2"`) on a fresh vhost
and data dir, and drive it over HTTP."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import wait_for_health, wait_for_output

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_make_run_end_to_end(rabbit_config, tmp_path):
    port, web_port = free_port(), free_port()
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.pop("LEERLINGBUS_HELPDESK_PASSWORD", None)
    env.update({"AMQP_URI": rabbit_config["AMQP_URI"], "LEERLINGBUS_HTTP_PORT": str(port),
                "LEERLINGBUS_WEB_PORT": str(web_port),
                "LEERLINGBUS_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"})
    log = open(tmp_path / "run.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "deploy.run",
                             "--replicas", "students=2,uploads=2"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, proc, tmp_path / "run.log", timeout=90)
        # the launcher printed the URL and the generated bootstrap password once,
        # when its own health check passed (that may be a round after ours: a
        # service still starting can make one answer a 503)
        output = wait_for_output(tmp_path / "run.log", proc,
                                 f">>> http://127.0.0.1:{web_port}/ <<<")
        assert f"127.0.0.1:{port}" in output
        stored = data_dir / "helpdesk-password.txt"
        assert stored.stat().st_mode & 0o777 == 0o600
        password = stored.read_text().strip()
        assert password and password in output
        # the web pages are the address to open, and they answer
        assert f">>> http://127.0.0.1:{web_port}/ <<<" in output
        page = requests.get(f"http://127.0.0.1:{web_port}/", timeout=10)
        assert page.status_code == 200 and "Inloggen" in page.text
        assert page.url.endswith("/inloggen?volgende=%2F")

        s = requests.Session()

        def login(inst, code, pw):
            return s.post(base + API + "/auth/token",
                          json={"institution": inst, "code": code, "password": pw}, timeout=10)

        r = login("platform", "helpdesk", password)
        assert r.status_code == 200, r.text
        helpdesk = {"Authorization": "Bearer " + r.json()["access_token"]}
        r = s.post(base + API + "/institutions", headers=helpdesk,
                   json={"name": "Het Testcollege", "brin": "00AB", "school_type": "vo"})
        assert r.status_code == 201, r.text
        inst = r.json()
        r = s.post(base + API + "/users", headers=helpdesk, json={
            "institution_id": inst["id"], "code": "beheer", "first_name": "Anna",
            "last_name": "Beheer", "password": "Beheer-wachtwoord-1", "roles": ["admin"]})
        assert r.status_code == 201, r.text
        r = login("00AB", "beheer", "Beheer-wachtwoord-1")
        admin = {"Authorization": "Bearer " + r.json()["access_token"]}
        r = s.post(base + API + "/users", headers=admin, json={
            "code": "123456", "first_name": "Daan", "last_name": "Berg", "is_student": True,
            "password": "Leerling-wachtwoord-1"})
        assert r.status_code == 201, r.text
        assert login("00AB", "123456", "Leerling-wachtwoord-1").status_code == 200
        listing = s.get(base + API + "/users?filter=students", headers=admin).json()
        assert [u["code"] for u in listing["items"]] == ["123456"]
        assert s.post(base + API + "/users/123456/archive", headers=admin).status_code == 200
        r = login("00AB", "123456", "Leerling-wachtwoord-1")
        assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
        children = child_pids(proc.pid)
        # five services (students and uploads twice), the gateway, the web pages
        assert len(children) >= 9, children
        logs = {p.name for p in (data_dir / "logs").glob("*.log")}
        assert {"students-1.log", "students-2.log", "uploads-1.log", "uploads-2.log",
                "users.log", "gateway.log", "web.log"} <= logs, logs
        assert "students, uploads keep(s) a SQLite file" in output
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    # every process the launcher started is gone
    time.sleep(0.5)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}")
             and "zombie" not in open(f"/proc/{pid}/status").read()]
    assert not alive, alive
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/health", timeout=3)


def child_pids(parent):
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    return [int(pid) for pid, ppid in (line.split() for line in out.splitlines())
            if int(ppid) == parent]
