"""Mentors and the home classes they look after."""
from services.common.errors import error_item, validation_error

from .coerce import clean_text
from .messages import message


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
