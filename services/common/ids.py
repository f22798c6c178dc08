"""Identifier checks shared by every service (DESIGN.md: Identifiers).

Thin wrappers around python-stdnum that accept what spreadsheets produce
(integers, floats like 20355889.0, surrounding spaces) and return the
canonical string, or raise ValueError with a stable code as its argument.
"""
from email_validator import EmailNotValidError, validate_email
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


def normalize_postcode(value) -> str:
    text = str(value or "").strip()
    try:
        return _postcode.validate(text)
    except Exception:
        raise IdentifierError("postcode_invalid") from None


def normalize_email(value) -> str:
    text = str(value or "").strip()
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
