"""The sync service's stored rows (snapshots, portal reads) and the helpers
the use cases share to read and write them.
"""
import datetime as dt
import gc
import json
from contextlib import contextmanager

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import conflict, not_found

from . import rules
from .models import mutations, snapshots


def _id(value, what):
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise not_found(what, "Niet gevonden.")
    return value


def parse_ids(institution_id, project_id):
    return _id(institution_id, "institution"), _id(project_id, "project")


def as_utc(value):
    """An aware datetime in UTC (SQLite hands back naive UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def iso_utc(value):
    """ISO text in UTC (SQLite hands back naive UTC, PostgreSQL the session's zone)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat()


def to_json(data):
    """Compact JSON text (orjson: the snapshots and portal reads are megabytes;
    the standard library for what orjson refuses, such as integers past 64 bits)."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@contextmanager
def paused_gc():
    """Pure, allocation-heavy work (parsing a project, comparing it) without the
    cyclic collector scanning every live object again and again. Nothing in
    such a block does I/O, so no other green thread runs meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def from_json(text):
    with paused_gc():
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # what the standard library wrote and orjson refuses
            return json.loads(text)


def release(uow):
    """End the read transaction: the connection goes back to the pool."""
    uow.session.commit()


def find_row(session, table, iid, pid, for_update=False, columns=None):
    query = sa.select(*(columns or [table])).where(table.c.institution_id == iid,
                                                   table.c.project_id == pid)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


SNAPSHOT_META = [snapshots.c.id, snapshots.c.received_at, snapshots.c.updated_at,
                 snapshots.c.status, snapshots.c.status_of]


def upsert_row(session, table, iid, pid, values):
    """Update the (institution, project) row or insert it."""
    result = session.execute(sa.update(table).where(
        table.c.institution_id == iid, table.c.project_id == pid).values(**values))
    if result.rowcount == 0:
        session.execute(sa.insert(table).values(institution_id=iid, project_id=pid, **values))


def save_row(uow, table, iid, pid, values):
    try:
        upsert_row(uow.session, table, iid, pid, values)
        uow.commit()
    except IntegrityError:  # inserted at the same moment by another worker
        uow.rollback()
        upsert_row(uow.session, table, iid, pid, values)
        uow.commit()


def snapshot_missing(students, iid, pid):
    """404 for a project that is not the institution's, else 409."""
    students.get_project(iid, pid)
    return conflict("snapshot_required", "Er is voor dit roosterproject nog geen momentopname "
                                         "van de desktop: stuur die eerst (PUT "
                                         f"/sync/{pid}/snapshot).")


def transfer_request(uow, students, institution_id, project_id, category, direction,
                     departments, student_numbers):
    """(iid, pid, departments, numbers) of an upload or download request; a
    category that goes the other way is refused (409), after 404 for a missing
    snapshot."""
    iid, pid = parse_ids(institution_id, project_id)
    rules.check_category(category)
    refusal = rules.wrong_direction_for_category(category, direction)
    if refusal is not None:
        if find_row(uow.session, snapshots, iid, pid, columns=[snapshots.c.id]) is None:
            release(uow)
            raise snapshot_missing(students, iid, pid)  # 404 before 409
        raise refusal
    departments, numbers = rules.check_selection(departments, student_numbers)
    return iid, pid, departments, numbers


def load_snapshot(uow, students, iid, pid, for_update=False):
    row = find_row(uow.session, snapshots, iid, pid, for_update=for_update)
    if row is None:
        release(uow)
        raise snapshot_missing(students, iid, pid)
    return row, from_json(row.data)


def _mutations_since(session, iid, pid, since_iso):
    since = dt.datetime.fromisoformat(since_iso) if since_iso else None
    query = sa.select(sa.func.count()).select_from(mutations).where(
        mutations.c.institution_id == iid,
        sa.or_(mutations.c.project_id == pid, mutations.c.project_id.is_(None)))
    if since is not None:
        query = query.where(mutations.c.recorded_at > since)
    return session.execute(query).scalar_one()


def status_body(uow, iid, pid, as_of, categories, meta, updated_at=None):
    body = {"project_id": pid, "as_of": as_of,
            "snapshot_received_at": iso_utc(meta.received_at),
            "snapshot_updated_at": iso_utc(updated_at or meta.updated_at),
            "mutations_since_as_of": _mutations_since(uow.session, iid, pid, as_of)}
    body.update(categories)
    return body
