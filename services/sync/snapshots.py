"""The desktop's snapshot of a project and its comparison with the portal
(status, differences).
"""
import datetime as dt
import logging

from services.common.outbox import utcnow

from . import compare, rules, snapshot_check
from .models import portal_reads, snapshots

log = logging.getLogger(__name__)
from .portal import _compare, _portal, _store_portal, read_portal
from .store import (
    _META,
    _dumps,
    _ids,
    _iso,
    _keep_status,
    _load_snapshot,
    _loads,
    _paused_gc,
    _release,
    _row,
    _save,
    _snapshot_missing,
    _status_body,
)


def put_snapshot(uow, students, users, institution_id, project_id, snapshot):
    """Store the desktop's state of the project (validated; 422 naming every
    problem), read the portal afresh and answer the status."""
    iid, pid = _ids(institution_id, project_id)
    with _paused_gc():
        desktop = snapshot_check.check_snapshot(snapshot)
    portal = read_portal(students, users, iid, pid, desktop)  # 404: not this institution's
    categories = _compare(portal, desktop)
    now = utcnow()
    _store_portal(uow, iid, pid, portal)
    _save(uow, snapshots, iid, pid, {"data": _dumps(desktop),
                                     "student_count": len(desktop["students"]),
                                     "received_at": now, "updated_at": now,
                                     "status": _dumps(categories),
                                     "status_of": _iso(dt.datetime.fromisoformat(
                                         portal["as_of"]))})
    meta = _row(uow.session, snapshots, iid, pid, columns=_META)
    body = {"project_id": pid, "received_at": now.isoformat(), "as_of": portal["as_of"],
            "counts": snapshot_check.snapshot_counts(desktop),
            "status": _status_body(uow, iid, pid, portal["as_of"], categories, meta)}
    _release(uow)
    return body


def get_snapshot(uow, students, institution_id, project_id):
    iid, pid = _ids(institution_id, project_id)
    row, desktop = _load_snapshot(uow, students, iid, pid)
    out = snapshot_check.snapshot_document(desktop)
    return {"project_id": pid, "received_at": _iso(row.received_at),
            "updated_at": _iso(row.updated_at), "snapshot": out}


# --- status and differences ---------------------------------------------------------------

def status(uow, students, users, institution_id, project_id, refresh=False):
    """Per category ok/differences. Without `refresh` the status stored for
    this snapshot and portal read is answered when there is one (it is
    computed whenever either side changes); else both sides are compared."""
    iid, pid = _ids(institution_id, project_id)
    session = uow.session
    meta = _row(session, snapshots, iid, pid, columns=_META)
    if meta is None:
        _release(uow)
        raise _snapshot_missing(students, iid, pid)
    if not refresh and meta.status is not None:
        read = _row(session, portal_reads, iid, pid, columns=[portal_reads.c.as_of])
        if read is not None and _iso(read.as_of) == meta.status_of:
            body = _status_body(uow, iid, pid, meta.status_of, _loads(meta.status), meta)
            _release(uow)
            return body
    row, desktop = _load_snapshot(uow, students, iid, pid)
    portal = _portal(uow, students, users, iid, pid, desktop, refresh=bool(refresh))
    categories = _compare(portal, desktop)
    as_of = _iso(dt.datetime.fromisoformat(portal["as_of"]))
    _keep_status(uow, row, categories, as_of)
    body = _status_body(uow, iid, pid, portal["as_of"], categories, row)
    _release(uow)
    return body


def differences(uow, students, users, institution_id, project_id, category, department=None):
    iid, pid = _ids(institution_id, project_id)
    rules.check_category(category)
    if department is not None:
        department, _ = rules.check_selection([department], None)
        department = next(iter(department), None)
    _row_, desktop = _load_snapshot(uow, students, iid, pid)
    portal = _portal(uow, students, users, iid, pid, desktop)
    _release(uow)
    with _paused_gc():
        result = compare.differences(category, portal, desktop, department)
    result["project_id"] = pid
    return result
