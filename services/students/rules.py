"""Business rules of the students service as pure functions.

Validation and normalisation of student records, projects, departments,
learning paths, participations, packages and groups; the BSN rule of a
potential transfer; school years; who may change what in a participation.
Nothing here touches a database or the broker: functions take values and
return values, or error items (services/common/errors.py) / DomainErrors.

Error items never carry a BSN or onderwijsnummer, not even a rejected one.
"""
import datetime as dt
import re

from services.common import fields as fieldrules
from services.common.errors import (DomainError, conflict, error_item, forbidden,
                                    validation_error)
from services.common.fields import FieldError
from services.common.paging import page_args  # noqa: F401  (re-exported)

STUDENT_TYPES = ("potential_transfer", "non_transfer")
AUTHORITIES = ("portal", "desktop")
GROUP_KINDS = ("home_class", "cluster")
STUDENT_NUMBER_MAX = fieldrules.FIELDS["student_number"].max_length
MAX_BATCH_ROWS = 20000

# Personal data: owned by the users service, forwarded there (users.rules
# validates the formats; here only presence and text-ness are checked).
PERSONAL_FIELDS = fieldrules.PERSONAL_FIELDS
# The student record's own fields and their text limits (None: not text).
RECORD_FIELDS = ("type", "bsn", "onderwijsnummer", "date_of_birth", "year_of_education",
                 "track", "home_class")
# Keys a client may send back unchanged in an update (ignored).
READ_ONLY_FIELDS = ("id", "institution_id", "user_id", "registered", "archived", "left_at",
                    "leave_date", "status", "created_at", "updated_at", "is_student", "roles",
                    "type_label")
# How far a leave date may lie from today (a past date is carried out now).
LEAVE_DAYS_BACK = 730
LEAVE_DAYS_AHEAD = 366
IDENTIFIER_FIELDS = ("bsn", "onderwijsnummer")

PARTICIPATION_FIELDS = ("department", "forecast", "profile", "programme", "learning_path",
                        "home_class", "lwoo")
PARTICIPATION_READ_ONLY = ("id", "institution_id", "project_id", "school_year",
                           "student_number", "created_at", "updated_at", "subjects",
                           "exemptions")
# What a mentor (without admin) may change (a home class only where the portal leads).
MENTOR_FIELDS = ("forecast", "home_class")
ADMIN_ROLES = ("admin", "helpdesk")

LABELS = {
    "student_number": "Leerlingnummer", "type": "Type leerling", "bsn": "BSN",
    "onderwijsnummer": "Onderwijsnummer", "date_of_birth": "Geboortedatum",
    "year_of_education": "Leerjaar", "track": "Leerweg", "home_class": "Stamklas",
    "initials": "Voorletters", "first_name": "Voornaam", "prefix": "Tussenvoegsel",
    "last_name": "Achternaam", "gender": "Geslacht", "email": "E-mailadres",
    "street": "Straat", "house_number": "Huisnummer", "postcode": "Postcode",
    "city": "Woonplaats", "name": "Naam", "school_year": "Schooljaar", "branch": "Vestiging",
    "code": "Code", "education": "Opleiding", "home_class_authority": "Stamklasindeling",
    "learning_paths": "Leerpaden", "element_code": "Elementcode", "department": "Afdeling",
    "forecast": "Prognose", "profile": "Profiel", "programme": "Opleiding",
    "learning_path": "Leerpad", "lwoo": "LWOO", "subjects": "Vakken",
    "exemptions": "Vrijstellingen", "kind": "Soort groep", "subject": "Vak",
    "student_numbers": "Leerlingnummers", "keep_package": "Pakket behouden",
    "participation": "Afdelingsdeelname", "date": "Datum",
}

