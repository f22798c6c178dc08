"""Checking single fields of a request (a snapshot, a selection): the error
collector and the small cleaners. Pure functions.
"""
import re

from services.common import fields as fieldrules
from services.common.errors import DomainError, error_item


STUDENT_NUMBER_MAX = fieldrules.FIELDS["student_number"].max_length
MAX_ERRORS = 100

_POSTCODE = re.compile(r"(\d{4})\s*([A-Za-z]{2})")


class SnapshotErrors:
    """Collects error items; stops collecting after MAX_ERRORS."""

    def __init__(self):
        self.items = []
        self.dropped = 0

    def add(self, code, message, field=None, row=None, student_number=None):
        if len(self.items) >= MAX_ERRORS:
            self.dropped += 1
            return
        item = error_item(code, message, field=field, row=row)
        if student_number is not None:
            item["student_number"] = student_number
        self.items.append(item)

    def __bool__(self):
        return bool(self.items)

    def raise_if_any(self):
        if not self.items:
            return
        first = self.items[0]
        if len(self.items) == 1:
            text = first["message"]
        else:
            total = len(self.items) + self.dropped
            text = (f"De momentopname bevat {total} fout(en); er is niets opgeslagen. "
                    f"Eerste fout: {first['message']}")
        raise DomainError(first["code"], text, status=422, field=first.get("field"),
                          errors=self.items)


def clean_text(value, limit, field, row, errors, number=None):
    """A stripped string or None ('' is None); other types are an error."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if not value.isprintable():
            errors.add("value_invalid", f"{field} (rij {row}) bevat ongeldige tekens.",
                       field, row, number)
            return None
        if len(value) > limit:
            errors.add("too_long", f"{field} (rij {row}) is te lang (hoogstens {limit} "
                                   f"tekens).", field, row, number)
            return None
        return value
    errors.add("type_invalid", f"{field} (rij {row}) moet tekst of null zijn.", field, row,
               number)
    return None


def clean_number(value, field, row, errors):
    """A student number: digits only (a JSON integer is taken as its digits)."""
    if isinstance(value, bool) or value is None:
        errors.add("required" if value is None else "type_invalid",
                   f"{field} (rij {row}) is verplicht: het leerlingnummer als tekst.",
                   field, row)
        return None
    if isinstance(value, int) and value >= 0:
        value = str(value)
    if not isinstance(value, str):
        errors.add("type_invalid", f"{field} (rij {row}) moet een leerlingnummer (tekst) zijn.",
                   field, row)
        return None
    value = value.strip()
    if not value:
        errors.add("required", f"{field} (rij {row}) is verplicht.", field, row)
        return None
    if not (value.isascii() and value.isdigit()):
        errors.add("student_number_not_digits",
                   f"Het leerlingnummer {value!r} (rij {row}) mag alleen cijfers bevatten.",
                   field, row)
        return None
    if len(value) > STUDENT_NUMBER_MAX:
        errors.add("too_long", f"Het leerlingnummer (rij {row}) is te lang (hoogstens "
                               f"{STUDENT_NUMBER_MAX} cijfers).", field, row)
        return None
    return value


def normalize_postcode(value):
    """'7311ba' -> '7311 BA'; anything else stays as it is (shown as a difference)."""
    if value is None:
        return None
    match = _POSTCODE.fullmatch(value)
    if match:
        return f"{match.group(1)} {match.group(2).upper()}"
    return value


def unknown_fields(item, allowed, list_name, row, errors, number=None):
    extra = [k for k in item if k not in allowed]
    for key in extra:
        errors.add("field_unknown", f"Onbekend veld {key!r} in {list_name} (rij {row}).",
                   f"{list_name}.{key}", row, number)


def _objects(rows, list_name, errors):
    for index, item in enumerate(rows, 1):
        if isinstance(item, dict):
            yield index, item
        else:
            errors.add("type_invalid", f"{list_name} (rij {index}) moet een object zijn.",
                       list_name, index)


def object_rows(rows, list_name, keys, errors):
    """(row number, item) of each object of a list, its unknown keys reported;
    a row that is no object is a type_invalid error."""
    for index, item in _objects(rows, list_name, errors):
        unknown_fields(item, keys, list_name, index, errors)
        yield index, item


def student_rows(rows, list_name, keys, errors):
    """(row number, item, student number) of each object of a list about
    students, its unknown keys reported under the student's number."""
    for index, item in _objects(rows, list_name, errors):
        number = clean_number(item.get("student_number"), f"{list_name}.student_number", index,
                              errors)
        unknown_fields(item, keys, list_name, index, errors, number)
        yield index, item, number


def known_student(number, students, errors, where, field, row):
    """Whether `number` is one of the snapshot's students; reported when not."""
    if number in students:
        return True
    errors.add("student_unknown", f"{where}: leerling {number} staat niet in de leerlingen.",
               field, row, number)
    return False


def put_once(table, key, record, errors, code, text, field, row, number=None):
    """`record` under `key`; a key already there is the error `code` instead."""
    if key in table:
        errors.add(code, text, field, row, number)
    else:
        table[key] = record


def list_field(snapshot, key, errors):
    value = snapshot.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add("type_invalid", f"{key} moet een lijst zijn (of null).", key)
        return []
    return value


def clean_codes(value, field, row, errors, number):
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add("type_invalid", f"{field} (rij {row}) moet een lijst met codes zijn.",
                   field, row, number)
        return []
    out = []
    for code in value:
        if isinstance(code, (int, float)) and not isinstance(code, bool):
            code = str(code)
        text = clean_text(code, 20, field, row, errors, number)
        if text is not None and text not in out:
            out.append(text)
    return out
