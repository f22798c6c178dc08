"""The README's "Getting started" and the examples of docs/api.md, run as written.

The system starts with the README's first block (`make run`) on free ports, a
fresh vhost and a temporary data dir; the other blocks run in order in one
bash (`set -euo pipefail`), as a reader runs them in a second terminal.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import wait_for_health

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def section(text, title):
    """The body of a `## title` section of a markdown text."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section '## {title}'"
    return match.group(1)


def shell_blocks(markdown):
    return [block.strip() for block in BLOCK.findall(markdown)]


def test_blocks_are_found():
    blocks = shell_blocks("x\n```sh\na\nb\n```\n```json\n{}\n```\n```sh\nc\n```\n")
    assert blocks == ["a\nb", "c"]
    readme = section((ROOT / "README.md").read_text(), "Getting started")
    assert shell_blocks(readme)[0] == "make run"


def run_script(script, env, timeout=180):
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.e2e
def test_getting_started_as_written(rabbit_config, tmp_path):
    readme = section((ROOT / "README.md").read_text(), "Getting started")
    start, *steps = shell_blocks(readme)
    assert start == "make run" and steps
    api_examples = shell_blocks((ROOT / "docs" / "api.md").read_text())
    assert api_examples

    port, web_port = free_port(), free_port()
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.pop("LEERLINGBUS_HELPDESK_PASSWORD", None)
    env.update({"AMQP_URI": rabbit_config["AMQP_URI"], "LEERLINGBUS_HTTP_PORT": str(port),
                "LEERLINGBUS_WEB_PORT": str(web_port), "LEERLINGBUS_DATA_DIR": str(data_dir),
                "LEERLINGBUS_URL": f"http://127.0.0.1:{port}", "PYTHONUNBUFFERED": "1"})
    log_path = tmp_path / "run.log"
    base = env["LEERLINGBUS_URL"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["bash", "-c", start], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_health(base, proc, log_path)
        # the README's blocks, then the final state read in the same shell
        out = run_script("\n".join(steps) + '\necho\necho "STUDENTS $(curl -s "$API/students" '
                         '-H "Authorization: Bearer $ADMIN")"\n', env)
        students = json.loads(out.rsplit("STUDENTS ", 1)[1])
        numbers = sorted(s["student_number"] for s in students["items"])
        assert students["total"] == 3 and numbers == ["1001", "1002", "1003"], out
        assert all(s["status"] == "active" for s in students["items"])

        # the same state as the helpdesk sees it: the list loaded, three student accounts
        password = (data_dir / "helpdesk-password.txt").read_text().strip()
        token = requests.post(base + API + "/auth/token", json={
            "institution": "platform", "code": "helpdesk", "password": password},
            timeout=10).json()["access_token"]
        helpdesk = {"Authorization": "Bearer " + token}
        (school,) = requests.get(base + API + "/institutions", headers=helpdesk,
                                 timeout=10).json()["items"]
        (upload,) = requests.get(base + API + f"/uploads?institution_id={school['id']}",
                                 headers=helpdesk, timeout=10).json()["items"]
        assert upload["status"] == "loaded" and upload["rows"] == 3
        accounts = requests.get(base + API + f"/users?filter=students&institution_id="
                                f"{school['id']}", headers=helpdesk, timeout=10).json()
        assert sorted(u["code"] for u in accounts["items"]) == numbers
        admins = requests.get(base + API + f"/users?filter=employees&institution_id="
                              f"{school['id']}", headers=helpdesk, timeout=10).json()
        assert [u["roles"] for u in admins["items"]] == [["admin"]]

        # docs/api.md's examples, in a shell of their own
        out = run_script("\n".join(api_examples), env)
        assert "/api/v1/uploads" in out and '"code": "not_authenticated"' in out
        assert '"code": "length_invalid"' in out and '"status": "ok"' in out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    # the launcher stopped everything it started
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(base + "/health", timeout=2)
        except requests.ConnectionError:
            break
        except requests.Timeout:  # still going down
            pass
        assert time.monotonic() < deadline, "the gateway still answers after make run stopped"
        time.sleep(0.5)
