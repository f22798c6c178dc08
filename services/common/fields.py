"""The field rules of personal data and of the student record: one table.

Over 400 lines: the table and its coercion stay together, one copy every path reads.

Every path that accepts these fields uses this table and nothing else: the
users service (personal data: it owns them), the students service (the
student record and placements: it owns them; it also checks personal data it
forwards to users, with the same rules), and the uploads service (the Excel
student list and the CSV imports check rows before anything is sent). So a
name, a postcode or a BSN gets the same verdict, the same code and the same
Dutch message everywhere; tests/common/test_fields.py proves the paths agree
and that the limits are the database's.

What is here: per field its owner, Dutch label, kind, the length limit (the
database column's), and the coercion of what forms, spreadsheets and CSV
files give (text, integers, Excel's 123456.0, dates) to the stored value, or
a FieldError with a stable code. What is not here: which fields a context
requires, which choices a template offers (uploads' leerweg list, the years
of a school type): those stay with their owners, using `required_message`,
`choice_message` for the words.

`label` in a message is what the reader sees: the field's Dutch label, or the
column title of the file the value came from.
"""

import calendar
import datetime as dt
import math
import operator
import re
from dataclasses import dataclass

from .ids import IdentifierError, normalize_email, normalize_onderwijsnummer, normalize_postcode

MONTHS_NL = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)


class FieldError(Exception):
    """A value refused: `code` (stable) and what its message needs."""

    def __init__(self, code, **kw):
        super().__init__(code)
        self.code = code
        self.kw = kw


@dataclass(frozen=True)
class FieldRule:
    name: str
    label: str
    owner: str  # users | students: the service whose data it is
    kind: str  # text digits bsn onderwijsnummer date gender postcode email int bool
    max_length: int | None = None  # the database column's length
    low: int | None = None  # int: the range
    high: int | None = None
    code: str | None = None  # the code of a value of the wrong kind (int, bool)


_RULES = (
    # personal data: the users service
    FieldRule("code", "Code", "users", "text", 50),
    FieldRule("initials", "Voorletters", "users", "text", 20),
    FieldRule("first_name", "Voornaam", "users", "text", 100),
    FieldRule("prefix", "Tussenvoegsel", "users", "text", 30),
    FieldRule("last_name", "Achternaam", "users", "text", 150),
    FieldRule("gender", "Geslacht", "users", "gender", 1),
    FieldRule("email", "E-mailadres", "users", "email", 254),
    FieldRule("street", "Straat", "users", "text", 200),
    FieldRule("house_number", "Huisnummer", "users", "text", 20),
    FieldRule("postcode", "Postcode", "users", "postcode", 7),
    FieldRule("city", "Woonplaats", "users", "text", 100),
    # the student record: the students service
    FieldRule("student_number", "Leerlingnummer", "students", "digits", 20),
    FieldRule("bsn", "BSN", "students", "bsn", 9),
    FieldRule("onderwijsnummer", "Onderwijsnummer", "students", "onderwijsnummer", 9),
    FieldRule("date_of_birth", "Geboortedatum", "students", "date"),
    FieldRule(
        "year_of_education",
        "Leerjaar",
        "students",
        "int",
        low=1,
        high=10,
        code="year_of_education_invalid",
    ),
    FieldRule("track", "Leerweg", "students", "text", 50),
    FieldRule("home_class", "Stamklas", "students", "text", 50),
    # placements (participations): the students service
    FieldRule("department", "Afdeling", "students", "text", 20),
    FieldRule("forecast", "Prognose", "students", "int", low=0, high=100, code="forecast_invalid"),
    FieldRule("profile", "Profiel", "students", "text", 50),
    FieldRule("programme", "Opleiding", "students", "text", 100),
    FieldRule("learning_path", "Leerpad", "students", "text", 50),
    FieldRule("lwoo", "LWOO", "students", "bool", code="lwoo_invalid"),
)
FIELDS = {rule.name: rule for rule in _RULES}
PERSONAL_FIELDS = tuple(r.name for r in _RULES if r.owner == "users" and r.name != "code")

GENDERS = ("M", "V", "X")
# What forms, lists and administrations write for M, V and X (Dutch and English).
GENDER_ALIASES = {
    "m": "M",
    "man": "M",
    "jongen": "M",
    "male": "M",
    "v": "V",
    "vrouw": "V",
    "meisje": "V",
    "f": "V",
    "female": "V",
    "x": "X",
    "anders": "X",
    "onbekend": "X",
    "o": "X",
    "other": "X",
    "u": "X",
    "unknown": "X",
}
TRUE_WORDS = ("1", "ja", "j", "true", "yes", "y", "x", "waar")
FALSE_WORDS = ("0", "nee", "n", "false", "no", "onwaar")


