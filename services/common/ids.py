"""Identifier checks shared by every service (docs/architecture.md: Identifiers).

Thin wrappers around python-stdnum that accept what spreadsheets produce
(integers, floats like 20355889.0, surrounding spaces) and return the
canonical string, or raise ValueError with a stable code as its argument.
"""

import functools
import re

from stdnum.nl import brin as _brin
from stdnum.nl import bsn as _bsn
from stdnum.nl import onderwijsnummer as _onr
from stdnum.nl import postcode as _postcode


class IdentifierError(ValueError):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def _digits_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().replace(" ", "").replace(".", "").replace("-", "")


def normalize_bsn(value) -> str:
    """9 digits with the 11-proef; 8 digits are left-padded (Excel drops the
    leading zero). Anything shorter is refused, though stdnum would pad it."""
    text = _digits_text(value)
    if not (text.isdigit() and len(text) in (8, 9)):
        raise IdentifierError("bsn_invalid")
    if len(text) == 8:
        text = "0" + text
    try:
        return _bsn.validate(text)
    except Exception:
        raise IdentifierError("bsn_invalid") from None


def normalize_onderwijsnummer(value) -> str:
    text = _digits_text(value)
    if not (text.isdigit() and len(text) == 9):
        raise IdentifierError("onderwijsnummer_invalid")
    try:
        return _onr.validate(text)
    except Exception:
        raise IdentifierError("onderwijsnummer_invalid") from None


def normalize_brin(value) -> str:
    text = str(value or "").strip().upper()
    try:
        return _brin.validate(text)
    except Exception:
        raise IdentifierError("brin_invalid") from None


# A postcode already written as 1234 AB or 1234AB: python-stdnum's answer
# without its cleaning (tests/common/test_ids.py checks both agree).
_PLAIN_POSTCODE = re.compile(r"([1-9][0-9]{3}) ?([A-Z]{2})")
_UNUSED_LETTERS = ("SA", "SD", "SS")


def normalize_postcode(value) -> str:
    text = str(value or "").strip()
    plain = _PLAIN_POSTCODE.fullmatch(text)
    if plain is not None and plain.group(2) not in _UNUSED_LETTERS:
        return f"{plain.group(1)} {plain.group(2)}"
    try:
        return _postcode.validate(text)
    except Exception:
        raise IdentifierError("postcode_invalid") from None


# A conservative plain-ASCII subset of addresses that email-validator accepts
# and normalises by lowercasing the domain only. Loads of thousands of rows
# spend most of their checking time in email-validator, so these take a fast
# path; everything else (quoted parts, IDN, odd lengths) goes the full way.
# tests/common/test_ids.py checks both agree.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


@functools.cache
def _special_domains():
    # email-validator is imported when first needed: a quarter of the start-up
    # of the uploads check process, which rarely needs more than the fast path
    import email_validator

    return frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def preload():
    """Import what the e-mail checks import when first needed (~40 ms), at a
    service's start rather than in the middle of its first list load."""
    _special_domains()


@functools.lru_cache(maxsize=1024)
def _plain_domain(domain):
    """The lowercased domain when the fast path may take it (None: the full way)."""
    if not _DOMAIN.fullmatch(domain):
        return None
    domain = domain.lower()
    if "xn--" in domain or "--" in domain:
        return None
    labels = domain.split(".")
    for start in range(len(labels)):
        if ".".join(labels[start:]) in _special_domains():
            return None
    return domain


def _fast_email(text):
    local, at, domain = text.partition("@")
    if not at or len(text) > 254 or len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        return None
    domain = _plain_domain(domain)
    return None if domain is None else f"{local}@{domain}"


def normalize_email(value) -> str:
    text = str(value or "").strip()
    fast = _fast_email(text)
    if fast is not None:
        return fast
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise IdentifierError("email_invalid") from None


def is_student_number(value) -> bool:
    return isinstance(value, str) and value.isdigit() and 0 < len(value) <= 20


def mask(value, keep=4) -> str:
    if not value:
        return value
    return "*" * (len(value) - keep) + value[-keep:]


def to_id(value):
    """A record id from an RPC argument (an int, or a string of digits), else
    None; True and False are not ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None
