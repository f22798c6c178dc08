"""The public route's rate limit per client."""
import datetime as dt
import hashlib

import sqlalchemy as sa

from services.common.errors import DomainError
from services.common.outbox import utcnow
from services.common.times import as_utc

from ..models import PublicAttempt, public_attempts


def client_key(client):
    """The rate-limit key of a client address (hashed: no addresses stored)."""
    return hashlib.sha256(f"leerlingbus:{client or '?'}".encode()).hexdigest()[:32]


def check_rate(uow, settings, client, now=None):
    """429 when this client made too many attempts (or too many with a wrong
    upload code) in the last hour."""
    now = now or utcnow()
    since = now - dt.timedelta(hours=1)
    key = client_key(client)
    rows = uow.session.execute(
        sa.select(public_attempts.c.ok, sa.func.count(), sa.func.min(public_attempts.c.at))
        .where(public_attempts.c.client == key, public_attempts.c.at >= since)
        .group_by(public_attempts.c.ok)).all()
    counts = {bool(ok): (n, first) for ok, n, first in rows}
    total = sum(n for n, _ in counts.values())
    bad, bad_first = counts.get(False, (0, None))
    limited_from = None
    if bad >= settings.public_bad_codes_per_hour:
        limited_from = bad_first
    elif total >= settings.public_per_hour:
        limited_from = min(first for _, first in counts.values())
    if limited_from is not None:
        wait = max(1, int((as_utc(limited_from) + dt.timedelta(hours=1) - now).total_seconds()))
        raise DomainError("too_many_attempts", "Te veel pogingen vanaf dit adres. Probeer het "
                                               "later opnieuw.", status=429,
                          extra={"retry_after": wait})
    return key


def record_attempt(uow, key, ok, now=None):
    now = now or utcnow()
    uow.session.add(PublicAttempt(client=key, ok=ok, at=now))
    uow.session.execute(sa.delete(public_attempts).where(
        public_attempts.c.at < now - dt.timedelta(days=1)))
    uow.commit()
