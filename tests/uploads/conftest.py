"""Fixtures of the uploads tests (on top of tests/conftest.py).

`smtp`: a real SMTP server (aiosmtpd, in its own process) whose messages land
in a Maildir; `service_config` points the services at it. `school`: an
institution with an admin token on the `system` fixture.
"""
import base64
import mailbox
import socket
import subprocess
import sys
import time
from email import policy

import pytest

from tests.helpers import wait_until
from tests.helpers import make_admin, make_institution, problem  # noqa: F401  (used by the tests here)

API = "/api/v1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Smtp:
    def __init__(self, host, port, maildir):
        self.host, self.port, self.maildir = host, port, maildir

    def messages(self):
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        out = []
        for key in box.keys():
            raw = box.get_bytes(key)
            from email import message_from_bytes
            out.append(message_from_bytes(raw, policy=policy.default))
        return out

    def wait_for(self, kind, to=None, timeout=15):
        def find():
            for msg in self.messages():
                if msg["X-Leerlingbus-Kind"] == kind and (to is None or msg["To"] == to):
                    return msg
            return None
        return wait_until(find, timeout=timeout, interval=0.2)


@pytest.fixture
def smtp(tmp_path):
    maildir = tmp_path / "maildir"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox",
         "-l", f"127.0.0.1:{port}", str(maildir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the SMTP server did not start")
            time.sleep(0.1)
    yield Smtp("127.0.0.1", port, maildir)
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()


@pytest.fixture
def service_config(service_config, smtp):
    config = dict(service_config)
    config["LEERLINGBUS_SMTP_HOST"] = smtp.host
    config["LEERLINGBUS_SMTP_PORT"] = str(smtp.port)
    config["LEERLINGBUS_UPLOAD_STALE_SECONDS"] = "5"
    return config


@pytest.fixture
def school(system):
    inst = make_institution(system)
    return inst, make_admin(system, inst)


FORM = {"school_type": "vo", "student_type": "potential_transfer", "name": "Janneke Wolff",
        "email": "j.wolff@school.nl", "note": "Nieuwe leerlingen 4 havo"}


def submit(api, token, content, filename="leerlingen.xlsx", **form):
    data = {**FORM, **form}
    return api.post(f"{API}/uploads", token=token, data=data,
                    files={"file": (filename, content, "application/octet-stream")})


def verdict(api, token, upload_id, timeout=30, until=("validating",)):
    """The upload once its status left `until`."""
    def done():
        r = api.get(f"{API}/uploads/{upload_id}", token=token)
        assert r.status_code == 200, r.text
        body = r.json()
        return body if body["status"] not in until else None
    return wait_until(done, timeout=timeout, interval=0.2)


def b64(data):
    return base64.b64encode(data).decode()