MESSAGES = {
    "student_number_not_digits": "Het leerlingnummer mag alleen cijfers bevatten.",
    "student_type_invalid": "Het type leerling moet potential_transfer (potentiële "
                            "overstapper) of non_transfer (niet-overstapper) zijn.",
    "bsn_required": fieldrules.MESSAGES["bsn_required"],
    "date_invalid": "{label} is geen geldige datum (verwacht: JJJJ-MM-DD).",
    "school_year_invalid": "Het schooljaar moet de vorm 2025-2026 hebben: twee opeenvolgende "
                           "jaren.",
    "home_class_authority_invalid": "De stamklasindeling moet 'portal' of 'desktop' zijn.",
    "learning_paths_invalid": "Geef de leerpaden als lijst met code, naam en elementcode.",
    "learning_path_duplicate": "Leerpad {code} komt meer dan eens voor.",
    "group_kind_invalid": "De soort groep moet home_class (stamklas) of cluster "
                          "(clustergroep) zijn.",
    "codes_invalid": "Geef {label} als lijst met codes.",
    "keep_package_required": "De afdeling wijzigt: geef aan of het pakket behouden blijft "
                             "(keep_package true) of gewist wordt (keep_package false).",
    "field_immutable": "Het leerlingnummer kan niet worden gewijzigd.",
    "page_invalid": "Paginanummer en paginagrootte moeten gehele getallen zijn.",
    "rows_invalid": "Geef een lijst met rijen.",
    "too_many_rows": f"Geef hoogstens {MAX_BATCH_ROWS} rijen tegelijk.",
    "registered_invalid": "Het filter geregistreerd moet true of false zijn.",
    "mentor_fields": "Een mentor mag alleen de prognose en de stamklas wijzigen.",
    "reveal_forbidden": "Alleen een beheerder mag het BSN onversleuteld bekijken.",
    "leave_date_too_early": "De vertrekdatum ligt te ver in het verleden (hoogstens "
                            "{days} dagen terug).",
    "leave_date_too_late": "De vertrekdatum ligt te ver in de toekomst (hoogstens {days} "
                           "dagen vooruit).",
    "student_already_left": "Deze leerling heeft de school al verlaten. Zet de gebruiker "
                            "terug (Gebruikers > Terugzetten) om dat ongedaan te maken.",
    "left_invalid": "Het filter vertrokken moet true of false zijn.",
    "not_a_mentor": "Gebruiker {code} is geen mentor; geef de gebruiker eerst de rol mentor "
                    "(Beheer > Gebruikers).",
    "mentor_classes_invalid": "Geef de stamklassen als lijst met codes.",
    "mentor_classes_too_many": "Geef hoogstens {limit} stamklassen.",
    "home_class_desktop_led": "De stamklassen van afdeling {department} worden in de "
                              "roosterapplicatie (desktop) ingedeeld; de stamklas kan hier niet "
                              "worden gewijzigd.",
}


def message(key, **kw):
    return MESSAGES[key].format(**kw)


def label(field):
    return LABELS.get(field, field)


def item(code, field=None, **kw):
    return error_item(code, message(code, label=label(field), **kw), field=field)


def required_item(field):
    return error_item("required", f"{label(field)} is verplicht.", field=field)


def value_invalid_item(field):
    return error_item("value_invalid", f"{label(field)} heeft geen geldige waarde.", field=field)


def too_long_item(field, limit):
    return error_item("too_long", f"{label(field)} is te lang (hoogstens {limit} tekens).",
                      field=field)


def unknown_field_item(field):
    return error_item("field_unknown", f"Onbekend veld: {field}.", field=str(field))


class InvalidValue(Exception):
    pass


def text(value):
    """A spreadsheet-ish value as stripped text; None for empty: the shared
    field rules' coercion (services/common/fields.py). Integers and integral
    floats (Excel's 12345.0) become their digits, a non-breaking space a
    space; bool, lists, dicts and control characters raise InvalidValue."""
    try:
        return fieldrules.text(value)
    except FieldError:
        raise InvalidValue() from None


def _field_error(field, exc, errors):
    errors.append(fieldrules.item(field, exc, label(field)))


def clean_text(field, value, errors, limit, required=False):
    try:
        value = fieldrules.text(value)
    except FieldError as exc:
        _field_error(field, exc, errors)
        return None
    if value is None:
        if required:
            errors.append(required_item(field))
        return None
    if len(value) > limit:
        _field_error(field, FieldError("too_long", length=len(value), limit=limit), errors)
        return None
    return value


def clean_int(field, value, errors, low, high, code):
    """An integer in [low, high] from int, integral float or digit text; None for empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    rule = fieldrules.FieldRule(field, label(field), "students", "int", low=low, high=high,
                                code=code)
    try:
        return fieldrules.clean_int(rule, value)
    except FieldError as exc:
        _field_error(field, exc, errors)
        return None


def clean_bool(field, value, errors, code, default=False):
    if value is None:
        return default
    try:
        return fieldrules.clean_bool(fieldrules.FieldRule(field, label(field), "students",
                                                          "bool", code=code), value)
    except FieldError as exc:
        _field_error(field, exc, errors)
        return default


def parse_date(value):
    """A date from a date, a datetime or 'YYYY-MM-DD' text; None for empty;
    raises InvalidValue otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise InvalidValue() from None
    raise InvalidValue()


