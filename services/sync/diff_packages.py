"""Package differences (diff.py's rules): per student and department of the
portal, leaving alone the departments for which the portal holds no package
choices at all.
"""
from collections import defaultdict

from .diff import EMPTY_PACKAGE, NO_PACKAGES_CODE, NO_PARTS, make_item, participation_pairs
from .rules import NO_DEPARTMENT


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
        pown, down = pk.get(number) or NO_PARTS, dk.get(number) or NO_PARTS
        single = len(pparts) == 1
        for department in pparts:
            yield (number, department, pown.get(department) or EMPTY_PACKAGE,
                   _desktop_package(down, department, single))


def packages_items(P, D, pairs=None, with_packages=None):
    """Inlined (not _package_pairs / _package_fields): this runs for every
    participation on every status. `with_packages`: package_departments of
    the whole portal (when P holds some of its students only)."""
    if with_packages is None:
        with_packages = package_departments(P)
    pp, pk, dk = P["participations"], P["packages"], D["packages"]
    items = []
    for number, department, _ppart, _dpart in (pairs if pairs is not None
                                               else participation_pairs(P, D)):
        if department not in with_packages:
            continue  # the portal holds no package choices there: never wiped
        ppkg = (pk.get(number) or NO_PARTS).get(department) or EMPTY_PACKAGE
        down = dk.get(number) or NO_PARTS
        dpkg = down.get(department)
        if dpkg is None:
            dpkg = (down.get(NO_DEPARTMENT) if len(pp[number]) == 1 else None) \
                or EMPTY_PACKAGE
        if ppkg["subjects"] == dpkg["subjects"] and ppkg["exemptions"] == dpkg["exemptions"]:
            continue
        fields, exemptions_differ = _package_fields(ppkg, dpkg)
        if fields:
            item = make_item(number, P, D, department, "download", fields)
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
