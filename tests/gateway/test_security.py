"""Security found under fault tests: no published signing key, a new password
revokes old tokens, and no value writes a forged line into a log."""
import logging
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import yaml

from gateway.settings import Settings
from services.common.logredact import RedactFilter
from services.common.signing import InsecureKeyError, check_key
from web.settings import WebSettings
from tests.helpers import API, make_admin, make_institution, problem

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Geheim-wachtwoord-1"


def committed_keys():
    """Every signing key value committed in the deploy examples."""
    secret = yaml.safe_load((ROOT / "deploy/k8s/secret.yaml").read_text())["stringData"]
    values = [secret["LEERLINGBUS_SECRET_KEY"], secret["LEERLINGBUS_WEB_SECRET_KEY"]]
    for line in (ROOT / "deploy/.env.example").read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() in ("LEERLINGBUS_SECRET_KEY", "LEERLINGBUS_WEB_SECRET_KEY"):
            values.append(value.strip())
    return values


@pytest.mark.parametrize("key", ["change-me-to-a-long-random-string",
                                 "change-me-to-another-long-random-string",
                                 "generate-with-openssl-rand-hex-32", "k" * 31, "", "   "])
def test_a_placeholder_or_short_key_is_refused(key):
    with pytest.raises(InsecureKeyError) as info:
        Settings(amqp_uri="amqp://x/", secret_key=key)
    assert "openssl rand -hex 32" in str(info.value)
    with pytest.raises(InsecureKeyError):
        WebSettings(secret_key=key, session_dir=Path("/nonexistent"))


def test_no_usable_key_is_committed():
    values = committed_keys()
    assert len(values) == 4
    for value in values:
        with pytest.raises(InsecureKeyError):
            check_key(value, "key")
    assert check_key("a" * 64, "key") == "a" * 64


def test_the_gateway_does_not_start_with_the_placeholder(tmp_path):
    """So no token forged with a published key is ever checked by it."""
    placeholder = yaml.safe_load((ROOT / "deploy/k8s/secret.yaml").read_text())[
        "stringData"]["LEERLINGBUS_SECRET_KEY"]
    env = dict(os.environ, LEERLINGBUS_SECRET_KEY=placeholder,
               LEERLINGBUS_DATA_DIR=str(tmp_path), LEERLINGBUS_HTTP_PORT="0",
               AMQP_URI="amqp://guest:guest@127.0.0.1:1/")
    proc = subprocess.run([sys.executable, "-m", "gateway"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "InsecureKeyError" in proc.stderr and "placeholder" in proc.stderr


def test_make_run_generates_a_key_that_passes(tmp_path, monkeypatch):
    monkeypatch.delenv("LEERLINGBUS_SECRET_KEY", raising=False)
    monkeypatch.setenv("LEERLINGBUS_DATA_DIR", str(tmp_path))
    settings = Settings.from_env()
    assert (tmp_path / "secret-key").read_text().strip() == settings.secret_key
    assert Settings.from_env().secret_key == settings.secret_key


def test_a_token_forged_with_the_placeholder_is_refused(system):
    forged = jwt.encode({"sub": "1", "inst": 1, "iat": 1, "exp": 2 ** 40},
                        "change-me-to-a-long-random-string", algorithm="HS256")
    assert system.app.settings.secret_key != "change-me-to-a-long-random-string"
    problem(system.get(f"{API}/me", token=forged), 401, "token_invalid")


def test_a_password_change_and_a_reset_revoke_earlier_tokens(system):
    school = make_institution(system)
    admin = make_admin(system, school)
    assert system.get(f"{API}/me", token=admin).status_code == 200
    # the admin changes their own password: the old token is refused
    r = system.patch(f"{API}/users/beheer1", token=admin, json={"password": PASSWORD + "-2"})
    assert r.status_code == 200, r.text
    problem(system.get(f"{API}/me", token=admin), 401, "token_invalid")
    admin = system.login(school["brin"], "beheer1", PASSWORD + "-2")
    assert system.get(f"{API}/me", token=admin).status_code == 200

    # the helpdesk resets a teacher's password: the teacher's tokens go
    r = system.post(f"{API}/users", token=admin, json={
        "code": "docent1", "first_name": "Dirk", "last_name": "Docent", "password": PASSWORD,
        "roles": ["mentor"]})
    assert r.status_code == 201, r.text
    teacher = system.login(school["brin"], "docent1", PASSWORD)
    other_session = system.login(school["brin"], "docent1", PASSWORD)
    assert system.get(f"{API}/me", token=teacher).status_code == 200
    r = system.patch(f"{API}/users/docent1?institution_id={school['id']}",
                     json={"password": "Nieuw-wachtwoord-9"})
    assert r.status_code == 200, r.text
    for token in (teacher, other_session):
        problem(system.get(f"{API}/me", token=token), 401, "token_invalid")
    # another change (not the password) keeps the tokens
    fresh = system.login(school["brin"], "docent1", "Nieuw-wachtwoord-9")
    r = system.patch(f"{API}/users/docent1", token=admin, json={"first_name": "Dirk-Jan"})
    assert r.status_code == 200, r.text
    assert system.get(f"{API}/me", token=fresh).status_code == 200


def test_a_newline_in_the_path_stays_one_log_line(system, caplog):
    caplog.set_level(logging.INFO, logger="gateway.access")
    r = system.get(f"{API}/students%0A2026-01-01 INFO gateway.access GET /forged 200%0D")
    assert r.status_code in (401, 404)
    [record] = [r for r in caplog.records if r.name == "gateway.access" and "forged" in
                r.getMessage()]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line
    assert "students\\n2026-01-01 INFO gateway.access GET /forged 200\\r" in line


def test_the_log_filter_escapes_control_characters():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", ("a\nb\x1b[2Jc",),
                               None)
    assert RedactFilter().filter(record)
    assert record.getMessage() == "value a\\nb\\x1b[2Jc"