def clean_date(field, value, errors, today=None):
    if field == "date_of_birth":
        if _blank(value):
            return None
        try:
            return fieldrules.clean_date_of_birth(value, today)
        except FieldError as exc:
            _field_error(field, exc, errors)
            return None
    try:
        return parse_date(value)
    except InvalidValue:
        errors.append(item("date_invalid", field))
        return None


def clean_student_number(value, errors, field="student_number"):
    if _blank(value):
        errors.append(required_item(field))
        return None
    try:
        return fieldrules.clean("student_number", value)
    except FieldError as exc:
        _field_error(field, exc, errors)
        return None


def clean_type(value, errors, required=True):
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(required_item("type"))
        return None
    if not isinstance(value, str) or value.strip().lower() not in STUDENT_TYPES:
        errors.append(item("student_type_invalid", "type"))
        return None
    return value.strip().lower()


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def bsn_or_none(value):
    """The 9-digit BSN, or None when `value` is not a valid BSN (an 8-digit
    one is a leading zero Excel lost; the shared field rule)."""
    if _blank(value):
        return None
    try:
        return fieldrules.clean_bsn(value)
    except FieldError:
        return None


def clean_bsn(value, errors):
    """The 9-digit BSN (an 8-digit one left-padded), None when empty."""
    if _blank(value):
        return None
    try:
        return fieldrules.clean_bsn(value)
    except FieldError as exc:
        _field_error("bsn", exc, errors)
        return False  # given but invalid


def clean_onderwijsnummer(value, errors):
    if _blank(value):
        return None
    try:
        return fieldrules.clean_onderwijsnummer(value)
    except FieldError as exc:
        _field_error("onderwijsnummer", exc, errors)
        return False


def check_identity(student_type, bsn, onderwijsnummer, errors):
    """A potential transfer needs a valid BSN, or a valid onderwijsnummer when
    there is no BSN. `bsn`/`onderwijsnummer` are clean values: None (empty),
    False (given but invalid: already reported) or the number."""
    code = fieldrules.identity_missing(student_type, bsn, onderwijsnummer)
    if code:
        errors.append(item(code, "bsn"))


def _limit(field):
    return fieldrules.FIELDS[field].max_length


def _record_values(data, errors, required_type=True):
    record = {
        "type": clean_type(data.get("type"), errors, required=required_type),
        "bsn": clean_bsn(data.get("bsn"), errors),
        "onderwijsnummer": clean_onderwijsnummer(data.get("onderwijsnummer"), errors),
        "date_of_birth": clean_date("date_of_birth", data.get("date_of_birth"), errors),
        "year_of_education": clean_int("year_of_education", data.get("year_of_education"),
                                       errors, 1, 10, "year_of_education_invalid"),
        "track": clean_text("track", data.get("track"), errors, _limit("track")),
        "home_class": clean_text("home_class", data.get("home_class"), errors,
                                 _limit("home_class")),
    }
    return record


def _personal_values(data, errors, required):
    """The personal fields given, checked by the rules the users service
    applies (the one table: services/common/fields.py), so a student is
    refused here for the same reasons, in the same words."""
    personal = {}
    for field in PERSONAL_FIELDS:
        if field not in data:
            if field in required:
                errors.append(required_item(field))
            continue
        try:
            value = fieldrules.clean(field, data[field])
        except FieldError as exc:
            _field_error(field, exc, errors)
            continue
        if value is None and field in required:
            errors.append(required_item(field))
            continue
        personal[field] = value
    return personal


def check_new_student(data, require_initials=True):
    """(record, personal, errors) for a new student.

    `record` holds the student record's columns (student_number, type, bsn,
    onderwijsnummer, date_of_birth, year_of_education, track, home_class);
    `personal` the personal data for the users service. Errors are error items
    without a row. Unknown keys are ignored (a form may send more).
    """
    if not isinstance(data, dict):
        return None, None, [value_invalid_item("data")]
    errors = []
    number = clean_student_number(data.get("student_number"), errors)
    record = _record_values(data, errors)
    check_identity(record["type"], record["bsn"], record["onderwijsnummer"], errors)
    required = ("initials", "first_name", "last_name") if require_initials \
        else ("first_name", "last_name")
    personal = _personal_values(data, errors, required)
    record["student_number"] = number
    return record, personal, errors


