"""The desktop's snapshot of a project and its comparison with the portal
(status, differences).
"""
import datetime as dt

from services.common.outbox import utcnow

from . import compare, rules, snapshot_check
from .models import portal_reads, snapshots
from .portal import compare_sides, current_portal, read_portal, store_portal
from .store import (SNAPSHOT_META, find_row, from_json, iso_utc, keep_status, load_snapshot,
                    parse_ids, paused_gc, release, save_row, snapshot_missing, status_body, to_json)


def put_snapshot(uow, students, users, institution_id, project_id, snapshot):
    """Store the desktop's state of the project (validated; 422 naming every
    problem), read the portal afresh and answer the status."""
    iid, pid = parse_ids(institution_id, project_id)
    with paused_gc():
        desktop = snapshot_check.check_snapshot(snapshot)
    portal = read_portal(students, users, iid, pid, desktop)  # 404: not this institution's
    categories = compare_sides(portal, desktop)
    now = utcnow()
    store_portal(uow, iid, pid, portal)
    save_row(uow, snapshots, iid, pid, {"data": to_json(desktop),
                                         "student_count": len(desktop["students"]),
                                         "received_at": now, "updated_at": now,
                                         "status": to_json(categories),
                                         "status_of": iso_utc(dt.datetime.fromisoformat(
                                             portal["as_of"]))})
    meta = find_row(uow.session, snapshots, iid, pid, columns=SNAPSHOT_META)
    body = {"project_id": pid, "received_at": now.isoformat(), "as_of": portal["as_of"],
            "counts": snapshot_check.snapshot_counts(desktop),
            "status": status_body(uow, iid, pid, portal["as_of"], categories, meta)}
    release(uow)
    return body


def get_snapshot(uow, students, institution_id, project_id):
    iid, pid = parse_ids(institution_id, project_id)
    row, desktop = load_snapshot(uow, students, iid, pid)
    out = snapshot_check.snapshot_document(desktop)
    return {"project_id": pid, "received_at": iso_utc(row.received_at),
            "updated_at": iso_utc(row.updated_at), "snapshot": out}


# --- status and differences ---------------------------------------------------------------

def status(uow, students, users, institution_id, project_id, refresh=False):
    """Per category ok/differences. Without `refresh` the status stored for
    this snapshot and portal read is answered when there is one (it is
    computed whenever either side changes); else both sides are compared."""
    iid, pid = parse_ids(institution_id, project_id)
    session = uow.session
    meta = find_row(session, snapshots, iid, pid, columns=SNAPSHOT_META)
    if meta is None:
        release(uow)
        raise snapshot_missing(students, iid, pid)
    if not refresh and meta.status is not None:
        read = find_row(session, portal_reads, iid, pid, columns=[portal_reads.c.as_of])
        if read is not None and iso_utc(read.as_of) == meta.status_of:
            body = status_body(uow, iid, pid, meta.status_of, from_json(meta.status), meta)
            release(uow)
            return body
    row, desktop = load_snapshot(uow, students, iid, pid)
    portal = current_portal(uow, students, users, iid, pid, desktop, refresh=bool(refresh))
    categories = compare_sides(portal, desktop)
    as_of = iso_utc(dt.datetime.fromisoformat(portal["as_of"]))
    keep_status(uow, row, categories, as_of)
    body = status_body(uow, iid, pid, portal["as_of"], categories, row)
    release(uow)
    return body


def differences(uow, students, users, institution_id, project_id, category, department=None):
    iid, pid = parse_ids(institution_id, project_id)
    rules.check_category(category)
    if department is not None:
        department, _ = rules.check_selection([department], None)
        department = next(iter(department), None)
    _row_, desktop = load_snapshot(uow, students, iid, pid)
    portal = current_portal(uow, students, users, iid, pid, desktop)
    release(uow)
    with paused_gc():
        result = compare.differences(category, portal, desktop, department)
    result["project_id"] = pid
    return result
