"""Checking the desktop's snapshot (docs/connector.md "The snapshot") into the internal shape
(rules.py), with every problem as an error item; and the shape back as a document.
Pure functions.
"""
from services.common.errors import DomainError, error_item

from .rules import (GENDERS, GROUP_KEYS, GROUP_KINDS, MAX_STUDENTS, NO_DEPARTMENT, PACKAGE_KEYS,
                    PARTICIPATION_KEYS, PARTICIPATION_TEXT, STUDENT_KEYS, STUDENT_TEXT, TOP_KEYS,
                    number_key)
from .snapshot_fields import (SnapshotErrors, clean_codes, clean_number, clean_text, list_field,
                              known_student, normalize_postcode, object_rows, put_once,
                              student_rows)


def check_snapshot(snapshot):
    """The desktop's snapshot (docs/connector.md) in the internal shape, or one 422
    DomainError listing every problem (unknown keys named, wrong types,
    non-digit student numbers, references to students not in the snapshot,
    home-class groups that disagree with the participations)."""
    errors = SnapshotErrors()
    if snapshot is None:
        snapshot = {}
    if not isinstance(snapshot, dict):
        raise DomainError("invalid_body", "De momentopname moet een JSON-object zijn.",
                          status=422)
    unknown = [k for k in snapshot if k not in TOP_KEYS]
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise DomainError("field_unknown", f"Onbekende velden in de momentopname: {names}.",
                          status=422, field=str(unknown[0]),
                          errors=[error_item("field_unknown", f"Onbekend veld: {k}.",
                                             field=str(k)) for k in unknown])

    students = _check_students(list_field(snapshot, "students", errors), errors)
    participations = _check_participations(list_field(snapshot, "participations", errors),
                                           students, errors)
    packages = _check_packages(list_field(snapshot, "packages", errors), students, participations,
                               errors)
    groups = _check_groups(list_field(snapshot, "groups", errors), students, participations,
                           errors)
    errors.raise_if_any()
    return {"students": students, "participations": participations, "packages": packages,
            "groups": groups}


def _check_students(rows, errors):
    if len(rows) > MAX_STUDENTS:
        errors.add("too_many_rows", f"Hoogstens {MAX_STUDENTS} leerlingen per momentopname.",
                   "students")
        return {}
    out = {}
    for index, item, number in student_rows(rows, "students", STUDENT_KEYS, errors):
        record = {}
        for field, limit in STUDENT_TEXT.items():
            value = item.get(field)
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and field in ("house_number", "postcode"):
                value = str(value)
            record[field] = clean_text(value, limit, f"students.{field}", index, errors, number)
        if record["gender"] is not None:
            record["gender"] = record["gender"].upper()
            if record["gender"] not in GENDERS:
                errors.add("gender_invalid", f"Het geslacht (rij {index}) moet M, V, X of "
                                             f"leeg zijn.", "students.gender", index, number)
        record["postcode"] = normalize_postcode(record["postcode"])
        record["properties"] = _properties(item.get("properties"), index, errors, number)
        if number is None:
            continue
        put_once(out, number, record, errors, "duplicate_student",
                 f"Leerlingnummer {number} staat meer dan eens in de leerlingen (rij {index}).",
                 "students.student_number", index, number)
    return out


def _properties(value, row, errors, number):
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add("type_invalid", f"students.properties (rij {row}) moet een object zijn.",
                   "students.properties", row, number)
        return {}
    out = {}
    for key, val in value.items():
        if not isinstance(key, str) or len(key) > 100:
            errors.add("value_invalid", f"Ongeldige eigenschap in rij {row}.",
                       "students.properties", row, number)
            continue
        if val is not None and not isinstance(val, (str, int, float, bool)):
            errors.add("type_invalid", f"Eigenschap {key} (rij {row}) moet tekst, een getal, "
                                       f"ja/nee of null zijn.", f"students.properties.{key}",
                       row, number)
            continue
        if isinstance(val, str) and len(val) > 1000:
            errors.add("too_long", f"Eigenschap {key} (rij {row}) is te lang.",
                       f"students.properties.{key}", row, number)
            continue
        out[key] = val
    return out


def _forecast(value, row, errors, number):
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        errors.add("forecast_invalid", f"De prognose (rij {row}) moet een geheel getal van 0 "
                                       f"tot en met 100 zijn, of null.",
                   "participations.forecast", row, number)
        return None
    return value


def _check_participations(rows, students, errors):
    out = {}
    for index, item, number in student_rows(rows, "participations", PARTICIPATION_KEYS, errors):
        record = {field: clean_text(item.get(field), limit, f"participations.{field}", index,
                                    errors, number)
                  for field, limit in PARTICIPATION_TEXT.items()}
        raw_dept = item.get("department")
        if raw_dept is None or (isinstance(raw_dept, str) and not raw_dept.strip()):
            errors.add("required", f"participations.department (rij {index}) is verplicht.",
                       "participations.department", index, number)
        record["forecast"] = _forecast(item.get("forecast"), index, errors, number)
        lwoo = item.get("lwoo")
        if lwoo is not None and not isinstance(lwoo, bool):
            errors.add("lwoo_invalid", f"LWOO (rij {index}) moet true, false of null zijn.",
                       "participations.lwoo", index, number)
        record["lwoo"] = bool(lwoo) if isinstance(lwoo, bool) else False
        department = record["department"]
        if number is None or department is None:
            continue
        if not known_student(number, students, errors, f"Afdelingsdeelname (rij {index})",
                             "participations.student_number", index):
            continue
        put_once(out.setdefault(number, {}), department, record, errors,
                 "duplicate_participation",
                 f"Leerling {number} staat meer dan eens in afdeling {department} "
                 f"(rij {index}); één afdelingsdeelname per afdeling.",
                 "participations.department", index, number)
    return out


