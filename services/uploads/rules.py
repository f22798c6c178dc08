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

from services.common import fields as fieldrules
from services.common.errors import error_item
from services.common.fields import FieldError

from . import columns as colspec

# The file-level messages; a cell's message comes from the one table of field
# rules (services/common/fields.py) with the column title as its label.
MESSAGES = {
    "column_missing": "De kolom '{column}' ontbreekt. Gebruik de kolomtitels van het format.",
    "column_unknown": "De kolom '{title}' is onbekend.",
    "column_unknown_suggest": "De kolom '{title}' is onbekend. Bedoelt u '{suggestion}'?",
    "column_duplicate": "De kolom '{column}' staat meer dan eens in het bestand.",
    "column_title_missing": "Kolom {letter} heeft gegevens maar geen kolomtitel.",
    "list_type_mismatch": "Dit is een lijst met {found}, maar u koos {chosen}. Kies bij het "
                          "opsturen {found_choice}, of gebruik het format van de lijst die u "
                          "koos.",
    "no_rows": "Het bestand bevat geen leerlingen: vul vanaf rij 2 één leerling per rij in.",
    "student_number_duplicate": "Leerlingnummer {value} staat ook in rij {first}.",
    "bsn_duplicate": "Dit BSN staat ook in rij {first}.",
    "onderwijsnummer_duplicate": "Dit onderwijsnummer staat ook in rij {first}.",
    "student_number_bsn_mismatch": "Leerlingnummer {value} bestaat al in uw school met een "
                                   "ander BSN.",
}


def message(code, **kw):
    if code in MESSAGES:
        return MESSAGES[code].format(**kw)
    return fieldrules.message(code, kw.pop("column", None) or "", **kw)


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

def _list_name(school_type, student_type):
    return (f"{colspec.STUDENT_TYPE_NL[student_type].lower()}s "
            f"({colspec.SCHOOL_TYPE_NL[school_type].lower()})")


def _list_choice(school_type, student_type):
    return (f"'{colspec.STUDENT_TYPE_NL[student_type]}' en "
            f"'{colspec.SCHOOL_TYPE_NL[school_type]}'")


def other_template(header, school_type, student_type):
    """(school type, student type) of another template whose titles the header
    matches better than the chosen one's, or None."""
    titles = {colspec.title_key(t) for t in header if colspec.title_key(t)}

    def fit(cols):
        wanted = {colspec.title_key(c.title) for c in cols}
        return len(titles & wanted) - len(titles - wanted) - len(wanted - titles)

    chosen = fit(colspec.columns(school_type, student_type))
    best, best_fit = None, chosen
    for key, cols in colspec.TEMPLATES.items():
        score = fit(cols)
        if key != (school_type, student_type) and score > best_fit:
            best, best_fit = key, score
    return best


def check_header(header, cols, column_has_data=lambda index: False, chosen=None):
    """(positions, errors): positions maps field -> 0-based column index.

    Titles match the template's without regard to case and spaces ("voornaam"
    is Voornaam). When the header is another template's (the other student
    type or school type: `chosen` is the (school type, student type) picked),
    that is the one error. Otherwise an unknown title is named, with the
    closest expected title as suggestion (difflib); a missing one is named; a
    title twice is an error; a column with data but no title is an error; an
    empty column without title is ignored.
    """
    expected = {colspec.title_key(c.title): c for c in cols}
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
        col = expected.get(colspec.title_key(title))
        if col is None:
            unknown.append((index, title))
            continue
        if col.title in seen:
            errors.append(item("column_duplicate", 1, col.title, col.field))
            continue
        seen[col.title] = index
        positions[col.field] = index
    missing = [c for c in cols if c.title not in seen]
    if chosen is not None and (missing or unknown):
        other = other_template(header, *chosen)
        if other is not None:
            return positions, [{
                "row": 1, "column": None, "field": "student_type"
                if other[0] == chosen[0] else "school_type", "code": "list_type_mismatch",
                "message": message("list_type_mismatch", found=_list_name(*other),
                                   chosen=_list_name(*chosen),
                                   found_choice=_list_choice(*other)),
                "school_type": other[0], "student_type": other[1]}]
    missing_titles = [c.title for c in missing]
    suggested = set()
    for index, title in unknown:
        suggestion = _suggest(title, [t for t in missing_titles if t not in suggested])
        if suggestion:
            suggested.add(suggestion)
            errors.append({"row": 1, "column": title, "field": expected[
                colspec.title_key(suggestion)].field, "code": "column_unknown",
                "suggestion": suggestion,
                "message": message("column_unknown_suggest", title=title,
                                   suggestion=suggestion)})
        else:
            errors.append({"row": 1, "column": title, "field": None, "code": "column_unknown",
                           "message": message("column_unknown", title=title)})
    for col in missing:
        if col.title not in suggested:  # one error per title: the suggestion names it
            errors.append(item("column_missing", 1, col.title, col.field))
    errors.sort(key=lambda e: (e["code"] != "column_unknown", e["column"] or ""))
    return positions, errors


def _suggest(title, candidates):
    if not candidates:
        return None
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(title.lower(), list(lowered), n=1, cutoff=0.75)
    return lowered[match[0]] if match else None


# --- rows -------------------------------------------------------------------

# how many distinct values of a column RowChecker remembers the outcome of
MEMO_LIMIT = 4096

def blank(value):
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


