"""Reading the portal (students.project_state + users.get_users) and keeping
the last read. No database connection is held while another service is called.
"""
import datetime as dt
import logging

import eventlet

from services.common.outbox import utcnow

from . import compare, rules
from .models import portal_reads

log = logging.getLogger(__name__)
from .store import _dumps, _loads, _paused_gc, _release, _row, _save


def read_portal(students, users, iid, pid, desktop):
    """The portal state of the project now, in the internal shape. The two big
    reads run side by side: the project from the students service, the
    personal data of the desktop's students from the users service (then
    those of the portal's students the desktop lacks)."""
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
    with _paused_gc():
        return rules.portal_view(state, people, desktop["students"], utcnow().isoformat())


def _store_portal(uow, iid, pid, portal):
    _save(uow, portal_reads, iid, pid, {"data": _dumps(portal),
                                        "as_of": dt.datetime.fromisoformat(portal["as_of"])})


def _portal(uow, students, users, iid, pid, desktop, refresh=False):
    """The stored portal read, or a fresh one (stored) when there is none or
    `refresh`."""
    if not refresh:
        row = _row(uow.session, portal_reads, iid, pid)
        if row is not None:
            return _loads(row.data)
    _release(uow)
    portal = read_portal(students, users, iid, pid, desktop)
    _store_portal(uow, iid, pid, portal)
    return portal


def _compare(portal, desktop):
    with _paused_gc():
        return compare.status(portal, desktop)
