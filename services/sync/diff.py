"""Differences between the portal (P) and the desktop (D), as pure functions
over the internal shape of services/sync/rules.py (participations and
packages keyed by student number, then department), and the effect of a
download on the stored snapshot.

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

from .rules import (CATEGORIES, NO_DEPARTMENT, PARTICIPATION_FIELDS, PERSONAL_FIELDS,
                    home_class_direction)

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


def _item(number, P, D, department, direction, fields):
    person = P["students"].get(number) or D["students"].get(number)
    return {"student_number": number, "name": full_name(person), "department": department,
            "direction": direction, "fields": fields}


def _student_item(number, P, D, direction, fields):
    """An item about the student as a whole (students, personal data, groups)."""
    parts = P["participations"].get(number) or D["participations"].get(number) or {}
    item = _item(number, P, D, first_department(parts), direction, fields)
    if len(parts) > 1:
        item["departments"] = sorted(parts)
    return item


def _authority(P, department):
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


_NO_PARTS = {}


def participations_items(P, D):
    pp, dp, ds = P["participations"], D["participations"], D["students"]
    items = []
    for number, pparts in pp.items():
        if number not in ds:
            continue
        dparts = dp.get(number) or _NO_PARTS
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
            item = _item(number, P, D, department, "download", fields)
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
            authority = _authority(P, department)
            item = _item(number, P, D, department, home_class_direction(authority), fields)
            item["home_class_authority"] = authority
        else:
            item = _item(number, P, D, department, "download", fields)
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


def package_departments(P):
    """The portal's departments for which it holds package choices: at least
    one participation there has a subject or an exemption."""
    found = set()
    for own in P["packages"].values():
        for department, package in own.items():
            if package["subjects"] or package["exemptions"]:
                found.add(department)
    return found


def _desktop_package(dpackages, department, single):
    """The desktop's package of the student in `department`; a package without
    department counts for a student the portal places in one department."""
    package = dpackages.get(department)
    if package is None and single:
        package = dpackages.get(NO_DEPARTMENT)
    return package or EMPTY_PACKAGE


def _package_fields(ppkg, dpkg):
    """(fields or None, exemptions_differ) of two packages (order does not matter)."""
    fields = None
    ps, ds_ = ppkg["subjects"], dpkg["subjects"]
    if ps != ds_ and sorted(ps) != sorted(ds_):
        fields = {"subjects": {"P": ps, "D": ds_}}
    pe, de = ppkg["exemptions"], dpkg["exemptions"]
    exemptions_differ = pe != de and sorted(pe) != sorted(de)
    if exemptions_differ:
        if fields is None:
            fields = {}
        fields["exemptions"] = {"P": pe, "D": de}
    return fields, exemptions_differ


def _package_pairs(P, D):
    """(number, department, portal package, desktop package) per portal
    participation of a student on both sides."""
    pp, pk, dk, ds = P["participations"], P["packages"], D["packages"], D["students"]
    for number, pparts in pp.items():
        if number not in ds:
            continue
        pown, down = pk.get(number) or _NO_PARTS, dk.get(number) or _NO_PARTS
        single = len(pparts) == 1
        for department in pparts:
            yield (number, department, pown.get(department) or EMPTY_PACKAGE,
                   _desktop_package(down, department, single))


def packages_items(P, D, pairs=None):
    """Inlined (not _package_pairs / _package_fields): this runs for every
    participation on every status."""
    with_packages = package_departments(P)
    pp, pk, dk = P["participations"], P["packages"], D["packages"]
    items = []
    for number, department, _ppart, _dpart in (pairs if pairs is not None
                                               else participation_pairs(P, D)):
        if department not in with_packages:
            continue  # the portal holds no package choices there: never wiped
        ppkg = (pk.get(number) or _NO_PARTS).get(department) or EMPTY_PACKAGE
        down = dk.get(number) or _NO_PARTS
        dpkg = down.get(department)
        if dpkg is None:
            dpkg = (down.get(NO_DEPARTMENT) if len(pp[number]) == 1 else None) \
                or EMPTY_PACKAGE
        if ppkg["subjects"] == dpkg["subjects"] and ppkg["exemptions"] == dpkg["exemptions"]:
            continue
        fields, exemptions_differ = _package_fields(ppkg, dpkg)
        if fields:
            item = _item(number, P, D, department, "download", fields)
            item["exemptions_differ"] = exemptions_differ
            items.append(item)
    return items


def packages_left_alone(P, D, with_packages=None):
    """{department: [student numbers]} of portal departments without package
    choices where the desktop's package of a student placed there differs
    (is not empty): what a download would wipe and therefore leaves alone."""
    if with_packages is None:
        with_packages = package_departments(P)
    if not set(P["departments"]) - with_packages:
        return {}
    left = defaultdict(list)
    for number, department, ppkg, dpkg in _package_pairs(P, D):
        if department in with_packages:
            continue
        fields, _exemptions_differ = _package_fields(ppkg, dpkg)
        if fields:
            left[department].append(number)
    return dict(left)


def no_packages_note(department):
    return (f"Het portal heeft voor afdeling {department} geen pakketkeuzes; de pakketten in "
            f"de desktop van deze afdeling worden niet gedownload en blijven staan.")


def packages_skipped(P, D, departments=None, student_numbers=None):
    """The departments a packages download skips: departments of the portal
    without package choices that the selection names, or (all departments
    selected) where the desktop has packages of the selected students that
    would have been wiped. [{department, code, message, students}]"""
    with_packages = package_departments(P)
    left = packages_left_alone(P, D, with_packages)
    skipped = []
    for department in sorted(P["departments"]):
        if department in with_packages:
            continue
        numbers = left.get(department, [])
        if student_numbers is not None:
            numbers = [n for n in numbers if n in student_numbers]
        named = departments is not None and department in departments
        if departments is not None and not named:
            continue
        if not named and not numbers:
            continue
        skipped.append({"department": department, "code": NO_PACKAGES_CODE,
                        "message": no_packages_note(department), "students": len(numbers)})
    return skipped


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
    """(student items, group rows that differ)."""
    p_of, d_of = defaultdict(set), defaultdict(set)
    changed = []
    for code, group, pgroup, dmembers, pmembers in group_rows(P, D):
        for number in pmembers:
            p_of[number].add(code)
        for number in dmembers:
            d_of[number].add(code)
        added, removed = dmembers - pmembers, pmembers - dmembers
        kind_differs = pgroup is not None and pgroup["kind"] != group["kind"]
        if added or removed or pgroup is None or kind_differs:
            row = {"code": code, "department": group["department"], "kind": group["kind"],
                   "subject": group["subject"], "in_portal": pgroup is not None,
                   "added": sorted(added, key=_key), "removed": sorted(removed, key=_key)}
            if kind_differs:
                row["problem"] = "kind_differs"
            changed.append(row)
    items = []
    for number in set(p_of) | set(d_of):
        pset, dset = p_of.get(number, set()), d_of.get(number, set())
        if pset != dset:
            items.append(_student_item(number, P, D, "upload",
                                       {"groups": {"P": sorted(pset), "D": sorted(dset)}}))
    return items, changed


def groups_items(P, D):
    return groups_details(P, D)[0]


ITEMS = {
    "students": students_items, "personal_data": personal_data_items,
    "participations": participations_items, "lwoo": lwoo_items,
    "home_classes": home_classes_items, "forecasts": forecasts_items,
    "packages": packages_items, "groups": groups_items,
}


def _key(number):
    return (len(number), number)


def sort_items(items):
    items.sort(key=lambda i: (i["department"] or "", len(i["student_number"]),
                              i["student_number"]))
    return items


def item_departments(item):
    """Every department an item belongs to (a filter matches any of them)."""
    found = [item["department"]]
    found.extend(item.get("departments") or ())
    return found


# --- status and differences ---------------------------------------------------------------

PAIRED = ("lwoo", "forecasts", "home_classes", "packages")


def category_status(category, P, D, pairs=None):
    if category == "groups":
        items, changed = groups_details(P, D)
    elif category in PAIRED:
        items, changed = ITEMS[category](P, D, pairs), None
    else:
        items, changed = ITEMS[category](P, D), None
    students = {i["student_number"] for i in items}
    down = {i["student_number"] for i in items if i["direction"] == "download"}
    up = {i["student_number"] for i in items if i["direction"] == "upload"}
    entry = {"status": "differences" if items or changed else "ok",
             "differences": len(students), "download": len(down), "upload": len(up),
             "as_of": P.get("as_of")}
    if category == "packages":
        entry["exemptions"] = len({i["student_number"] for i in items
                                   if i["exemptions_differ"]})
    if category == "groups":
        entry["groups"] = len(changed)
    return entry


def status(P, D):
    """{category: {status, differences, download, upload, as_of[, exemptions][, groups]}}"""
    pairs = participation_pairs(P, D)
    return {category: category_status(category, P, D, pairs) for category in CATEGORIES}


def select(items, departments=None, student_numbers=None):
    """Items of the selected departments (any department of the item) and
    students; None selects all."""
    out = []
    for item in items:
        if departments is not None and not any(d in departments
                                               for d in item_departments(item)):
            continue
        if student_numbers is not None and item["student_number"] not in student_numbers:
            continue
        out.append(item)
    return out


def department_summary(category, P, D, items):
    counts = defaultdict(int)
    for item in items:
        for code in set(item_departments(item)):
            counts[code] += 1
    codes = set(P["departments"]) | {c for c in counts if c is not None}
    codes |= {d for parts in D["participations"].values() for d in parts}
    with_packages = package_departments(P) if category == "packages" else set()
    left = packages_left_alone(P, D, with_packages) if category == "packages" else {}
    rows = []
    for code in sorted(codes):
        authority = _authority(P, code) if code in P["departments"] else None
        row = {"code": code, "home_class_authority": authority,
               "in_portal": code in P["departments"], "differences": counts.get(code, 0)}
        if category == "home_classes" and authority is not None:
            row["direction"] = home_class_direction(authority)
        if category == "packages" and code in P["departments"]:
            row["packages_in_portal"] = code in with_packages
            if code not in with_packages:
                row["note"] = no_packages_note(code)
                row["left_alone"] = len(left.get(code, ()))
        rows.append(row)
    if counts.get(None):
        rows.append({"code": None, "home_class_authority": None, "in_portal": False,
                     "differences": counts[None]})
    return rows


def differences(category, P, D, department=None):
    changed = None
    if category == "groups":
        items, changed = groups_details(P, D)
    else:
        items = ITEMS[category](P, D)
    all_items = items
    if department is not None:
        items = select(items, {department})
        if changed is not None:
            changed = [g for g in changed if g["department"] == department]
    result = {"category": category, "as_of": P.get("as_of"), "department": department,
              "departments": department_summary(category, P, D, all_items),
              "items": sort_items(items), "total": len(items)}
    if category == "packages":
        result["exemptions"] = len({i["student_number"] for i in items
                                    if i["exemptions_differ"]})
    if changed is not None:
        result["groups"] = sorted(changed, key=lambda g: g["code"])
    return result


# --- a download: what the desktop must change, applied to the stored snapshot -------------

def _new_student(P, number):
    person = P["students"][number]
    record = {field: person.get(field) for field in PERSONAL_FIELDS}
    record["initials"] = person.get("initials")
    record["properties"] = {}
    return record


def _drop_from_groups(D, number, kinds=("home_class", "cluster")):
    left = []
    for code, group in D["groups"].items():
        if group["kind"] in kinds and number in group["student_numbers"]:
            group["student_numbers"] = [n for n in group["student_numbers"] if n != number]
            left.append(code)
    return sorted(left)


def _move_home_class_group(D, number, department, new_code):
    """Keep listed home-class groups of the department in agreement with the
    student's participation there."""
    for code, group in D["groups"].items():
        if group["kind"] != "home_class" or group["department"] != department:
            continue
        members = group["student_numbers"]
        if code == new_code and number not in members:
            group["student_numbers"] = sorted(members + [number], key=_key)
        elif code != new_code and number in members:
            group["student_numbers"] = [n for n in members if n != number]


