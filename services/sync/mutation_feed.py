"""The mutation feed: recording the users and students services' events
(once per event_id) and listing what changed since a moment.
"""
import datetime as dt
import json
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common import bulk, events
from services.common.errors import DomainError
from services.common.outbox import utcnow

from . import feed, refresh
from .models import mutations, processed_events, snapshots
from .store import find_row, iso_utc, parse_ids, release, to_json

log = logging.getLogger(__name__)


MAX_FEED_PAGE = 1000


def list_mutations(uow, students, institution_id, project_id, since=None, page=1,
                   page_size=500):
    """What changed in the portal (as the feed learned it) after `since`
    (an ISO timestamp: pass the previous answer's `as_of`), oldest first."""
    iid, pid = parse_ids(institution_id, project_id)
    if find_row(uow.session, snapshots, iid, pid, columns=[snapshots.c.id]) is None:
        release(uow)
        students.get_project(iid, pid)  # 404 for another institution's project
    since_at = None
    if since is not None:
        try:
            text = str(since).strip().replace("Z", "+00:00")
            if "T" in text and " " in text:  # an unencoded '+' in the query string
                text = text.replace(" ", "+")
            since_at = dt.datetime.fromisoformat(text)
        except ValueError:
            raise DomainError("since_invalid", "since moet een tijdstip zijn (ISO 8601, "
                                               "bijvoorbeeld 2025-11-25T10:00:00+01:00).",
                              status=422, field="since") from None
        if since_at.tzinfo is None:
            since_at = since_at.replace(tzinfo=dt.timezone.utc)
    page = max(1, int(page or 1))
    page_size = max(1, min(MAX_FEED_PAGE, int(page_size or 500)))
    as_of = utcnow()
    where = [mutations.c.institution_id == iid,
             sa.or_(mutations.c.project_id == pid, mutations.c.project_id.is_(None)),
             mutations.c.recorded_at <= as_of]
    if since_at is not None:
        where.append(mutations.c.recorded_at > since_at)
    session = uow.session
    total = session.execute(sa.select(sa.func.count()).select_from(mutations)
                            .where(*where)).scalar_one()
    rows = session.execute(sa.select(mutations).where(*where).order_by(mutations.c.id)
                           .limit(page_size).offset((page - 1) * page_size)).all()
    release(uow)
    items = [{"id": r.id, "event_id": r.event_id, "type": r.event_type,
              "category": r.category, "student_number": r.student_number,
              "project_id": r.project_id, "department": r.department,
              "occurred_at": iso_utc(r.occurred_at), "recorded_at": iso_utc(r.recorded_at),
              **json.loads(r.data)} for r in rows]
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "since": since_at.isoformat() if since_at else None, "as_of": as_of.isoformat()}


def on_event(uow, source, payload):
    """Record an event of the users or students service in the feed, once per
    event_id, marking the students it names stale (refresh.py). Returns
    "applied" or "duplicate"; a malformed envelope raises PermanentEventError."""
    env = events.parse_envelope(payload)  # PermanentEventError: parked
    event_id, event_type, iid, data, occurred = (env.event_id, env.type, env.institution_id,
                                                 env.data, env.occurred_at)
    session = uow.session
    if events.already_processed(session, processed_events, event_id):
        return "duplicate"
    now = utcnow()
    found = feed.entries(source, event_type, data)
    rows = [{"event_id": event_id, "event_type": event_type, "institution_id": iid,
             "project_id": e["project_id"], "category": e["category"],
             "student_number": e["student_number"],
             "department": (e["department"] or None) and str(e["department"])[:20],
             "data": to_json(e["data"]), "occurred_at": occurred, "recorded_at": now}
            for e in found]
    try:
        if rows:
            bulk.insert_many(session, mutations, rows)  # a batch event: 500 rows
            refresh.mark_stale(session, iid, found, now)
        events.mark_processed(session, processed_events, event_id)
        uow.commit()
    except IntegrityError:  # another worker recorded the same event just now
        uow.rollback()
        return "duplicate"
    return "applied"
