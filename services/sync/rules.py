"""Rules of the portal connector as pure functions: the internal shape, the
portal state in that shape, selections, directions and the Dutch messages of
the refusals. Checking the desktop's snapshot is in snapshot_check.py.

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
from services.common import fields as fieldrules
from services.common.errors import DomainError, conflict, error_item

from .snapshot_fields import SnapshotErrors, clean_number, clean_text


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
MAX_STUDENTS = 50000

LIST_NAMES = {"students": "leerlingen", "participations": "afdelingsdeelnames",
              "packages": "pakketten", "groups": "groepen"}


# the department key of a desktop package of a student without a participation
NO_DEPARTMENT = ""


def number_key(number):
    return (len(number), number)


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
                text = clean_text(code, 20, "departments", index, errors)
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