# --- messages -------------------------------------------------------------------------

MESSAGES = {
    "required": "{label} is verplicht.",
    "value_invalid": "{label} heeft geen geldige waarde.",
    "value_control": "{label} bevat een tab, regelovergang of ander onzichtbaar teken; "
    "haal dat weg.",
    "too_long": "{label} is te lang: {length} tekens, hoogstens {limit}.",
    "student_number_not_digits": "{label} mag alleen cijfers bevatten.",
    "bsn_invalid": "Het BSN is niet geldig: het voldoet niet aan de elfproef. Controleer "
    "de cijfers.",
    "bsn_length": "Het BSN is niet geldig: het heeft {count} cijfers, een BSN heeft er 9.",
    "bsn_shape": "Het BSN is niet geldig: het mag alleen cijfers bevatten (9 cijfers).",
    "bsn_leading_zeros_lost": "Het BSN heeft maar {count} cijfers: Excel heeft de "
    "voorloopnullen weggelaten (van 001234567 maakt Excel 1234567). "
    "Vul het aan met nullen tot 9 cijfers en maak de kolom op als "
    "tekst (zoals in het format), dan bewaart Excel ze.",
    "onderwijsnummer_invalid": "Het onderwijsnummer is niet geldig: 9 cijfers, beginnend "
    "met 10, die aan de elfproef voldoen.",
    "date_invalid": "{label} is geen datum: schrijf dd-mm-jjjj (bijvoorbeeld 03-11-2010) of "
    "gebruik een Excel-datum.",
    "date_nonexistent": "{label} {text} bestaat niet: {reason}.",
    "date_out_of_range": "{label} ligt niet tussen 01-01-1900 en vandaag.",
    "gender_invalid": "{label} moet M (man), V (vrouw) of X (anders of onbekend) zijn.",
    "email_invalid": "{label} is geen geldig e-mailadres (bijvoorbeeld naam@school.nl).",
    "postcode_invalid": "De postcode {text} heeft niet de vorm 1234 AB: vier cijfers (niet "
    "beginnend met 0) en twee letters.",
    "postcode_unused_letters": "De postcode {text} bestaat niet: de lettercombinaties SA, SD "
    "en SS worden in Nederlandse postcodes nooit gebruikt.",
    "int_invalid": "{label} moet een geheel getal van {low} tot en met {high} zijn.",
    "bool_invalid": "{label} moet ja of nee zijn.",
    "choice_invalid": "{label} moet een van deze waarden zijn: {choices}.",
    "bsn_required": "Een potentiële overstapper heeft een BSN nodig, of een onderwijsnummer "
    "als er geen BSN is.",
}
# The message of a code when the situation has its own words.
_CODE_MESSAGE = {
    "forecast_invalid": "int_invalid",
    "year_of_education_invalid": "int_invalid",
    "lwoo_invalid": "bool_invalid",
    "track_invalid": "choice_invalid",
}


def label_of(field):
    rule = FIELDS.get(field)
    return rule.label if rule is not None else str(field)


def message(code, label, **kw):
    """The Dutch message of a code (`variant` picks other words for the same code)."""
    key = kw.pop("variant", None) or _CODE_MESSAGE.get(code, code)
    return MESSAGES[key].format(label=label, **kw)


def error_message(exc, label):
    return message(exc.code, label, **exc.kw)


def required_message(label):
    return message("required", label)


# --- coercion ---------------------------------------------------------------------------

_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def text(value):
    """A form's, spreadsheet's or CSV's value as stripped text; None for empty.

    Integers and integral floats (Excel's 123456.0) become their digits; a
    non-breaking or other wide space becomes a plain one (names copied from a
    web page or Word carry them); tabs, line breaks and other invisible
    characters are refused (FieldError value_invalid), as are bool, dates and
    containers."""
    if value is None:
        return None
    if value.__class__ is str:
        if not value.isprintable():
            value = _SPACES.sub(" ", value)
            stripped = value.strip()
            if not stripped.isprintable():
                raise FieldError("value_invalid", variant="value_control")
            return stripped or None
        return value.strip() or None
    if isinstance(value, bool):
        raise FieldError("value_invalid")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError("value_invalid")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # a str subclass
        return text(str(value))
    raise FieldError("value_invalid")


def blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def clean_text(value, limit):
    """Stripped text of at most `limit` characters (`text`'s coercion); None
    for empty. For text fields outside the table (a project's name)."""
    value = text(value)
    if value is not None and len(value) > limit:
        raise FieldError("too_long", length=len(value), limit=limit)
    return value


def clean_flag(value):
    """A yes/no filter of a query: None (not given), a bool, or its text
    (true, false, 1, 0; any case); FieldError value_invalid otherwise."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise FieldError("value_invalid")


def _limit(rule, value):
    if rule.max_length is not None and len(value) > rule.max_length:
        raise FieldError("too_long", length=len(value), limit=rule.max_length)
    return value


def _digits(value):
    """BSN-ish text: Excel's float, spaces, dots and dashes gone."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return text(value).replace(" ", "").replace(".", "").replace("-", "")


_ELF_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_ELF_ZERO = 48 * sum(_ELF_WEIGHTS)  # the weighted sum of nine "0" characters


def elfproef(digits):
    """python-stdnum's nl.bsn.is_valid for nine ASCII digits, without its
    per-call cleaning: the weighted sum (the last digit weighs -1) is a
    multiple of 11, and the number is not zero."""
    return (
        sum(map(operator.mul, _ELF_WEIGHTS, digits.encode())) - _ELF_ZERO
    ) % 11 == 0 and digits != "000000000"


def clean_bsn(value):
    """The 9-digit BSN; 8 digits are a lost leading zero (padded); fewer that
    pass the elfproef once padded are leading zeros Excel dropped (refused,
    saying so: python-stdnum would pad anything)."""
    if value.__class__ is str and len(value) == 9 and value.isdigit() and value.isascii():
        if elfproef(value):  # the common case, as the template's text column gives it
            return value
        raise FieldError("bsn_invalid")
    if isinstance(value, bool):
        raise FieldError("bsn_invalid", variant="bsn_shape")
    digits = _digits(value)
    if not (digits.isascii() and digits.isdigit()):
        raise FieldError("bsn_invalid", variant="bsn_shape")
    if len(digits) < 8:
        if len(digits) >= 5 and elfproef(digits.zfill(9)):
            raise FieldError("bsn_leading_zeros_lost", count=len(digits))
        raise FieldError("bsn_invalid", variant="bsn_length", count=len(digits))
    if len(digits) > 9:
        raise FieldError("bsn_invalid", variant="bsn_length", count=len(digits))
    digits = digits.zfill(9)  # 8 digits: the zero Excel dropped (ids.normalize_bsn's rule)
    if not elfproef(digits):
        raise FieldError("bsn_invalid")
    return digits


def clean_onderwijsnummer(value):
    if isinstance(value, bool):
        raise FieldError("onderwijsnummer_invalid")
    try:
        return normalize_onderwijsnummer(_digits(value))
    except IdentifierError:
        raise FieldError("onderwijsnummer_invalid") from None


_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]+)?")


def _nonexistent(day, month, year):
    if not 1 <= month <= 12:
        return f"er is geen maand {month}"
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    return f"{MONTHS_NL[month - 1]} {year} heeft {days} dagen"


