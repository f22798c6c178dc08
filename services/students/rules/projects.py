"""Projects, departments and their learning paths."""
from services.common import fields as fieldrules
from services.common.errors import error_item, validation_error

from .coerce import clean_int, clean_text
from .messages import (AUTHORITIES, item, message, require_object, required_item,
                       unknown_field_item, value_invalid_item)
from .school_years import parse_school_year


def check_project(data):
    require_object(data)
    errors = []
    name = clean_text("name", data.get("name"), errors, 200, required=True)
    raw_year = data.get("school_year")
    school_year = parse_school_year(raw_year)
    if fieldrules.blank(raw_year):
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
    require_object(data)
    errors = []
    code = clean_text("code", data.get("code"), errors, 20, required=True)
    year = clean_int("year_of_education", data.get("year_of_education"), errors, 1, 10,
                     "year_of_education_invalid")
    education = clean_text("education", data.get("education"), errors, 50)
    authority = data.get("home_class_authority")
    if fieldrules.blank(authority):
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
