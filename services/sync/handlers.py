"""Use cases of the sync service (the portal connector).

Each function takes an entered UnitOfWork and, where it needs the portal,
`students` and `users`: clients of those services (the service's ServiceRpc
proxies; any object with the same methods in tests). The truth about students
stays in the students and users services: this service keeps the desktop's
snapshot, the portal state as last read, and the mutation feed.

- The portal is read (students.project_state + users.get_users) when a
  snapshot arrives, on status?refresh, and after every upload; `as_of` tells
  when. Status, differences and downloads compare against that read, so a
  download moves exactly what the differences showed.
- Uploads re-read the portal first and go through the students service's
  RPC (create_students, create_group, set_group_members,
  update_participation), so its rules hold and its events fire.
- No database connection is held while another service is called.
"""
import datetime as dt
import gc
import json
import logging
from contextlib import contextmanager

import eventlet
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common import events
from services.common.errors import DomainError, conflict, error_item, not_found
from services.common.outbox import utcnow

from . import diff, feed, plans, rules
from .models import mutations, portal_reads, processed_events, snapshots

log = logging.getLogger(__name__)

MAX_FEED_PAGE = 1000
# Calls to the students service an upload makes side by side.
UPLOAD_CONCURRENCY = 8
# Creating a few thousand students at once takes longer than a lookup.
LONG_RPC_TIMEOUT = 120.0


def health(uow):
    uow.session.execute(sa.text("SELECT 1"))
    return {"service": "sync", "status": "ok"}


# --- helpers -------------------------------------------------------------------------

def _id(value, what):
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise not_found(what, "Niet gevonden.")
    return value


def _ids(institution_id, project_id):
    return _id(institution_id, "institution"), _id(project_id, "project")


def _iso(value):
    """ISO text in UTC (SQLite hands back naive UTC, PostgreSQL the session's zone)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat()


def _dumps(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@contextmanager
def _paused_gc():
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


def _loads(text):
    with _paused_gc():
        return json.loads(text)


def _release(uow):
    """End the read transaction: the connection goes back to the pool."""
    uow.session.commit()


def _row(session, table, iid, pid, for_update=False, columns=None):
    query = sa.select(*(columns or [table])).where(table.c.institution_id == iid,
                                                   table.c.project_id == pid)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).first()


_META = [snapshots.c.id, snapshots.c.received_at, snapshots.c.updated_at, snapshots.c.status,
         snapshots.c.status_of]


def _upsert(session, table, iid, pid, values):
    """Update the (institution, project) row or insert it."""
    result = session.execute(sa.update(table).where(
        table.c.institution_id == iid, table.c.project_id == pid).values(**values))
    if result.rowcount == 0:
        session.execute(sa.insert(table).values(institution_id=iid, project_id=pid, **values))


def _save(uow, table, iid, pid, values):
    try:
        _upsert(uow.session, table, iid, pid, values)
        uow.commit()
    except IntegrityError:  # inserted at the same moment by another worker
        uow.rollback()
        _upsert(uow.session, table, iid, pid, values)
        uow.commit()


def _snapshot_missing(students, iid, pid):
    """404 for a project that is not the institution's, else 409."""
    students.get_project(iid, pid)
    return conflict("snapshot_required", "Er is voor dit roosterproject nog geen momentopname "
                                         "van de desktop: stuur die eerst (PUT "
                                         f"/sync/{pid}/snapshot).")


def _load_snapshot(uow, students, iid, pid, for_update=False):
    row = _row(uow.session, snapshots, iid, pid, for_update=for_update)
    if row is None:
        _release(uow)
        raise _snapshot_missing(students, iid, pid)
    return row, _loads(row.data)


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
        return diff.status(portal, desktop)


def _mutations_since(session, iid, pid, since_iso):
    since = dt.datetime.fromisoformat(since_iso) if since_iso else None
    query = sa.select(sa.func.count()).select_from(mutations).where(
        mutations.c.institution_id == iid,
        sa.or_(mutations.c.project_id == pid, mutations.c.project_id.is_(None)))
    if since is not None:
        query = query.where(mutations.c.recorded_at > since)
    return session.execute(query).scalar_one()


def _status_body(uow, iid, pid, as_of, categories, meta, updated_at=None):
    body = {"project_id": pid, "as_of": as_of,
            "snapshot_received_at": _iso(meta.received_at),
            "snapshot_updated_at": _iso(updated_at or meta.updated_at),
            "mutations_since_as_of": _mutations_since(uow.session, iid, pid, as_of)}
    body.update(categories)
    return body