def parse_date(value):
    """A date from a date, a datetime, text dd-mm-jjjj (also d-m-jjjj, / or .)
    or ISO jjjj-mm-dd; FieldError date_invalid otherwise (a date that does not
    exist, such as 31-02-2011, says why)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise FieldError("date_invalid")
    raw = value.strip()
    if len(raw) == 10 and raw[4] == "-" and raw[7] == "-" and raw.isascii():
        try:  # the common jjjj-mm-dd, without the regular expressions
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    m = _DMY.fullmatch(raw)
    if m:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _ISO.fullmatch(raw):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        raise FieldError("date_invalid")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise FieldError(
            "date_invalid",
            variant="date_nonexistent",
            text=raw,
            reason=_nonexistent(day, month, year),
        ) from None


def clean_date_of_birth(value, today=None):
    day = parse_date(value)
    if not dt.date(1900, 1, 1) <= day <= (today or dt.date.today()):
        raise FieldError("date_out_of_range")
    return day


def clean_int(rule, value, low=None, high=None):
    low = rule.low if low is None else low
    high = rule.high if high is None else high
    number = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        raw = value.strip()
        if rule.name == "forecast":
            raw = raw.rstrip("%").strip()
        if re.fullmatch(r"[+-]?\d{1,6}", raw):
            number = int(raw)
    if number is None or not low <= number <= high:
        raise FieldError(rule.code, low=low, high=high)
    return number


def clean_bool(rule, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
            return False
    raise FieldError(rule.code)


def clean_gender(value):
    found = GENDER_ALIASES.get(text(value).lower())
    if found is None:
        raise FieldError("gender_invalid")
    return found


_POSTCODE_SHAPE = re.compile(r"(?:NL)?\s*([1-9]\d{3})\s*-?\s*([A-Z]{2})")


def clean_postcode(value, cache=None):
    raw = text(value)
    if cache is not None:
        found = cache.get(raw)
        if found is not None:
            if isinstance(found, FieldError):
                raise found
            return found
    try:
        found = normalize_postcode(raw)
    except IdentifierError:
        shape = _POSTCODE_SHAPE.fullmatch(raw.upper())
        found = FieldError(
            "postcode_invalid", variant="postcode_unused_letters" if shape else None, text=raw[:20]
        )
    if cache is not None and len(cache) < 100_000:
        cache[raw] = found
    if isinstance(found, FieldError):
        raise found
    return found


def clean_email(value):
    raw = text(value)
    if len(raw) > 254:
        raise FieldError("too_long", length=len(raw), limit=254)
    try:
        return normalize_email(raw)
    except IdentifierError:
        raise FieldError("email_invalid") from None


_CLEAN_BY_KIND = {
    "bsn": clean_bsn,
    "onderwijsnummer": clean_onderwijsnummer,
    "gender": clean_gender,
    "postcode": clean_postcode,
    "email": clean_email,
}


def clean(field, value, today=None, low=None, high=None):
    """The stored value of `field` from `value`, None when it is empty;
    FieldError otherwise. `low`/`high` narrow an int field's range (a
    template's years)."""
    rule = FIELDS[field]
    if value is None or (isinstance(value, str) and not value.strip()):
        return False if rule.kind == "bool" else None
    kind = rule.kind
    if kind == "text":
        return _limit(rule, text(value))
    if kind == "digits":
        number = text(value)
        if not (number.isascii() and number.isdigit()):
            raise FieldError("student_number_not_digits")
        return _limit(rule, number)
    if kind in _CLEAN_BY_KIND:
        return _CLEAN_BY_KIND[kind](value)
    if kind == "date":
        return clean_date_of_birth(value, today)
    if kind == "int":
        return clean_int(rule, value, low, high)
    if kind == "bool":
        return clean_bool(rule, value)
    raise AssertionError(kind)  # pragma: no cover


# Kinds whose outcome depends on the value alone (not on the day or a range);
# e-mail addresses are left out: nearly every row has its own.
_BATCH_KINDS = frozenset({"text", "digits", "bsn", "onderwijsnummer", "gender", "postcode"})


def batch_clean(limit=50_000):
    """`clean(field, value)` for the rows of one batch (a list load's chunk,
    checked by the students and then the users service): the clean value of
    each (field, text) is kept, so the first names, streets, places and
    postcodes the rows share are checked once. A refused value is checked
    again each time (its error raised anew)."""
    memo: dict = {}

    def clean_once(field, value):
        if value.__class__ is not str or FIELDS[field].kind not in _BATCH_KINDS:
            return clean(field, value)
        key = (field, value)
        found = memo.get(key, memo)
        if found is memo:
            found = clean(field, value)
            if len(memo) < limit:
                memo[key] = found
        return found

    return clean_once


def remembering_cleaner(field, label, limit=4096):
    """`clean` of one field as value -> (clean value, None) or (None, (code,
    message)), the outcomes of up to `limit` distinct text values kept: the
    rows of a file share first names, postcodes, classes."""
    memo: dict = {}

    def outcome(value):
        found = memo.get(value) if value.__class__ is str else None
        if found is None:
            try:
                found = (clean(field, value), None)
            except FieldError as exc:
                found = (None, (exc.code, error_message(exc, label)))
            if value.__class__ is str and len(memo) < limit:
                memo[value] = found
        return found

    return outcome


def item(field, exc, label=None, **extra):
    """The error item {code, message, field} of a FieldError."""
    out = {
        "code": exc.code,
        "message": error_message(exc, label or label_of(field)),
        "field": field,
    }
    out.update(extra)
    return out


# --- rules over several fields of the student record (the students service's) -------------


def identity_missing(student_type, bsn, onderwijsnummer):
    """A potential transfer needs a BSN, or an onderwijsnummer when there is
    none: the code when neither is there (None when fine or not applicable)."""
    if student_type == "potential_transfer" and bsn is None and onderwijsnummer is None:
        return "bsn_required"
    return None