def check_student_changes(current, changes):
    """(record_updates, personal_changes, errors) for changing a student.

    `current` maps the record fields to their stored values. `record_updates`
    holds only fields whose value changes; `personal_changes` the personal
    fields given (the users service decides whether they change). The BSN rule
    is judged on the record as it will be.
    """
    if not isinstance(changes, dict):
        return {}, {}, [value_invalid_item("changes")]
    errors = []
    for key in changes:
        if key == "student_number":
            try:
                same = text(changes[key]) == current.get("student_number")
            except InvalidValue:
                same = False
            if not same:
                errors.append(error_item("field_immutable", message("field_immutable"),
                                         field="student_number"))
        elif key not in RECORD_FIELDS and key not in PERSONAL_FIELDS \
                and key not in READ_ONLY_FIELDS:
            errors.append(unknown_field_item(key))
    new = {}
    if "type" in changes:
        new["type"] = clean_type(changes["type"], errors)
    if "bsn" in changes:
        new["bsn"] = clean_bsn(changes["bsn"], errors)
    if "onderwijsnummer" in changes:
        new["onderwijsnummer"] = clean_onderwijsnummer(changes["onderwijsnummer"], errors)
    if "date_of_birth" in changes:
        new["date_of_birth"] = clean_date("date_of_birth", changes["date_of_birth"], errors)
    if "year_of_education" in changes:
        new["year_of_education"] = clean_int(
            "year_of_education", changes["year_of_education"], errors, 1, 10,
            "year_of_education_invalid")
    for field in ("track", "home_class"):
        if field in changes:
            new[field] = clean_text(field, changes[field], errors, _limit(field))
    merged = {f: current.get(f) for f in RECORD_FIELDS}
    merged.update({k: v for k, v in new.items() if v is not False})
    if not any(e.get("field") in ("type", "bsn", "onderwijsnummer") for e in errors):
        check_identity(merged["type"], merged["bsn"], merged["onderwijsnummer"], errors)
    personal_keys = {k: changes[k] for k in PERSONAL_FIELDS if k in changes}
    personal = _personal_values(personal_keys, errors, required=())
    for field in ("first_name", "last_name"):
        if field in personal_keys and personal.get(field) is None \
                and not any(e.get("field") == field for e in errors):
            errors.append(required_item(field))
    updates = {k: v for k, v in new.items()
               if v is not False and v != current.get(k)
               and not (k == "type" and v is None)}
    return updates, personal, errors


# --- school years -------------------------------------------------------------

_SCHOOL_YEAR = re.compile(r"(\d{4})\s*[-/]\s*(\d{4})")


def parse_school_year(value):
    """'2025-2026' (also '2025/2026'), or None when it is not two consecutive years."""
    if not isinstance(value, str):
        return None
    match = _SCHOOL_YEAR.fullmatch(value.strip())
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    if second != first + 1 or not 1900 <= first <= 2999:
        return None
    return f"{first}-{second}"


def school_year_of(day):
    """The school year (1 August – 31 July) a date falls in."""
    first = day.year if day.month >= 8 else day.year - 1
    return f"{first}-{first + 1}"


def next_school_year(school_year):
    first = int(school_year[:4]) + 1
    return f"{first}-{first + 1}"


# --- projects, departments, learning paths ------------------------------------------

def check_project(data):
    if not isinstance(data, dict):
        raise validation_error([value_invalid_item("data")])
    errors = []
    name = clean_text("name", data.get("name"), errors, 200, required=True)
    raw_year = data.get("school_year")
    school_year = parse_school_year(raw_year)
    if _blank(raw_year):
        errors.append(required_item("school_year"))
    elif school_year is None:
        errors.append(item("school_year_invalid", "school_year"))
    branch = clean_text("branch", data.get("branch"), errors, 100, required=True)
    if errors:
        raise validation_error(errors)
    return {"name": name, "school_year": school_year, "branch": branch}


