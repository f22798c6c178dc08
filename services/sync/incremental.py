"""The status kept incrementally, as pure functions: per student a small
record of which categories differ (and which way), and the status of
compare.status computed from those records instead of from both sides.

    flags: {student_number: {category: bits}}   only students with a difference

bits: ANY (the student has an item of the category), DOWN / UP (an item that
downloads / uploads), EXEMPT (packages: exemptions differ). The groups
category also counts the groups that differ, which is not per student: it is
recomputed whenever anything changed (one pass over the groups' members).

When one side or both change, only the students whose own part of either
side changed are compared again (`changed_students`); a change of what all
students share (departments and their authority, the portal's departments
with package choices, the groups' kinds and departments) compares everyone.
compare.status stays the reference: status_of(flags, ...) equals it.
"""
from collections import defaultdict

from .compare import ITEMS, PAIRED
from .diff import groups_details, participation_pairs
from .diff_packages import package_departments, packages_items
from .rules import CATEGORIES

ANY, DOWN, UP, EXEMPT = 1, 2, 4, 8
BY_STUDENT = ("students", "participations", "packages")


def _restricted(side, numbers, accounts=False):
    """The side with only these students (groups kept whole: their members
    count only when the student is on the side)."""
    out = dict(side)
    for key in BY_STUDENT:
        own = side[key]
        out[key] = {n: own[n] for n in numbers if n in own}
    if accounts:
        out["accounts"] = [n for n in side.get("accounts") or () if n in numbers]
    return out


def _bits(item):
    bits = ANY | (DOWN if item["direction"] == "download" else UP)
    if item.get("exemptions_differ"):
        bits |= EXEMPT
    return bits


def student_flags(P, D, numbers=None):
    """{number: {category: bits}} of the students (all, or `numbers`) with a
    difference; the items are those of compare.ITEMS."""
    with_packages = package_departments(P)
    if numbers is not None:
        numbers = set(numbers)
        P, D = _restricted(P, numbers, accounts=True), _restricted(D, numbers)
    pairs = participation_pairs(P, D)
    flags = defaultdict(dict)
    for category in CATEGORIES:
        if category == "groups":
            items = groups_details(P, D)[0]
        elif category == "packages":
            items = packages_items(P, D, pairs, with_packages)
        elif category in PAIRED:
            items = ITEMS[category](P, D, pairs)
        else:
            items = ITEMS[category](P, D)
        for item in items:
            own = flags[item["student_number"]]
            own[category] = own.get(category, 0) | _bits(item)
    return dict(flags)


def changed_groups(P, D):
    """How many of the desktop's groups in scope differ from the portal's."""
    return len(groups_details(P, D)[1])


def counts_of(flags):
    """{category: [students, download, upload, exemptions]}."""
    counts = {c: [0, 0, 0, 0] for c in CATEGORIES}
    add_counts(counts, flags.values(), 1)
    return counts


def add_counts(counts, records, sign):
    for record in records:
        for category, bits in record.items():
            row = counts[category]
            row[0] += sign * bool(bits & ANY)
            row[1] += sign * bool(bits & DOWN)
            row[2] += sign * bool(bits & UP)
            row[3] += sign * bool(bits & EXEMPT)


def status_of(counts, groups_changed, as_of):
    """The status of compare.status from the counts."""
    out = {}
    for category in CATEGORIES:
        students, down, up, exempt = counts[category]
        differs = students > 0 or (category == "groups" and groups_changed > 0)
        entry = {"status": "differences" if differs else "ok", "differences": students,
                 "download": down, "upload": up, "as_of": as_of}
        if category == "packages":
            entry["exemptions"] = exempt
        if category == "groups":
            entry["groups"] = groups_changed
        out[category] = entry
    return out


def counts_from_status(categories):
    return {c: [categories[c]["differences"], categories[c]["download"],
                categories[c]["upload"], categories[c].get("exemptions", 0)]
            for c in CATEGORIES}


# --- what changed between two versions of the sides ----------------------------------------

def _memberships(side):
    """{number: group codes} over the side's groups."""
    out = defaultdict(set)
    for code, group in side["groups"].items():
        for number in group["student_numbers"]:
            out[number].add(code)
    return out


def _shared(P, D):
    """What every student's comparison depends on."""
    return (P["departments"], sorted(package_departments(P)),
            {c: (g["kind"], g["department"]) for c, g in P["groups"].items()},
            {c: (g["kind"], g["department"]) for c, g in D["groups"].items()})


def _differing(old, new, numbers):
    """Add the keys whose values differ between two dicts to `numbers`."""
    if old == new:
        return
    for number in old.keys() | new.keys():
        if number not in numbers and old.get(number) != new.get(number):
            numbers.add(number)


def changed_students(old_P, old_D, P, D):
    """The students whose comparison may have changed between (old_P, old_D)
    and (P, D), or None when everyone's may have: those whose record,
    participations, packages, group memberships or (portal) account differ."""
    if _shared(old_P, old_D) != _shared(P, D):
        return None
    numbers = set()
    for old, new in ((old_P, P), (old_D, D)):
        if old is new:
            continue
        for key in BY_STUDENT:
            _differing(old[key], new[key], numbers)
        if old["groups"] != new["groups"]:
            _differing(_memberships(old), _memberships(new), numbers)
    numbers |= set(old_P.get("accounts") or ()) ^ set(P.get("accounts") or ())
    return numbers


def update(flags_of, counts, numbers, P, D):
    """Compare `numbers` again: (new flags of those students, with {} for
    those without a difference now; counts updated in place). `flags_of` maps
    each of `numbers` to its stored flags ({} when none)."""
    fresh = student_flags(P, D, numbers)
    add_counts(counts, (flags_of.get(n) or {} for n in numbers), -1)
    result = {n: fresh.get(n, {}) for n in numbers}
    add_counts(counts, result.values(), 1)
    return result
