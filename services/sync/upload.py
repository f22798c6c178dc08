"""Uploads: the selected desktop changes carried into the portal through the
students service's RPC (create_students, create_group, set_group_members,
update_participation), so its rules hold and its events fire; the portal is
re-read first and afterwards.
"""
import eventlet

from services.common.errors import DomainError

from . import kept, plans
from .portal import compare_sides, read_portal
from .selection import check_departments, selected_items
from .store import load_snapshot, release, transfer_request


# Calls to the students service an upload makes side by side.
UPLOAD_CONCURRENCY = 8


def _fresh(uow, students, users, iid, pid):
    """(snapshot row, snapshot, fresh portal read): uploads always start from
    the portal as it is."""
    row, desktop = load_snapshot(uow, students, iid, pid)
    release(uow)
    return row, desktop, read_portal(students, users, iid, pid, desktop)


def _row_errors_to_students(exc, rows):
    """A create_students 422 names rows; name the student numbers too."""
    errors = []
    for item in exc.errors or []:
        item = dict(item)
        row = item.get("row")
        if isinstance(row, int) and 1 <= row <= len(rows):
            item["student_number"] = rows[row - 1]["student_number"]
            item["message"] = f"Leerling {item['student_number']}: {item.get('message', '')}"
        errors.append(item)
    return DomainError(exc.code, exc.message, status=exc.status, field=exc.field,
                       errors=errors, extra=exc.extra)


def _upload_students(students, iid, pid, P, D, departments, numbers):
    items = [i for i in selected_items("students", "upload", P, D, departments, numbers)
             if i["action"] == "create"]
    rows, skipped = plans.students_rows(P, D, items)
    applied = []
    if rows:
        try:
            # the project's origin key: an upload repeated after a crash between
            # the users and students commits adopts the accounts it left
            students.create_students(iid, rows, project_id=pid, origin_key=f"sync:{iid}:{pid}",
                                     deadline="batch")
        except DomainError as exc:
            if exc.errors:
                raise _row_errors_to_students(exc, rows) from None
            raise
        applied = []
        for r in rows:
            codes = [p["department"] for p in r["participations"]]
            entry = {"student_number": r["student_number"], "action": "created",
                     "department": codes[0]}
            if len(codes) > 1:
                entry["departments"] = codes
            applied.append(entry)
    return applied, skipped


def _upload_home_classes(students, iid, P, D, departments, numbers):
    items = selected_items("home_classes", "upload", P, D, departments, numbers)
    ops, singles = plans.home_class_ops(P, items)
    pid = P["project"]["id"]
    for op in ops:
        group_id = op["group_id"]
        if group_id is None:
            group_id = students.create_group(iid, pid, {"code": op["code"],
                                                        "department": op["department"],
                                                        "kind": "home_class"})["id"]
        students.set_group_members(iid, group_id, op["members"])
    for _number, participation_id, home_class in singles:
        students.update_participation(iid, participation_id, {"home_class": home_class})
    applied = [{"student_number": i["student_number"], "action": "set",
                "department": i["department"],
                "values": {"home_class": i["fields"]["home_class"]["D"]}} for i in items]
    return applied, []


def _group_op(students, iid, pid, op):
    """Create the group when the portal lacks it, then set its members:
    (applied entry, None) or (None, skipped entry) when the students service
    refuses."""
    try:
        group_id = op["group_id"]
        if op["create"] is not None:
            group_id = students.create_group(iid, pid, op["create"])["id"]
        result = students.set_group_members(iid, group_id, op["members"])
    except DomainError as exc:
        return None, {"group": op["code"], "code": exc.code, "message": exc.message}
    return {"group": op["code"], "action": "created" if op["create"] else "set",
            "student_numbers": result.get("student_numbers", op["members"])}, None


def _upload_groups(students, iid, P, D, departments, numbers):
    """Cluster groups are independent of each other: their calls run side by
    side (UPLOAD_CONCURRENCY). Home-class groups move students between them,
    so they go one after the other."""
    check_departments(P, D, departments)
    ops, skipped = plans.group_ops(P, D, departments, numbers)
    pid = P["project"]["id"]
    clusters = [op for op in ops if (op["create"] or {}).get("kind", "cluster") == "cluster"
                and P["groups"].get(op["code"], {"kind": "cluster"})["kind"] == "cluster"]
    homes = [op for op in ops if op not in clusters]
    pool = eventlet.GreenPool(UPLOAD_CONCURRENCY)
    results = list(pool.imap(lambda op: _group_op(students, iid, pid, op), clusters))
    results += [_group_op(students, iid, pid, op) for op in homes]
    applied = [a for a, _s in results if a is not None]
    skipped += [s for _a, s in results if s is not None]
    return applied, skipped


def upload(uow, students, users, institution_id, project_id, category, departments=None,
           student_numbers=None):
    """Carry the selected desktop changes into the portal through the students
    service, then read the portal again (so status shows the result)."""
    iid, pid, departments, numbers = transfer_request(
        uow, students, institution_id, project_id, category, "upload", departments,
        student_numbers)
    row, desktop, portal = _fresh(uow, students, users, iid, pid)
    if category == "students":
        applied, skipped = _upload_students(students, iid, pid, portal, desktop, departments,
                                            numbers)
    elif category == "home_classes":
        applied, skipped = _upload_home_classes(students, iid, portal, desktop, departments,
                                                numbers)
    else:
        applied, skipped = _upload_groups(students, iid, portal, desktop, departments, numbers)
    if applied:
        portal = read_portal(students, users, iid, pid, desktop)
    categories = kept.adopt_read(uow, iid, pid, portal, desktop, row.updated_at)
    if categories is None:  # the desktop changed meanwhile, or a later read is kept
        categories = compare_sides(portal, desktop)
    return {"project_id": pid, "category": category, "as_of": portal["as_of"],
            "applied": applied, "count": len(applied), "skipped": skipped,
            "status": categories[category]}