def _check_packages(rows, students, participations, errors):
    out = {}
    for index, item, number in student_rows(rows, "packages", PACKAGE_KEYS, errors):
        record = {
            "department": clean_text(item.get("department"), 20, "packages.department", index,
                                     errors, number),
            "subjects": clean_codes(item.get("subjects"), "packages.subjects", index, errors,
                                    number),
            "exemptions": clean_codes(item.get("exemptions"), "packages.exemptions", index, errors,
                                      number),
        }
        if number is None:
            continue
        if not known_student(number, students, errors, f"Pakket (rij {index})",
                             "packages.student_number", index):
            continue
        department = record["department"]
        if department is None:
            own_parts = participations.get(number) or {}
            if len(own_parts) > 1:
                errors.add("required", f"Pakket (rij {index}): leerling {number} zit in meer "
                                       f"dan één afdeling; packages.department is verplicht.",
                           "packages.department", index, number)
                continue
            department = next(iter(own_parts), NO_DEPARTMENT)
            record["department"] = department or None
        put_once(out.setdefault(number, {}), department, record, errors, "duplicate_package",
                 f"Leerling {number} heeft meer dan één pakket in afdeling "
                 f"{department or '-'} (rij {index}).", "packages.student_number", index, number)
    return out


def _check_groups(rows, students, participations, errors):
    out = {}
    for index, item in object_rows(rows, "groups", GROUP_KEYS, errors):
        raw_code = item.get("code")
        if isinstance(raw_code, (int, float)) and not isinstance(raw_code, bool):
            raw_code = str(raw_code)
        code = clean_text(raw_code, 50, "groups.code", index, errors)
        if raw_code is None or (isinstance(raw_code, str) and not raw_code.strip()):
            errors.add("required", f"groups.code (rij {index}) is verplicht.", "groups.code",
                       index)
        kind = item.get("kind")
        if kind not in GROUP_KINDS:
            errors.add("group_kind_invalid", f"De soort groep (rij {index}) moet home_class of "
                                             f"cluster zijn.", "groups.kind", index)
        department = clean_text(item.get("department"), 20, "groups.department", index, errors)
        if kind == "home_class" and department is None:
            errors.add("required", f"Een stamklas (rij {index}) hoort bij een afdeling: "
                                   f"groups.department is verplicht.", "groups.department",
                       index)
        subject = clean_text(item.get("subject"), 20, "groups.subject", index, errors)
        members = item.get("student_numbers")
        numbers = set()
        if members is not None and not isinstance(members, list):
            errors.add("type_invalid", f"groups.student_numbers (rij {index}) moet een lijst "
                                       f"zijn.", "groups.student_numbers", index)
        for value in members if isinstance(members, list) else []:
            number = clean_number(value, "groups.student_numbers", index, errors)
            if number is None:
                continue
            if not known_student(number, students, errors, f"Groep {code} (rij {index})",
                                 "groups.student_numbers", index):
                continue
            numbers.add(number)
        if code is None:
            continue
        put_once(out, code, {"department": department, "kind": kind, "subject": subject,
                             "student_numbers": sorted(numbers, key=number_key)},
                 errors, "duplicate_group",
                 f"Groep {code} staat meer dan eens in de groepen (rij {index}).",
                 "groups.code", index)
    _check_home_class_groups(out, participations, rows, errors)
    return out


def _check_home_class_groups(groups, participations, rows, errors):
    """A listed home-class group holds exactly the students whose participation
    names it as their home class."""
    listed = {code for code, g in groups.items() if g["kind"] == "home_class"}
    if not listed:
        return
    expected = {code: set() for code in listed}
    for number, parts in participations.items():
        for part in parts.values():
            if part["home_class"] in expected:
                expected[part["home_class"]].add(number)
    row_of = {}
    for index, item in enumerate(rows, 1):
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            row_of.setdefault(item["code"].strip(), index)
    for code in sorted(listed):
        members = set(groups[code]["student_numbers"])
        for number in sorted(members - expected[code], key=number_key):
            errors.add("home_class_mismatch",
                       f"Stamklas {code}: leerling {number} staat in de groep, maar de "
                       f"afdelingsdeelname noemt een andere stamklas.",
                       "groups.student_numbers", row_of.get(code), number)
        for number in sorted(expected[code] - members, key=number_key):
            errors.add("home_class_mismatch",
                       f"Stamklas {code}: de afdelingsdeelname van leerling {number} noemt "
                       f"deze stamklas, maar de groep bevat de leerling niet.",
                       "groups.student_numbers", row_of.get(code), number)


def snapshot_counts(snapshot):
    """Items per list of the snapshot (participations and packages: one per
    student and department)."""
    counts = {key: len(snapshot.get(key) or {}) for key in TOP_KEYS}
    for key in ("participations", "packages"):
        counts[key] = sum(len(own) for own in (snapshot.get(key) or {}).values())
    return counts


def snapshot_document(snapshot):
    """The internal shape back in the format of docs/connector.md (lists, sorted)."""
    students = snapshot.get("students") or {}
    out = {"students": [], "participations": [], "packages": [], "groups": []}
    for number in sorted(students, key=number_key):
        record = {"student_number": number}
        record.update(students[number])
        out["students"].append(record)
    for key in ("participations", "packages"):
        items = snapshot.get(key) or {}
        for number in sorted(items, key=number_key):
            for department in sorted(items[number]):
                out[key].append({"student_number": number, **items[number][department]})
    groups = snapshot.get("groups") or {}
    for code in sorted(groups):
        out["groups"].append({"code": code, **groups[code]})
    return out