def check_learning_paths(paths, errors):
    """[{code, name, element_code}] with unique codes; None (given as null) is []."""
    if paths is None:
        return []
    if not isinstance(paths, (list, tuple)):
        errors.append(item("learning_paths_invalid", "learning_paths"))
        return None
    result, seen = [], set()
    for path in paths:
        if not isinstance(path, dict):
            errors.append(item("learning_paths_invalid", "learning_paths"))
            return None
        local = []
        code = clean_text("code", path.get("code"), local, 50, required=True)
        name = clean_text("name", path.get("name"), local, 100)
        element = clean_text("element_code", path.get("element_code"), local, 50,
                             required=True)
        for err in local:
            errors.append({**err, "field": f"learning_paths.{err['field']}"})
        if local:
            continue
        if code in seen:
            errors.append(error_item("learning_path_duplicate",
                                     message("learning_path_duplicate", code=code),
                                     field="learning_paths.code"))
            continue
        seen.add(code)
        result.append({"code": code, "name": name, "element_code": element})
    return result


def check_department(data):
    if not isinstance(data, dict):
        raise validation_error([value_invalid_item("data")])
    errors = []
    code = clean_text("code", data.get("code"), errors, 20, required=True)
    year = clean_int("year_of_education", data.get("year_of_education"), errors, 1, 10,
                     "year_of_education_invalid")
    education = clean_text("education", data.get("education"), errors, 50)
    authority = data.get("home_class_authority")
    if _blank(authority):
        authority = "portal"
    elif not isinstance(authority, str) or authority.strip().lower() not in AUTHORITIES:
        errors.append(item("home_class_authority_invalid", "home_class_authority"))
    else:
        authority = authority.strip().lower()
    paths = check_learning_paths(data.get("learning_paths"), errors)
    if errors:
        raise validation_error(errors)
    return {"code": code, "year_of_education": year, "education": education,
            "home_class_authority": authority, "learning_paths": paths}


DEPARTMENT_CHANGEABLE = ("home_class_authority", "year_of_education", "education")


def check_department_changes(current, changes):
    """{field: new value} of a department change (only what differs), or 422.
    The code stays (participations, groups and the desktop refer to it); the
    learning paths have their own route."""
    if not isinstance(changes, dict):
        raise validation_error([value_invalid_item("changes")])
    errors = []
    for key in changes:
        if key not in DEPARTMENT_CHANGEABLE and key not in ("code", "id", "project_id",
                                                           "learning_paths", "created_at"):
            errors.append(unknown_field_item(key))
    if "code" in changes and changes["code"] != current["code"]:
        errors.append(error_item("field_immutable", "De code van een afdeling kan niet worden "
                                 "gewijzigd.", field="code"))
    new = {}
    if "home_class_authority" in changes:
        authority = changes["home_class_authority"]
        if not isinstance(authority, str) or authority.strip().lower() not in AUTHORITIES:
            errors.append(item("home_class_authority_invalid", "home_class_authority"))
        else:
            new["home_class_authority"] = authority.strip().lower()
    if "year_of_education" in changes:
        new["year_of_education"] = clean_int("year_of_education", changes["year_of_education"],
                                             errors, 1, 10, "year_of_education_invalid")
    if "education" in changes:
        new["education"] = clean_text("education", changes["education"], errors, 50)
    if errors:
        raise validation_error(errors)
    return {k: v for k, v in new.items() if v != current.get(k)}


# --- participations and packages --------------------------------------------------

def learning_path_codes(department):
    return {p["code"] for p in (department.get("learning_paths") or [])}


def _learning_path_unknown(code, department_code):
    return error_item("learning_path_unknown",
                      f"Leerpad {code} bestaat niet in afdeling {department_code}.",
                      field="learning_path")


def department_unknown_item(code, field="department"):
    return error_item("department_unknown",
                      f"Afdeling {code} bestaat niet in dit roosterproject.", field=field)


def check_participation(data, departments):
    """(clean, errors) for a new participation. `departments` maps department
    codes to {"id", "code", "learning_paths"} of the project."""
    if not isinstance(data, dict):
        return None, [value_invalid_item("participation")]
    errors = []
    clean = _participation_values(data, errors, partial=False)
    dept = None
    if clean.get("department") is not None:
        dept = departments.get(clean["department"])
        if dept is None:
            errors.append(department_unknown_item(clean["department"]))
    if dept is not None and clean.get("learning_path") is not None \
            and clean["learning_path"] not in learning_path_codes(dept):
        errors.append(_learning_path_unknown(clean["learning_path"], dept["code"]))
    return clean, errors


