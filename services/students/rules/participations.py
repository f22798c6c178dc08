"""Participations (a student's placement in a department), several of one
student in one project, who may change what, and packages."""
from services.common.errors import DomainError, conflict, error_item, forbidden, validation_error

from .coerce import clean_bool, clean_int, clean_text
from .messages import (ADMIN_ROLES, MENTOR_FIELDS, PARTICIPATION_FIELDS, PARTICIPATION_READ_ONLY,
                       item, message, unknown_field_item, value_invalid_item)
from .records import _limit


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
