"""Coercion of form and spreadsheet values by the shared field rules
(services/common/fields.py), collecting error items in the students' words."""
import datetime as dt
import functools

from services.common import fields as fieldrules
from services.common.fields import FieldError

from .messages import item, label, required_item


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


@functools.cache
def _rule(field, kind, low=None, high=None, code=None):
    """The (frozen) field rule of a students' int or bool field, made once."""
    return fieldrules.FieldRule(field, label(field), "students", kind, low=low, high=high,
                                code=code)


def _field_error(field, exc, errors):
    errors.append(fieldrules.item(field, exc, label(field)))


def clean_text(field, value, errors, limit, required=False):
    try:
        value = fieldrules.clean_text(value, limit)
    except FieldError as exc:
        _field_error(field, exc, errors)
        return None
    if value is None and required:
        errors.append(required_item(field))
    return value


def clean_int(field, value, errors, low, high, code):
    """An integer in [low, high] from int, integral float or digit text; None for empty."""
    if fieldrules.blank(value):
        return None
    rule = _rule(field, "int", low, high, code)
    try:
        return fieldrules.clean_int(rule, value)
    except FieldError as exc:
        _field_error(field, exc, errors)
        return None


def clean_bool(field, value, errors, code, default=False):
    if value is None:
        return default
    try:
        return fieldrules.clean_bool(_rule(field, "bool", code=code), value)
    except FieldError as exc:
        _field_error(field, exc, errors)
        return default


def parse_date(value):
    """A date from a date, a datetime or 'YYYY-MM-DD' text; None for empty;
    raises InvalidValue otherwise."""
    if fieldrules.blank(value):
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
        if fieldrules.blank(value):
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