def _participation_values(data, errors, partial):
    clean = {}
    if not partial or "department" in data:
        clean["department"] = clean_text("department", data.get("department"), errors,
                                         _limit("department"), required=True)
    if not partial or "forecast" in data:
        clean["forecast"] = clean_int("forecast", data.get("forecast"), errors, 0, 100,
                                      "forecast_invalid")
    for field in ("profile", "programme", "learning_path", "home_class"):
        if not partial or field in data:
            clean[field] = clean_text(field, data.get(field), errors, _limit(field))
    if not partial or "lwoo" in data:
        clean["lwoo"] = clean_bool("lwoo", data.get("lwoo"), errors, "lwoo_invalid")
    return clean


def check_participation_changes(current, changes, departments):
    """(updates, keep_package, errors) for changing a participation.

    `current` holds the participation's fields (department as code);
    `updates` maps each changing field to its new value. A change of
    department needs `keep_package` (bool); a learning path not offered by the
    new department is cleared unless a valid one is given.
    """
    if not isinstance(changes, dict):
        return {}, None, [value_invalid_item("changes")]
    errors = []
    for key in changes:
        if key not in PARTICIPATION_FIELDS and key not in PARTICIPATION_READ_ONLY \
                and key != "keep_package":
            errors.append(unknown_field_item(key))
    new = _participation_values(changes, errors, partial=True)
    updates = {k: v for k, v in new.items()
               if v != current.get(k) and not any(e.get("field") == k for e in errors)}
    department_code = updates.get("department", current.get("department"))
    dept = departments.get(department_code)
    if "department" in updates and dept is None:
        errors.append(department_unknown_item(updates["department"]))
    keep_package = None
    if "department" in updates:
        raw = changes.get("keep_package")
        if raw is None:
            errors.append(error_item("keep_package_required", message("keep_package_required"),
                                     field="keep_package"))
        elif not isinstance(raw, bool):
            errors.append(value_invalid_item("keep_package"))
        else:
            keep_package = raw
    if dept is not None:
        paths = learning_path_codes(dept)
        path = updates.get("learning_path", current.get("learning_path"))
        if "learning_path" in new and new["learning_path"] is not None \
                and new["learning_path"] not in paths:
            errors.append(_learning_path_unknown(new["learning_path"], dept["code"]))
        elif "department" in updates and path is not None and path not in paths:
            updates["learning_path"] = None
    return updates, keep_package, errors


# --- several participations of one student in one project --------------------------
#
# A student has at most one participation per department of a project, and may
# have several in one project (typically next year's, while it is not yet sure
# where the student ends up: 60% h4, 40% v4). Then every one of them needs a
# forecast, and together they are at most 100%.

FORECAST_TOTAL_MAX = 100


def participation_exists(student_number, department_code, field="department"):
    """409: the student is already placed in this department of the project."""
    return conflict("participation_exists",
                    f"Leerling {student_number} heeft al een afdelingsdeelname in afdeling "
                    f"{department_code} van dit roosterproject.", field=field)


def duplicate_department(parts):
    """The first department code that occurs twice in `parts` ([{"department"}]), else None."""
    seen = set()
    for part in parts:
        code = part.get("department")
        if code in seen:
            return code
        seen.add(code)
    return None


def forecast_errors(student_number, parts):
    """Error items (for a 422) of one student's participations in one project
    as they will be after a change: `parts` is [{"department", "forecast"}].

    One participation needs no forecast. Several: each needs one
    (`forecast_required`, one item per participation without one, naming its
    department) and together they are at most 100 (`forecast_total_exceeded`,
    naming every department and its share). Each item carries `department`:
    the participation it is about, None for the total.
    """
    if len(parts) < 2:
        return []
    errors = []
    codes = ", ".join(sorted(str(p.get("department")) for p in parts))
    for part in parts:
        if part.get("forecast") is None:
            item_ = error_item(
                "forecast_required",
                f"Prognose is verplicht: leerling {student_number} heeft in dit roosterproject "
                f"meer dan één afdelingsdeelname ({codes}); geef bij afdeling "
                f"{part.get('department')} een prognose.", field="forecast")
            item_["department"] = part.get("department")
            errors.append(item_)
    if errors:
        return errors
    total = sum(p["forecast"] for p in parts)
    if total > FORECAST_TOTAL_MAX:
        shares = ", ".join(f"{p.get('department')} {p['forecast']}%"
                           for p in sorted(parts, key=lambda p: str(p.get("department"))))
        item_ = error_item(
            "forecast_total_exceeded",
            f"De prognoses van leerling {student_number} in dit roosterproject tellen samen op "
            f"tot {total}% ({shares}); samen mogen ze hoogstens {FORECAST_TOTAL_MAX}% zijn.",
            field="forecast")
        item_["department"] = None
        errors.append(item_)
    return errors


