"""The status kept with a snapshot: the per-student rows of incremental.py in
student_differences, the figures in snapshots.status, and adopting a new
portal read so that only the students it changed are compared again.

Invariant: a snapshot whose `status` is set has, in student_differences,
exactly the flags of (its desktop, the stored portal read of `status_of`).
Every writer of either side holds the snapshot's row lock (PostgreSQL) while
it changes both, so two replicas never interleave.
"""
import datetime as dt

import sqlalchemy as sa

from . import incremental
from .models import portal_reads, snapshots, stale_students, student_differences
from .store import (SNAPSHOT_META, as_utc, find_row, from_json, iso_utc, paused_gc, to_json,
                    upsert_row)

CHUNK = 500


def _where(iid, pid):
    return (student_differences.c.institution_id == iid,
            student_differences.c.project_id == pid)


def _chunks(numbers):
    numbers = sorted(numbers)
    for start in range(0, len(numbers), CHUNK):
        yield numbers[start:start + CHUNK]


def load_flags(session, iid, pid, numbers):
    out = {}
    for part in _chunks(numbers):
        for number, flags in session.execute(
                sa.select(student_differences.c.student_number, student_differences.c.flags)
                .where(*_where(iid, pid), student_differences.c.student_number.in_(part))):
            out[number] = from_json(flags)
    return out


def _insert(session, iid, pid, flags):
    rows = [{"institution_id": iid, "project_id": pid, "student_number": number,
             "flags": to_json(own)} for number, own in flags.items() if own]
    if rows:
        session.execute(sa.insert(student_differences), rows)


def replace_flags(session, iid, pid, flags):
    session.execute(sa.delete(student_differences).where(*_where(iid, pid)))
    _insert(session, iid, pid, flags)


def write_flags(session, iid, pid, fresh):
    for part in _chunks(fresh):
        session.execute(sa.delete(student_differences).where(
            *_where(iid, pid), student_differences.c.student_number.in_(part)))
    _insert(session, iid, pid, fresh)


def full_status(P, D):
    """(flags, status) of both sides compared in full."""
    with paused_gc():
        flags = incremental.student_flags(P, D)
        categories = incremental.status_of(incremental.counts_of(flags),
                                           incremental.changed_groups(P, D), P["as_of"])
    return flags, categories


def compare_again(session, iid, pid, kept_status, numbers, P, D):
    """The status after the students `numbers` (None: everyone, as when no
    status is kept) changed on either side; their rows rewritten. Call
    holding the snapshot's row lock."""
    if numbers is None or kept_status is None:
        flags, categories = full_status(P, D)
        replace_flags(session, iid, pid, flags)
        return categories
    counts = incremental.counts_from_status(kept_status)
    old = load_flags(session, iid, pid, numbers)
    with paused_gc():
        fresh = incremental.update(old, counts, numbers, P, D)
        groups = incremental.changed_groups(P, D) if numbers else \
            kept_status["groups"].get("groups", 0)
    write_flags(session, iid, pid, fresh)
    return incremental.status_of(counts, groups, P["as_of"])


def status_values(categories, as_of):
    return {"status": to_json(categories),
            "status_of": iso_utc(dt.datetime.fromisoformat(as_of))}


def adopt_read(uow, iid, pid, portal, desktop, desktop_version, stale_ids=()):
    """Store a fresh portal read and the status against it, comparing again
    only the students whose part of the portal changed. Not adopted (None)
    when the desktop changed since the read was made for it
    (`desktop`, the snapshot of updated_at `desktop_version`) or a read that started
    later is stored already; else the status, and the stale marks `stale_ids`
    (made before the read started) are dropped."""
    session = uow.session
    meta = find_row(session, snapshots, iid, pid, for_update=True, columns=SNAPSHOT_META)
    if meta is None or meta.updated_at != desktop_version:
        uow.rollback()
        return None
    as_of = dt.datetime.fromisoformat(portal["as_of"])
    stored = find_row(session, portal_reads, iid, pid)
    if stored is not None and as_utc(stored.as_of) > as_utc(as_of):
        uow.rollback()
        return None
    kept = None
    numbers = None
    if stored is not None and meta.status is not None \
            and meta.status_of == iso_utc(stored.as_of):
        kept = from_json(meta.status)
        old = from_json(stored.data)
        with paused_gc():
            numbers = incremental.changed_students(old, desktop, portal, desktop)
    categories = compare_again(session, iid, pid, kept, numbers, portal, desktop)
    upsert_row(session, portal_reads, iid, pid, {"data": to_json(portal), "as_of": as_of})
    session.execute(sa.update(snapshots).where(snapshots.c.id == meta.id).values(
        **status_values(categories, portal["as_of"])))
    drop_stale(session, stale_ids)
    uow.commit()
    return categories


def drop_stale(session, ids):
    ids = sorted(ids)
    for start in range(0, len(ids), CHUNK):
        session.execute(sa.delete(stale_students).where(
            stale_students.c.id.in_(ids[start:start + CHUNK])))
