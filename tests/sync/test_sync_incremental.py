"""The status kept incrementally (services/sync/incremental.py) equals the full
comparison (compare.status) after every step of random sequences of new
snapshots and changes on either side (a property test with fixed seeds)."""
import copy
import random

import pytest

from services.sync import compare, incremental
from services.sync.rules import NO_DEPARTMENT

DEPARTMENTS = ("h4", "h5", "v4", "v5")
SUBJECTS = ("ne", "en", "wi", "na", "lo")
FIELDS = ("first_name", "last_name", "street", "email", "previous_home_class")


def _person(rnd):
    return {"first_name": rnd.choice(["Daan", "Eva", None]), "prefix": None,
            "last_name": rnd.choice(["Berg", "Smit"]), "gender": None, "street": None,
            "house_number": None, "postcode": None, "city": None,
            "email": rnd.choice([None, "a@school.nl", "A@school.nl"]),
            "previous_home_class": rnd.choice([None, "3h1"]), "initials": None}


def _part(rnd, department):
    return {"department": department, "forecast": rnd.choice([None, 60, 100]),
            "lwoo": rnd.random() < 0.3, "home_class": rnd.choice([None, f"{department}a",
                                                                  f"{department}b"]),
            "profile": rnd.choice([None, "NT"]), "programme": None}


def _package(rnd, department):
    return {"department": department or None,
            "subjects": rnd.sample(SUBJECTS, rnd.randint(0, 3)),
            "exemptions": rnd.choice([[], ["lo"]])}


def _side(rnd, numbers, portal):
    side = {"students": {}, "participations": {}, "packages": {}, "groups": {}}
    for number in numbers:
        side["students"][number] = _person(rnd)
        depts = rnd.sample(DEPARTMENTS, rnd.choice([1, 1, 1, 2]))
        if portal or rnd.random() < 0.9:
            side["participations"][number] = {d: _part(rnd, d) for d in depts}
        if rnd.random() < 0.7:
            own = depts if portal or rnd.random() < 0.8 else [NO_DEPARTMENT]
            side["packages"][number] = {d: _package(rnd, d) for d in own}
    for code in ("c1", "c2", "c3", "h4a", "h5a"):
        if rnd.random() < 0.8:
            kind = "home_class" if code[0] == "h" else "cluster"
            side["groups"][code] = {
                "department": code[:2] if kind == "home_class" else rnd.choice(DEPARTMENTS),
                "kind": kind, "subject": None,
                "student_numbers": sorted(rnd.sample(numbers, min(len(numbers), 4)))}
    return side


def _portal(rnd, numbers):
    P = _side(rnd, numbers, True)
    P["students"] = {n: P["students"][n] for n in P["participations"]}
    P["departments"] = {d: {"id": i, "authority": rnd.choice(["portal", "desktop"])}
                        for i, d in enumerate(DEPARTMENTS)}
    P["accounts"] = []
    P["as_of"] = "2026-01-01T00:00:00+00:00"
    P["project"] = {"id": 1}
    return P


def _numbers(rnd):
    return [str(1000 + i) for i in rnd.sample(range(40), 12)]


def _mutate(rnd, P, D, pool):
    """One random change of one side."""
    side = rnd.choice([P, D])
    number = rnd.choice(pool)
    what = rnd.randrange(10)
    if what == 0:  # personal data
        if number in side["students"]:
            side["students"][number][rnd.choice(FIELDS)] = rnd.choice([None, "x", "y"])
    elif what == 1:  # a student comes or goes
        if number in side["students"]:
            for key in ("students", "participations", "packages"):
                side[key].pop(number, None)
        else:
            side["students"][number] = _person(rnd)
            dept = rnd.choice(DEPARTMENTS)
            side["participations"][number] = {dept: _part(rnd, dept)}
    elif what in (2, 3):  # a participation changes, comes or goes
        parts = side["participations"].get(number)
        if parts is None or number not in side["students"]:
            return
        dept = rnd.choice(DEPARTMENTS)
        if dept in parts and len(parts) > 1 and rnd.random() < 0.3:
            del parts[dept]
        elif dept in parts:
            parts[dept][rnd.choice(["forecast", "lwoo", "home_class", "profile"])] = \
                _part(rnd, dept)[rnd.choice(["forecast", "lwoo", "home_class", "profile"])]
        else:
            parts[dept] = _part(rnd, dept)
    elif what == 4:  # a package
        parts = side["participations"].get(number)
        if parts and number in side["students"]:
            dept = rnd.choice(list(parts) + ([NO_DEPARTMENT] if side is D else []))
            side["packages"].setdefault(number, {})[dept] = _package(rnd, dept)
    elif what == 5:  # group membership
        code = rnd.choice(["c1", "c2", "c3", "h4a", "h5a"])
        group = side["groups"].get(code)
        if group is not None:
            members = set(group["student_numbers"]) ^ {number}
            group["student_numbers"] = sorted(members)
    elif what == 6 and side is P:  # a department's home-class authority
        dept = P["departments"][rnd.choice(DEPARTMENTS)]
        dept["authority"] = "desktop" if dept["authority"] == "portal" else "portal"
    elif what == 7 and side is P:  # a desktop-only student's account
        accounts = set(P["accounts"]) ^ {number}
        P["accounts"] = sorted(a for a in accounts if a not in P["participations"])
    elif what == 8:  # a group comes or goes
        code = rnd.choice(["c1", "c2", "c3"])
        if code in side["groups"]:
            del side["groups"][code]
        else:
            side["groups"][code] = {"department": "h4", "kind": "cluster", "subject": None,
                                    "student_numbers": [number]}


def _check(P, D, flags, counts):
    assert flags == incremental.student_flags(P, D)
    status = incremental.status_of(counts, incremental.changed_groups(P, D), P["as_of"])
    assert status == compare.status(P, D)


@pytest.mark.parametrize("seed", range(6))
def test_incremental_status_equals_the_full_comparison(seed):
    rnd = random.Random(seed)
    pool = [str(1000 + i) for i in range(40)]
    P, D = _portal(rnd, _numbers(rnd)), _side(rnd, _numbers(rnd), False)
    flags = incremental.student_flags(P, D)
    counts = incremental.counts_of(flags)
    partial = 0
    for _step in range(150):
        old_P, old_D = copy.deepcopy(P), copy.deepcopy(D)
        if rnd.random() < 0.05:  # a new snapshot of the desktop
            D = _side(rnd, _numbers(rnd), False)
        else:
            _mutate(rnd, P, D, pool)
        numbers = incremental.changed_students(old_P, old_D, P, D)
        if numbers is None:
            flags = incremental.student_flags(P, D)
            counts = incremental.counts_of(flags)
        else:
            partial += 1
            fresh = incremental.update(flags, counts, numbers, P, D)
            for number, own in fresh.items():
                if own:
                    flags[number] = own
                else:
                    flags.pop(number, None)
        _check(P, D, flags, counts)
    assert partial > 100  # most steps were compared per student, not in full


def test_changed_students_names_exactly_the_changed_student():
    rnd = random.Random(7)
    P, D = _portal(rnd, [str(1000 + i) for i in range(10)]), \
        _side(rnd, [str(1000 + i) for i in range(10)], False)
    new_D = copy.deepcopy(D)
    new_D["students"]["1003"]["street"] = "Elders"
    assert incremental.changed_students(P, D, P, new_D) == {"1003"}
    new_P = copy.deepcopy(P)
    new_P["departments"]["h4"]["authority"] = "other"
    assert incremental.changed_students(P, D, new_P, D) is None
