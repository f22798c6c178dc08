"""Uploads planned as pure functions: which students to create, which groups
to create and which members to set. upload.py carries the plans out through
the students service's RPC (so its rules hold and its events fire).

A skipped entry: {"student_number" or "group", "code", "message"}.
"""
from .diff import groups_in_scope
from .rules import number_key

NEW_STUDENT_TYPE = "non_transfer"  # the desktop has no BSN; a potential transfer needs one


def _skip(code, message, number=None, group=None):
    entry = {"code": code, "message": message}
    if number is not None:
        entry["student_number"] = number
    if group is not None:
        entry["group"] = group
    return entry


def _email(student):
    value = (student.get("properties") or {}).get("#EMAIL")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return student.get("email")


def students_rows(P, D, items):
    """(rows for students.create_students, skipped) for the selected
    desktop-only students without a portal account. A student with several
    participations in the desktop is placed in each department (the students
    service checks the forecasts over them)."""
    rows, skipped = [], []
    for item in items:
        number = item["student_number"]
        student = D["students"][number]
        parts = D["participations"].get(number) or {}
        if not parts:
            skipped.append(_skip("department_missing", f"Leerling {number} heeft in de desktop "
                                 f"geen afdeling; plaats de leerling eerst in een afdeling.",
                                 number))
            continue
        unknown = sorted(d for d in parts if d not in P["departments"])
        if unknown:
            skipped.append(_skip("department_unknown", f"Afdeling {', '.join(unknown)} van "
                                 f"leerling {number} bestaat niet in dit roosterproject van "
                                 f"het portal.", number))
            continue
        row = {"student_number": number, "type": NEW_STUDENT_TYPE,
               "first_name": student.get("first_name"), "prefix": student.get("prefix"),
               "last_name": student.get("last_name"), "initials": student.get("initials"),
               "gender": student.get("gender"), "street": student.get("street"),
               "house_number": student.get("house_number"),
               "postcode": student.get("postcode"), "city": student.get("city"),
               "email": _email(student), "home_class": student.get("previous_home_class"),
               "participations": [{"department": part["department"],
                                   "forecast": part["forecast"], "lwoo": part["lwoo"],
                                   "home_class": part["home_class"],
                                   "profile": part["profile"],
                                   "programme": part["programme"]}
                                  for _code, part in sorted(parts.items())]}
        rows.append(row)
    return rows, skipped


def home_class_ops(P, items):
    """Plan the upload of home classes of desktop-led departments as group
    operations: per (department, home class) the members the portal's
    home-class group must get (created when missing). Setting a home-class
    group's members sets those students' home class in that department in
    the students service; a student's home classes in other departments are
    not touched.

    Returns (ops, singles): ops [{"code", "department", "group_id" or None,
    "members": [...]}]; singles [(student_number, participation_id,
    home_class)] to set one by one (moves the groups cannot express)."""
    pp, pgroups = P["participations"], P["groups"]
    movers = {}
    for item in items:
        number, dept = item["student_number"], item["department"]
        movers[(number, dept)] = (item["fields"]["home_class"]["P"],
                                  item["fields"]["home_class"]["D"])
    codes = set()
    for (_number, dept), (_old, new) in movers.items():
        if new is not None:
            codes.add((dept, new))
    for (_number, dept), (old, _new) in movers.items():
        group = pgroups.get(old) if old is not None else None
        if group is not None and group["kind"] == "home_class" and group["department"] == dept:
            codes.add((dept, old))
    ops, singles = [], []
    blocked = set()
    for dept, code in sorted(codes, key=lambda c: (c[0] or "", c[1])):
        group = pgroups.get(code)
        if group is not None and (group["kind"] != "home_class" or group["department"] != dept):
            blocked.add((dept, code))  # the code names another kind of group
            continue
        members = set(group["student_numbers"]) if group is not None else set()
        members |= {n for n, parts in pp.items()
                    if dept in parts and parts[dept]["home_class"] == code}
        for (number, mdept), (_old, new) in movers.items():
            if mdept != dept:
                continue
            if new == code:
                members.add(number)
            else:
                members.discard(number)
        members = {n for n in members if dept in (pp.get(n) or {})}
        ops.append({"code": code, "department": dept,
                    "group_id": group["id"] if group is not None else None,
                    "members": sorted(members, key=number_key)})
    handled_old = {(d, c) for d, c in codes if (d, c) not in blocked}
    for (number, dept), (old, new) in movers.items():
        into = new is not None and (dept, new) in handled_old
        out_of = new is None and old is not None and (dept, old) in handled_old \
            and pgroups.get(old) is not None
        if not (into or out_of):
            singles.append((number, pp[number][dept]["id"], new))
    return ops, singles


def group_ops(P, D, departments=None, student_numbers=None):
    """Plan a groups upload: (ops, skipped). ops [{"code", "create": {...} or
    None, "group_id", "members"}]; only groups whose members change (or that
    the portal lacks). Portal members the desktop does not know are kept;
    desktop members without a participation in the portal are skipped."""
    pp, ds = P["participations"], D["students"]
    ops, skipped = [], []
    for code, group in sorted(groups_in_scope(P, D).items()):
        if departments is not None and group["department"] not in departments:
            continue
        pgroup = P["groups"].get(code)
        if pgroup is not None and pgroup["kind"] != group["kind"]:
            skipped.append(_skip("group_kind_differs", f"Groep {code} is in het portal een "
                                 f"ander soort groep; deze groep is niet geüpload.", group=code))
            continue
        if group["department"] is not None and group["department"] not in P["departments"]:
            skipped.append(_skip("department_unknown", f"Afdeling {group['department']} van "
                                 f"groep {code} bestaat niet in het portal.", group=code))
            continue
        portal = set(pgroup["student_numbers"]) if pgroup is not None else set()
        desktop = set()
        for number in group["student_numbers"]:
            if number not in pp:
                skipped.append(_skip("not_in_portal", f"Leerling {number} (groep {code}) heeft "
                                     f"geen afdelingsdeelname in het portal; upload eerst de "
                                     f"leerling.", number, code))
            elif group["kind"] == "home_class" and group["department"] not in pp[number]:
                skipped.append(_skip("not_in_department", f"Leerling {number} zit in het "
                                     f"portal niet in afdeling {group['department']} (stamklas "
                                     f"{code}).", number, code))
            else:
                desktop.add(number)
        if student_numbers is None:
            target = {n for n in portal if n not in ds} | desktop
        else:
            target = (portal - (student_numbers - desktop)) | (desktop & student_numbers)
        if pgroup is not None and target == portal:
            continue
        create = None
        if pgroup is None:
            create = {"code": code, "department": group["department"], "kind": group["kind"],
                      "subject": group["subject"]}
        ops.append({"code": code, "create": create,
                    "group_id": pgroup["id"] if pgroup is not None else None,
                    "members": sorted(target, key=number_key)})
    return ops, skipped
