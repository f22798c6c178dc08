"""Rules of institutions: the fields of a new institution, the institution a
login names."""

from services.common.errors import error_item, validation_error
from services.common.ids import IdentifierError, normalize_brin

from .rules import (
    PLATFORM_KEY,
    SCHOOL_TYPES,
    InvalidValue,
    clean_text,
    message,
    required_item,
    text,
    value_invalid_item,
)


def check_institution(data):
    """Validated, normalised institution fields, or a 422 DomainError.

    A 6-character BRIN carries its branch (vestiging) in its last two digits;
    a 4-character BRIN with a separate branch is stored as BRIN + branch.
    """
    if not isinstance(data, dict):
        raise validation_error([value_invalid_item("data")])
    errors = []
    name = clean_text("name", data.get("name"), errors, 200)
    if name is None and not errors:
        errors.append(required_item("name"))

    brin = branch = None
    raw_brin = data.get("brin")
    if raw_brin is None or (isinstance(raw_brin, str) and not raw_brin.strip()):
        errors.append(required_item("brin"))
    else:
        try:
            brin = normalize_brin(raw_brin)
        except IdentifierError:
            errors.append(error_item("brin_invalid", message("brin_invalid"), field="brin"))
    raw_branch = data.get("branch")
    try:
        branch = text(raw_branch)
    except InvalidValue:
        branch = "?"
    if branch is not None and not (len(branch) == 2 and branch.isascii() and branch.isdigit()):
        errors.append(error_item("branch_invalid", message("branch_invalid"), field="branch"))
        branch = None
    if brin is not None:
        if len(brin) == 6:
            if branch is not None and branch != brin[4:]:
                errors.append(error_item("branch_invalid", message("branch_invalid"),
                                         field="branch"))
            branch = brin[4:]
        elif branch is not None:
            brin = brin + branch

    school_type = data.get("school_type")
    if school_type is None or (isinstance(school_type, str) and not school_type.strip()):
        errors.append(required_item("school_type"))
    elif not isinstance(school_type, str) or school_type.strip().lower() not in SCHOOL_TYPES:
        errors.append(error_item("school_type_invalid", message("school_type_invalid"),
                                 field="school_type"))
    else:
        school_type = school_type.strip().lower()
    if errors:
        raise validation_error(errors)
    return {"name": name, "brin": brin, "branch": branch, "school_type": school_type}


def parse_login_institution(value):
    """("platform", None), ("brin", normalised BRIN) or (None, None)."""
    if not isinstance(value, str):
        return None, None
    value = value.strip()
    if value.lower() == PLATFORM_KEY:
        return PLATFORM_KEY, None
    try:
        return "brin", normalize_brin(value)
    except IdentifierError:
        return None, None
