"""The desktop's snapshot of a project and its comparison with the portal
(status, differences).
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.outbox import utcnow

from . import compare, kept, rules, snapshot_check
from . import refresh as refresh_cases
from .models import portal_reads, snapshots
from .portal import compare_sides, current_portal, read_portal
from .store import (SNAPSHOT_META, find_row, from_json, iso_utc, load_snapshot,
                    parse_ids, paused_gc, release, snapshot_missing, status_body, to_json,
                    upsert_row)


def put_snapshot(uow, students, users, institution_id, project_id, snapshot):
    """Store the desktop's state of the project (validated; 422 naming every
    problem), read the portal afresh and answer the status."""
    iid, pid = parse_ids(institution_id, project_id)
    with paused_gc():
        desktop = snapshot_check.check_snapshot(snapshot)
    portal = read_portal(students, users, iid, pid, desktop)  # 404: not this institution's
    flags, categories = kept.full_status(portal, desktop)
    now = utcnow()
    values = {"data": to_json(desktop), "student_count": len(desktop["students"]),
              "received_at": now, "updated_at": now,
              **kept.status_values(categories, portal["as_of"])}
    for attempt in (1, 2):
        session = uow.session
        try:
            find_row(session, snapshots, iid, pid, for_update=True, columns=[snapshots.c.id])
            upsert_row(session, portal_reads, iid, pid, {
                "data": to_json(portal), "as_of": dt.datetime.fromisoformat(portal["as_of"])})
            upsert_row(session, snapshots, iid, pid, values)
            kept.replace_flags(session, iid, pid, flags)
            refresh_cases.mark_changed_since(session, iid, pid, portal["as_of"], now)
            uow.commit()
            break
        except IntegrityError:  # the project's first snapshot, stored at the same moment
            uow.rollback()
            if attempt == 2:
                raise
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
    """Per category ok/differences: the status kept for this snapshot and
    portal read (kept.py: updated as either side changes). `refresh` reads
    the portal first and compares again the students it changed."""
    iid, pid = parse_ids(institution_id, project_id)
    session = uow.session
    meta = find_row(session, snapshots, iid, pid, columns=SNAPSHOT_META)
    if meta is None:
        release(uow)
        raise snapshot_missing(students, iid, pid)
    if refresh:  # not adopted when a later read or another desktop came meanwhile:
        release(uow)  # then the status kept with those is the answer
        refresh_cases.refresh_project(uow, students, users, iid, pid)
        meta = find_row(session, snapshots, iid, pid, columns=SNAPSHOT_META)
    if meta.status is not None:
        read = find_row(session, portal_reads, iid, pid, columns=[portal_reads.c.as_of])
        if read is not None and iso_utc(read.as_of) == meta.status_of:
            body = status_body(uow, iid, pid, meta.status_of, from_json(meta.status), meta)
            release(uow)
            return body
    return _compared(uow, students, users, iid, pid)


def _compared(uow, students, users, iid, pid):
    """The status of both sides compared in full and kept (no status kept
    yet, or none for the stored portal read)."""
    meta = find_row(uow.session, snapshots, iid, pid, for_update=True,
                    columns=[*SNAPSHOT_META, snapshots.c.data])
    stored = find_row(uow.session, portal_reads, iid, pid)
    if stored is None:  # never read: read it, compare, keep
        desktop = from_json(meta.data)
        release(uow)
        portal = read_portal(students, users, iid, pid, desktop)
        categories = kept.adopt_read(uow, iid, pid, portal, desktop, meta.updated_at)
        if categories is None:
            categories = compare_sides(portal, desktop)
        body = status_body(uow, iid, pid, portal["as_of"], categories, meta)
        release(uow)
        return body
    portal, desktop = from_json(stored.data), from_json(meta.data)
    flags, categories = kept.full_status(portal, desktop)
    kept.replace_flags(uow.session, iid, pid, flags)
    uow.session.execute(sa.update(snapshots).where(snapshots.c.id == meta.id).values(
        status=to_json(categories), status_of=iso_utc(stored.as_of)))
    uow.commit()
    body = status_body(uow, iid, pid, portal["as_of"], categories, meta)
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
