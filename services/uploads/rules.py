"""Checks of a student list as pure functions: the header against the
template's column titles, each row against the rules of its student type,
duplicates within the file, and student numbers that exist with another BSN.

Input is what a reader gives: cell values as Python values (str, int, float,
date/datetime, bool, None or '' for empty). Output is clean rows (the
students batch RPC's shape) and error items {row, column, field, code,
message}: `row` is the sheet's row number (the header is row 1), `column` the
column title. Nothing here touches a database or the broker.
"""
import datetime as dt
import difflib
import math
import re

from services.common.errors import error_item
from services.common.ids import (IdentifierError, normalize_bsn, normalize_email,
                                 normalize_onderwijsnummer, normalize_postcode)

from . import columns as colspec

MESSAGES = {
    "column_missing": "De kolom '{column}' ontbreekt. Gebruik de kolomtitels van het format "
                      "exact zo.",
    "column_unknown": "De kolom '{title}' is onbekend.",
    "column_unknown_suggest": "De kolom '{title}' is onbekend. Bedoelt u '{suggestion}'?",
    "column_duplicate": "De kolom '{column}' staat meer dan eens in het bestand.",
    "column_title_missing": "Kolom {letter} heeft gegevens maar geen kolomtitel.",
    "no_rows": "Het bestand bevat geen leerlingen: vul vanaf rij 2 één leerling per rij in.",
    "required": "{column} is verplicht.",
    "value_invalid": "{column} heeft geen geldige waarde.",
    "too_long": "{column} is te lang (hoogstens {limit} tekens).",
    "student_number_not_digits": "Het leerlingnummer mag alleen cijfers bevatten.",
    "bsn_invalid": "Het BSN is niet geldig: 9 cijfers die aan de elfproef voldoen.",
    "onderwijsnummer_invalid": "Het onderwijsnummer is niet geldig: 9 cijfers, beginnend met "
                               "10, die aan de elfproef voldoen.",
    "bsn_or_onderwijsnummer_required": "Een potentiële overstapper heeft een BSN nodig, of een "
                                       "onderwijsnummer als er geen BSN is.",
    "date_invalid": "{column} is geen geldige datum: gebruik een Excel-datum of dd-mm-jjjj.",
    "date_out_of_range": "{column} ligt niet tussen 01-01-1900 en vandaag.",
    "gender_invalid": "Het geslacht moet M, V of X zijn.",
    "email_invalid": "Het e-mailadres is niet geldig.",
    "postcode_invalid": "De postcode is niet geldig (verwacht: 1234 AB).",
    "year_of_education_invalid": "Het leerjaar moet een geheel getal van 1 tot en met {high} "
                                 "zijn.",
    "track_invalid": "{column} moet een van deze waarden zijn: {choices}.",
    "student_number_duplicate": "Leerlingnummer {value} staat ook in rij {first}.",
    "bsn_duplicate": "Dit BSN staat ook in rij {first}.",
    "onderwijsnummer_duplicate": "Dit onderwijsnummer staat ook in rij {first}.",
    "student_number_bsn_mismatch": "Leerlingnummer {value} bestaat al in uw school met een "
                                   "ander BSN.",
}


def message(code, **kw):
    return MESSAGES[code].format(**kw)


def item(code, row, column, field, **kw):
    return {"row": row, "column": column, "field": field, "code": code,
            "message": message(code, column=column, **kw)}


def normalize_title(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).replace("\u00a0", " ").split())