def check_student_participations(student_number, parts, field="department"):
    """Raise when one student's participations in one project (as they will be
    after a change, [{"department", "forecast"}]) break the rules: 409
    participation_exists for a department twice, else 422 with every
    forecast error."""
    twice = duplicate_department(parts)
    if twice is not None:
        raise participation_exists(student_number, twice, field=field)
    errors = forecast_errors(student_number, parts)
    if errors:
        raise validation_error(errors)


def check_participation_permission(actor, touched):
    """Raise 403 when `actor` may not change these fields of a participation.

    `touched`: the fields the request changes (or sets). No actor is a trusted
    call between services. Admins (and the platform helpdesk) may change all;
    a mentor without admin only forecast and home class (prognoses are set by
    mentors in every department; where a home class may change is
    check_home_class_authority's rule); anyone else nothing.
    """
    if actor is None:
        return
    roles = set(actor_roles(actor))
    if roles & set(ADMIN_ROLES):
        return
    if "mentor" in roles:
        if set(touched) - set(MENTOR_FIELDS):
            raise forbidden(message("mentor_fields"))
        return
    raise forbidden()


def check_home_class_authority(actor, authority, department_code):
    """Where the desktop leads a department's home classes, nobody changes a
    home class there through the portal (409 naming the department), whatever
    the role; the desktop's own uploads (the connector, a trusted call without
    actor, or the scheduler's account) do."""
    if actor is None or authority != "desktop" or "scheduler" in actor_roles(actor):
        return
    raise DomainError("home_class_desktop_led",
                      message("home_class_desktop_led", department=department_code),
                      status=409, field="home_class",
                      errors=[error_item("home_class_desktop_led",
                                         message("home_class_desktop_led",
                                                 department=department_code),
                                         field="home_class")])


def actor_roles(actor):
    if not isinstance(actor, dict):
        return []
    roles = actor.get("roles") or []
    return [r for r in roles if isinstance(r, str)] if isinstance(roles, (list, tuple)) else []


def is_admin(actor):
    return bool(set(actor_roles(actor)) & set(ADMIN_ROLES))


