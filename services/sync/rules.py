"""Rules of the portal connector as pure functions: the snapshot format and its
validation, the portal state in the same shape, selections, directions and the
Dutch messages of the refusals.

Both sides are kept in one internal shape, keyed for fast comparison:

    {"students":       {student_number: {personal fields, "properties": {...}}},
     "participations": {student_number: {department: {department, forecast, lwoo,
                                                      home_class, profile, programme}}},
     "packages":       {student_number: {department: {department, subjects, exemptions}}},
     "groups":         {code: {department, kind, subject, student_numbers}}}

A student has one participation per department of the project and may have
several (next year's forecasts: 60% h4, 40% v4), so participations and
packages are keyed by student, then department. A desktop package without a
department belongs to the student's only participation; a student without one
keeps it under NO_DEPARTMENT ("").

The portal side adds "departments" {code: {id, authority, ...}}, "accounts"
(student numbers of desktop-only students that do have a portal account),
participation and group ids, and "as_of". Nothing here touches a database or
the broker.
"""
import re

from services.common import fields as fieldrules
from services.common.errors import DomainError, conflict, error_item

CATEGORIES = ("students", "personal_data", "participations", "lwoo", "home_classes",
              "forecasts", "packages", "groups")
CATEGORY_LABELS = {
    "students": "Leerlingen", "personal_data": "Persoonsgegevens",
    "participations": "Afdelingsdeelname", "lwoo": "LWOO", "home_classes": "Stamklassen",
    "forecasts": "Prognoses", "packages": "Pakketkeuzes", "groups": "Groepsindelingen",
}
# Which way each category may move (home classes: per department, see authority).
DOWNLOAD_ONLY = ("personal_data", "participations", "lwoo", "forecasts", "packages")
UPLOADABLE = ("students", "home_classes", "groups")
DOWNLOADABLE = ("students", "personal_data", "participations", "lwoo", "home_classes",
                "forecasts", "packages")

# The personal data the portal leads (manual: "Persoonsgegevens").
PERSONAL_FIELDS = ("first_name", "prefix", "last_name", "gender", "street", "house_number",
                   "postcode", "city", "email", "previous_home_class")
# Fields per category of a participation.
PARTICIPATION_FIELDS = {"participations": ("department", "profile", "programme"),
                        "lwoo": ("lwoo",), "forecasts": ("forecast",),
                        "home_classes": ("home_class",)}

TOP_KEYS = ("students", "participations", "packages", "groups")
# The limits are the one table of field rules (services/common/fields.py); a
# postcode is kept as the desktop has it (shown as a difference), so up to 100.
STUDENT_TEXT = {**{f: fieldrules.FIELDS[f].max_length
                   for f in ("first_name", "prefix", "last_name", "initials", "gender",
                             "street", "house_number", "city", "email")},
                "postcode": 100, "previous_home_class": fieldrules.FIELDS["home_class"].max_length}
STUDENT_KEYS = frozenset(("student_number", "properties") + tuple(STUDENT_TEXT))
PARTICIPATION_TEXT = {f: fieldrules.FIELDS[f].max_length
                      for f in ("department", "home_class", "profile", "programme")}
PARTICIPATION_KEYS = frozenset(("student_number", "forecast", "lwoo")
                               + tuple(PARTICIPATION_TEXT))
PACKAGE_KEYS = frozenset(("student_number", "department", "subjects", "exemptions"))
GROUP_KEYS = frozenset(("code", "department", "kind", "subject", "student_numbers"))
GROUP_KINDS = ("home_class", "cluster")
GENDERS = fieldrules.GENDERS
STUDENT_NUMBER_MAX = fieldrules.FIELDS["student_number"].max_length
MAX_ERRORS = 100
MAX_STUDENTS = 50000

LIST_NAMES = {"students": "leerlingen", "participations": "afdelingsdeelnames",
              "packages": "pakketten", "groups": "groepen"}

_POSTCODE = re.compile(r"(\d{4})\s*([A-Za-z]{2})")
# the department key of a desktop package of a student without a participation
NO_DEPARTMENT = ""


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


# --- small cleaners ------------------------------------------------------------

def _text(value, limit, field, row, errors, number=None):
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


