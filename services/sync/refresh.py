"""Keeping the status current as the portal changes: an event of the users or
students service marks the students it names stale for every snapshot it
concerns (in the unit of work that records it in the feed); the timer
refresh_stale reads the portal of such a project again and adopts the read
(kept.adopt_read), comparing again only the students whose part changed.

Safe to redeliver, reorder and run on several replicas at once: a mark only
says "read again", a read is adopted only when no later-started read is
stored and the desktop is still the one it was made for, and the marks a read
covers (made before it started) go in the unit of work that adopts it. A
replica claims the marks it reads for, so two replicas do not read the same
project for the same marks; a read not adopted gives its claim back.
"""
import datetime as dt
import logging

import sqlalchemy as sa

from services.common import bulk
from services.common.errors import DomainError
from services.common.outbox import utcnow

from . import kept
from .models import mutations, snapshots, stale_students
from .portal import read_portal
from .store import find_row, from_json, release

log = logging.getLogger(__name__)

# Clock differences between replicas a mark made at a snapshot upload allows for.
CLOCK_MARGIN = dt.timedelta(seconds=5)
# Projects one timer run reads again.
PROJECTS_PER_RUN = 20
# How long a replica's claim on the marks it reads for holds (a crashed
# replica's marks are taken up after it).
CLAIM_TIME = dt.timedelta(minutes=3)


def mark_stale(session, iid, entries, now):
    """Stale marks for the feed entries of one event (caller commits): per
    named student and snapshot of the entry's project, or of every snapshot of
    the institution for an entry without project."""
    wanted = {(e["project_id"], e["student_number"]) for e in entries if e["student_number"]}
    if not wanted:
        return
    projects = [pid for (pid,) in session.execute(
        sa.select(snapshots.c.project_id).where(snapshots.c.institution_id == iid))]
    rows = set()
    for project_id, number in wanted:
        for pid in projects:
            if project_id is None or project_id == pid:
                rows.add((pid, number))
    if rows:
        bulk.insert_many(session, stale_students, [
            {"institution_id": iid, "project_id": pid, "student_number": number,
             "marked_at": now} for pid, number in sorted(rows)])


def mark_changed_since(session, iid, pid, as_of, now):
    """A snapshot stored with a portal read that started at `as_of`: when the
    feed recorded anything of the project since, mark the project stale (the
    events' own marks may have been dropped by a read the upload replaced)."""
    since = dt.datetime.fromisoformat(as_of) - CLOCK_MARGIN
    found = session.execute(sa.select(mutations.c.id).where(
        mutations.c.institution_id == iid,
        sa.or_(mutations.c.project_id == pid, mutations.c.project_id.is_(None)),
        mutations.c.recorded_at >= since).limit(1)).first()
    if found is not None:
        session.execute(sa.insert(stale_students).values(
            institution_id=iid, project_id=pid, student_number=None, marked_at=now))


def _claimable(now):
    return sa.or_(stale_students.c.claimed_until.is_(None),
                  stale_students.c.claimed_until < now)


def pending_projects(uow, limit=PROJECTS_PER_RUN):
    """[(institution_id, project_id)] with stale marks no replica is reading for."""
    rows = uow.session.execute(
        sa.select(stale_students.c.institution_id, stale_students.c.project_id)
        .where(_claimable(utcnow()))
        .group_by(stale_students.c.institution_id, stale_students.c.project_id)
        .order_by(sa.func.min(stale_students.c.id)).limit(limit)).all()
    release(uow)
    return [(r.institution_id, r.project_id) for r in rows]


def _claim(uow, iid, pid, claim):
    """The ids of the project's marks this read covers: the unclaimed ones,
    claimed for CLAIM_TIME (committed, so another replica leaves them), or
    with claim=False every mark (a refresh asked for)."""
    where = [stale_students.c.institution_id == iid, stale_students.c.project_id == pid]
    if not claim:
        return [i for (i,) in uow.session.execute(sa.select(stale_students.c.id).where(*where))]
    now = utcnow()
    ids = [i for (i,) in uow.session.execute(
        sa.update(stale_students).where(*where, _claimable(now))
        .values(claimed_until=now + CLAIM_TIME).returning(stale_students.c.id))]
    uow.commit()
    return ids


def _unclaim(uow, ids):
    for start in range(0, len(ids), kept.CHUNK):
        uow.session.execute(sa.update(stale_students).where(
            stale_students.c.id.in_(ids[start:start + kept.CHUNK])).values(claimed_until=None))
    uow.commit()


def refresh_project(uow, students, users, iid, pid, claim=False):
    """Read the portal of the project again and adopt the read: the status, or
    None when it was not adopted (the marks stay for the next run). With
    `claim` (the timer) only marks no other replica is reading for, if any."""
    ids = _claim(uow, iid, pid, claim)
    if claim and not ids:
        return None
    session = uow.session
    row = find_row(session, snapshots, iid, pid,
                   columns=[snapshots.c.id, snapshots.c.updated_at, snapshots.c.data])
    if row is None:  # the marks of a snapshot that is gone
        kept.drop_stale(session, ids)
        uow.commit()
        return None
    desktop = from_json(row.data)
    release(uow)
    try:
        portal = read_portal(students, users, iid, pid, desktop)
        categories = kept.adopt_read(uow, iid, pid, portal, desktop, row.updated_at, ids)
    except BaseException:
        uow.rollback()
        _unclaim(uow, ids)
        raise
    if categories is None:
        _unclaim(uow, ids)
    return categories


def refresh_pending(db, students, users):
    """The timer's run: every project with stale marks read again, one unit of
    work each; a project whose read fails waits for the next run."""
    with db() as uow:
        projects = pending_projects(uow)
    for iid, pid in projects:
        try:
            with db() as uow:
                refresh_project(uow, students, users, iid, pid, claim=True)
        except DomainError as exc:
            log.warning("sync: project %s not read again: %s", pid, exc.code)
            if exc.status == 404:  # the project is gone from the portal
                with db() as uow:
                    uow.session.execute(sa.delete(stale_students).where(
                        stale_students.c.institution_id == iid,
                        stale_students.c.project_id == pid))
                    uow.commit()
        except Exception:  # the other projects still get their turn
            log.exception("sync: project %s not read again", pid)

