"""Every user of type student has a student record, however the account came in.

Accounts of students are created in several places: with their record by this
service (POST /students, a reviewed Excel list, the connector's upload), but
also by the users service alone (POST /users with is_student, a CSV import
"Toevoegen als leerling", a change of user type). For the latter this module
adds the missing record: a non-transfer student (no BSN, no onderwijsnummer;
an administrator makes it a potential transfer later with PATCH /students).

Two ways lead here, and both are idempotent:
- `register_students`: called right after the account change by whoever made
  it (the gateway, the uploads service), so the record exists when the next
  request of the same person arrives;
- the reactions to users' events (`user_created`, `users_created_batch`,
  `user_updated` with a new type): the safety net when that call failed or the
  caller crashed. Accounts this service creates itself carry
  `origin: "students"` in those events and are skipped: their record is
  being written by the operation that created them.

A discarded account (`user_discarded`, `users_discarded_batch`: an undone CSV
import, a failed composite create) takes its record along, with the record's
participations and group memberships; only the record of that very account
(same user_id) goes, never one made since for the same number.
"""
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import error_item, validation_error
from services.common.outbox import utcnow

from . import lookups, placements
from .handlers.support import (EVENT_CHUNK, ORIGIN, _already_processed, _compensate,
                               _event_parts, _mark_processed, _registered_data, _release)
from .models import Project, Student, students

log = logging.getLogger(__name__)

MAX_CODES = 20000
# A single create's account still without its record after this long was left
# by a crash nobody retried: discarded, as the create itself would have done.
UNFINISHED_AFTER = 600