def _unknown(item, allowed, list_name, row, errors, number=None):
    extra = [k for k in item if k not in allowed]
    for key in extra:
        errors.add("field_unknown", f"Onbekend veld {key!r} in {list_name} (rij {row}).",
                   f"{list_name}.{key}", row, number)


def _list(snapshot, key, errors):
    value = snapshot.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add("type_invalid", f"{key} moet een lijst zijn (of null).", key)
        return []
    return value


def _codes(value, field, row, errors, number):
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
        text = _text(code, 20, field, row, errors, number)
        if text is not None and text not in out:
            out.append(text)
    return out


# --- the snapshot -----------------------------------------------------------------

def check_snapshot(snapshot):
    """The desktop's snapshot (API.md format) in the internal shape, or one 422
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

    students = _check_students(_list(snapshot, "students", errors), errors)
    participations = _check_participations(_list(snapshot, "participations", errors),
                                           students, errors)
    packages = _check_packages(_list(snapshot, "packages", errors), students, participations,
                               errors)
    groups = _check_groups(_list(snapshot, "groups", errors), students, participations,
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
    for index, item in enumerate(rows, 1):
        if not isinstance(item, dict):
            errors.add("type_invalid", f"students (rij {index}) moet een object zijn.",
                       "students", index)
            continue
        number = clean_number(item.get("student_number"), "students.student_number", index,
                              errors)
        _unknown(item, STUDENT_KEYS, "students", index, errors, number)
        record = {}
        for field, limit in STUDENT_TEXT.items():
            value = item.get(field)
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and field in ("house_number", "postcode"):
                value = str(value)
            record[field] = _text(value, limit, f"students.{field}", index, errors, number)
        if record["gender"] is not None:
            record["gender"] = record["gender"].upper()
            if record["gender"] not in GENDERS:
                errors.add("gender_invalid", f"Het geslacht (rij {index}) moet M, V, X of "
                                             f"leeg zijn.", "students.gender", index, number)
        record["postcode"] = normalize_postcode(record["postcode"])
        record["properties"] = _properties(item.get("properties"), index, errors, number)
        if number is None:
            continue
        if number in out:
            errors.add("duplicate_student", f"Leerlingnummer {number} staat meer dan eens in "
                                            f"de leerlingen (rij {index}).",
                       "students.student_number", index, number)
            continue
        out[number] = record
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
    for index, item in enumerate(rows, 1):
        if not isinstance(item, dict):
            errors.add("type_invalid", f"participations (rij {index}) moet een object zijn.",
                       "participations", index)
            continue
        number = clean_number(item.get("student_number"), "participations.student_number",
                              index, errors)
        _unknown(item, PARTICIPATION_KEYS, "participations", index, errors, number)
        record = {field: _text(item.get(field), limit, f"participations.{field}", index,
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
        if number not in students:
            errors.add("student_unknown", f"Afdelingsdeelname (rij {index}): leerling {number} "
                                          f"staat niet in de leerlingen.",
                       "participations.student_number", index, number)
            continue
        own = out.setdefault(number, {})
        if department in own:
            errors.add("duplicate_participation", f"Leerling {number} staat meer dan eens in "
                                                  f"afdeling {department} (rij {index}); één "
                                                  f"afdelingsdeelname per afdeling.",
                       "participations.department", index, number)
            continue
        own[department] = record
    return out


def _check_packages(rows, students, participations, errors):
    out = {}
    for index, item in enumerate(rows, 1):
        if not isinstance(item, dict):
            errors.add("type_invalid", f"packages (rij {index}) moet een object zijn.",
                       "packages", index)
            continue
        number = clean_number(item.get("student_number"), "packages.student_number", index,
                              errors)
        _unknown(item, PACKAGE_KEYS, "packages", index, errors, number)
        record = {
            "department": _text(item.get("department"), 20, "packages.department", index,
                                errors, number),
            "subjects": _codes(item.get("subjects"), "packages.subjects", index, errors,
                               number),
            "exemptions": _codes(item.get("exemptions"), "packages.exemptions", index, errors,
                                 number),
        }
        if number is None:
            continue
        if number not in students:
            errors.add("student_unknown", f"Pakket (rij {index}): leerling {number} staat niet "
                                          f"in de leerlingen.", "packages.student_number",
                       index, number)
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
        own = out.setdefault(number, {})
        if department in own:
            errors.add("duplicate_package", f"Leerling {number} heeft meer dan één pakket "
                                            f"in afdeling {department or '-'} (rij {index}).",
                       "packages.student_number", index, number)
            continue
        own[department] = record
    return out


def _check_groups(rows, students, participations, errors):
    out = {}
    for index, item in enumerate(rows, 1):
        if not isinstance(item, dict):
            errors.add("type_invalid", f"groups (rij {index}) moet een object zijn.",
                       "groups", index)
            continue
        _unknown(item, GROUP_KEYS, "groups", index, errors)
        raw_code = item.get("code")
        if isinstance(raw_code, (int, float)) and not isinstance(raw_code, bool):
            raw_code = str(raw_code)
        code = _text(raw_code, 50, "groups.code", index, errors)
        if raw_code is None or (isinstance(raw_code, str) and not raw_code.strip()):
            errors.add("required", f"groups.code (rij {index}) is verplicht.", "groups.code",
                       index)
        kind = item.get("kind")
        if kind not in GROUP_KINDS:
            errors.add("group_kind_invalid", f"De soort groep (rij {index}) moet home_class of "
                                             f"cluster zijn.", "groups.kind", index)
        department = _text(item.get("department"), 20, "groups.department", index, errors)
        if kind == "home_class" and department is None:
            errors.add("required", f"Een stamklas (rij {index}) hoort bij een afdeling: "
                                   f"groups.department is verplicht.", "groups.department",
                       index)
        subject = _text(item.get("subject"), 20, "groups.subject", index, errors)
        members = item.get("student_numbers")
        numbers = []
        if members is not None and not isinstance(members, list):
            errors.add("type_invalid", f"groups.student_numbers (rij {index}) moet een lijst "
                                       f"zijn.", "groups.student_numbers", index)
        for value in members if isinstance(members, list) else []:
            number = clean_number(value, "groups.student_numbers", index, errors)
            if number is None:
                continue
            if number not in students:
                errors.add("student_unknown", f"Groep {code} (rij {index}): leerling {number} "
                                              f"staat niet in de leerlingen.",
                           "groups.student_numbers", index, number)
                continue
            if number not in numbers:
                numbers.append(number)
        if code is None:
            continue
        if code in out:
            errors.add("duplicate_group", f"Groep {code} staat meer dan eens in de groepen "
                                          f"(rij {index}).", "groups.code", index)
            continue
        out[code] = {"department": department, "kind": kind, "subject": subject,
                     "student_numbers": sorted(numbers, key=number_key)}
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


def number_key(number):
    return (len(number), number)


def snapshot_counts(snapshot):
    """Items per list of the snapshot (participations and packages: one per
    student and department)."""
    counts = {key: len(snapshot.get(key) or {}) for key in TOP_KEYS}
    for key in ("participations", "packages"):
        counts[key] = sum(len(own) for own in (snapshot.get(key) or {}).values())
    return counts


def snapshot_document(snapshot):
    """The internal shape back in the API.md format (lists, sorted)."""
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


# --- the portal side ----------------------------------------------------------------

def portal_view(state, people, desktop_numbers, as_of):
    """The portal state (students.project_state) and personal data
    (users.get_users) in the internal shape. `desktop_numbers`: the student
    numbers of the stored snapshot, to note which desktop-only students have
    a portal account already."""
    departments = {d["code"]: {"id": d["id"], "authority": d["home_class_authority"],
                               "year_of_education": d.get("year_of_education"),
                               "education": d.get("education")}
                   for d in state.get("departments") or []}
    by_code = {u["code"]: u for u in people}
    records = {r["student_number"]: r for r in state.get("students") or []}
    students, participations, packages = {}, {}, {}
    for part in state.get("participations") or []:
        number = part["student_number"]
        if number not in students:
            user = by_code.get(number) or {}
            record = records.get(number) or {}
            students[number] = {
                "first_name": user.get("first_name"), "prefix": user.get("prefix"),
                "last_name": user.get("last_name"), "gender": user.get("gender"),
                "street": user.get("street"), "house_number": user.get("house_number"),
                "postcode": user.get("postcode"), "city": user.get("city"),
                "email": user.get("email"), "previous_home_class": record.get("home_class"),
                "initials": user.get("initials"),
            }
            participations[number] = {}
        participations[number][part["department"]] = {
            "id": part["id"], "department": part["department"], "forecast": part["forecast"],
            "lwoo": bool(part["lwoo"]), "home_class": part["home_class"],
            "profile": part["profile"], "programme": part["programme"],
        }
    for package in state.get("packages") or []:
        packages.setdefault(package["student_number"], {})[package["department"]] = {
            "department": package["department"], "subjects": list(package["subjects"]),
            "exemptions": list(package["exemptions"])}
    groups = {g["code"]: {"id": g["id"], "department": g["department"], "kind": g["kind"],
                          "subject": g["subject"],
                          "student_numbers": sorted(g["student_numbers"], key=number_key)}
              for g in state.get("groups") or []}
    accounts = sorted((n for n in desktop_numbers if n not in participations and n in by_code),
                      key=number_key)
    return {"as_of": as_of, "project": state.get("project"), "departments": departments,
            "students": students, "participations": participations, "packages": packages,
            "groups": groups, "accounts": accounts}


# --- requests: categories, selections, directions ---------------------------------------

def check_category(category):
    if category not in CATEGORIES:
        raise DomainError("category_unknown",
                          f"Onbekende categorie {category!r}; kies uit "
                          f"{', '.join(CATEGORIES)}.", status=404)
    return category


def check_selection(departments=None, student_numbers=None):
    """(departments, student_numbers) as sets or None (no selection)."""
    errors = SnapshotErrors()
    depts = None
    if departments is not None:
        if not isinstance(departments, (list, tuple)):
            errors.add("type_invalid", "departments moet een lijst met afdelingscodes zijn.",
                       "departments")
        else:
            depts = set()
            for index, code in enumerate(departments, 1):
                text = _text(code, 20, "departments", index, errors)
                if text is not None:
                    depts.add(text)
    numbers = None
    if student_numbers is not None:
        if not isinstance(student_numbers, (list, tuple)):
            errors.add("type_invalid", "student_numbers moet een lijst met leerlingnummers "
                                       "zijn.", "student_numbers")
        else:
            numbers = set()
            for index, value in enumerate(student_numbers, 1):
                number = clean_number(value, "student_numbers", index, errors)
                if number is not None:
                    numbers.add(number)
    errors.raise_if_any()
    return depts, numbers


def wrong_direction_for_category(category, direction):
    """The 409 for a category that never moves this way, else None."""
    if direction == "upload" and category == "personal_data":
        return conflict("portal_leads",
                        "Persoonsgegevens kunnen niet worden geüpload: het portal is altijd "
                        "leidend. Download de persoonsgegevens naar de desktop.")
    if direction == "upload" and category in DOWNLOAD_ONLY:
        return conflict("portal_leads",
                        f"{CATEGORY_LABELS[category]} kunnen alleen van het portal naar de "
                        f"desktop worden gedownload; het portal is leidend.")
    if direction == "download" and category == "groups":
        return conflict("desktop_leads",
                        "Groepsindelingen worden vanuit de desktop geüpload. Stamklassen van "
                        "afdelingen waar het portal leidend is, downloadt u met de categorie "
                        "home_classes.")
    return None


def wrong_direction_departments(direction, codes):
    """409 naming the departments whose home classes move the other way."""
    codes = sorted(codes)
    names = ", ".join(codes)
    if direction == "upload":
        text = (f"Voor afdeling(en) {names} is het portal leidend voor de stamklasindeling: "
                f"download deze stamklassen naar de desktop in plaats van ze te uploaden.")
    else:
        text = (f"Voor afdeling(en) {names} is de desktop leidend voor de stamklasindeling: "
                f"upload deze stamklassen naar het portal in plaats van ze te downloaden.")
    return DomainError("wrong_direction", text, status=409, field="departments",
                       errors=[error_item("wrong_direction", text, field="departments")],
                       extra={"departments": codes})


def home_class_direction(authority):
    return "upload" if authority == "desktop" else "download"