def column_letter(index):
    """0-based column index -> Excel letters (0 -> A)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# --- header ------------------------------------------------------------------

def check_header(header, cols, column_has_data=lambda index: False):
    """(positions, errors): positions maps field -> 0-based column index.

    Titles must match the template exactly (surrounding spaces aside). An
    unknown title is named, with the closest expected title as suggestion
    (difflib); a missing one is named; a title twice is an error; a column
    with data but no title is an error; an empty column without title is
    ignored.
    """
    expected = {c.title: c for c in cols}
    positions, errors, unknown = {}, [], []
    seen = {}
    for index, raw in enumerate(header):
        title = normalize_title(raw)
        if not title:
            if column_has_data(index):
                letter = column_letter(index)
                errors.append({"row": 1, "column": letter, "field": None,
                               "code": "column_title_missing",
                               "message": message("column_title_missing", letter=letter)})
            continue
        col = expected.get(title)
        if col is None:
            unknown.append((index, title))
            continue
        if title in seen:
            errors.append(item("column_duplicate", 1, title, col.field))
            continue
        seen[title] = index
        positions[col.field] = index
    missing = [c for c in cols if c.title not in seen]
    missing_titles = [c.title for c in missing]
    suggested = set()
    for index, title in unknown:
        suggestion = _suggest(title, missing_titles) or _suggest(title, list(expected))
        if suggestion:
            suggested.add(suggestion)
            errors.append({"row": 1, "column": title, "field": expected[suggestion].field,
                           "code": "column_unknown", "suggestion": suggestion,
                           "message": message("column_unknown_suggest", title=title,
                                              suggestion=suggestion)})
        else:
            errors.append({"row": 1, "column": title, "field": None, "code": "column_unknown",
                           "message": message("column_unknown", title=title)})
    for col in missing:
        err = item("column_missing", 1, col.title, col.field)
        errors.append(err)
    errors.sort(key=lambda e: (e["code"] != "column_unknown", e["column"] or ""))
    return positions, errors


def _suggest(title, candidates):
    if not candidates:
        return None
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(title.lower(), list(lowered), n=1, cutoff=0.75)
    return lowered[match[0]] if match else None


# --- cells ------------------------------------------------------------------

class Bad(Exception):
    def __init__(self, code, **kw):
        super().__init__(code)
        self.code = code
        self.kw = kw


def blank(value):
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def as_text(value, limit=None):
    """Cell value -> stripped text (None for empty). Integral floats become
    their digits (Excel's 123456.0)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text and not text.isprintable():
            raise Bad("value_invalid")
    elif isinstance(value, bool):
        raise Bad("value_invalid")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Bad("value_invalid")
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta)):
        raise Bad("value_invalid")
    else:
        text = str(value).strip()
    if not text:
        return None
    if limit is not None and len(text) > limit:
        raise Bad("too_long", limit=limit)
    return text