def _insert_ignoring_existing(session, values):
    """Insert records, skipping numbers that exist already (a concurrent
    registration); returns the student numbers actually inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = (insert(students).on_conflict_do_nothing(
        index_elements=[students.c.institution_id, students.c.student_number])
        .returning(students.c.student_number))
    inserted = []
    for chunk in lookups.chunks(values, 1000):
        inserted.extend(session.execute(stmt, chunk).scalars().all())
    return inserted


def _clean_codes(codes):
    if not isinstance(codes, (list, tuple)):
        raise validation_error([error_item("value_invalid", "Geef een lijst met codes.",
                                           field="codes")])
    if len(codes) > MAX_CODES:
        raise validation_error([error_item("too_many_rows",
                                           f"Geef hoogstens {MAX_CODES} codes tegelijk.",
                                           field="codes")])
    numbers = (lookups.student_number_arg(c) for c in codes)
    return list(dict.fromkeys(n for n in numbers if n is not None and len(n) <= 20))


def register_students(uow, users, institution_id, codes):
    """Make sure each student user among `codes` has a record.

    Answers {"registered": [numbers given a record now], "existing": [numbers
    that had one], "not_students": [codes without a student account]}. Codes
    that cannot be student numbers count as not_students.
    """
    iid = lookups.institution_id_of(institution_id)
    wanted = _clean_codes(codes)
    session = uow.session
    existing = set()
    for chunk in lookups.chunks(wanted):
        existing.update(session.execute(sa.select(Student.student_number).where(
            Student.institution_id == iid, Student.student_number.in_(chunk))).scalars())
    missing = [n for n in wanted if n not in existing]
    _release(uow)
    people = {}
    for chunk in lookups.chunks(missing, 2000):
        for user in users.get_users(iid, chunk):
            if user.get("type") == "student":
                people[user["code"]] = user
    now = utcnow()
    values = [{
        "institution_id": iid, "student_number": number, "user_id": people[number]["id"],
        "type": "non_transfer", "bsn": None, "onderwijsnummer": None, "date_of_birth": None,
        "year_of_education": None, "track": None, "home_class": None,
        "left_at": now if people[number].get("archived") else None,
        "created_at": now, "updated_at": now,
    } for number in missing if number in people]
    inserted = set(_insert_ignoring_existing(session, values)) if values else set()
    _announce(uow, iid, [v for v in values if v["student_number"] in inserted])
    uow.commit()
    known = existing | set(people)
    return {"registered": [n for n in missing if n in inserted],
            "existing": [n for n in wanted if n in known and n not in inserted],
            "not_students": [str(c) for c in codes
                             if lookups.student_number_arg(c) not in known]}


def _announce(uow, iid, records):
    registered = [dict(_registered_data(r, r["user_id"]), source="account") for r in records]
    for chunk in lookups.chunks(registered, EVENT_CHUNK):
        uow.add_event("students_registered_batch", iid, {"count": len(chunk),
                                                         "students": chunk})


# --- reactions to users' events -----------------------------------------------------

def _student_codes(users_data):
    return [u.get("code") for u in users_data
            if isinstance(u, dict) and u.get("type") == "student"
            and u.get("origin") != ORIGIN]


def _react(uow, users, payload, event_type, codes_of):
    """Shared frame: idempotent by event_id; `codes_of(data)` picks the codes.
    An event that names no account to register (most: the accounts this
    service made itself, a list load's 40 batches of 500) is ignored without
    reading or writing anything, as often as it comes: a list load's own
    records are being written meanwhile, and this would only queue for the
    same database."""
    event_id, iid, data, _occurred = _event_parts(payload, event_type)
    codes = [c for c in codes_of(data) if c is not None]
    if not codes:
        return "ignored"
    if _already_processed(uow.session, event_id):
        return "duplicate"
    result = register_students(uow, users, iid, codes)
    try:
        _mark_processed(uow, event_id)
    except IntegrityError:  # another worker handled it just now
        uow.rollback()
        return "duplicate"
    return "applied" if result["registered"] else "ignored"


def on_user_created(uow, users, payload):
    return _react(uow, users, payload, "user_created", lambda d: _student_codes([d]))


def on_users_created_batch(uow, users, payload):
    def codes(data):
        items = data.get("users")
        return _student_codes(items) if isinstance(items, list) else []
    return _react(uow, users, payload, "users_created_batch", codes)


def on_user_updated(uow, users, payload):
    """A change of user type to student (PATCH /users, an import)."""
    def codes(data):
        changes = data.get("changes")
        if not isinstance(changes, dict):
            return []
        change = changes.get("type")
        if isinstance(change, (list, tuple)) and len(change) == 2 and change[1] == "student":
            return [data.get("code")]
        return []
    return _react(uow, users, payload, "user_updated", codes)


def _discarded(data, single):
    items = [data] if single else data.get("users")
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "student":
            continue
        number = lookups.student_number_arg(item.get("code"))
        user_id = lookups.to_id(item.get("user_id"))
        if number is not None and user_id is not None:
            out.append((number, user_id))
    return out


def _remove_records(uow, iid, pairs):
    """Delete the records of discarded accounts (same number and user_id),
    with their participations (participation_removed, reason "discarded")."""
    session = uow.session
    removed = []
    for number, user_id in pairs:
        student = session.execute(sa.select(Student).where(
            Student.institution_id == iid, Student.student_number == number,
            Student.user_id == user_id).with_for_update()).scalar_one_or_none()
        if student is None:
            continue
        project_ids = list(session.execute(sa.select(Project.id).where(
            Project.institution_id == iid)).scalars())
        for part, dept_code, project in placements.participations_in(session, student.id,
                                                                      project_ids):
            placements.remove_participation(uow, part, number, dept_code, project,
                                            reason="discarded")
        session.delete(student)
        removed.append(number)
    for chunk in lookups.chunks(removed, EVENT_CHUNK):
        uow.add_event("students_removed_batch", iid, {"count": len(chunk),
                                                      "student_numbers": chunk,
                                                      "reason": "account_discarded"})
    return removed


def _on_discard(uow, payload, event_type, single):
    event_id, iid, data, _occurred = _event_parts(payload, event_type)
    session = uow.session
    try:
        if _already_processed(session, event_id):
            return "duplicate"
        removed = _remove_records(uow, iid, _discarded(data, single))
        _mark_processed(uow, event_id)
        return "applied" if removed else "ignored"
    except IntegrityError:
        uow.rollback()
        return "duplicate"


def on_user_discarded(uow, payload):
    return _on_discard(uow, payload, "user_discarded", single=True)


def on_users_discarded_batch(uow, payload):
    return _on_discard(uow, payload, "users_discarded_batch", single=False)


# --- accounts whose create never finished -------------------------------------------

def sweep_unfinished_creates(uow, users, min_age_seconds=UNFINISHED_AFTER):
    """Discard the accounts of single creates (origin "request:...") that
    crashed between the users commit and the record and were not retried
    within `min_age_seconds` (a retry with the same request id adopts them
    until then). A list's accounts are left to the list's own resume.
    Returns the codes discarded."""
    found = {}
    for item in users.unfinished_accounts("request:", min_age_seconds):
        found.setdefault(item["institution_id"], []).append(item["code"])
    session = uow.session
    orphans = {}
    for iid, codes in found.items():
        have = set(session.execute(sa.select(Student.student_number).where(
            Student.institution_id == iid, Student.student_number.in_(codes))).scalars())
        missing = [c for c in codes if c not in have]
        if missing:
            orphans[iid] = missing
    _release(uow)
    for iid, codes in orphans.items():
        log.warning("discarding %d account(s) of unfinished creates", len(codes))
        _compensate(users, iid, codes, batch_events=len(codes) > 1)
    return [c for codes in orphans.values() for c in codes]