class RowChecker:
    """Checks rows of one template with the field rules every path uses
    (services/common/fields.py); keeps the state the duplicate checks need."""

    def __init__(self, school_type, student_type, positions, today=None):
        self.student_type = student_type
        self.cols = colspec.columns(school_type, student_type)
        self.positions = positions
        self.today = today or dt.date.today()
        self.years = colspec.YEARS[school_type]
        self.first_number, self.first_bsn, self.first_onr = {}, {}, {}
        self.by_field = {c.field: c for c in self.cols}
        self.plan = [self._step(c, positions[c.field]) for c in self.cols
                     if c.field in positions]
        # the fields a list holds once: (field, first row by value, code)
        self.unique = (("student_number", self.first_number, "student_number_duplicate"),
                       ("bsn", self.first_bsn, "bsn_duplicate"),
                       ("onderwijsnummer", self.first_onr, "onderwijsnummer_duplicate"))

    def _cleaner(self, col):
        """The function that turns a non-blank cell of `col` into its clean
        value or raises FieldError."""
        field = col.field
        if col.kind == "date":
            today = self.today
            return lambda value: fieldrules.clean_date_of_birth(value, today).isoformat()
        if col.kind == "postcode":
            return fieldrules.clean_postcode
        if field == "year_of_education":
            low, high = self.years[0], self.years[-1]
            return lambda value: fieldrules.clean("year_of_education", value, low=low,
                                                  high=high)
        if field == "track":
            tracks = {t.lower(): t for t in col.choices}
            choices = ", ".join(col.choices)

            def track(value):
                found = tracks.get(fieldrules.clean("track", value).lower())
                if found is None:
                    raise FieldError("track_invalid", choices=choices)
                return found
            return track
        if field in ("first_name", "last_name", "initials", "prefix", "street",
                     "house_number", "city", "home_class", "department"):
            rule = fieldrules.FIELDS[field]
            limit, text = rule.max_length, fieldrules.text

            def plain(value):
                clean = text(value)
                if clean is not None and len(clean) > limit:
                    raise FieldError("too_long", length=len(clean), limit=limit)
                return clean
            return plain
        direct = {"bsn": fieldrules.clean_bsn,
                  "onderwijsnummer": fieldrules.clean_onderwijsnummer,
                  "gender": fieldrules.clean_gender, "email": fieldrules.clean_email}
        if field in direct:
            return direct[field]
        if field == "student_number":
            limit, text = fieldrules.FIELDS[field].max_length, fieldrules.text

            def number(value):
                clean = text(value)
                if not (clean.isascii() and clean.isdigit()):
                    raise FieldError("student_number_not_digits")
                if len(clean) > limit:
                    raise FieldError("too_long", length=len(clean), limit=limit)
                return clean
            return number
        return lambda value: fieldrules.clean(field, value)

    def _step(self, col, index):
        """(field, title, index, memo, outcome) of one column: `outcome(value)`
        is (clean value, None) or (None, (code, message)); `memo` keeps the
        outcomes of values seen (a school's students share names, classes,
        postcodes, years)."""
        cleaner, field, title = self._cleaner(col), col.field, col.title
        required = (("required", message("required", column=title))
                    if col.required else None)

        def outcome(value):
            if value is None or value == "" or (value.__class__ is str and value.isspace()):
                return None, required
            try:
                return cleaner(value), None
            except FieldError as bad:
                return None, (bad.code, fieldrules.error_message(bad, title))
        return field, title, index, {}, outcome

    def check(self, rownum, cells):
        """(clean row or None, [error items]) for one sheet row."""
        clean, errors = self.check_fields(rownum, cells)
        self.duplicates(rownum, clean, errors)
        return (None if errors else clean), errors

    def check_fields(self, rownum, cells):
        """(clean row, [error items]) of one row by its own cells: the
        duplicate checks aside (a field in error is None in the row)."""
        clean = {"type": self.student_type, "_row": rownum}
        errors = []
        width = len(cells)
        for field, title, index, memo, outcome in self.plan:
            value = cells[index] if index < width else None
            # str by value; other kinds by (class, value): True, 1 and 1.0 are equal keys
            key = value if value.__class__ is str else (value.__class__, value)
            try:
                found = memo.get(key)
            except TypeError:  # an unhashable value: never remembered
                found = key = None
            if found is None:
                found = outcome(value)
                if key is not None and len(memo) < MEMO_LIMIT:
                    memo[key] = found
            clean[field], bad = found
            if bad is not None:
                errors.append({"row": rownum, "column": title, "field": field,
                               "code": bad[0], "message": bad[1]})
        missing = fieldrules.identity_missing(self.student_type, clean.get("bsn"),
                                              clean.get("onderwijsnummer"))
        if missing and not any(e["field"] in ("bsn", "onderwijsnummer") for e in errors):
            errors.append(item(missing, rownum, self.by_field["bsn"].title, "bsn"))
        return clean, errors

    def duplicates(self, rownum, values, errors):
        """Errors for the student number, BSN and onderwijsnummer of `values`
        (a row's clean values) an earlier row has; the first rows of each
        value are kept."""
        for field, seen, code in self.unique:
            value = values.get(field)
            if value is None:
                continue
            first = seen.get(value)
            if first is None:
                seen[value] = rownum
            else:
                errors.append(item(code, rownum, self.by_field[field].title, field,
                                   value=value, first=first))


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
