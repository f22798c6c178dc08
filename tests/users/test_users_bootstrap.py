"""python -m services.users.bootstrap: the platform institution and helpdesk."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from services.common.errors import DomainError
from services.users import account_changes, accounts, auth, institutions
from services.users.bootstrap import PASSWORD_FILE, ensure_helpdesk
from services.users.models import Institution, User

ROOT = Path(__file__).resolve().parents[2]


def counts(session_factory):
    with session_factory() as session:
        return (session.execute(sa.select(sa.func.count()).select_from(Institution)).scalar_one(),
                session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one())


def login(uow, password):
    with uow() as u:
        return auth.authenticate(u, "platform", "helpdesk", password)


def test_env_password_is_used_and_no_file_written(users_db, uow, tmp_path):
    url = users_db.url
    created, generated = ensure_helpdesk(url, tmp_path, password="helpdesk-geheim-1")
    assert (created, generated) == (True, None)
    assert not (tmp_path / PASSWORD_FILE).exists()
    principal = login(uow, "helpdesk-geheim-1")
    assert principal["roles"] == ["helpdesk"] and principal["is_platform"] is True
    assert principal["institution"] == "platform" and principal["type"] == "employee"


def test_generated_password_is_stored_0600_and_second_run_creates_nothing(
        users_db, uow, tmp_path):
    _url, session_factory = users_db.url, users_db.session_factory
    created, generated = ensure_helpdesk(session_factory, tmp_path)
    assert created is True and len(generated) >= 20
    path = tmp_path / PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == generated
    assert login(uow, generated)["code"] == "helpdesk"
    before = counts(session_factory)
    assert before == (1, 1)

    assert ensure_helpdesk(session_factory, tmp_path) == (False, None)
    assert counts(session_factory) == before
    assert path.read_text().strip() == generated          # not regenerated
    assert login(uow, generated)["code"] == "helpdesk"


def test_env_password_resets_an_existing_account(users_db, uow, tmp_path):
    _url, session_factory = users_db.url, users_db.session_factory
    _created, generated = ensure_helpdesk(session_factory, tmp_path)
    assert ensure_helpdesk(session_factory, tmp_path, password="een nieuw geheim") == (
        False, None)
    assert login(uow, "een nieuw geheim")["code"] == "helpdesk"
    try:
        login(uow, generated)
    except DomainError as exc:
        assert exc.code == "invalid_credentials"
    else:
        raise AssertionError("the old password still works")


def test_bootstrap_command(users_db, tmp_path):
    url, session_factory = users_db.url, users_db.session_factory
    env = {k: v for k, v in os.environ.items() if k != "LEERLINGBUS_HELPDESK_PASSWORD"}
    env.update(USERS_DATABASE_URL=url, LEERLINGBUS_DATA_DIR=str(tmp_path / "data"),
               PYTHONWARNINGS="ignore")
    run = [sys.executable, "-m", "services.users.bootstrap"]
    first = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert "helpdesk account: institution=platform code=helpdesk" in lines
    password = next(line.split(": ", 1)[1] for line in lines if line.startswith("password: "))
    assert (tmp_path / "data" / PASSWORD_FILE).read_text().strip() == password

    second = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "helpdesk account: institution=platform code=helpdesk" in second.stdout
    assert "password" not in second.stdout
    assert counts(session_factory) == (1, 1)


def test_too_short_env_password_is_refused(users_db, tmp_path):
    url, session_factory = users_db.url, users_db.session_factory
    try:
        ensure_helpdesk(url, tmp_path, password="kort")
    except DomainError as exc:
        assert exc.code == "password_too_short"
    else:
        raise AssertionError("a 4-character password was accepted")
    assert counts(session_factory)[1] == 0


def test_helpdesk_email_is_the_helpdesk_accounts(users_db, uow, tmp_path):
    url, _session_factory = users_db.url, users_db.session_factory
    with uow() as u:
        assert institutions.helpdesk_email(u) is None                 # no platform yet
        institution = institutions.create_institution(u, {"name": "L", "brin": "05KQ",
                                                     "school_type": "vo"})
    with uow() as u:   # a user coded helpdesk at a institution is not the platform's
        accounts.create_user(u, institution["id"], {"code": "helpdesk", "first_name": "H",
                                               "last_name": "D", "email": "h@institution.nl"})
    ensure_helpdesk(url, tmp_path, password="helpdesk-geheim-1")
    with uow() as u:
        assert institutions.helpdesk_email(u) is None                 # created without one
        platform = institutions.ensure_platform(u).id
    with uow() as u:
        account_changes.update_user(u, platform, "helpdesk", {"email": "Balie@Leerlingbus.nl"})
    with uow() as u:
        assert institutions.helpdesk_email(u) == "Balie@leerlingbus.nl"
    with uow() as u:
        account_changes.archive_user(u, platform, "helpdesk")
    with uow() as u:
        assert institutions.helpdesk_email(u) is None
