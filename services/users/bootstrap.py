"""Ensure the platform institution and the helpdesk account exist.

    python -m services.users.bootstrap

Run by the launcher after the migrations, against the configured users
database. The helpdesk password is LEERLINGBUS_HELPDESK_PASSWORD when set
(an existing account then gets that password); otherwise a random password is
generated only when the account is created, printed once and stored in
<data dir>/helpdesk-password.txt (mode 0600). There is no fixed default.
Running it again changes nothing.
"""
import os
import secrets
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from services.common import config as cfg
from services.common.db import UnitOfWork, make_engine
from services.common.errors import DomainError

from . import account_changes, accounts, institutions, passwords, rules
from .models import User

HELPDESK_CODE = rules.HELPDESK_CODE
PASSWORD_FILE = "helpdesk-password.txt"
PASSWORD_ENV = "LEERLINGBUS_HELPDESK_PASSWORD"


def _write_secret(path: Path, text: str):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def ensure_helpdesk(session_factory_or_url, data_dir, password=None):
    """Ensure the platform institution and its `helpdesk` account.

    Returns (created, generated_password): generated_password is the random
    password when this call created the account without one being given,
    else None. A given password is also set on an existing account.
    """
    engine = None
    if isinstance(session_factory_or_url, str):
        engine = make_engine(session_factory_or_url)
        session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    else:
        session_factory = session_factory_or_url
    try:
        with UnitOfWork(session_factory, "users") as uow:
            platform = institutions.ensure_platform(uow)
            existing = uow.session.execute(sa.select(User).where(
                User.institution_id == platform.id, User.code == HELPDESK_CODE)
            ).scalar_one_or_none()
            if existing is not None:
                if password and not passwords.verify_password(existing.password_hash, password):
                    account_changes.update_user(uow, platform.id, HELPDESK_CODE,
                                                {"password": password})
                return False, None

            generated = None
            if not password:
                password = generated = secrets.token_urlsafe(18)
            try:
                accounts.create_user(uow, platform.id, {
                    "code": HELPDESK_CODE, "type": "employee", "roles": ["helpdesk"],
                    "first_name": "Helpdesk", "last_name": "Leerlingbus",
                    "password": password,
                })
            except DomainError as exc:
                if exc.code == "user_exists":  # another bootstrap was quicker
                    return False, None
                raise
            except IntegrityError:  # pragma: no cover - same race, other shape
                return False, None
            if generated:
                path = Path(data_dir)
                path.mkdir(parents=True, exist_ok=True)
                _write_secret(path / PASSWORD_FILE, generated)
            return True, generated
    finally:
        if engine is not None:
            engine.dispose()


def main():
    data_dir = cfg.data_dir()
    password = os.environ.get(PASSWORD_ENV) or None
    try:
        created, generated = ensure_helpdesk(cfg.database_url("users"), data_dir, password)
    except DomainError as exc:
        print(f"helpdesk account: {exc.message} ({PASSWORD_ENV})", file=sys.stderr)
        return 1
    print(f"helpdesk account: institution=platform code={HELPDESK_CODE}")
    if not created:
        print("the account already existed; nothing created")
    if generated:
        print(f"password: {generated}")
        print(f"stored in {data_dir / PASSWORD_FILE} (mode 0600); "
              f"set {PASSWORD_ENV} to choose your own")
    return 0


if __name__ == "__main__":
    sys.exit(main())
