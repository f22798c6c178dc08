"""Status and differences per category: the difference items of diff.py and
diff_packages.py counted, filtered and summarised per department.
"""
from collections import defaultdict

from .diff import (authority_of, forecasts_items, groups_details, groups_items, home_classes_items,
                   item_departments, lwoo_items, participation_pairs, participations_items,
                   personal_data_items, sort_items, students_items)
from .diff_packages import (no_packages_note, package_departments, packages_items,
                            packages_left_alone)
from .rules import CATEGORIES, home_class_direction


ITEMS = {
    "students": students_items, "personal_data": personal_data_items,
    "participations": participations_items, "lwoo": lwoo_items,
    "home_classes": home_classes_items, "forecasts": forecasts_items,
    "packages": packages_items, "groups": groups_items,
}


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
        authority = authority_of(P, code) if code in P["departments"] else None
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
