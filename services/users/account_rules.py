"""Rules of accounts: the fields of a new user, changes to a user, types,
roles, passwords; the filters of the user list."""

from services.common import fields as fieldrules
from services.common.errors import error_item, validation_error
from services.common.fields import FieldError

from .rules import (
    CODE_MAX,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PERSONAL_FIELDS,
    PLATFORM_ROLES,
    READ_ONLY_FIELDS,
    REQUIRED_PERSONAL,
    ROLES,
    UPDATABLE_FIELDS,
    USER_TYPES,
    InvalidValue,
    clean_text,
    label,
    message,
    required_item,
    role_invalid_item,
    text,
    value_invalid_item,
)

# --- users ------------------------------------------------------------------

def _clean_personal(field, value, errors, clean=fieldrules.clean):
    """A personal field by the one table of field rules (services/common/fields.py);
    `clean`: fieldrules.clean, or a batch's fieldrules.batch_clean()."""
    try:
        return clean(field, value)
    except FieldError as exc:
        errors.append(fieldrules.item(field, exc, label(field)))
        return None


def clean_code(value, errors):
    code = clean_text("code", value, errors, CODE_MAX)
    if code is None and not any(e.get("field") == "code" for e in errors):
        errors.append(required_item("code"))
    return code


def check_student_code(code, errors):
    if code is not None and not (code.isascii() and code.isdigit()):
        errors.append(error_item("student_number_not_digits",
                                 message("student_number_not_digits"), field="code"))


def _type_item():
    return error_item("user_type_invalid", message("user_type_invalid"), field="type")


def resolve_type(data, errors, current=None):
    """The user type from `type` and/or `is_student` (is_student true means student)."""
    raw_type, raw_student = data.get("type"), data.get("is_student")
    if raw_student is not None and not isinstance(raw_student, bool):
        errors.append(value_invalid_item("is_student"))
        return current
    user_type = None
    if raw_type is not None:
        if not isinstance(raw_type, str) or raw_type.strip().lower() not in USER_TYPES:
            errors.append(_type_item())
            return current
        user_type = raw_type.strip().lower()
        # an explicit type wins over is_student false (a form's default);
        # is_student true with another type is a contradiction
        if raw_student is True and user_type != "student":
            errors.append(_type_item())
            return current
        return user_type
    if raw_student is True:
        return "student"
    if raw_student is False:
        if current is not None and current != "student":
            return current
        return "employee"
    return current if current is not None else "employee"


def default_roles(user_type):
    return ["student"] if user_type == "student" else []


def check_roles(roles, user_type, is_platform, errors):
    """Sorted, de-duplicated roles, or None with role_invalid items appended.

    Roles: admin, scheduler, mentor, student; helpdesk only on the platform
    institution. The student role belongs to (and is the only role of) a user
    of type student.
    """
    if roles is None:
        return default_roles(user_type)
    if isinstance(roles, str) or not isinstance(roles, (list, tuple, set)):
        errors.append(error_item("role_invalid", "Rollen moeten als lijst worden opgegeven.",
                                 field="roles"))
        return None
    result, bad = set(), False
    for role in roles:
        name = role.strip().lower() if isinstance(role, str) else None
        if name in PLATFORM_ROLES:
            if not is_platform:
                errors.append(role_invalid_item(name, "alleen voor de helpdesk van het platform"))
                bad = True
                continue
        elif name not in ROLES:
            errors.append(role_invalid_item(role))
            bad = True
            continue
        if user_type == "student" and name != "student":
            errors.append(role_invalid_item(name, "een leerling heeft alleen de rol student"))
            bad = True
            continue
        if user_type != "student" and name == "student":
            errors.append(role_invalid_item(name, "alleen een leerling heeft de rol student"))
            bad = True
            continue
        result.add(name)
    if bad:
        return None
    if user_type == "student":
        result.add("student")
    return sorted(result)


def check_password(value, errors):
    """None for no password; the password text when it is acceptable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(value_invalid_item("password"))
        return None
    if len(value) < MIN_PASSWORD_LENGTH:
        errors.append(error_item("password_too_short", message("password_too_short"),
                                 field="password"))
        return None
    if len(value) > MAX_PASSWORD_LENGTH:
        errors.append(error_item("password_too_long", message("password_too_long"),
                                 field="password"))
        return None
    return value


def check_new_user(data, is_platform=False, clean_field=fieldrules.clean):
    """(clean, errors) for a new user; `clean` holds every column value plus
    the plain `password` (or None). Errors are error items without a row.
    `clean_field`: see _clean_personal."""
    if not isinstance(data, dict):
        return None, [value_invalid_item("data")]
    errors = []
    code = clean_code(data.get("code"), errors)
    user_type = resolve_type(data, errors)
    if user_type == "student":
        check_student_code(code, errors)
    clean = {"code": code, "type": user_type}
    for field in PERSONAL_FIELDS:
        clean[field] = _clean_personal(field, data.get(field), errors, clean_field)
    for field in REQUIRED_PERSONAL:
        if clean[field] is None and not any(e.get("field") == field for e in errors):
            errors.append(required_item(field))
    clean["roles"] = check_roles(data.get("roles"), user_type, is_platform, errors)
    clean["password"] = check_password(data.get("password"), errors)
    return clean, errors


def check_changes(current, changes, is_platform=False):
    """(updates, password, errors) for changing a user.

    `current` maps column names to the stored values (code, type, roles and the
    personal fields). `updates` holds only columns whose value changes;
    `password` is the new plain password or None.
    """
    if not isinstance(changes, dict):
        return {}, None, [value_invalid_item("changes")]
    errors = []
    for key in changes:
        if key == "code":
            try:
                new_code = text(changes[key])
            except InvalidValue:
                new_code = None
            if new_code != current["code"]:
                errors.append(error_item("field_immutable", message("field_immutable"),
                                         field="code"))
        elif key not in UPDATABLE_FIELDS and key not in READ_ONLY_FIELDS:
            errors.append(error_item("field_unknown", f"Onbekend veld: {key}.", field=str(key)))
    new = {}
    for field in PERSONAL_FIELDS:
        if field in changes:
            new[field] = _clean_personal(field, changes[field], errors)
            if field in REQUIRED_PERSONAL and new[field] is None \
                    and not any(e.get("field") == field for e in errors):
                errors.append(required_item(field))
    old_type = current["type"]
    new_type = resolve_type(changes, errors, current=old_type)
    if new_type != old_type:
        new["type"] = new_type
        if new_type == "student":
            check_student_code(current["code"], errors)
    if changes.get("roles") is not None:
        roles = check_roles(changes["roles"], new_type, is_platform, errors)
    elif new_type != old_type:
        roles = adapt_roles(current["roles"], new_type)
    else:
        roles = sorted(current["roles"] or [])
    if roles is not None:
        new["roles"] = roles
    password = check_password(changes.get("password"), errors)
    updates = {k: v for k, v in new.items() if v != current.get(k)}
    if "roles" in updates and sorted(current.get("roles") or []) == updates["roles"]:
        del updates["roles"]
    return updates, password, errors


def adapt_roles(roles, new_type):
    """Roles after a change of type when no roles were given."""
    if new_type == "student":
        return ["student"]
    return sorted(set(roles or []) - {"student"})


# --- lists --------------------------------------------------------------------

LIST_FILTERS = ("all", "students", "employees", "archived")


def check_filter(value):
    value = "all" if value is None else value
    if value not in LIST_FILTERS:
        raise validation_error([error_item("filter_invalid", message("filter_invalid"),
                                           field="filter")])
    return value