def _keep_status(uow, meta, categories, as_of):
    """Store the status computed for this version of the snapshot (a newer
    snapshot written meanwhile keeps its own)."""
    uow.session.execute(sa.update(snapshots).where(
        snapshots.c.id == meta.id, snapshots.c.updated_at == meta.updated_at).values(
        status=_dumps(categories), status_of=as_of))
    uow.commit()


# --- the snapshot ----------------------------------------------------------------------

def put_snapshot(uow, students, users, institution_id, project_id, snapshot):
    """Store the desktop's state of the project (validated; 422 naming every
    problem), read the portal afresh and answer the status."""
    iid, pid = _ids(institution_id, project_id)
    with _paused_gc():
        desktop = rules.check_snapshot(snapshot)
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
            "counts": rules.snapshot_counts(desktop),
            "status": _status_body(uow, iid, pid, portal["as_of"], categories, meta)}
    _release(uow)
    return body


def get_snapshot(uow, students, institution_id, project_id):
    iid, pid = _ids(institution_id, project_id)
    row, desktop = _load_snapshot(uow, students, iid, pid)
    out = rules.snapshot_document(desktop)
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
        result = diff.differences(category, portal, desktop, department)
    result["project_id"] = pid
    return result


# --- selections ----------------------------------------------------------------------------

def _check_departments(P, D, departments):
    if departments is None:
        return
    known = set(P["departments"]) | {d for parts in D["participations"].values() for d in parts}
    known |= {g["department"] for g in D["groups"].values() if g["department"]}
    unknown = sorted(d for d in departments if d not in known)
    if unknown:
        text = f"Onbekende afdeling(en): {', '.join(unknown)}."
        raise DomainError("department_unknown", text, status=422, field="departments",
                          errors=[error_item("department_unknown", text, field="departments")])


def _home_class_selection(P, items, direction, departments, numbers):
    """409 when the selection names departments whose home classes move the
    other way; else the items of this direction in the selection."""
    wrong = set()
    if departments is not None:
        for code in departments:
            dept = P["departments"].get(code)
            if dept is not None and rules.home_class_direction(dept["authority"]) != direction:
                wrong.add(code)
    if numbers is not None:
        # a selected student whose home classes all move the other way; a student
        # in two departments may have one of each way: this way's move
        others, this_way = {}, set()
        for item in items:
            if item["student_number"] not in numbers:
                continue
            if item["direction"] == direction:
                this_way.add(item["student_number"])
            else:
                others.setdefault(item["student_number"], set()).add(item["department"])
        for number, codes in others.items():
            if number not in this_way:
                wrong |= codes
    if wrong:
        raise rules.wrong_direction_departments(direction, wrong)
    return [i for i in diff.select(items, departments, numbers) if i["direction"] == direction]


def _selected(category, direction, P, D, departments, numbers):
    _check_departments(P, D, departments)
    items = diff.ITEMS[category](P, D)
    if category == "home_classes":
        return _home_class_selection(P, items, direction, departments, numbers)
    return [i for i in diff.select(items, departments, numbers) if i["direction"] == direction]


# --- downloads ---------------------------------------------------------------------------

def download(uow, students, users, institution_id, project_id, category, departments=None,
             student_numbers=None):
    """The changes the desktop must apply for the selected differences (from the
    portal read the differences showed); the stored snapshot is changed to
    match, so the category is ok afterwards for the selection. A packages
    download never touches the desktop's packages of a department for which
    the portal holds no package choices: such departments of the selection are
    answered under `skipped` (code no_packages_in_portal)."""
    iid, pid = _ids(institution_id, project_id)
    rules.check_category(category)
    refusal = rules.wrong_direction_for_category(category, "download")
    if refusal is not None:
        if _row(uow.session, snapshots, iid, pid, columns=[snapshots.c.id]) is None:
            _release(uow)
            raise _snapshot_missing(students, iid, pid)  # 404 before 409
        raise refusal
    departments, numbers = rules.check_selection(departments, student_numbers)
    stored = _row(uow.session, portal_reads, iid, pid)
    if stored is not None:
        portal = _loads(stored.data)
    else:
        _row_, desktop = _load_snapshot(uow, students, iid, pid)
        portal = _portal(uow, students, users, iid, pid, desktop, refresh=True)
    # read-modify-write of the snapshot under a row lock (PostgreSQL)
    row, desktop = _load_snapshot(uow, students, iid, pid, for_update=True)
    with _paused_gc():
        items = _selected(category, "download", portal, desktop, departments, numbers)
        skipped = diff.packages_skipped(portal, desktop, departments, numbers) \
            if category == "packages" else []
        changes = diff.apply_download(category, portal, desktop, items)
        categories = diff.status(portal, desktop) if changes else None
    if changes:
        uow.session.execute(sa.update(snapshots).where(snapshots.c.id == row.id).values(
            data=_dumps(desktop), student_count=len(desktop["students"]),
            updated_at=utcnow(), status=_dumps(categories),
            status_of=_iso(dt.datetime.fromisoformat(portal["as_of"]))))
        uow.commit()
        entry = categories[category]
    else:
        _release(uow)
        with _paused_gc():
            entry = diff.category_status(category, portal, desktop)
    return {"project_id": pid, "category": category, "as_of": portal["as_of"],
            "changes": changes, "count": len(changes), "skipped": skipped, "status": entry}


