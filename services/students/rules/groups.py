"""Groups (home classes and clusters) and their members."""
from services.common import fields as fieldrules
from services.common.errors import validation_error

from .coerce import clean_text
from .messages import GROUP_KINDS, item, require_object, required_item
from .records import clean_student_number


def check_group(data):
    require_object(data)
    errors = []
    code = clean_text("code", data.get("code"), errors, 50, required=True)
    kind = data.get("kind")
    if fieldrules.blank(kind):
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
