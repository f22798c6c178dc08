"""Logging in (with the login throttle) and the principal of a token."""
import hashlib

import sqlalchemy as sa

from services.common.errors import DomainError
from services.common.outbox import utcnow

from . import institution_rules, passwords, rules
from .models import Institution, LoginThrottle, User, login_throttle, users
from .store import code_arg, load_user, to_id
from .throttle import retry_after, throttle_key, throttle_remaining, too_many_attempts_message


def _invalid_credentials():
    return DomainError("invalid_credentials", rules.message("invalid_credentials"), status=401)


def token_epoch(password_hash):
    """Changes whenever the password hash does (a change, a reset, a rehash):
    the gateway refuses tokens issued under another epoch, so a new password
    revokes every token issued before it. Reveals nothing of the hash."""
    digest = hashlib.sha256(b"leerlingbus-token-epoch|" + (password_hash or "").encode())
    return digest.hexdigest()[:16]


def principal(user, inst):
    return {
        "user_id": user.id, "institution_id": inst.id,
        "institution": rules.PLATFORM_KEY if inst.is_platform else inst.brin,
        "code": user.code, "type": user.type, "roles": sorted(user.roles or []),
        "is_platform": bool(inst.is_platform), "token_epoch": token_epoch(user.password_hash),
    }


def _login_institution(session, institution):
    kind, brin = institution_rules.parse_login_institution(institution)
    if kind == rules.PLATFORM_KEY:
        return session.execute(sa.select(Institution).where(
            Institution.key == rules.PLATFORM_KEY)).scalar_one_or_none()
    if kind != "brin":
        return None
    inst = session.execute(sa.select(Institution).where(
        Institution.brin == brin)).scalar_one_or_none()
    if inst is None and len(brin) == 4:
        # a 4-character BRIN names the school when it has exactly one branch here
        candidates = session.execute(sa.select(Institution).where(
            Institution.brin.like(brin + "__")).limit(2)).scalars().all()
        inst = candidates[0] if len(candidates) == 1 else None
    return inst


def _record_failure(session, key, now):
    """failures += 1 for `key`, atomically (an upsert)."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(login_throttle).values(key=key, failures=1, last_failure_at=now)
        session.execute(stmt.on_conflict_do_update(
            index_elements=[login_throttle.c.key],
            set_={"failures": login_throttle.c.failures + 1, "last_failure_at": now}))
        return
    result = session.execute(  # pragma: no cover - other databases
        sa.update(login_throttle).where(login_throttle.c.key == key)
        .values(failures=login_throttle.c.failures + 1, last_failure_at=now))
    if result.rowcount == 0:  # pragma: no cover
        session.execute(sa.insert(login_throttle).values(key=key, failures=1,
                                                         last_failure_at=now))


def authenticate(uow, institution, code, password, now=None):
    """The principal of the account, or invalid_credentials (401) for every
    kind of failure, or too_many_attempts (429) while throttled."""
    now = now or utcnow()
    session = uow.session
    key = throttle_key(institution, code)
    throttle = session.get(LoginThrottle, key)
    if throttle is not None:
        remaining = throttle_remaining(throttle.failures, throttle.last_failure_at, now)
        if remaining > 0:
            seconds = retry_after(remaining)
            raise DomainError("too_many_attempts", too_many_attempts_message(seconds),
                              status=429, extra={"retry_after": seconds})
    inst = _login_institution(session, institution)
    login_code = code_arg(code) if isinstance(code, (str, int)) else None
    user = load_user(session, inst.id, login_code) if inst is not None and login_code else None
    found = None
    if user is not None:
        found = (user.id, user.password_hash, user.archived_at is None, principal(user, inst))
    session.rollback()  # hand the connection back while the password is checked

    password_ok = passwords.verify_password(found[1] if found else None, password)
    if not (found and password_ok and found[2]):
        _record_failure(session, key, now)
        uow.commit()
        raise _invalid_credentials()

    user_id, password_hash, _active, result = found
    values = {"last_login_at": now}
    if passwords.needs_rehash(password_hash):
        values["password_hash"] = passwords.hash_password(password)
        result = dict(result, token_epoch=token_epoch(values["password_hash"]))
    session.execute(sa.update(users).where(users.c.id == user_id).values(**values))
    session.execute(sa.delete(login_throttle).where(login_throttle.c.key == key))
    uow.commit()
    return result


def get_principal(uow, user_id):
    uid = to_id(user_id)
    user = uow.session.get(User, uid) if uid is not None else None
    if user is None or user.archived_at is not None:
        raise DomainError("token_invalid", rules.message("token_invalid"), status=401)
    return principal(user, uow.session.get(Institution, user.institution_id))
