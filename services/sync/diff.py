"""Differences between the portal (P) and the desktop (D), as pure functions
over the internal shape of services/sync/rules.py (participations and
packages keyed by student number, then department): the items per category
here and in diff_packages.py, the status and differences in compare.py, the
effect of a download on the stored snapshot in apply_download.py.

One pass per category, no sorting inside the loops: a status of a project of
2,000 students takes a few milliseconds, of 20,000 some tens of them.

A difference item:

    {"student_number": "123456", "name": "Daan van de Berg",
     "department": "h4",
     "direction": "download" | "upload",
     "fields": {"forecast": {"P": 80, "D": 100}}, ...}

A student may take part in several departments of a project (each with its
own forecast), so each category has its key:

- students, personal_data, groups: per student. `department` is the
  student's first department in the portal (by code; the desktop's when the
  portal has none) and `departments` lists them all when there are several;
  a department filter matches any of them.
- participations: per student and department, over the union of both sides'
  departments of the student: the set of departments is compared per student
  (a department on one side only is an item with `fields.department`
  {P: code, D: null} or {P: null, D: code}), profile and programme per
  department both sides have. `student_departments` {P: [...], D: [...]}
  shows the student's two sets.
- lwoo, forecasts, home_classes: per student and department of the portal
  (the desktop's values of a participation it lacks are those of an empty
  one: no forecast, no LWOO, no home class). Home classes follow the
  department's authority.
- packages: per student and department of the portal, except departments for
  which the portal holds no package choices at all (no participation there
  has a subject or an exemption): a download never wipes the desktop's
  packages of such a department, so its students are not differences; the
  differences answer flags the department (`packages_in_portal: false`, a
  note, how many desktop packages it leaves alone) and a download lists it
  under `skipped` (`package_departments`, `packages_skipped`).

Which students each category compares:
- students: present (with a participation) in the portal but not in the
  desktop, and the reverse. A desktop-only student with a portal account
  (left school, placed elsewhere) is removed on download; one without an
  account is created on upload.
- every other category compares the students on both sides.

Status counts students: `differences` the students with at least one item,
`download` / `upload` those with an item in that direction.
"""
from collections import defaultdict

from .rules import PARTICIPATION_FIELDS, PERSONAL_FIELDS, home_class_direction, number_key


EMPTY_PARTICIPATION = {"department": None, "forecast": None, "lwoo": False,
                       "home_class": None, "profile": None, "programme": None}
EMPTY_PACKAGE = {"department": None, "subjects": [], "exemptions": []}
PER_DEPARTMENT = ("participations", "lwoo", "forecasts", "home_classes", "packages")
NO_PACKAGES_CODE = "no_packages_in_portal"


def full_name(person):
    if not person:
        return None
    parts = [person.get("first_name"), person.get("prefix"), person.get("last_name")]
    return " ".join(p for p in parts if p) or None


def first_department(parts):
    """The first department (by code) of a student's participations, or None."""
    return min(parts) if parts else None


def make_item(number, P, D, department, direction, fields):
    person = P["students"].get(number) or D["students"].get(number)
    return {"student_number": number, "name": full_name(person), "department": department,
            "direction": direction, "fields": fields}


def _student_item(number, P, D, direction, fields):
    """An item about the student as a whole (students, personal data, groups)."""
    parts = P["participations"].get(number) or D["participations"].get(number) or {}
    item = make_item(number, P, D, first_department(parts), direction, fields)
    if len(parts) > 1:
        item["departments"] = sorted(parts)
    return item


def authority_of(P, department):
    dept = P["departments"].get(department)
    return dept["authority"] if dept else "portal"


# --- per category ---------------------------------------------------------------------

def students_items(P, D):
    pp, ds = P["participations"], D["students"]
    accounts = set(P.get("accounts") or ())
    items = []
    for number in pp:
        if number not in ds:
            item = _student_item(number, P, D, "download", {"present": {"P": True, "D": False}})
            item["action"] = "add"
            items.append(item)
    for number in ds:
        if number in pp:
            continue
        has_account = number in accounts
        item = _student_item(number, P, D, "download" if has_account else "upload",
                             {"present": {"P": False, "D": True}})
        item["action"] = "remove" if has_account else "create"
        item["has_account"] = has_account
        items.append(item)
    return items


def personal_data_items(P, D):
    ps, ds = P["students"], D["students"]
    items = []
    for number, dstu in ds.items():
        pstu = ps.get(number)
        if pstu is None:
            continue
        fields = None
        for field in PERSONAL_FIELDS:
            pv, dv = pstu[field], dstu[field]
            if pv != dv:
                if field == "email" and pv and dv and pv.casefold() == dv.casefold():
                    continue
                if fields is None:
                    fields = {}
                fields[field] = {"P": pv, "D": dv}
        if fields:
            items.append(_student_item(number, P, D, "download", fields))
    return items


NO_PARTS = {}