def clean_codes(field, values, errors, limit=20):
    """A list of codes (subjects, exemptions): stripped, de-duplicated, in order."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        errors.append(item("codes_invalid", field))
        return None
    result = []
    for value in values:
        code = clean_text(field, value, errors, limit, required=True)
        if code is not None and code not in result:
            result.append(code)
    return result


def check_package(subjects, exemptions):
    """(subjects, exemptions), each a de-duplicated list of subject codes.

    Exemptions are independent of the chosen subjects: a vrijstelling names a
    subject the student does not have to follow, chosen or not (the API's
    desktop snapshot exempts `lo` while choosing ne/en/wi). A code may be in
    both lists (a chosen subject with an exemption for part of it).
    """
    errors = []
    subjects = clean_codes("subjects", subjects, errors)
    exemptions = clean_codes("exemptions", exemptions, errors)
    if errors:
        raise validation_error(errors)
    return subjects, exemptions


# --- groups ---------------------------------------------------------------------

def check_group(data):
    if not isinstance(data, dict):
        raise validation_error([value_invalid_item("data")])
    errors = []
    code = clean_text("code", data.get("code"), errors, 50, required=True)
    kind = data.get("kind")
    if _blank(kind):
        errors.append(required_item("kind"))
        kind = None
    elif not isinstance(kind, str) or kind.strip().lower() not in GROUP_KINDS:
        errors.append(item("group_kind_invalid", "kind"))
        kind = None
    else:
        kind = kind.strip().lower()
    department = clean_text("department", data.get("department"), errors, 20,
                            required=kind == "home_class")
    subject = clean_text("subject", data.get("subject"), errors, 20)
    if errors:
        raise validation_error(errors)
    return {"code": code, "kind": kind, "department": department, "subject": subject}


def clean_student_numbers(values):
    """(numbers, errors): the list of student numbers of a group, de-duplicated;
    errors carry the 1-based position as `row`."""
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise validation_error([item("codes_invalid", "student_numbers")])
    numbers, errors = [], []
    for index, value in enumerate(values, 1):
        local = []
        number = clean_student_number(value, local, field="student_numbers")
        errors.extend({**e, "row": index} for e in local)
        if number is not None and number not in numbers:
            numbers.append(number)
    return numbers, errors


def clean_leave_date(value, errors, today):
    """The leave date of a leave request (None when not given): at most
    LEAVE_DAYS_BACK days ago and LEAVE_DAYS_AHEAD days ahead of `today`."""
    if value is None:
        return None
    day = clean_date("date", value, errors)
    if day is None:
        return None
    if day < today - dt.timedelta(days=LEAVE_DAYS_BACK):
        errors.append(item("leave_date_too_early", "date", days=LEAVE_DAYS_BACK))
        return None
    if day > today + dt.timedelta(days=LEAVE_DAYS_AHEAD):
        errors.append(item("leave_date_too_late", "date", days=LEAVE_DAYS_AHEAD))
        return None
    return day


def leave_status(leave_date, left_at):
    """"left" once carried out, "leaving" while planned, else "active"."""
    if left_at is not None:
        return "left"
    return "leaving" if leave_date is not None else "active"


# --- lists ------------------------------------------------------------------------

def check_registered(value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise validation_error([error_item("registered_invalid", message("registered_invalid"),
                                       field="registered")])


def check_left(value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise validation_error([error_item("left_invalid", message("left_invalid"), field="left")])


def check_list_filters(home_class=None, year_of_education=None, track=None, type=None):
    errors = []
    home_class = clean_text("home_class", home_class, errors, 50)
    year = clean_int("year_of_education", year_of_education, errors, 1, 10,
                     "year_of_education_invalid")
    track = clean_text("track", track, errors, 50)
    student_type = clean_type(type, errors, required=False)
    if errors:
        raise validation_error(errors)
    return home_class, year, track, student_type


# --- batches -----------------------------------------------------------------------

_ROW_STATUS = {"student_exists": 409, "bsn_exists": 409, "user_exists": 409}


def rows_error(errors):
    """One DomainError listing every bad row (sorted): 422 when any row is
    invalid, else 409 (duplicates)."""
    errors = sorted(errors, key=lambda e: e.get("row") or 0)
    statuses = {_ROW_STATUS.get(e["code"], 422) for e in errors}
    status = 422 if 422 in statuses else 409
    lead = next(e for e in errors if _ROW_STATUS.get(e["code"], 422) == status)
    if len(errors) == 1:
        text_ = lead["message"]
    else:
        bad_rows = len({e.get("row") for e in errors})
        text_ = f"{bad_rows} rij(en) bevatten fouten; er is niets opgeslagen."
    return DomainError(lead["code"], text_, status=status, field=lead.get("field"),
                       errors=errors)


def student_exists_message(number):
    return f"Er bestaat al een leerling met leerlingnummer {number}."


def bsn_exists_message():
    return "Er bestaat al een leerling met dit BSN binnen deze instelling."


# --- mentors ------------------------------------------------------------------------

MENTOR_CLASSES_MAX = 50
HOME_CLASS_MAX = 50


def clean_mentor_classes(values):
    """The home classes a mentor looks after: a list of class codes, each at
    most 50 characters, duplicates (regardless of case) once, at most 50.
    (codes in the order given, errors)."""
    if not isinstance(values, (list, tuple)):
        return [], [error_item("mentor_classes_invalid", message("mentor_classes_invalid"),
                               field="home_classes")]
    errors, out, seen = [], [], set()
    for index, value in enumerate(values):
        field = f"home_classes.{index}"
        code = clean_text(field, value, errors, HOME_CLASS_MAX, required=True)
        if code is not None and code.lower() not in seen:
            seen.add(code.lower())
            out.append(code)
    if len(out) > MENTOR_CLASSES_MAX:
        errors.append(error_item("mentor_classes_too_many",
                                 message("mentor_classes_too_many", limit=MENTOR_CLASSES_MAX),
                                 field="home_classes"))
    return out, errors


def check_mentor(user, code):
    """A mentor's classes belong to a user with the role mentor (422 otherwise)."""
    if "mentor" not in (user or {}).get("roles", []):
        raise validation_error([error_item("not_a_mentor", message("not_a_mentor", code=code),
                                           field="code")])


def mentor_may_change(authority):
    """What the mentor page offers to change on a participation: the forecast
    always; the home class only where the portal leads the department's home
    classes (check_home_class_authority refuses it elsewhere, for every role)."""
    return ["forecast", "home_class"] if authority == "portal" else ["forecast"]