# --- uploads -------------------------------------------------------------------------------

def _fresh(uow, students, users, iid, pid):
    """(snapshot row, snapshot, fresh portal read): uploads always start from
    the portal as it is."""
    row, desktop = _load_snapshot(uow, students, iid, pid)
    _release(uow)
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
    items = [i for i in _selected("students", "upload", P, D, departments, numbers)
             if i["action"] == "create"]
    rows, skipped = plans.students_rows(P, D, items)
    applied = []
    if rows:
        try:
            students.create_students(iid, rows, project_id=pid, timeout=LONG_RPC_TIMEOUT)
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
    items = _selected("home_classes", "upload", P, D, departments, numbers)
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
    _check_departments(P, D, departments)
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
    iid, pid = _ids(institution_id, project_id)
    rules.check_category(category)
    refusal = rules.wrong_direction_for_category(category, "upload")
    if refusal is not None:
        if _row(uow.session, snapshots, iid, pid, columns=[snapshots.c.id]) is None:
            _release(uow)
            raise _snapshot_missing(students, iid, pid)  # 404 before 409
        raise refusal
    departments, numbers = rules.check_selection(departments, student_numbers)
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
    _store_portal(uow, iid, pid, portal)
    categories = _compare(portal, desktop)
    _keep_status(uow, row, categories, _iso(dt.datetime.fromisoformat(portal["as_of"])))
    return {"project_id": pid, "category": category, "as_of": portal["as_of"],
            "applied": applied, "count": len(applied), "skipped": skipped,
            "status": categories[category]}


# --- the mutation feed ---------------------------------------------------------------------

def list_mutations(uow, students, institution_id, project_id, since=None, page=1,
                   page_size=500):
    """What changed in the portal (as the feed learned it) after `since`
    (an ISO timestamp: pass the previous answer's `as_of`), oldest first."""
    iid, pid = _ids(institution_id, project_id)
    if _row(uow.session, snapshots, iid, pid, columns=[snapshots.c.id]) is None:
        _release(uow)
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
    _release(uow)
    items = [{"id": r.id, "event_id": r.event_id, "type": r.event_type,
              "category": r.category, "student_number": r.student_number,
              "project_id": r.project_id, "department": r.department,
              "occurred_at": _iso(r.occurred_at), "recorded_at": _iso(r.recorded_at),
              **json.loads(r.data)} for r in rows]
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "since": since_at.isoformat() if since_at else None, "as_of": as_of.isoformat()}


def on_event(uow, source, payload):
    """Record an event of the users or students service in the feed, once per
    event_id. Returns "applied" or "duplicate"; a malformed envelope raises
    PermanentEventError."""
    env = events.parse_envelope(payload)  # PermanentEventError: parked
    event_id, event_type, iid, data, occurred = (env.event_id, env.type, env.institution_id,
                                                 env.data, env.occurred_at)
    session = uow.session
    if events.already_processed(session, processed_events, event_id):
        return "duplicate"
    now = utcnow()
    rows = [{"event_id": event_id, "event_type": event_type, "institution_id": iid,
             "project_id": e["project_id"], "category": e["category"],
             "student_number": e["student_number"],
             "department": (e["department"] or None) and str(e["department"])[:20],
             "data": _dumps(e["data"]), "occurred_at": occurred, "recorded_at": now}
            for e in feed.entries(source, event_type, data)]
    try:
        if rows:
            session.execute(sa.insert(mutations), rows)
        events.mark_processed(session, processed_events, event_id)
        uow.commit()
    except IntegrityError:  # another worker recorded the same event just now
        uow.rollback()
        return "duplicate"
    return "applied"