def participations_items(P, D):
    pp, dp, ds = P["participations"], D["participations"], D["students"]
    items = []
    for number, pparts in pp.items():
        if number not in ds:
            continue
        dparts = dp.get(number) or NO_PARTS
        if len(pparts) == 1:  # the common case, without a loop
            for department, ppart in pparts.items():
                dpart = dparts.get(department)
            if dpart is not None and len(dparts) == 1 \
                    and ppart["profile"] == dpart["profile"] \
                    and ppart["programme"] == dpart["programme"]:
                continue
        elif pparts.keys() == dparts.keys() and all(
                pparts[d]["profile"] == dparts[d]["profile"]
                and pparts[d]["programme"] == dparts[d]["programme"] for d in pparts):
            continue
        sets = {"P": sorted(pparts), "D": sorted(dparts)}
        for department in sorted(pparts.keys() | dparts.keys()):
            ppart, dpart = pparts.get(department), dparts.get(department)
            if ppart is None:
                fields = {"department": {"P": None, "D": department}}
            else:
                fields = {}
                if dpart is None:
                    fields["department"] = {"P": department, "D": None}
                    dpart = EMPTY_PARTICIPATION
                for field in ("profile", "programme"):
                    if ppart[field] != dpart[field]:
                        fields[field] = {"P": ppart[field], "D": dpart[field]}
                if not fields:
                    continue
            item = make_item(number, P, D, department, "download", fields)
            item["student_departments"] = sets
            items.append(item)
    return items


def participation_pairs(P, D):
    """[(student number, department, portal participation, desktop
    participation or None)] for every portal participation of a student on
    both sides: computed once per status for the categories that compare per
    portal participation."""
    pp, dp, ds = P["participations"], D["participations"], D["students"]
    pairs = []
    append = pairs.append
    for number, pparts in pp.items():
        if number not in ds:
            continue
        dparts = dp.get(number)
        if dparts is None:
            for department, ppart in pparts.items():
                append((number, department, ppart, None))
        else:
            for department, ppart in pparts.items():
                append((number, department, ppart, dparts.get(department)))
    return pairs


def _field_items(category, P, D, pairs=None):
    """lwoo, forecasts, home_classes: per student and department of the portal."""
    (field,) = PARTICIPATION_FIELDS[category]
    home = category == "home_classes"
    empty = EMPTY_PARTICIPATION[field]
    items = []
    for number, department, ppart, dpart in (pairs if pairs is not None
                                             else participation_pairs(P, D)):
        pv = ppart[field]
        if dpart is not None:
            dv = dpart[field]
            if pv == dv:
                continue
        elif pv == empty:
            continue
        else:
            dv = empty
        fields = {field: {"P": pv, "D": dv}}
        if home:
            authority = authority_of(P, department)
            item = make_item(number, P, D, department, home_class_direction(authority), fields)
            item["home_class_authority"] = authority
        else:
            item = make_item(number, P, D, department, "download", fields)
        if dpart is None:
            item["in_desktop"] = False
        items.append(item)
    return items


def lwoo_items(P, D, pairs=None):
    return _field_items("lwoo", P, D, pairs)


def forecasts_items(P, D, pairs=None):
    return _field_items("forecasts", P, D, pairs)


def home_classes_items(P, D, pairs=None):
    return _field_items("home_classes", P, D, pairs)


def groups_in_scope(P, D):
    """The desktop's groups the portal takes over: cluster groups, and the
    home-class groups of departments where the desktop leads."""
    departments = P["departments"]
    scope = {}
    for code, group in D["groups"].items():
        if group["kind"] == "cluster":
            scope[code] = group
        elif group["kind"] == "home_class":
            dept = departments.get(group["department"])
            if dept is not None and dept["authority"] == "desktop":
                scope[code] = group
    return scope


def group_rows(P, D):
    """Per desktop group in scope: (code, group, portal group or None,
    desktop members known to the portal, portal members known to the desktop)."""
    pp, ds, pg_all = P["participations"], D["students"], P["groups"]
    rows = []
    for code, group in groups_in_scope(P, D).items():
        pgroup = pg_all.get(code)
        pmembers = set()
        if pgroup is not None and pgroup["kind"] == group["kind"]:
            pmembers = {n for n in pgroup["student_numbers"] if n in ds}
        dmembers = {n for n in group["student_numbers"] if n in pp}
        rows.append((code, group, pgroup, dmembers, pmembers))
    return rows


def groups_details(P, D):
    """(student items, group rows that differ). A student's groups differ on
    the two sides exactly when the student is added to or removed from some
    group: only those students' groups are gathered."""
    rows = group_rows(P, D)
    changed, moved = [], set()
    for code, group, pgroup, dmembers, pmembers in rows:
        added, removed = dmembers - pmembers, pmembers - dmembers
        moved |= added
        moved |= removed
        kind_differs = pgroup is not None and pgroup["kind"] != group["kind"]
        if added or removed or pgroup is None or kind_differs:
            row = {"code": code, "department": group["department"], "kind": group["kind"],
                   "subject": group["subject"], "in_portal": pgroup is not None,
                   "added": sorted(added, key=number_key),
                   "removed": sorted(removed, key=number_key)}
            if kind_differs:
                row["problem"] = "kind_differs"
            changed.append(row)
    if not moved:
        return [], changed
    p_of, d_of = defaultdict(list), defaultdict(list)
    for code, _group, _pgroup, dmembers, pmembers in rows:
        for number in pmembers & moved:
            p_of[number].append(code)
        for number in dmembers & moved:
            d_of[number].append(code)
    items = [_student_item(number, P, D, "upload",
                           {"groups": {"P": sorted(p_of.get(number, ())),
                                       "D": sorted(d_of.get(number, ()))}})
             for number in moved]
    return items, changed


def groups_items(P, D):
    return groups_details(P, D)[0]


def sort_items(items):
    items.sort(key=lambda i: (i["department"] or "", len(i["student_number"]),
                              i["student_number"]))
    return items


def item_departments(item):
    """Every department an item belongs to (a filter matches any of them)."""
    found = [item["department"]]
    found.extend(item.get("departments") or ())
    return found
