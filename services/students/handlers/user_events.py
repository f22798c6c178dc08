"""Reactions to the users service's events: an account archived or restored."""
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.outbox import utcnow

from .. import lookups
from ..models import Student
from .leave import _leave
from .support import LOCAL_TZ, _already_processed, _event_parts, _mark_processed, today


def _student_for_event(session, iid, data):
    if data.get("type") != "student":
        return None
    number = lookups.student_number_arg(data.get("code"))
    if number is None:
        return None
    return session.execute(sa.select(Student).where(
        Student.institution_id == iid, Student.student_number == number)
        .with_for_update()).scalar_one_or_none()


def _once_for_student(uow, event_id, iid, data, react):
    """`react(student or None)` for an event not processed before; "duplicate"
    for one processed before, or by another worker just now."""
    try:
        if _already_processed(uow.session, event_id):
            return "duplicate"
        return react(_student_for_event(uow.session, iid, data))
    except IntegrityError:
        uow.rollback()
        return "duplicate"


def on_user_archived(uow, payload):
    """A user was archived: for a student, do what leave_student does except
    archiving (the removal of this and next school year's participations, as
    of the day of the event). Idempotent by event_id. Returns what happened:
    "applied", "duplicate", "ignored" (not a student / malformed)."""
    event_id, iid, data, occurred = _event_parts(payload, "user_archived")

    def react(student):
        if student is None:
            _mark_processed(uow, event_id)
            return "ignored"
        day = occurred.astimezone(LOCAL_TZ).date() if occurred and occurred.tzinfo \
            else today()
        if student.leave_date is not None and student.leave_date <= day:
            day = student.leave_date  # a planned leave being carried out
        student.archive_pending = False   # it is archived: that is what happened
        _leave(uow, student, day, source="user_archived", event_id=event_id)
        return "applied"

    return _once_for_student(uow, event_id, iid, data, react)


def on_user_unarchived(uow, payload):
    """A user came back from the archive: a student is no longer `left`
    (so leaving again later is reported again). Idempotent by event_id."""
    event_id, iid, data, _occurred = _event_parts(payload, "user_unarchived")

    def react(student):
        if student is not None and (student.left_at is not None
                                    or student.leave_date is not None):
            student.left_at = None
            student.leave_date = None
            student.updated_at = utcnow()
        _mark_processed(uow, event_id)
        return "applied" if student is not None else "ignored"

    return _once_for_student(uow, event_id, iid, data, react)
