"""Consuming events: the envelope, idempotency by event_id, and the retry or
park decision of a durable consumer (services/common/durable.py).

Plain functions, testable without a broker. An envelope that is not what the
publishers write (services/common/outbox.py) raises PermanentEventError: it
can never succeed, so the consumer parks it at once instead of retrying.
"""

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from .logredact import escape_controls, redact
from .outbox import utcnow

# Every institution_id column is a 32-bit INTEGER.
MAX_INSTITUTION_ID = 2**31 - 1  # also the largest 32-bit id anywhere
MAX_EVENT_ID = 36  # processed_events.event_id is VARCHAR(36)
MAX_TIMESTAMP = 64
# occurred_at outside these years is not a time any publisher wrote.
YEARS = (2000, 2200)
MAX_ERROR_TEXT = 300


class PermanentEventError(Exception):
    """An event that can never be applied (malformed, hostile values)."""


@dataclass(frozen=True)
class Envelope:
    event_id: str
    type: str
    institution_id: int
    data: dict
    occurred_at: dt.datetime | None  # aware UTC


def _occurred_at(value):
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TIMESTAMP:
        raise PermanentEventError("occurred_at is not an ISO 8601 timestamp")
    try:
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        moment = moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise PermanentEventError("occurred_at is not a valid timestamp") from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise PermanentEventError("occurred_at is out of range")
    return moment


def parse_envelope(payload, expected_type=None):
    """The Envelope of an event body, or PermanentEventError naming what is
    wrong (never a value from the event: it may hold personal data)."""
    if not isinstance(payload, dict):
        raise PermanentEventError("the event is not a JSON object")
    event_id, event_type = payload.get("event_id"), payload.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID:
        raise PermanentEventError("event_id is missing or invalid")
    if not isinstance(event_type, str) or (
        expected_type is not None and event_type != expected_type
    ):
        raise PermanentEventError("type is missing or not the routing key")
    iid = payload.get("institution_id")
    if isinstance(iid, bool) or not isinstance(iid, int) or not 0 < iid <= MAX_INSTITUTION_ID:
        raise PermanentEventError("institution_id is missing or out of range")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PermanentEventError("data is not an object")
    return Envelope(event_id, event_type, iid, data, _occurred_at(payload.get("occurred_at")))


# --- idempotency ------------------------------------------------------------------


def already_processed(session, processed_events, event_id):
    return (
        session.execute(
            sa.select(processed_events.c.event_id).where(processed_events.c.event_id == event_id)
        ).first()
        is not None
    )


def mark_processed(session, processed_events, event_id):
    """Record `event_id` in the caller's transaction (commit applies both)."""
    session.execute(sa.insert(processed_events).values(event_id=event_id, handled_at=utcnow()))


# --- retry or park ------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` deliveries in all; before attempt n+1 the message waits
    base_delay * 2**(n-1) seconds, at most max_delay."""

    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 60.0

    @classmethod
    def from_config(cls, config=None):
        from . import config as cfg

        return cls(
            max_attempts=max(1, int(cfg.setting("LEERLINGBUS_EVENT_MAX_ATTEMPTS", config, 8))),
            base_delay=max(0.0, float(cfg.setting("LEERLINGBUS_EVENT_RETRY_DELAY", config, 2))),
            max_delay=max(0.0, float(cfg.setting("LEERLINGBUS_EVENT_RETRY_MAX_DELAY", config, 60))),
        )

    def delay(self, attempt):
        return min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))

    def total_delay(self):
        """The longest a message waits in retries before it is parked."""
        return sum(self.delay(n) for n in range(1, self.max_attempts))


# Errors that a retry cannot cure: the event's content made the code fail.
PERMANENT = (
    PermanentEventError,
    ValueError,
    TypeError,
    OverflowError,
    KeyError,
    AttributeError,
    IndexError,
    UnicodeError,
)


def is_permanent(exc):
    from sqlalchemy.exc import DataError

    from .errors import DomainError

    if isinstance(exc, DomainError):
        return exc.status < 500  # a refusal is an answer; 5xx is a neighbour down
    return isinstance(exc, (*PERMANENT, DataError))


@dataclass(frozen=True)
class Decision:
    action: str  # "retry" or "park"
    delay: float = 0.0
    reason: str = ""  # why parked: "permanent" or "attempts"


def decide(attempt, exc, policy):
    """What to do with a message whose `attempt`-th delivery (1-based) failed
    with `exc`."""
    if is_permanent(exc):
        return Decision("park", reason="permanent")
    if attempt >= policy.max_attempts:
        return Decision("park", reason="attempts")
    return Decision("retry", delay=policy.delay(attempt))


def describe_error(exc):
    """(type, message) of an error as it is stored with a parked message and
    logged: one line, short, with long numbers (a BSN) masked."""
    message = escape_controls(redact(str(exc)))
    if len(message) > MAX_ERROR_TEXT:
        message = message[:MAX_ERROR_TEXT] + "..."
    return type(exc).__name__, message
