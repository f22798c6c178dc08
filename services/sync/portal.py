"""Reading the portal (students.project_state + users.get_users) and keeping
the last read.

The portal is read when a snapshot arrives, on status?refresh, after every
upload and after events named students of the project (refresh.py); `as_of`
is when the read started. Status, differences and downloads compare against
that read, so a download moves exactly what the differences showed. No
database connection is held while another service is called.
"""
import datetime as dt

import eventlet

from services.common.outbox import utcnow

from . import compare, rules
from .models import portal_reads
from .store import find_row, from_json, paused_gc, release, save_row, to_json


def read_portal(students, users, iid, pid, desktop):
    """The portal state of the project now, in the internal shape. The two big
    reads run side by side: the project from the students service, the
    personal data of the desktop's students from the users service (then
    those of the portal's students the desktop lacks)."""
    started = utcnow().isoformat()  # as_of: the read holds every change committed before
    reading = eventlet.spawn(students.project_state, iid, pid)
    try:
        known = sorted(desktop["students"], key=rules.number_key)
        people = users.get_users(iid, known) if known else []
    except BaseException:
        reading.kill()
        raise
    state = reading.wait()
    missing = sorted({p["student_number"] for p in state["participations"]}
                     - set(desktop["students"]), key=rules.number_key)
    if missing:
        people = people + users.get_users(iid, missing)
    with paused_gc():
        return rules.portal_view(state, people, desktop["students"], started)


def store_portal(uow, iid, pid, portal):
    save_row(uow, portal_reads, iid, pid, {"data": to_json(portal),
                                            "as_of": dt.datetime.fromisoformat(portal["as_of"])})


def current_portal(uow, students, users, iid, pid, desktop, refresh=False):
    """The stored portal read, or a fresh one (stored) when there is none or
    `refresh`."""
    if not refresh:
        row = find_row(uow.session, portal_reads, iid, pid)
        if row is not None:
            return from_json(row.data)
    release(uow)
    portal = read_portal(students, users, iid, pid, desktop)
    store_portal(uow, iid, pid, portal)
    return portal


def compare_sides(portal, desktop):
    with paused_gc():
        return compare.status(portal, desktop)
