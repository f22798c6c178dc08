"""A student leaving school: now, planned for a date, cancelled, carried out."""
import logging

import sqlalchemy as sa

from services.common import events
from services.common.errors import DomainError, conflict, validation_error
from services.common.outbox import utcnow

from .. import lookups, placements, rules
from ..lookups import iso
from ..models import Project, Student, processed_events, students
from .support import _release, _user_of, today

log = logging.getLogger(__name__)


def _leave(uow, student, day, source, event_id=None, archive=False):
    """Carry out a student's leaving as of `day`: remove the participations in
    the projects of that day's school year and later ones (this and next
    year's, and any further), mark the record as left with `day` as its leave
    date (student_left, once), and record `event_id` as processed, in one
    transaction. `archive`: the account is still to be archived
    (archive_pending, cleared by _archive_account). Returns the removed
    participation ids."""
    session = uow.session
    first_year = rules.school_year_of(day)
    project_ids = list(session.execute(sa.select(Project.id).where(
        Project.institution_id == student.institution_id,
        Project.school_year >= first_year)).scalars())
    removed = []
    for part, dept_code, project in placements.participations_in(session, student.id,
                                                                  project_ids):
        placements.remove_participation(uow, part, student.student_number, dept_code, project,
                                        reason="left")
        removed.append(part.id)
    if student.left_at is None:
        now = utcnow()
        student.left_at = now
        student.leave_date = day
        student.updated_at = now
        uow.add_event("student_left", student.institution_id, {
            "student_number": student.student_number, "user_id": student.user_id,
            "date": day.isoformat(), "school_years": [first_year,
                                                      rules.next_school_year(first_year)],
            "removed_participations": removed, "source": source})
    student.archive_pending = bool(archive)
    if event_id is not None:
        events.mark_processed(session, processed_events, event_id)
    uow.commit()
    return removed


def _leave_result(student, removed, archived):
    return {"student_number": student.student_number, "removed_participations": removed,
            "archived": archived, "leave_date": iso(student.leave_date),
            "status": rules.leave_status(student.leave_date, student.left_at)}


def _archive_account(uow, users, student):
    """Archive the account of a student who left; True when done. When the
    users service does not answer, archive_pending stays set and the next
    run of carry_out_planned_leaves tries again."""
    try:
        users.archive_user(student.institution_id, student.student_number)
    except DomainError as exc:
        if exc.status < 500:
            raise
        log.warning("archiving the account of a student who left waits: %s", exc.code)
        return False
    uow.session.execute(sa.update(students).where(students.c.id == student.id)
                        .values(archive_pending=False))
    uow.commit()
    student.archive_pending = False
    return True


def leave_student(uow, users, institution_id, student_number, date=None, actor=None,
                  as_of=None):
    """The student leaves school on `date` (default today).

    A date in the future is stored as planned: the student shows as leaving
    and nothing else changes until that day, when carry_out_planned_leaves
    does what follows. Today or a past date is carried out now: the
    participations of that date's school year and later are removed and the
    account is archived (`archived` false: the users service did not answer;
    it is archived later). Asking again for a planned leave moves its date;
    for a student who left already it changes nothing (nor does the
    user_archived event that follows)."""
    today_ = as_of or today()
    student = lookups.load_student(uow.session, institution_id, student_number,
                                   for_update=True)
    errors = []
    day = rules.clean_leave_date(date, errors, today_)
    if errors:
        raise validation_error(errors)
    day = day or today_
    if student.left_at is not None:
        _release(uow)
        return _leave_result(student, [], _archive_account(uow, users, student))
    if day > today_:
        if student.leave_date != day:
            student.leave_date = day
            student.updated_at = utcnow()
            uow.add_event("student_leave_planned", student.institution_id, {
                "student_number": student.student_number, "user_id": student.user_id,
                "date": day.isoformat()})
            uow.commit()
        return _leave_result(student, [], False)
    removed = _leave(uow, student, day, source="leave", archive=True)
    return _leave_result(student, removed, _archive_account(uow, users, student))


def cancel_leave(uow, users, institution_id, student_number, actor=None):
    """Withdraw a planned leave. A student who left already is brought back by
    restoring the user (409 here)."""
    student = lookups.load_student(uow.session, institution_id, student_number,
                                   for_update=True)
    if student.left_at is not None:
        raise conflict("student_already_left", rules.message("student_already_left"))
    if student.leave_date is not None:
        student.leave_date = None
        student.updated_at = utcnow()
        uow.add_event("student_leave_cancelled", student.institution_id, {
            "student_number": student.student_number, "user_id": student.user_id})
        uow.commit()
    else:
        _release(uow)
    return lookups.student_view(student, _user_of(users, student.institution_id,
                                                  student.student_number))


def carry_out_planned_leaves(uow, users, as_of=None, limit=500):
    """Carry out every planned leave whose day has come, and archive the
    accounts still pending (run by a timer, and by operators through the RPC).
    Each student in a transaction of its own, the leaving (with its planned
    date) before the account is archived, so the user_archived event that
    follows finds it done. Returns the student numbers whose leave was
    carried out."""
    day = as_of or today()
    session = uow.session
    due = list(session.execute(
        sa.select(Student.id).where(Student.leave_date <= day, Student.left_at.is_(None))
        .order_by(Student.leave_date, Student.id).limit(limit)).scalars())
    pending = list(session.execute(
        sa.select(Student.id).where(Student.archive_pending.is_(True))
        .order_by(Student.id).limit(limit)).scalars())
    _release(uow)
    done = []
    for student_id in due:
        student = session.execute(sa.select(Student).where(Student.id == student_id)
                                  .with_for_update()).scalar_one_or_none()
        if student is None or student.left_at is not None or student.leave_date is None \
                or student.leave_date > day:
            _release(uow)
            continue
        _leave(uow, student, student.leave_date, source="planned", archive=True)
        _archive_account(uow, users, student)
        done.append(student.student_number)
    for student_id in pending:
        student = session.get(Student, student_id)
        if student is not None and student.archive_pending:
            _release(uow)
            _archive_account(uow, users, student)
    return done