_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def as_date(value, today):
    """An Excel date cell, or text dd-mm-jjjj (also d-m-jjjj, / or .), or
    ISO jjjj-mm-dd."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        text = value.strip()
        m = _DMY.fullmatch(text)
        try:
            if m:
                day = dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            elif (m := _ISO.fullmatch(text)):
                day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            else:
                raise Bad("date_invalid")
        except ValueError:
            raise Bad("date_invalid") from None
    else:
        raise Bad("date_invalid")
    if not dt.date(1900, 1, 1) <= day <= today:
        raise Bad("date_out_of_range")
    return day


def as_int(value):
    if isinstance(value, bool):
        raise Bad("value_invalid")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 4:
        return int(value.strip())
    raise Bad("value_invalid")


def _ident(normalize, code, value):
    try:
        return normalize(value)
    except IdentifierError:
        raise Bad(code) from None


_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The common case (plain ASCII) checked and normalised like email-validator
# does it (local part kept, domain lower-cased), at a fraction of its cost.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_ASCII = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_TLDS = {"arpa", "invalid", "local", "localhost", "onion", "test"}


def _email(value):
    text = as_text(value, 254)
    fast = _EMAIL_ASCII.fullmatch(text)
    if fast and len(fast.group(1)) <= 64:
        domain = fast.group(2).lower()
        if domain.rsplit(".", 1)[-1] not in _SPECIAL_TLDS:
            return f"{fast.group(1)}@{domain}"
    if not _EMAIL_SHAPE.fullmatch(text):
        raise Bad("email_invalid")
    try:
        return normalize_email(text)
    except IdentifierError:
        raise Bad("email_invalid") from None


# --- rows -------------------------------------------------------------------

class RowChecker:
    """Checks rows of one template; keeps the state the duplicate checks need."""

    def __init__(self, school_type, student_type, positions, today=None):
        self.student_type = student_type
        self.cols = colspec.columns(school_type, student_type)
        self.positions = positions
        self.today = today or dt.date.today()
        self.high_year = colspec.YEARS[school_type][-1]
        self.years = set(colspec.YEARS[school_type])
        self.transfer = student_type == "potential_transfer"
        self.first_number, self.first_bsn, self.first_onr = {}, {}, {}
        self.by_field = {c.field: c for c in self.cols}
        self.plan = [(c, positions[c.field], self._cleaner(c))
                     for c in self.cols if c.field in positions]

    def _cleaner(self, col):
        """The function that turns a non-blank cell of `col` into its clean
        value or raises Bad."""
        if col.field == "student_number":
            limit = col.max_length

            def number(value):
                text = as_text(value, 50)
                if not (text.isascii() and text.isdigit()):
                    raise Bad("student_number_not_digits")
                if len(text) > limit:
                    raise Bad("too_long", limit=limit)
                return text
            return number
        if col.field == "bsn":
            return lambda value: _ident(normalize_bsn, "bsn_invalid", value)
        if col.field == "onderwijsnummer":
            return lambda value: _ident(normalize_onderwijsnummer, "onderwijsnummer_invalid",
                                        value)
        if col.kind == "date":
            today = self.today
            return lambda value: as_date(value, today).isoformat()
        if col.kind == "email":
            return _email
        if col.kind == "postcode":
            cache = {}  # a school's students share postcodes: check each one once

            def postcode(value):
                text = as_text(value, 20)
                found = cache.get(text)
                if found is None:
                    try:
                        found = normalize_postcode(text)
                    except IdentifierError:
                        found = False
                    if len(cache) < 100_000:
                        cache[text] = found
                if found is False:
                    raise Bad("postcode_invalid")
                return found
            return postcode
        if col.field == "gender":
            def gender(value):
                text = as_text(value, 10).upper()
                if text not in colspec.GENDERS:
                    raise Bad("gender_invalid")
                return text
            return gender
        if col.field == "year_of_education":
            years, high = self.years, self.high_year

            def year(value):
                try:
                    number = as_int(value)
                except Bad:
                    raise Bad("year_of_education_invalid", high=high) from None
                if number not in years:
                    raise Bad("year_of_education_invalid", high=high)
                return number
            return year
        if col.field == "track":
            tracks = {t.lower(): t for t in col.choices}
            choices = ", ".join(col.choices)

            def track(value):
                found = tracks.get(as_text(value, 50).lower())
                if found is None:
                    raise Bad("track_invalid", choices=choices)
                return found
            return track
        limit = col.max_length
        return lambda value: as_text(value, limit)

    def check(self, rownum, cells):
        """(clean row or None, [error items]) for one sheet row."""
        clean = {"type": self.student_type, "_row": rownum}
        errors = []
        width = len(cells)
        for col, index, cleaner in self.plan:
            value = cells[index] if index < width else None
            if value is None or value == "" or (value.__class__ is str and value.isspace()):
                clean[col.field] = None
                if col.required:
                    errors.append(item("required", rownum, col.title, col.field))
                continue
            try:
                clean[col.field] = cleaner(value)
            except Bad as bad:
                clean[col.field] = None
                errors.append(item(bad.code, rownum, col.title, col.field, **bad.kw))
        if self.transfer and clean.get("bsn") is None and clean.get("onderwijsnummer") is None \
                and not any(e["field"] in ("bsn", "onderwijsnummer") for e in errors):
            errors.append(item("bsn_or_onderwijsnummer_required", rownum,
                               self.by_field["bsn"].title, "bsn"))
        self._duplicates(clean, rownum, errors)
        return (None if errors else clean), errors

    def _duplicates(self, clean, rownum, errors):
        for field, seen, code in (("student_number", self.first_number, "student_number_duplicate"),
                                  ("bsn", self.first_bsn, "bsn_duplicate"),
                                  ("onderwijsnummer", self.first_onr, "onderwijsnummer_duplicate")):
            value = clean.get(field)
            if value is None:
                continue
            first = seen.get(value)
            if first is None:
                seen[value] = rownum
            else:
                col = self.by_field[field]
                errors.append(item(code, rownum, col.title, field, value=value, first=first))


def mismatch_errors(rows, existing, cols):
    """Errors for rows whose student number exists with another BSN.
    `existing` maps student number -> stored BSN (or None)."""
    title = next(c.title for c in cols if c.field == "student_number")
    errors = []
    for row in rows:
        number = row["student_number"]
        if number not in existing:
            continue
        stored, given = existing[number], row.get("bsn")
        if stored and given and stored != given:
            errors.append(item("student_number_bsn_mismatch", row["_row"], title,
                               "student_number", value=number))
    return errors


def no_rows_error():
    return {"row": None, "column": None, "field": None, "code": "no_rows",
            "message": message("no_rows")}


def students_rpc_row(clean, project_id=None):
    """A clean row in the students.create_students shape."""
    row = {k: v for k, v in clean.items() if not k.startswith("_") and k != "department"}
    department = clean.get("department")
    if project_id is not None and department:
        row["participation"] = {"department": department, "home_class": clean.get("home_class")}
    return row


# --- the submission -------------------------------------------------------------------

SCHOOL_TYPE_SHORT = {"vo": "VO", "mbo": "MBO"}


def school_type_mismatch(chosen, institution_type):
    """The error item when a list's school type is not the institution's (None
    when it is, or when the institution has none on record)."""
    if not institution_type or chosen == institution_type:
        return None
    mine = SCHOOL_TYPE_SHORT.get(institution_type, str(institution_type).upper())
    theirs = SCHOOL_TYPE_SHORT.get(chosen, str(chosen).upper())
    return error_item("school_type_mismatch",
                      f"Deze school is een {mine}-school; u koos {theirs}. Kies bij "
                      f"'school_type' {institution_type} en gebruik het format voor het {mine}.",
                      field="school_type")