def _leave_home_class(D, number, home_class):
    """The student leaves the listed home-class group a removed participation
    named (so groups and participations keep agreeing)."""
    group = D["groups"].get(home_class) if home_class is not None else None
    if group is None or group["kind"] != "home_class" \
            or number not in group["student_numbers"]:
        return []
    still = any(p["home_class"] == home_class
                for p in (D["participations"].get(number) or {}).values())
    if still:
        return []
    group["student_numbers"] = [n for n in group["student_numbers"] if n != number]
    return [home_class]


def _portal_participation(ppart):
    return {"department": ppart["department"], "profile": ppart["profile"],
            "programme": ppart["programme"]}


def apply_download(category, P, D, items):
    """Apply the selected difference items to the desktop state D (in place)
    and return the changes the desktop must make: one per student for
    students and personal data, one per student and department for the
    other categories:
    {"student_number", "department", "action": "add"|"remove"|"set",
     "values": {field: portal value}, ...}."""
    changes = []
    dstudents, dparts, dpackages = D["students"], D["participations"], D["packages"]
    for item in items:
        number, department = item["student_number"], item["department"]
        if category == "students":
            if item["action"] == "add":
                record = _new_student(P, number)
                pparts = P["participations"][number]
                parts = [_portal_participation(pparts[d]) for d in sorted(pparts)]
                dstudents[number] = record
                dparts[number] = {p["department"]: dict(EMPTY_PARTICIPATION, **p)
                                  for p in parts}
                values = {field: record[field] for field in PERSONAL_FIELDS}
                values["initials"] = record["initials"]
                changes.append({"student_number": number, "department": department,
                                "action": "add", "values": values, "participation": parts[0],
                                "participations": parts})
            elif item["action"] == "remove":
                dstudents.pop(number, None)
                dparts.pop(number, None)
                dpackages.pop(number, None)
                left = _drop_from_groups(D, number)
                changes.append({"student_number": number, "department": department,
                                "action": "remove", "left_groups": left})
            continue
        values = {}
        if category == "personal_data":
            record = dstudents[number]
            for field, pd in item["fields"].items():
                record[field] = pd["P"]
                values[field] = pd["P"]
        elif category == "participations":
            ppart = P["participations"][number].get(department)
            own = dparts.setdefault(number, {})
            if ppart is None:  # the portal has no participation here: drop it
                gone = own.pop(department, None) or EMPTY_PARTICIPATION
                if not own:
                    dparts.pop(number, None)
                packages = dpackages.get(number)
                if packages is not None:
                    packages.pop(department, None)
                    if not packages:
                        dpackages.pop(number, None)
                changes.append({"student_number": number, "department": department,
                                "action": "remove",
                                "left_groups": _leave_home_class(D, number,
                                                                 gone["home_class"])})
                continue
            part = own.get(department)
            if part is None:
                part = own[department] = dict(EMPTY_PARTICIPATION, department=department)
            values = _portal_participation(ppart)
            part.update(values)
        elif category in PARTICIPATION_FIELDS:
            own = dparts.setdefault(number, {})
            part = own.get(department)
            if part is None:
                part = own[department] = dict(EMPTY_PARTICIPATION, department=department)
            for field, pd in item["fields"].items():
                part[field] = pd["P"]
                values[field] = pd["P"]
            if category == "home_classes":
                _move_home_class_group(D, number, department, part["home_class"])
        elif category == "packages":
            ppkg = (P["packages"].get(number) or _NO_PARTS).get(department) or EMPTY_PACKAGE
            own = dpackages.setdefault(number, {})
            own.pop(NO_DEPARTMENT, None)
            own[department] = {"department": department, "subjects": list(ppkg["subjects"]),
                               "exemptions": list(ppkg["exemptions"])}
            values = {"subjects": list(ppkg["subjects"]),
                      "exemptions": list(ppkg["exemptions"])}
        else:  # pragma: no cover - guarded by the caller
            raise ValueError(category)
        changes.append({"student_number": number, "department": department,
                        "action": "set", "values": values})
    return changes
