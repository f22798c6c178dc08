"""The login throttle's maths: the key of an attempt, the wait after failures."""
import math

from services.common.times import as_utc

from .institution_rules import parse_login_institution
from .rules import CODE_MAX, PLATFORM_KEY

FREE_FAILURES = 5
MAX_WAIT_SECONDS = 300


def throttle_key(institution, code):
    """The throttle key of an account, whether or not it exists."""
    kind, brin = parse_login_institution(institution)
    if kind == PLATFORM_KEY:
        inst = PLATFORM_KEY
    elif kind == "brin":
        inst = brin
    else:
        inst = "?" + (str(institution or "").strip().upper()[:20])
    code = str(code or "").strip()[:CODE_MAX + 20]
    return f"{inst}|{code}"[:120]


def throttle_delay(failures):
    """Seconds the next attempt must wait after the last of `failures`
    consecutive failures: none for the first five, then 1, 2, 4 ... up to 300."""
    if failures < FREE_FAILURES:
        return 0
    exponent = failures - FREE_FAILURES
    if exponent >= 9:  # 2**9 = 512 > 300
        return MAX_WAIT_SECONDS
    return min(2 ** exponent, MAX_WAIT_SECONDS)


def throttle_remaining(failures, last_failure_at, now):
    """Seconds still to wait before another attempt is allowed (0: allowed)."""
    delay = throttle_delay(failures)
    if delay == 0 or last_failure_at is None:
        return 0.0
    elapsed = (as_utc(now) - as_utc(last_failure_at)).total_seconds()
    return max(0.0, delay - elapsed)


def retry_after(remaining):
    """Whole seconds for a Retry-After of `remaining` seconds (at least 1)."""
    return max(1, math.ceil(remaining))


def too_many_attempts_message(seconds):
    return (f"Te veel mislukte inlogpogingen. Probeer het over {seconds} "
            f"seconde{'' if seconds == 1 else 'n'} opnieuw.")
