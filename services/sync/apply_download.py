"""A download: what the desktop must change, applied to the stored snapshot
(the internal shape of rules.py).
"""
from .diff import EMPTY_PACKAGE, EMPTY_PARTICIPATION, NO_PARTS
from .rules import NO_DEPARTMENT, PARTICIPATION_FIELDS, PERSONAL_FIELDS, number_key


def _new_student(P, number):
    person = P["students"][number]
    record = {field: person.get(field) for field in PERSONAL_FIELDS}
    record["initials"] = person.get("initials")
    record["properties"] = {}
    return record


class _Members:
    """The desktop's group memberships during one download: sets indexed by
    student (built on first use), written back to the groups' sorted lists
    once at the end, so each change costs the student's groups, not a scan of
    every list."""

    def __init__(self, groups):
        self.groups = groups
        self.sets = None
        self.of = None
        self.touched = set()

    def _index(self):
        if self.sets is None:
            self.sets = {code: set(g["student_numbers"]) for code, g in self.groups.items()}
            self.of = {}
            for code, members in self.sets.items():
                for number in members:
                    self.of.setdefault(number, set()).add(code)
        return self.sets, self.of

    def codes(self, number):
        return set(self._index()[1].get(number, ()))

    def has(self, code, number):
        return number in self._index()[0][code]

    def remove(self, code, number):
        sets, of = self._index()
        sets[code].discard(number)
        of.get(number, set()).discard(code)
        self.touched.add(code)

    def add(self, code, number):
        sets, of = self._index()
        sets[code].add(number)
        of.setdefault(number, set()).add(code)
        self.touched.add(code)

    def write(self):
        for code in self.touched:
            self.groups[code]["student_numbers"] = sorted(self.sets[code], key=number_key)


def _drop_from_groups(D, members, number, kinds=("home_class", "cluster")):
    left = []
    for code in members.codes(number):
        if D["groups"][code]["kind"] in kinds:
            members.remove(code, number)
            left.append(code)
    return sorted(left)


def _move_home_class_group(D, members, number, department, new_code):
    """Keep listed home-class groups of the department in agreement with the
    student's participation there."""
    groups = D["groups"]
    for code in members.codes(number):
        group = groups[code]
        if code != new_code and group["kind"] == "home_class" \
                and group["department"] == department:
            members.remove(code, number)
    group = groups.get(new_code) if new_code is not None else None
    if group is not None and group["kind"] == "home_class" \
            and group["department"] == department and not members.has(new_code, number):
        members.add(new_code, number)


def _leave_home_class(D, members, number, home_class):
    """The student leaves the listed home-class group a removed participation
    named (so groups and participations keep agreeing)."""
    group = D["groups"].get(home_class) if home_class is not None else None
    if group is None or group["kind"] != "home_class" or not members.has(home_class, number):
        return []
    still = any(p["home_class"] == home_class
                for p in (D["participations"].get(number) or {}).values())
    if still:
        return []
    members.remove(home_class, number)
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
    members = _Members(D["groups"])
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
                left = _drop_from_groups(D, members, number)
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
                                "left_groups": _leave_home_class(D, members, number,
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
                _move_home_class_group(D, members, number, department,
                                       part["home_class"])
        elif category == "packages":
            ppkg = (P["packages"].get(number) or NO_PARTS).get(department) or EMPTY_PACKAGE
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
    members.write()
    return changes
