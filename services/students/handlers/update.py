"""Changing a student: the record here, the personal data at the users service."""
import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import conflict, validation_error
from services.common.outbox import utcnow

from .. import lookups, rules
from ..lookups import iso
from ..models import students
from .create_one import _check_free
from .support import _audit, _conflict_from, _id_fields, _release, _user_of

log = logging.getLogger(__name__)


def _current_record(student):
    values = {f: getattr(student, f) for f in rules.RECORD_FIELDS}
    values["student_number"] = student.student_number
    return values


def _event_value(field, value):
    if field in rules.IDENTIFIER_FIELDS:
        return "***" if value else None
    return iso(value) if isinstance(value, dt.date) else value


def _claim_unchanged(session, student_id, checked):
    """Lock the record when it still holds the values `checked` (what the
    change was judged on), else 409 `student_changed`: a change made meanwhile
    (another request, on any replica) is never merged with this one unseen.
    One conditional UPDATE, so atomic on PostgreSQL and SQLite alike."""
    same = [students.c[f].is_not_distinct_from(checked[f]) for f in rules.RECORD_FIELDS]
    result = session.execute(sa.update(students).where(students.c.id == student_id, *same)
                             .values(updated_at=utcnow()))
    if result.rowcount != 1:
        raise conflict("student_changed", rules.message("student_changed"))


def update_student(uow, users, institution_id, student_number, changes, actor=None):
    """Change a student. Personal-data keys go to users.update_user; record
    keys are changed here, only when the record is still as it was checked
    (else 409 `student_changed`: the later change wins as a whole or is
    refused, never merged); a BSN/onderwijsnummer change is audited. When the
    record cannot be saved after the personal data changed, the personal data
    is put back."""
    session = uow.session
    student = lookups.load_student(session, institution_id, student_number)
    iid, number = student.institution_id, student.student_number
    current = _current_record(student)
    updates, personal, errors = rules.check_student_changes(current, changes)
    if errors:
        raise validation_error(errors)
    if updates.get("bsn"):
        _check_free(session, iid, None, updates["bsn"], student_id=student.id)
    _release(uow)

    user = old_user = None
    if personal:
        if updates:
            old_user = _user_of(users, iid, number)
        user = users.update_user(iid, number, personal)
    if updates:
        try:
            _claim_unchanged(session, student.id, current)
            student = lookups.load_student(session, iid, number, for_update=True)
            now = utcnow()
            event_changes = {}
            for field, value in updates.items():
                event_changes[field] = [_event_value(field, getattr(student, field)),
                                        _event_value(field, value)]
                setattr(student, field, value)
            student.updated_at = now
            fields = _id_fields(*(f in updates for f in rules.IDENTIFIER_FIELDS))
            if fields:
                _audit(session, student, "change", fields, actor, now)
            uow.add_event("student_updated", iid, {"student_number": number,
                                                   "changes": event_changes})
            uow.commit()
        except Exception as exc:
            uow.rollback()
            if old_user is not None:
                try:
                    users.update_user(iid, number, {k: old_user.get(k) for k in personal})
                except Exception:
                    log.exception("could not restore the personal data of student %s", number)
            if isinstance(exc, IntegrityError):
                raise _conflict_from(exc, number) from None
            raise
    if user is None:
        user = _user_of(users, iid, number)
    return lookups.student_view(student, user)
