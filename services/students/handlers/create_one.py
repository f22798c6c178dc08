"""Creating one student: the record here, the account at the users service."""
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import conflict, error_item, validation_error
from services.common.outbox import utcnow

from .. import lookups, rules
from ..models import Student
from .support import (ORIGIN, _audit, _compensate, _conflict_from, _create_accounts, _id_fields,
                      _registered_data, _release, _user_of)


def _check_free(session, institution_id, number, bsn, student_id=None):
    """409 student_exists / bsn_exists when the number or BSN is taken."""
    if number is not None and session.execute(sa.select(Student.id).where(
            Student.institution_id == institution_id,
            Student.student_number == number)).first():
        raise conflict("student_exists", rules.student_exists_message(number),
                       field="student_number")
    if bsn:
        query = sa.select(Student.id).where(Student.institution_id == institution_id,
                                            Student.bsn == bsn)
        if student_id is not None:
            query = query.where(Student.id != student_id)
        if session.execute(query).first():
            raise conflict("bsn_exists", rules.bsn_exists_message(), field="bsn")


def _insert_student(uow, values):
    """The second step of create_student: the record itself (a seam for the
    test that makes it fail)."""
    student = Student(**values)
    uow.session.add(student)
    uow.session.flush()
    return student


def request_origin(request_id):
    """The origin key of the records and accounts one request creates (None
    without a request id)."""
    if request_id is None:
        return None
    if not (isinstance(request_id, str) and 0 < len(request_id) <= 64
            and request_id.isascii() and request_id.isprintable()):
        raise validation_error([error_item("value_invalid", "Ongeldige verzoek-id.",
                                           field="request_id")])
    return f"request:{request_id}"


def _created_by(session, iid, number, key):
    """The record of `number` when the operation `key` created it."""
    if key is None:
        return None
    return session.execute(sa.select(Student).where(
        Student.institution_id == iid, Student.student_number == number,
        Student.origin_key == key)).scalar_one_or_none()


def create_student(uow, users, institution_id, data, actor=None, request_id=None):
    """Account and record as one operation. With `request_id` (one per client
    request; the same on a retry or a redelivery) the operation is resumable:
    a repeat after success answers the record the first attempt created, and a
    repeat after a crash between the two steps adopts the account the first
    attempt left (users.create_user with the same origin key)."""
    iid = lookups.institution_id_of(institution_id)
    key = request_origin(request_id)
    record, personal, errors = rules.check_new_student(data, require_initials=True)
    if errors:
        raise validation_error(errors)
    number = record["student_number"]
    session = uow.session
    done = _created_by(session, iid, number, key)
    if done is not None:
        _release(uow)
        return lookups.student_view(done, _user_of(users, iid, number))
    _check_free(session, iid, number, record["bsn"])
    _release(uow)

    user = _create_accounts(users, iid, [number], users.create_user, iid, {
        "code": number, "type": "student", "roles": ["student"], **personal},
        origin=ORIGIN, origin_key=key)
    try:
        now = utcnow()
        student = _insert_student(uow, dict(record, institution_id=iid, user_id=user["id"],
                                            left_at=None, created_at=now, updated_at=now,
                                            origin_key=key))
        fields = _id_fields(record["bsn"], record["onderwijsnummer"])
        if fields:
            _audit(session, student, "create", fields, actor, now)
        uow.add_event("student_registered", iid, _registered_data(record, user["id"]))
        uow.commit()
    except Exception as exc:
        uow.rollback()
        done = _created_by(session, iid, number, key)
        if done is not None:  # a concurrent attempt of this request got there first
            _release(uow)
            return lookups.student_view(done, user)
        _compensate(users, iid, [number])
        if isinstance(exc, IntegrityError):
            raise _conflict_from(exc, number) from None
        raise
    return lookups.student_view(student, user)
