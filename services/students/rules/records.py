"""The student record: a new student, changes to one, leaving school, list
filters and the errors of a batch of rows.

Error items never carry a BSN or onderwijsnummer, not even a rejected one."""
import datetime as dt

from services.common import fields as fieldrules
from services.common.errors import error_item, validation_error
from services.common.errors import rows_error as common_rows_error
from services.common.fields import FieldError

from .coerce import InvalidValue, _field_error, clean_date, clean_int, clean_text, text
from .messages import (LEAVE_DAYS_AHEAD, LEAVE_DAYS_BACK, PERSONAL_FIELDS, READ_ONLY_FIELDS,
                       RECORD_FIELDS, STUDENT_TYPES, item, message, required_item,
                       unknown_field_item, value_invalid_item)


def clean_student_number(value, errors, field="student_number"):
    if fieldrules.blank(value):
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


def bsn_or_none(value):
    """The 9-digit BSN, or None when `value` is not a valid BSN (an 8-digit
    one is a leading zero Excel lost; the shared field rule)."""
    if fieldrules.blank(value):
        return None
    try:
        return fieldrules.clean_bsn(value)
    except FieldError:
        return None


def _clean_reported(field, clean, value, errors):
    """`clean(value)`; None when empty; False when given but invalid (reported)."""
    if fieldrules.blank(value):
        return None
    try:
        return clean(value)
    except FieldError as exc:
        _field_error(field, exc, errors)
        return False


def clean_bsn(value, errors):
    """The 9-digit BSN (an 8-digit one left-padded), None when empty."""
    return _clean_reported("bsn", fieldrules.clean_bsn, value, errors)


def clean_onderwijsnummer(value, errors):
    return _clean_reported("onderwijsnummer", fieldrules.clean_onderwijsnummer, value, errors)


def check_identity(student_type, bsn, onderwijsnummer, errors):
    """A potential transfer needs a valid BSN, or a valid onderwijsnummer when
    there is no BSN. `bsn`/`onderwijsnummer` are clean values: None (empty),
    False (given but invalid: already reported) or the number."""
    code = fieldrules.identity_missing(student_type, bsn, onderwijsnummer)
    if code:
        errors.append(item(code, "bsn"))


def _limit(field):
    return fieldrules.FIELDS[field].max_length


def _record_values(data, errors, required_type=True, memo=None):
    """`memo`: a dict a batch's rows share (_once)."""
    record = {
        "type": _once(memo, "type", data.get("type"), errors,
                      lambda v, e: clean_type(v, e, required=required_type)),
        "bsn": clean_bsn(data.get("bsn"), errors),
        "onderwijsnummer": clean_onderwijsnummer(data.get("onderwijsnummer"), errors),
        "date_of_birth": _once(memo, "date_of_birth", data.get("date_of_birth"), errors,
                               lambda v, e: clean_date("date_of_birth", v, e)),
        "year_of_education": _once(memo, "year_of_education", data.get("year_of_education"),
                                   errors, lambda v, e: clean_int(
                                       "year_of_education", v, e, 1, 10,
                                       "year_of_education_invalid")),
        "track": _once(memo, "track", data.get("track"), errors,
                       lambda v, e: clean_text("track", v, e, _limit("track"))),
        "home_class": _once(memo, "home_class", data.get("home_class"), errors,
                            lambda v, e: clean_text("home_class", v, e, _limit("home_class"))),
    }
    return record


_ONCE_TYPES = (str, int, type(None))


def _once(memo, field, value, errors, check):
    """check(value, errors) for one field of a row, once per distinct value
    (and type) of the field in a batch: `memo` keeps the outcome and the error
    items it reported (copies are reported again). Without `memo`, checked."""
    if memo is None or value.__class__ not in _ONCE_TYPES:
        return check(value, errors)
    key = (field, value.__class__, value)
    found = memo.get(key)
    if found is None:
        reported = []
        found = memo[key] = (check(value, reported), reported)
    result, reported = found
    errors.extend(dict(e) for e in reported)
    return result


def _personal_values(data, errors, required, clean=fieldrules.clean):
    """The personal fields given, checked by the rules the users service
    applies (the one table: services/common/fields.py), so a student is
    refused here for the same reasons, in the same words. `clean`:
    fieldrules.clean, or a batch's fieldrules.batch_clean()."""
    personal = {}
    for field in PERSONAL_FIELDS:
        if field not in data:
            if field in required:
                errors.append(required_item(field))
            continue
        try:
            value = clean(field, data[field])
        except FieldError as exc:
            _field_error(field, exc, errors)
            continue
        if value is None and field in required:
            errors.append(required_item(field))
            continue
        personal[field] = value
    return personal


def check_new_student(data, require_initials=True, clean=fieldrules.clean, memo=None):
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
    record = _record_values(data, errors, memo=memo)
    check_identity(record["type"], record["bsn"], record["onderwijsnummer"], errors)
    required = ("initials", "first_name", "last_name") if require_initials \
        else ("first_name", "last_name")
    personal = _personal_values(data, errors, required, clean)
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


def clean_as_of(value):
    """The day planned leaves are carried out for (YYYY-MM-DD; None: today)."""
    if value is None:
        return None
    errors = []
    day = clean_date("date", value, errors)
    if errors:
        raise validation_error(errors)
    return day


def leave_status(leave_date, left_at):
    """"left" once carried out, "leaving" while planned, else "active"."""
    if left_at is not None:
        return "left"
    return "leaving" if leave_date is not None else "active"


# --- lists ------------------------------------------------------------------------

def _flag(value, field):
    try:
        return fieldrules.clean_flag(value)
    except FieldError:
        code = f"{field}_invalid"
        raise validation_error([error_item(code, message(code), field=field)]) from None


def check_registered(value):
    return _flag(value, "registered")


def check_left(value):
    return _flag(value, "left")


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
    return common_rows_error(errors, _ROW_STATUS)


def student_exists_message(number):
    return f"Er bestaat al een leerling met leerlingnummer {number}."


def bsn_exists_message():
    return "Er bestaat al een leerling met dit BSN binnen deze instelling."
